"""Tests for tsrnn/drift.py and the detector's drift correction: the batch against
the stream, what it leaves alone, a trending series no longer outranking a fault on
a steady one, saved streams and model files, and ONNX scores."""

import contextlib

import numpy as np
import pandas as pd
import pytest
import torch
from rescoring import scored_differently

from tests.test_detector import _as_older_file
from tsrnn import AnomalyDetector
from tsrnn.drift import DRIFT_QUANTILE, DriftWatch, drift_corrected, reference_steps
from tsrnn.streaming import load_stream


def _drifting(n=3000, f=2, seed=0):
    """Squared-error-like noise whose level rises fivefold, with gaps."""
    rng = np.random.default_rng(seed)
    errors = rng.chisquare(1, (n, f)) * np.linspace(1.0, 5.0, n)[:, None]
    valid = rng.random(n) > 0.05
    return errors, valid


@pytest.mark.parametrize("quantile", [DRIFT_QUANTILE, 0.25, 0.5, 0.9])
def test_the_stream_equals_the_batch_bit_for_bit(quantile):
    errors, valid = _drifting()
    batch = drift_corrected(errors, valid, 256, quantile)
    watch, streamed = DriftWatch(256, 2, quantile), errors.copy()
    for t in np.flatnonzero(valid):
        streamed[t] = watch.update(errors[t])
    np.testing.assert_array_equal(streamed, batch)
    watch.check(DriftWatch(256, 2, quantile), "here")  # a state a stream makes passes


def test_a_watch_of_the_lower_quartile_has_the_form_older_state_files_hold():
    old, new = DriftWatch(16, 1, 0.25), DriftWatch(16, 1)
    assert "quantile" not in vars(old) and old.quantile == 0.25
    assert vars(new)["quantile"] == DRIFT_QUANTILE == 0.75


def test_a_rising_error_level_is_divided_out_and_nothing_is_raised():
    errors, valid = _drifting()
    out = drift_corrected(errors, valid, 256)
    assert (out <= errors).all()  # divided by at least 1, never raised
    np.testing.assert_array_equal(out[~valid], errors[~valid])  # gaps untouched
    first = reference_steps(256)
    np.testing.assert_array_equal(out[:first], errors[:first])  # no reference yet
    x, y = errors[valid], out[valid]
    # the raw upper quartile rose almost fourfold; corrected, it stays near its start
    assert np.quantile(x[-500:], DRIFT_QUANTILE) > 3 * np.quantile(x[:500], DRIFT_QUANTILE)
    assert np.quantile(y[-500:], DRIFT_QUANTILE) < 1.5 * np.quantile(y[:500], DRIFT_QUANTILE)


def test_a_steady_series_a_short_series_and_none_are_left_alone():
    rng = np.random.default_rng(1)
    steady = rng.chisquare(1, (12000, 1))
    out = drift_corrected(steady, np.ones(12000, bool), 4096)
    ratio = (steady / out)[:, 0]
    # a quartile of noise wanders (the reference is 1024 steps'): a little, no trend
    assert ratio.max() < 1.3 and np.median(ratio) < 1.1
    short = steady[:1000]
    np.testing.assert_array_equal(drift_corrected(short, np.ones(1000, bool), 4096), short)
    np.testing.assert_array_equal(drift_corrected(steady, np.ones(12000, bool), None), steady)


def test_a_fault_barely_moves_the_error_level():
    rng = np.random.default_rng(2)
    errors = rng.chisquare(1, (12000, 1))
    errors[8000:8400] += 50.0  # a fault as long as a tenth of the window
    ratio = (errors / drift_corrected(errors, np.ones(12000, bool), 4096))[:, 0]
    # its last step divided about 1.44 times as much as its first (1.45 in theory:
    # for chi-square errors, a tenth of the window above the rest moves the upper
    # quartile to the rest's 83rd percentile; the lower quartile, to their 28th,
    # moves by 1.25 in theory and 1.23 here)
    assert ratio[8399] < 1.6 * ratio[7999]
    lower = (errors / drift_corrected(errors, np.ones(12000, bool), 4096, 0.25))[:, 0]
    assert lower[8399] < 1.35 * lower[7999] < ratio[8399]
    assert (errors / ratio[:, None])[8000:8400].mean() > 0.7 * errors[8000:8400].mean()


