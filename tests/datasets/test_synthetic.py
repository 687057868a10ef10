"""Tests for tsrnn.datasets.synthetic and the shipped sensors.csv."""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsrnn.datasets import ANOMALY_KINDS, load_sensors, make_sensor_data, to_wide
from tsrnn.datasets.synthetic import COLUMNS, SENSORS_CSV

ROOT = Path(__file__).resolve().parents[2]
# The CSV keeps 4 decimals, so a reloaded value is within half a unit of the
# last place of the generated one; the extra margin absorbs float parsing.
ROUNDING_ATOL = 5e-5 + 1e-9


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def test_same_seed_gives_same_data():
    first = make_sensor_data(n_sensors=3, n_days=40, seed=7)
    second = make_sensor_data(n_sensors=3, n_days=40, seed=7)
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_different_seeds_give_different_data():
    first = make_sensor_data(n_days=40, seed=0)
    second = make_sensor_data(n_days=40, seed=1)
    assert not np.allclose(first["value"], second["value"])
    assert not np.array_equal(first["is_anomaly"], second["is_anomaly"])


def test_columns_dtypes_and_sensor_ids():
    data = make_sensor_data(n_sensors=3, n_days=30)
    assert tuple(data.columns) == COLUMNS
    assert pd.api.types.is_datetime64_dtype(data["timestamp"])
    assert data["timestamp"].dt.tz is None
    assert pd.api.types.is_string_dtype(data["sensor"])
    assert data["value"].dtype == np.float64
    assert data["is_anomaly"].dtype == np.int64
    assert pd.api.types.is_string_dtype(data["anomaly_kind"])
    assert list(pd.unique(data["sensor"])) == ["sensor_1", "sensor_2", "sensor_3"]


def test_timestamps_are_regular_hourly_and_nothing_is_missing():
    n_days = 35
    data = make_sensor_data(n_sensors=4, n_days=n_days, start="2023-03-01")
    assert not data.isna().any().any()
    expected = pd.date_range("2023-03-01", periods=n_days * 24, freq="h")
    for _, series in data.groupby("sensor"):
        np.testing.assert_array_equal(series["timestamp"].to_numpy(), expected.to_numpy())


def test_every_anomaly_kind_is_present_and_labelled():
    data = make_sensor_data()
    assert set(data["anomaly_kind"]) == {"", *ANOMALY_KINDS}
    np.testing.assert_array_equal(data["is_anomaly"], (data["anomaly_kind"] != "").astype(int))
    assert set(np.unique(data["is_anomaly"])) == {0, 1}


@pytest.mark.parametrize(("n_sensors", "freq"), [(1, "h"), (2, "h"), (4, "h"), (2, "15min")])
def test_labels_mark_exactly_the_timesteps_that_anomalies_changed(n_sensors, freq):
    data = make_sensor_data(n_sensors=n_sensors, n_days=30, freq=freq, seed=3)
    clean = make_sensor_data(n_sensors=n_sensors, n_days=30, freq=freq, seed=3, anomalies=False)
    changed = data["value"].to_numpy() != clean["value"].to_numpy()
    np.testing.assert_array_equal(changed, data["is_anomaly"].to_numpy() == 1)
    assert clean["is_anomaly"].sum() == 0
    assert set(clean["anomaly_kind"]) == {""}
    # Every kind even with one or two sensors.
    assert set(data["anomaly_kind"]) - {""} == set(ANOMALY_KINDS)


def test_anomalies_have_the_shape_their_kind_says():
    data = make_sensor_data(n_sensors=4, seed=11)
    clean = make_sensor_data(n_sensors=4, seed=11, anomalies=False)
    offset = data["value"].to_numpy() - clean["value"].to_numpy()
    kinds = data["anomaly_kind"].to_numpy()
    sensors = data["sensor"].to_numpy()
    seen = set()
    for kind in ANOMALY_KINDS:
        # Runs must not cross from one sensor into the next.
        for start, end in _runs(kinds == kind):
            assert len(set(sensors[start:end])) == 1
            run = offset[start:end]
            if kind == "spike":
                assert end - start == 1
            elif kind == "level_shift":
                np.testing.assert_allclose(run, run[0], rtol=1e-9)
                assert end - start >= 12
            elif kind == "drift":
                steps = np.diff(np.abs(run))
                assert np.all(steps > 0), "a drift grows steadily"
                assert end - start >= 24
            else:  # stuck: the reading itself is frozen
                values = data["value"].to_numpy()[start:end]
                assert np.all(values == values[0])
                assert values[0] == data["value"].to_numpy()[start - 1]
            seen.add(kind)
    assert seen == set(ANOMALY_KINDS)


def test_first_thirty_percent_of_each_series_is_clean():
    data = make_sensor_data(n_sensors=4, n_days=60, seed=5)
    for sensor, series in data.groupby("sensor"):
        n_clean = int(0.3 * len(series))
        assert series["is_anomaly"].iloc[:n_clean].sum() == 0, sensor
        assert series["is_anomaly"].iloc[n_clean:].sum() > 0, sensor


def test_anomaly_rate_is_realistic():
    rate = make_sensor_data()["is_anomaly"].mean()
    assert 0.005 < rate < 0.05


def test_sensors_have_different_levels_and_amplitudes():
    clean = make_sensor_data(n_sensors=4, anomalies=False)
    stats = clean.groupby("sensor")["value"].agg(["mean", "std"])
    assert stats["mean"].nunique() == 4
    assert stats["std"].min() > 0
    assert stats["std"].max() / stats["std"].min() > 1.2


