"""Serving an export without the training stack: a detector's scores from its
graph's errors with numpy alone (tsrnn/export/scores.py), and the README's
forecast from a CSV with onnxruntime, numpy and pandas, where importing torch
or tsrnn fails (and, marked slow, in a fresh venv that has only those three)."""

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install 'tsrnn[onnx]'")
pytest.importorskip("onnxruntime", reason="serving tests need the onnx extra")

from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402
from onnx_cases import FIT, TOL, nab  # noqa: E402

from tsrnn import AnomalyDetector, Forecaster  # noqa: E402
from tsrnn.data.calendar import calendar_features  # noqa: E402
from tsrnn.export import detector_scores, load_onnx  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"
# Runs a file with some top-level packages unimportable, then saves one of its
# names: what a machine without torch and tsrnn would run.
RUNNER = '''\
import importlib.abc, sys

BLOCKED = set(sys.argv[2].split(",")) - {""}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")


sys.meta_path.insert(0, Blocker())
namespace = {"__name__": "__main__"}
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), namespace)
import numpy as np

assert not BLOCKED & {m.partition(".")[0] for m in sys.modules}, "a blocked module loaded"
np.save(sys.argv[3], namespace[sys.argv[4]])
'''


def _run_without(python: str, script: Path, blocked: list[str], name: str, *,
                 with_tsrnn: bool = True) -> np.ndarray:
    """Run ``script`` in ``python`` with ``blocked`` unimportable; its variable ``name``.
    ``with_tsrnn``: this checkout on the path (else nothing: a bare venv)."""
    runner = script.parent / "runner.py"
    runner.write_text(RUNNER)
    out = script.parent / f"{name}.npy"
    import tsrnn  # this checkout's, not whichever the interpreter would find from the folder

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if with_tsrnn:
        env["PYTHONPATH"] = str(Path(tsrnn.__file__).parents[1])
    done = subprocess.run([python, str(runner), str(script), ",".join(blocked), str(out), name],
                          cwd=script.parent, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(out)


# -------------------------------------------------------- detector post-processing
def _graph_errors(det: AnomalyDetector, path: Path, df) -> np.ndarray:
    """Every step's error from onnxruntime, as a stream would see it: ``[T, F]``,
    NaN for the warm-up steps."""
    onnx_model = load_onnx(path)
    forecast = det.score == "forecast"
    rows = det.window + forecast
    loc, spread = onnx_model.scaling()
    values = df.to_numpy()
    windows = sliding_window_view(values, rows, axis=0).transpose(0, 2, 1)  # [T-rows+1, rows, F]
    feeds = dict(values=windows, loc=np.tile(loc, (len(windows), 1)),
                 spread=np.tile(spread, (len(windows), 1)))
    if det.calendar_:
        calendar = calendar_features(df.index, det.calendar_)
        feeds["calendar"] = sliding_window_view(calendar, rows, axis=0).transpose(0, 2, 1)
    out = onnx_model.run(**feeds)["errors"]  # [windows, F] or [windows, window, F]
    errors = np.full(values.shape, np.nan)
    errors[rows - 1:] = out if forecast else out[:, -1]  # the step each window ends at
    return errors


@pytest.mark.parametrize("score, alerts, average", [("reconstruction", True, "squared"),
                                                   ("reconstruction", True, "absolute"),
                                                   ("forecast", False, "squared")])
def test_detector_scores_equal_the_detectors_own(tmp_path, score, alerts, average):
    df = nab()
    det = AnomalyDetector("gru", window=8, n_models=2, score=score, alerts=alerts, cooldown=20,
                          likelihood_average=average, **FIT).fit(df.iloc[:400])
    meta = det.to_onnx(tmp_path / "d.onnx")
    errors = _graph_errors(det, tmp_path / "d.onnx", df)
    scores = detector_scores(errors, meta, values=df.to_numpy())
    expected = det.decision_function(df, online=True).to_numpy()
    np.testing.assert_allclose(scores, expected, **TOL)
    if alerts:  # the likelihood (a burst at row 151), and the cooldown
        big = 1000 if average == "squared" else 100  # magnitudes: a burst counts less
        assert expected.max() >= big and (expected == 0).mean() > 0.5
    # numpy and scipy alone: the same numbers where torch cannot be imported
    np.save(tmp_path / "errors.npy", errors)
    np.save(tmp_path / "values.npy", df.to_numpy())
    script = tmp_path / "score.py"
    script.write_text(
        "import json\nimport numpy as np\nfrom tsrnn.export.scores import detector_scores\n"
        "meta = json.load(open('d.onnx.json'))\n"
        "scores = detector_scores(np.load('errors.npy'), meta, values=np.load('values.npy'))\n")
    got = _run_without(sys.executable, script, ["torch", "onnx", "onnxruntime"], "scores")
    np.testing.assert_array_equal(got, scores)


def test_detector_scores_have_the_stuck_sensor_check(tmp_path):
    steps = np.arange(600)
    df = pd.DataFrame({"a": np.sin(steps * 2 * np.pi / 24)
                       + 0.1 * np.random.default_rng(0).standard_normal(600)})
    det = AnomalyDetector("gru", window=8, n_models=1, calendar=None,
                          **FIT).fit(df.iloc[:400])
    frozen = df.copy()
    frozen.iloc[500:560, 0] = frozen.iloc[499, 0]  # the sensor sticks for 60 steps
    meta = det.to_onnx(tmp_path / "d.onnx")
    assert meta["longest_run"] == det.longest_run_.tolist()
    errors = _graph_errors(det, tmp_path / "d.onnx", frozen)
    scores = detector_scores(errors, meta, values=frozen.to_numpy())
    expected = det.decision_function(frozen, online=True).to_numpy()
    np.testing.assert_allclose(scores, expected, **TOL)
    without = detector_scores(errors, {**meta, "longest_run": None}, values=frozen.to_numpy())
    assert (scores >= without - 1e-9).all() and scores[540] > without[540]  # the check is on
    with pytest.raises(ValueError, match="values are needed for the stuck-sensor and level checks"):
        detector_scores(errors, meta)


def test_detector_scores_carry_missing_values_forward_as_the_detector_does(tmp_path):
    steps = np.arange(600)
    df = pd.DataFrame({"a": np.sin(steps * 2 * np.pi / 24)
                       + 0.1 * np.random.default_rng(0).standard_normal(600)})
    gappy = df.copy()
    gappy.iloc[500:560, 0] = gappy.iloc[499, 0]  # stuck, with gaps in the run
    gappy.iloc[510:550:3, 0] = np.nan
    det = AnomalyDetector("gru", window=8, n_models=1, calendar=None, fill="ffill",
                          **FIT).fit(df.iloc[:400])
    meta = det.to_onnx(tmp_path / "d.onnx")
    errors = _graph_errors(det, tmp_path / "d.onnx", gappy.ffill())
    scores = detector_scores(errors, meta, values=gappy.to_numpy())  # the NaNs as they come
    np.testing.assert_allclose(scores, det.decision_function(gappy, online=True).to_numpy(),
                               **TOL)
    with pytest.raises(ValueError, match="values row 510 is missing or infinite, and the "
                                         "detector was fitted without fill='ffill'"):
        detector_scores(errors, {**meta, "params": {**meta["params"], "fill": None}},
                        values=gappy.to_numpy())
    with pytest.raises(ValueError, match="row 0 is missing"):
        detector_scores(errors, meta, values=np.r_[[[np.nan]], gappy.to_numpy()[1:]])


def test_detector_scores_divide_ranking_scores_by_the_score_scale(tmp_path):
    df = nab()
    det = AnomalyDetector("gru", window=8, n_models=1, **FIT).fit(df.iloc[:400])
    det.score_scale_ = np.array([2.5, 1.5])  # as a series with heavy-tailed errors has
    meta = det.to_onnx(tmp_path / "d.onnx")
    assert meta["score_scale"] == [2.5, 1.5]
    errors = _graph_errors(det, tmp_path / "d.onnx", df)
    scores = detector_scores(errors, meta, values=df.to_numpy())
    np.testing.assert_allclose(scores, det.decision_function(df, online=True).to_numpy(), **TOL)
    older = detector_scores(errors, {**meta, "score_scale": None}, values=df.to_numpy())
    np.testing.assert_allclose(older, 2.5 * scores)  # an export from before it


def test_detector_scores_errors(tmp_path):
    meta = {"kind": "forecast"}
    with pytest.raises(ValueError, match="expected a detector's"):
        detector_scores(np.zeros((3, 1)), meta)
    det = AnomalyDetector("gru", window=8, n_models=1, alerts=True, **FIT).fit(nab().iloc[:300])
    meta = det.to_onnx(tmp_path / "d.onnx")
    with pytest.raises(ValueError, match=r"errors must have shape \[steps, 1\], got \[3, 2\]"):
        detector_scores(np.zeros((3, 2)), meta)
    with pytest.raises(ValueError, match="values are needed for the range check"):
        detector_scores(np.zeros((3, 1)), meta)
    with pytest.raises(KeyError, match="not seen at fit"):
        detector_scores(np.zeros((3, 1)), meta, series="other")


# ------------------------------------------------------ the README's serving example
def _serving_folder(folder: Path) -> np.ndarray:
    """What the README's serving block reads (a forecaster's graph, its metadata
    and a CSV), and the forecasts ``[series, horizon]`` tsrnn itself makes."""
    from tsrnn.datasets import load_sensors

    block = re.search(r"```python\n(# serve\.py.*?)```", README.read_text(), re.S)
    assert block, "README.md has no block starting with '# serve.py'"
    (folder / "serve.py").write_text(block[1])
    df = load_sensors()
    model = Forecaster("gru", input_len=48, horizon=12, **FIT,
                       trainer_kwargs={"limit_train_batches": 2}).fit(
        df, time_col="timestamp", id_col="sensor", target="value")
    model.to_onnx(folder / "forecaster.onnx")
    df.to_csv(folder / "sensors.csv", index=False)
    return model.predict()["value"].to_numpy().reshape(len(model.ids_), 12)


def _check_forecast(forecast: np.ndarray, expected: np.ndarray) -> None:
    assert forecast.shape == (*expected.shape, 1, 1)
    np.testing.assert_allclose(forecast[..., 0, 0], expected, **TOL)


def test_readme_serving_needs_no_torch_nor_tsrnn(tmp_path):
    expected = _serving_folder(tmp_path)
    forecast = _run_without(sys.executable, tmp_path / "serve.py", ["torch", "tsrnn"],
                            "forecast")
    _check_forecast(forecast, expected)


@pytest.mark.slow
def test_readme_serving_in_a_venv_with_only_onnxruntime_pandas_numpy(tmp_path):
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = str(env / "bin" / "python")
    pip = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                          "onnxruntime", "pandas", "numpy"], capture_output=True, text=True,
                         timeout=900)
    if pip.returncode:
        last = (pip.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"pip could not install onnxruntime, pandas, numpy (offline?): {last}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    absent = subprocess.run([python, "-c", "import importlib.util as u; "
                             "print(u.find_spec('torch'), u.find_spec('tsrnn'))"],
                            capture_output=True, text=True, check=True, env=env, cwd=tmp_path)
    assert absent.stdout.split() == ["None", "None"]
    folder = tmp_path / "serve"
    folder.mkdir()
    expected = _serving_folder(folder)
    _check_forecast(_run_without(python, folder / "serve.py", [], "forecast", with_tsrnn=False),
                    expected)
    assert json.loads((folder / "forecaster.onnx.json").read_text())["kind"] == "forecast"
