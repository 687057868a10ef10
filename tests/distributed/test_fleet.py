"""map_series: Ray and this process give the same results, value for value, and a
failed item is named while the rest finish."""

import sys

import pandas as pd
import pytest
from conftest import COLUMNS

from tsrnn.distributed import FailedItemsError, map_series


def test_ray_equals_local_and_one_process(ray_cluster, detector, fleet):
    on_ray = map_series(detector, fleet, "decision_function", engine="ray", batch_size=2)
    local = map_series(detector, fleet, "decision_function", engine="local")
    ids = list(fleet["sensor"].unique())
    assert list(on_ray.results) == list(local.results) == ids
    assert not on_ray.failures and not local.failures
    for sid, frame in fleet.groupby("sensor"):
        alone = detector.decision_function(frame)
        pd.testing.assert_series_equal(on_ray.results[sid], alone)
        pd.testing.assert_series_equal(local.results[sid], alone)


def test_files_and_parquet_partitions(ray_cluster, forecaster, fleet, tmp_path):
    pytest.importorskip("pyarrow")
    series = dict(list(fleet.groupby("sensor")))
    series["s0"].to_csv(tmp_path / "s0.csv", index=False)
    series["s1"].to_parquet(tmp_path / "s1.parquet")
    partition = tmp_path / "sensor=s2"  # a hive partition: the id is in the folder name
    partition.mkdir()
    s2 = series["s2"].drop(columns="sensor")
    s2.iloc[:60].to_parquet(partition / "part-0.parquet")
    s2.iloc[60:].to_parquet(partition / "part-1.parquet")
    on_ray = map_series(forecaster, tmp_path, engine="ray")
    local = map_series(forecaster, tmp_path, engine="local")
    names = [str(tmp_path / n) for n in ("s0.csv", "s1.parquet", "sensor=s2")]
    assert list(on_ray.results) == list(local.results) == names
    for name in names:
        pd.testing.assert_frame_equal(on_ray.results[name], local.results[name])
    expected = forecaster.predict(series["s2"].reset_index(drop=True))
    pd.testing.assert_frame_equal(on_ray.results[names[2]], expected)


@pytest.mark.slow
def test_fit_predict_fits_a_clone_per_series(ray_cluster, forecaster, fleet):
    from sklearn.base import clone

    two = fleet[fleet["sensor"].isin(["s0", "s1"])]
    on_ray = map_series(forecaster, two, "fit_predict", engine="ray", fit_params=COLUMNS)
    local = map_series(forecaster, two, "fit_predict", engine="local", fit_params=COLUMNS)
    for sid, frame in two.groupby("sensor"):
        alone = clone(forecaster).fit(frame, **COLUMNS).predict(frame)
        pd.testing.assert_frame_equal(on_ray.results[sid], alone)
        pd.testing.assert_frame_equal(local.results[sid], alone)
    assert not hasattr(clone(forecaster), "net_")  # the model passed in is left alone


@pytest.mark.parametrize("engine", ["ray", "local"])
def test_a_failed_item_is_named_and_the_rest_finish(request, engine, detector, fleet,
                                                    tmp_path):
    if engine == "ray":
        request.getfixturevalue("ray_cluster")
    items = {"good": fleet[fleet["sensor"] == "s0"],
             "short": fleet[fleet["sensor"] == "s1"].head(3),
             "missing": str(tmp_path / "nowhere.csv")}
    with pytest.raises(FailedItemsError, match=r"2 of 3 items failed: short: .*fewer than "
                       r"window.*; missing: .*nowhere.csv: no such file") as caught:
        map_series(detector, items, "decision_function", engine=engine)
    assert list(caught.value.result.results) == ["good"]
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    collected = map_series(detector, items, "decision_function", engine=engine,
                           errors="collect")
    assert list(collected.failures) == ["short", "missing"]
    assert collected.failures == caught.value.result.failures


def test_bad_arguments_are_named(detector, forecaster, fleet, tmp_path):
    from sklearn.exceptions import NotFittedError

    from tsrnn import Forecaster

    with pytest.raises(ValueError, match="how must be one of"):
        map_series(detector, fleet, "score", engine="local")
    with pytest.raises(ValueError, match="needs an AnomalyDetector"):
        map_series(forecaster, fleet, "decision_function", engine="local")
    with pytest.raises(NotFittedError):
        map_series(Forecaster(), fleet, engine="local")
    with pytest.raises(ValueError, match="fit_params are for how='fit_predict'"):
        map_series(forecaster, fleet, engine="local", fit_params=COLUMNS)
    with pytest.raises(ValueError, match="id column 'sensor' not found"):
        map_series(forecaster, fleet.drop(columns="sensor"), engine="local")
    with pytest.raises(FileNotFoundError, match="no .csv, .tsv, .parquet files"):
        map_series(forecaster, tmp_path, engine="local")
    with pytest.raises(TypeError, match="item 'x' must be a DataFrame or a file path"):
        map_series(forecaster, {"x": 3}, engine="local")
    with pytest.raises(ValueError, match="errors must be"):
        map_series(forecaster, fleet, engine="local", errors="ignore")
    with pytest.raises(ValueError, match="address=.* needs engine='ray'"):
        map_series(forecaster, fleet, engine="local", address="auto")


def test_without_ray_runs_in_this_process(monkeypatch, detector, fleet):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    auto = map_series(detector, fleet, "decision_function")
    local = map_series(detector, fleet, "decision_function", engine="local")
    for sid in local.results:
        pd.testing.assert_series_equal(auto.results[sid], local.results[sid])
    with pytest.raises(ImportError, match=r"pip install 'tsrnn\[ray\]'"):
        map_series(detector, fleet, "decision_function", engine="ray")