def test_series_has_daily_seasonality():
    clean = make_sensor_data(n_sensors=1, anomalies=False)["value"].to_numpy()
    detrended = clean - np.convolve(clean, np.ones(24) / 24, mode="same")
    core = detrended[24:-24]
    lag_24 = np.corrcoef(core[:-24], core[24:])[0, 1]
    lag_12 = np.corrcoef(core[:-12], core[12:])[0, 1]
    assert lag_24 > 0.5
    assert lag_24 > lag_12


def test_clean_signal_of_a_sensor_does_not_depend_on_the_number_of_sensors():
    one = make_sensor_data(n_sensors=1, n_days=30, anomalies=False)
    three = make_sensor_data(n_sensors=3, n_days=30, anomalies=False)
    np.testing.assert_array_equal(one["value"], three.loc[three["sensor"] == "sensor_1", "value"])


def test_sub_hourly_frequency():
    data = make_sensor_data(n_sensors=2, n_days=28, freq="15min")
    series = data[data["sensor"] == "sensor_2"]
    assert len(series) == 28 * 96
    assert (series["timestamp"].diff().dropna() == pd.Timedelta(minutes=15)).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_sensors": 0}, "n_sensors must be at least 1"),
        ({"n_sensors": 2.0}, "n_sensors must be an int"),
        ({"n_days": 10}, "n_days must be at least 28"),
        ({"freq": "MS"}, "fixed interval"),
        ({"freq": "3h"}, "at most"),
        ({"freq": "every hour"}, "not a pandas frequency"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_sensor_data(**kwargs)


@settings(max_examples=25, deadline=None)
@given(
    n_sensors=st.integers(1, 5),
    n_days=st.integers(28, 70),
    seed=st.integers(0, 2**32 - 1),
)
def test_generator_invariants(n_sensors, n_days, seed):
    data = make_sensor_data(n_sensors=n_sensors, n_days=n_days, seed=seed)
    assert len(data) == n_sensors * n_days * 24
    assert np.isfinite(data["value"]).all()
    assert set(data["anomaly_kind"]) == {"", *ANOMALY_KINDS}
    assert ((data["anomaly_kind"] != "") == (data["is_anomaly"] == 1)).all()
    position = data.groupby("sensor").cumcount()
    assert not data.loc[position < 0.3 * n_days * 24, "is_anomaly"].any()


# --- to_wide ----------------------------------------------------------------


def test_to_wide_has_one_column_per_sensor_in_order():
    data = make_sensor_data(n_sensors=11, n_days=28)
    wide = to_wide(data)
    assert list(wide.columns) == [f"sensor_{k}" for k in range(1, 12)]
    assert isinstance(wide.index, pd.DatetimeIndex)
    assert wide.index.name == "timestamp"
    assert wide.shape == (28 * 24, 11)
    np.testing.assert_array_equal(
        wide["sensor_10"], data.loc[data["sensor"] == "sensor_10", "value"]
    )
    labels = to_wide(data, "is_anomaly")
    assert labels.to_numpy().sum() == data["is_anomaly"].sum()


def test_to_wide_rejects_duplicates_and_missing_columns():
    data = make_sensor_data(n_sensors=1, n_days=28)
    with pytest.raises(ValueError, match="duplicated"):
        to_wide(pd.concat([data, data.iloc[:1]]))
    with pytest.raises(ValueError, match="missing \\['sensor'\\]"):
        to_wide(data.drop(columns="sensor"))


# --- the shipped dataset ----------------------------------------------------


def test_shipped_csv_is_under_one_megabyte():
    size = resources.files("tsrnn.datasets").joinpath(SENSORS_CSV).read_bytes()
    assert 0 < len(size) < 1_000_000


def test_shipped_csv_equals_a_fresh_regeneration():
    shipped = load_sensors()
    fresh = make_sensor_data()
    pd.testing.assert_frame_equal(shipped, fresh, check_exact=False, rtol=0, atol=ROUNDING_ATOL)
    # The labels and ids are exact, not merely close.
    np.testing.assert_array_equal(shipped["is_anomaly"], fresh["is_anomaly"])
    np.testing.assert_array_equal(shipped["anomaly_kind"], fresh["anomaly_kind"])


def test_load_sensors_wide_is_the_values_pivoted():
    long = load_sensors("long")
    wide = load_sensors("wide")
    assert list(wide.columns) == ["sensor_1", "sensor_2", "sensor_3", "sensor_4"]
    assert len(wide) == len(long) // 4
    pd.testing.assert_frame_equal(wide, to_wide(long))


def test_load_sensors_rejects_unknown_format():
    with pytest.raises(ValueError, match="'long' or 'wide'"):
        load_sensors("tidy")


# --- datasets/make_sensors.py -------------------------------------------------


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "make_sensors", ROOT / "datasets" / "make_sensors.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_sensors_script_regenerates_the_shipped_csv(tmp_path):
    output = tmp_path / "out" / "sensors.csv"
    assert _load_script().main(["--output", str(output)]) == 0
    assert [p.name for p in output.parent.iterdir()] == ["sensors.csv"], "no temp file left"
    written = pd.read_csv(output, keep_default_na=False)
    shipped = pd.read_csv(
        resources.files("tsrnn.datasets").joinpath(SENSORS_CSV).open("rb"),
        keep_default_na=False,
    )
    pd.testing.assert_frame_equal(written, shipped, check_exact=False, rtol=0, atol=1e-4 + 1e-9)
    assert b"\r\n" not in output.read_bytes()