def _watch(n=20):
    watch = DriftWatch(16, 2)
    for row in np.random.default_rng(3).chisquare(1, (n, 2)):
        watch.update(row)
    return watch


@pytest.mark.parametrize("damage, match", [
    (lambda w: setattr(w, "count", w.window + 1), "count or start"),
    (lambda w: setattr(w, "window", 8), "not the detector's drift_window"),
    (lambda w: setattr(w, "window", 16.0), "not the detector's drift_window"),
    (lambda w: setattr(w, "quantile", 0.5), "not the detector's drift_quantile"),
    (lambda w: setattr(w, "quantile", "0.75"), "not the detector's drift_quantile"),
    (lambda w: w.ordered.__setitem__((0, 0), 1e9), "not the sorted errors of its ring"),
    (lambda w: w.ordered.__setitem__((0, 0), -1.0), "not the sorted errors of its ring"),
    (lambda w: w.recent.__setitem__((3, 1), np.nan), "not the sorted errors of its ring"),
    (lambda w: w.recent.__setitem__((3, 1), 7.5), "not the sorted errors of its ring"),
    (lambda w: w.reference.__setitem__(0, np.nan), "reference is not errors"),
    (lambda w: w.reference.__setitem__(0, np.inf), "reference is not errors"),
])
def test_a_damaged_drift_state_is_refused(damage, match):
    watch = _watch()
    damage(watch)
    with pytest.raises(ValueError, match=match):
        watch.check(DriftWatch(16, 2), "a file: series 's'")


def test_a_reference_before_the_first_steps_is_refused():
    watch = _watch(n=2)  # fewer than the 4 reference steps
    watch.reference[:] = 1.0
    with pytest.raises(ValueError, match="before its first steps"):
        watch.check(DriftWatch(16, 2), "here")


def test_an_error_beyond_float32_is_kept_as_its_largest_and_the_state_reloads():
    errors = np.random.default_rng(5).chisquare(1, (40, 1))
    errors[10] = 1e300
    watch, streamed = DriftWatch(16, 1), errors.copy()
    for t in range(40):
        streamed[t] = watch.update(errors[t])
    np.testing.assert_array_equal(streamed, drift_corrected(errors, np.ones(40, bool), 16))
    watch.check(DriftWatch(16, 1), "here")  # still a state a stream makes
    assert np.isfinite(watch.ordered).all()


def _trending_fleet(n=1400, seed=0):
    """Two hourly sensors: one steady, one trending far beyond its first rows."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    daily = np.sin(2 * np.pi * t / 24)
    stamps = pd.date_range("2024-01-01", periods=n, freq="h")
    steady = 10 + daily + 0.1 * rng.standard_normal(n)
    trend = 10 + daily + 0.1 * rng.standard_normal(n) + 6.0 * t / n
    return pd.concat([pd.DataFrame({"timestamp": stamps, "sensor": "steady", "y": steady}),
                      pd.DataFrame({"timestamp": stamps, "sensor": "trend", "y": trend})],
                     ignore_index=True)


@pytest.fixture(scope="module")
def fleet_det():
    """Fitted on the steady sensor only: the trending one joins when scored (a new
    sensor, so no level check of training levels speaks for it; the network's errors
    alone grow as it drifts)."""
    df = _trending_fleet()
    train = df[(df["timestamp"] < df["timestamp"].iloc[300]) & (df["sensor"] == "steady")]
    return AnomalyDetector(window=16, hidden_size=16, max_epochs=3, n_models=1,
                           calendar=None, accelerator="cpu", random_state=0,
                           drift_window=128).fit(train, time_col="timestamp",
                                                 id_col="sensor", target="y")


def _scores(det, df):
    return det.decision_function(df, online=True).to_numpy()


def test_a_trending_sensor_no_longer_outranks_a_fault_on_a_steady_one(fleet_det):
    det = fleet_det
    df = _trending_fleet()
    fault = (df["sensor"] == "steady") & df.index.isin(range(1200, 1206))
    df.loc[fault, "y"] += 3.0  # a spike of 3 on the steady sensor
    trend_rows = (df["sensor"] == "trend").to_numpy() & (np.arange(len(df)) % 1400 > 1000)
    with_drift = _scores(det, df)
    det.set_params(drift_window=None)
    try:
        without = _scores(det, df)
    finally:
        det.set_params(drift_window=128)
    # without: the trend's late normal rows rank with the fault; with: far below it
    peak = with_drift[fault.to_numpy()].max()
    assert np.quantile(without[trend_rows], 0.9) > 0.5 * without[fault.to_numpy()].max()
    assert np.quantile(with_drift[trend_rows], 0.9) < 0.25 * peak
    np.testing.assert_allclose(with_drift[fault.to_numpy()], without[fault.to_numpy()],
                               rtol=0.2)  # the steady sensor's fault as high as it was


def test_a_setting_the_scores_do_not_use_keeps_the_threshold(fleet_det):
    det = fleet_det
    df = _trending_fleet(n=300)
    with _set(det, likelihood_average="squared"):  # ranking scores: not used
        det.predict(df)
    for name, value in (("drift_quantile", 0.5), ("drift_window", 256)):  # used
        at_fit = det.get_params()[name]
        with _set(det, **{name: value}), pytest.raises(
                ValueError, match=f"{name}={at_fit} at fit, now {value}"):
            det.predict(df)


@contextlib.contextmanager
def _set(det, **params):
    """``det`` with ``params`` for the block, then as it was (a shared fixture)."""
    kept = {name: det.get_params()[name] for name in params}
    det.set_params(**params)
    try:
        yield det
    finally:
        det.set_params(**kept)


def test_alerting_scores_have_no_drift_correction(fleet_det):
    det = AnomalyDetector(**{**fleet_det.get_params(), "alerts": True})
    det.__dict__.update({k: v for k, v in fleet_det.__dict__.items() if k.endswith("_")})
    df = _trending_fleet()
    assert det._drift_window is None and det._drift_watch() is None
    before = _scores(det, df)
    det.set_params(drift_window=None)
    np.testing.assert_array_equal(_scores(det, df), before)


@pytest.mark.parametrize("quantile", [0.75, 0.25])
def test_the_stream_and_a_saved_stream_agree_with_the_batch(fleet_det, tmp_path, quantile):
    det = scored_differently(fleet_det, drift_quantile=quantile)
    df = _trending_fleet(seed=1)
    batch = det.decision_function(df, online=True)
    wide = df.pivot(index="timestamp", columns="sensor", values="y")
    stream = det.stream()
    out = {"steady": [], "trend": []}
    half = len(wide) // 2
    for k, (stamp, row) in enumerate(wide.iterrows()):
        if k == half:  # save and resume mid-way, past the drift reference
            stream.save(tmp_path / "s.pt")
            stream = load_stream(tmp_path / "s.pt")
        result = stream.update(stamp, {"steady": row["steady"], "trend": row["trend"]})
        for sid, score in zip(result.series, result.score, strict=True):
            out[sid].append(score)
    for sid in ("steady", "trend"):
        expected = batch[(df["sensor"] == sid).to_numpy()].to_numpy()
        np.testing.assert_allclose(out[sid], expected, rtol=1e-4, atol=1e-5)


def _ordered_value(state):
    state["drift"]["attrs"]["ordered"]["__ndarray__"][0, 0] = 1e9  # no longer sorted


def _window(state):
    state["drift"]["attrs"]["window"] = 64


def _no_watch(state):
    state["drift"] = None


def _average(state):
    state["filter"]["attrs"]["average"] = "squared"  # not the detector's "absolute"


def _spare(state):
    state["filter"]["attrs"]["spare"] = 1.0  # a key the template lacks


def _quantile(state):
    state["drift"]["attrs"]["quantile"] = 0.25


@pytest.mark.parametrize("damage, match", [
    (_ordered_value, "not the sorted errors of its ring"),
    (_window, "not the detector's drift_window"),
    (_no_watch, "drift window is not one"),
    (_average, "its score filter's average is not the detector's"),
    (_spare, "attributes of a ScoreFilter do not match"),
    (_quantile, "not the detector's drift_quantile"),
])
def test_a_saved_stream_with_a_damaged_drift_window_is_refused(fleet_det, tmp_path, damage,
                                                               match):
    from tsrnn.model_checks import checksum

    stream = fleet_det.stream()
    for stamp in pd.date_range("2024-03-01", periods=60, freq="h"):
        stream.update(stamp, {"steady": 10.0, "trend": 10.0 + stamp.hour / 24})
    stream.save(tmp_path / "s.pt")
    payload = torch.load(tmp_path / "s.pt", weights_only=True)
    damage(payload["state"][0]["__dict__"])
    payload["checksum"] = checksum(payload)  # a crafted file, not a damaged one
    torch.save(payload, tmp_path / "s.pt")
    with pytest.raises(ValueError, match=match) as err:
        load_stream(tmp_path / "s.pt")
    assert "s.pt" in str(err.value) and "steady" in str(err.value)


def test_a_model_file_from_before_the_drift_correction_scores_without_it(fleet_det, tmp_path):
    import torch as _torch

    fleet_det.save(tmp_path / "new.pt")
    payload = _torch.load(tmp_path / "new.pt", weights_only=True)
    for key in ("drift_window", "likelihood_average"):  # as a file from before them
        del payload["fitted"]["threshold_scoring"][key]
        del payload["params"][key]
    payload["format_version"] = 1  # which had no checksum
    del payload["checksum"]
    _torch.save(payload, tmp_path / "older.pt")
    older = AnomalyDetector.load(tmp_path / "older.pt")
    # labels and streams, not only scores: the threshold was fitted without either
    assert older.predict(_trending_fleet(n=300)).isin([0, 1]).all()
    older.stream()
    old = _as_older_file(tmp_path, fleet_det, params=("drift_window",))
    assert old.drift_window is None
    df = _trending_fleet()
    fleet_det.set_params(drift_window=None)
    try:
        np.testing.assert_allclose(_scores(old, df), _scores(fleet_det, df))
    finally:
        fleet_det.set_params(drift_window=128)


def test_drift_window_is_checked():
    df = _trending_fleet(n=200)
    for bad in (3, 0, 2.5, "auto"):
        with pytest.raises((ValueError, TypeError), match="drift_window"):
            AnomalyDetector(drift_window=bad, max_epochs=1).fit(
                df, time_col="timestamp", id_col="sensor", target="y")


def test_the_onnx_scores_have_the_drift_correction(tmp_path):
    pytest.importorskip("onnxruntime")
    from tests.test_onnx_serving import TOL, _graph_errors
    from tsrnn.export.scores import detector_scores

    trend = _trending_fleet().query("sensor == 'trend'").set_index("timestamp")[["y"]]
    det = AnomalyDetector(window=16, hidden_size=16, max_epochs=2, n_models=1, calendar=None,
                          accelerator="cpu", random_state=0, drift_window=128
                          ).fit(trend.iloc[:300])
    meta = det.to_onnx(tmp_path / "d.onnx")
    assert meta["params"]["drift_window"] == 128
    errors = _graph_errors(det, tmp_path / "d.onnx", trend)
    scores = detector_scores(errors, meta, values=trend.to_numpy())
    np.testing.assert_allclose(scores, det.decision_function(trend, online=True).to_numpy(),
                               **TOL)
    older = {**meta, "params": {k: v for k, v in meta["params"].items() if k != "drift_window"}}
    without = detector_scores(errors, older, values=trend.to_numpy())
    assert (without >= scores - 1e-9).all() and (without > scores + 1e-3).sum() > 100
    # an export from before drift_quantile scores with the lower quartile, as then
    lower = scored_differently(det, drift_quantile=0.25)
    before = {**meta, "params": {k: v for k, v in meta["params"].items()
                                 if k != "drift_quantile"}}
    expected = lower.decision_function(trend, online=True).to_numpy()
    np.testing.assert_allclose(detector_scores(errors, before, values=trend.to_numpy()),
                               expected, **TOL)
    assert not np.allclose(expected, scores)  # the quantile reaches the export's scores
