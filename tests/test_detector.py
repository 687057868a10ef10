"""Tests for tsrnn/detector.py: the AnomalyDetector and its stream, on tiny synthetic data.

The estimator contract (clone, seeding, persistence, bad input) is checked for every
estimator in tests/test_contract.py; this file covers what is particular to anomaly
detection: PyOD's vocabulary, scores that single out injected anomalies, per-row
alignment, many sensors, and point-by-point streaming.
"""

import copy
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from rescoring import scored_differently

import tsrnn
from tsrnn import AnomalyDetector
from tsrnn.data import DataError
from tsrnn.detector import AnomalyStream
from tsrnn.model_checks import checksum
from tsrnn.nn.autoencoder import RecurrentAutoencoder

W = 8  # window
# Ranking scores (alerts=False) of the errors as they are (smoothing=0) unless a test
# says otherwise: most tests here are
# about the errors themselves; the likelihood's own tests set it.
TINY = dict(window=W, hidden_size=8, max_epochs=2, batch_size=32, accelerator="cpu",
            random_state=0, smoothing=0, n_models=1)
LONG = dict(id_col="series", time_col="timestamp")
HOUR = pd.Timedelta(hours=1)
SCORES = ["reconstruction", "forecast"]
# Steps of a series that online scores (and the stream) cannot score yet.
WARM_UP = {"reconstruction": W - 1, "forecast": W}


def _detector(**params) -> AnomalyDetector:
    return AnomalyDetector(**{**TINY, **params})


def _sine(n: int, *, period: int = 24, level: float = 0.0, noise: float = 0.05,
          seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n)


def _wide(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """One series, two features, hourly ``DatetimeIndex``."""
    return pd.DataFrame(
        {"a": _sine(n, seed=seed), "b": _sine(n, period=12, level=3, seed=seed + 100)},
        index=pd.date_range("2024-01-01", periods=n, freq="h"),
    )


def _long(lengths=(100, 90, 110), seed: int = 0) -> pd.DataFrame:
    """Sensors at different levels that start at different hours; rows interleaved
    at random (each sensor's rows stay in time order), under a shuffled index."""
    parts = [pd.DataFrame({
        "series": f"s{k}",
        "timestamp": pd.date_range("2024-03-01", periods=n, freq="h") + 3 * k * HOUR,
        "y": _sine(n, level=10 * k, seed=seed + k),
    }) for k, n in enumerate(lengths)]
    rng = np.random.default_rng(seed)
    # A random interleaving: shuffle the sequence of sensor labels, then hand each
    # sensor's rows out in time order.
    labels = rng.permutation(np.repeat(np.arange(len(parts)), lengths))
    order = np.empty(len(labels), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for k in range(len(parts)):
        order[labels == k] = starts[k] + np.arange(lengths[k])
    frame = pd.concat(parts, ignore_index=True).iloc[order]
    frame.index = pd.Index(rng.permutation(len(frame)) + 1000)
    return frame


def _stream_rows(stream: AnomalyStream, df: pd.DataFrame, sid=None):
    """Feed a wide frame point by point; returns scores, ready flags, results."""
    results = [stream.update(t, row, series=[sid]) for t, row in zip(df.index, df.to_numpy(),
                                                                     strict=True)]
    return (np.array([r.score[0] for r in results]), np.array([r.ready[0] for r in results]),
            results)


@pytest.fixture(scope="module")
def wide_frame() -> pd.DataFrame:
    return _wide()


@pytest.fixture(scope="module")
def fitted(wide_frame) -> dict[str, AnomalyDetector]:
    """Tiny detectors of each score, fitted on the two-feature wide frame."""
    return {score: _detector(score=score, contamination=0.05).fit(wide_frame)
            for score in SCORES}


@pytest.fixture(scope="module")
def long_frame() -> pd.DataFrame:
    return _long()


@pytest.fixture(scope="module")
def long_det(long_frame) -> AnomalyDetector:
    # No validation part: every row scales, so a new sensor scaled by its own rows
    # can be compared with a known one below.
    return _detector(val_size=0).fit(long_frame, **LONG)


@pytest.fixture(scope="module")
def trained() -> dict[str, AnomalyDetector]:
    """Detectors trained long enough to model clean sine waves."""
    clean = _wide(300)
    # 12 epochs: at 6, a level shift of 2 standard deviations scored below the clean
    # rows' 99th percentile for some seeds; at 12 it is 9x above or more for seeds 0-4.
    return {score: AnomalyDetector(cell="gru", window=16, hidden_size=16, lr=1e-2,
                                   max_epochs=12, batch_size=32, accelerator="cpu",
                                   random_state=0, score=score).fit(clean)
            for score in SCORES}


# ---------------------------------------------------------------- PyOD vocabulary
@pytest.mark.parametrize("score", SCORES)
def test_fit_sets_pyods_attributes(fitted, wide_frame, score):
    det = fitted[score]
    scores = det.decision_scores_
    assert isinstance(scores, np.ndarray) and scores.shape == (len(wide_frame),)
    assert np.isfinite(scores).all() and (scores >= 0).all()
    np.testing.assert_allclose(scores, det.decision_function(wide_frame), rtol=1e-6)
    # threshold_: the 95% quantile of the online scores of the validation rows
    # (the frame's last 10%, which the network never fitted).
    online = det.decision_function(wide_frame, online=True).to_numpy()
    held_out = online[int(det._train_end(det._read(wide_frame))[0]):]
    assert len(held_out) == pytest.approx(0.1 * len(wide_frame), abs=2)
    assert det.threshold_ == pytest.approx(np.quantile(held_out, 0.95))
    assert set(np.unique(det.labels_)) <= {0, 1}
    np.testing.assert_array_equal(det.labels_, scores > det.threshold_)
    assert det.target_names_ == ["a", "b"] and det.n_features_in_ == 2


def test_scores_follow_the_frames_row_order(long_det, long_frame):
    df = long_frame
    assert not df["timestamp"].is_monotonic_increasing  # interleaved, not sorted
    scores = long_det.decision_function(df)
    assert isinstance(scores, pd.Series) and scores.index.equals(df.index)
    np.testing.assert_allclose(long_det.decision_scores_, scores.to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(long_det.labels_,
                                  long_det.decision_scores_ > long_det.threshold_)
    # Each row's score is its own: the same as scoring its sensor alone, or the
    # frame in another row order.
    for sid in ("s0", "s1", "s2"):
        alone = long_det.decision_function(df[df["series"] == sid])
        pd.testing.assert_series_equal(scores[alone.index], alone, rtol=1e-5)
    grouped = df.sort_values(["series", "timestamp"])
    pd.testing.assert_series_equal(long_det.decision_function(grouped)[df.index], scores,
                                   rtol=1e-5)


def test_decision_function_is_a_series_on_the_frames_index(fitted):
    df = _wide(120, seed=5)
    df.index = df.index + 3 * HOUR  # not the training times: any frame is scored
    scores = fitted["reconstruction"].decision_function(df)
    assert isinstance(scores, pd.Series) and scores.name == "score"
    assert scores.index.equals(df.index) and scores.dtype == np.float64


def test_predict_is_the_score_above_the_threshold(fitted):
    det = fitted["reconstruction"]
    df = _wide(120, seed=5)
    df.iloc[60, 0] += 20.0
    labels = det.predict(df)
    assert labels.name == "label" and labels.index.equals(df.index)
    assert labels.dtype == np.int64 and set(labels.unique()) <= {0, 1}
    scores = det.decision_function(df)
    pd.testing.assert_series_equal(labels, (scores > det.threshold_).astype(np.int64),
                                   check_names=False)
    assert labels.iloc[60] == 1
    online = det.predict(df, online=True)
    np.testing.assert_array_equal(online, det.decision_function(df, online=True)
                                  > det.threshold_)


@pytest.mark.parametrize("score", SCORES)
def test_higher_scores_for_injected_anomalies(trained, score):
    det = trained[score]
    df = _wide(200, seed=7)  # clean, but not the training noise
    spike, shift = 60, slice(120, 140)
    df.iloc[spike, 0] += 4.0
    df.iloc[shift, 1] += 2.0
    scores = det.decision_function(df).to_numpy()
    far = np.ones(len(df), dtype=bool)  # rows no window that covers an anomaly touches
    far[spike - det.window:spike + det.window] = False
    far[shift.start - det.window:shift.stop + det.window] = False
    ceiling = np.quantile(scores[far], 0.99)
    assert scores[spike] > ceiling, (scores[spike], ceiling)
    # A one-step-ahead forecaster soon follows the new level: only the shift's
    # start is surprising. An autoencoder never saw that level at all.
    shifted = scores[shift] if score == "reconstruction" else scores[shift.start]
    assert np.all(shifted > ceiling), (shifted, ceiling)
    assert det.predict(df).iloc[spike] == 1


@pytest.mark.parametrize("score", SCORES)
def test_the_likelihood_keeps_the_anomalies_on_top(trained, score):
    det = scored_differently(trained[score], alerts=True, cooldown=0)
    df = _wide(200, seed=7)
    df.iloc[60, 0] += 4.0
    scores = det.decision_function(df).to_numpy()
    far = np.ones(len(df), dtype=bool)
    far[60 - det.window:60 + det.window] = False
    assert scores[60:60 + det.window].max() > np.quantile(scores[far], 0.99)


# ------------------------------------------------------- every timestamp is scored
def test_every_row_gets_an_offline_score(fitted, long_det, long_frame):
    det = fitted["reconstruction"]
    scores = det.decision_function(_wide(60, seed=3)).to_numpy()
    assert np.isfinite(scores).all() and (scores > 0).all()
    long_scores = long_det.decision_function(long_frame)
    assert np.isfinite(long_scores).all() and (long_scores > 0).all()
    # Forecast scores have no forecast for a series' first `window` steps: 0.
    forecast = fitted["forecast"].decision_function(_wide(60, seed=3)).to_numpy()
    assert np.isfinite(forecast).all()
    assert (forecast[:W] == 0).all() and (forecast[W:] > 0).all()


@pytest.mark.parametrize("score", SCORES)
def test_online_scores_warm_up(fitted, score):
    det = fitted[score]
    df = _wide(60, seed=3)
    online = det.decision_function(df, online=True).to_numpy()
    offline = det.decision_function(df).to_numpy()
    k = WARM_UP[score]
    assert (online[:k] == 0).all() and (online[k:] > 0).all()
    # The last step's only window ends there: both modes' errors agree on it
    # (everywhere, for forecasts), in the units each mode's scores are normalised by.
    scale = det.error_scale_[0]  # [offline / online, F]
    if score == "reconstruction":  # online errors differ: a scale of their own
        assert not np.allclose(scale[0], scale[1])
    raw = scored_differently(det, normalize_errors=False)
    online = raw.decision_function(df, online=True).to_numpy()
    offline = raw.decision_function(df).to_numpy()
    np.testing.assert_allclose(online[-1], offline[-1], rtol=1e-6)
    if score == "forecast":
        np.testing.assert_allclose(online, offline, rtol=1e-6)
    else:
        assert not np.allclose(online[k:-1], offline[k:-1])


def test_online_warm_up_is_per_series(long_det, long_frame):
    online = long_det.decision_function(long_frame, online=True)
    for sid, rows in long_frame.groupby("series"):
        first = online[rows.sort_values("timestamp").index].to_numpy()
        assert (first[:W - 1] == 0).all() and (first[W - 1:] > 0).all(), sid


# ---------------------------------------------------------------- feature scores
@pytest.mark.parametrize("online", [False, True])
@pytest.mark.parametrize("score", SCORES)
def test_feature_scores_add_up_to_the_score(fitted, score, online):
    det = fitted[score]
    df = _wide(80, seed=2)
    parts = det.feature_scores(df, online=online)
    assert list(parts.columns) == ["a", "b"] and parts.index.equals(df.index)
    assert (parts.to_numpy() >= 0).all()
    np.testing.assert_allclose(parts.sum(axis=1), det.decision_function(df, online=online),
                               rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("score", SCORES)
def test_feature_scores_point_at_the_anomalous_feature(trained, score):
    det = trained[score]
    df = _wide(100, seed=8)
    df.iloc[50, 1] += 4.0  # only in "b"
    parts = det.feature_scores(df).iloc[50]
    assert parts["b"] > 0.9 * parts.sum(), parts.to_dict()


# ---------------------------------------------------------------------- options
def test_pot_threshold_lies_in_the_tail():
    det = _detector(threshold="pot", risk=1e-3).fit(_wide(600))
    assert np.isfinite(det.threshold_)
    assert det.threshold_ > np.quantile(det.decision_scores_, 0.98)
    assert det.labels_.mean() < 0.02
    np.testing.assert_array_equal(det.labels_, det.decision_scores_ > det.threshold_)


def test_pot_threshold_needs_enough_scores():
    # in the detector's terms: it has no level= to lower
    with pytest.raises(ValueError, match="threshold='pot': only .* too few .*use "
                                         "threshold='quantile'") as err:
        _detector(threshold="pot").fit(_wide(200))
    assert "level" not in str(err.value)


def test_forecast_scores_use_the_forecasters_network(fitted):
    from tsrnn.nn import ForecastNet

    assert isinstance(fitted["forecast"].net_, ForecastNet)
    assert isinstance(fitted["reconstruction"].net_, RecurrentAutoencoder)


# ------------------------------------------------------------------ many sensors
def test_one_global_model_for_all_sensors(long_det, long_frame):
    assert long_det.ids_ == list(pd.unique(long_frame["series"]))  # first appearance
    assert long_det.n_features_in_ == 1  # sensors are rows, not features
    assert isinstance(long_det.net_, RecurrentAutoencoder)
    assert long_det.net_.n_features == 1 + 2 * len(long_det.calendar_)  # + calendar


def test_an_unseen_sensor_is_scaled_by_its_own_rows(long_det, long_frame):
    s0 = long_frame[long_frame["series"] == "s0"]
    # s0 in other units: scaled by its own statistics it is s0 again.
    new = s0.assign(series="new", y=100 * s0["y"] + 1000)
    mixed = pd.concat([long_frame, new.set_axis(np.arange(len(new)))])
    scores = long_det.decision_function(mixed)
    # Its errors are weighed by the pooled training errors' scale, s0's by its own.
    pooled, own = long_det.error_scale_[-1, 0, 0], long_det.error_scale_[0, 0, 0]
    np.testing.assert_allclose(scores.iloc[-len(new):] * pooled,
                               long_det.decision_function(s0) * own, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(scores.iloc[:-len(new)], long_det.decision_function(long_frame),
                               rtol=1e-6)


# --------------------------------------------------------------------- streaming
@pytest.mark.parametrize("score", SCORES)
def test_stream_equals_online_batch_scores(fitted, score):
    det = fitted[score]
    df = _wide(60, seed=3)
    df.iloc[40, 0] += 5.0
    scores, ready, results = _stream_rows(det.stream(), df)
    batch = det.decision_function(df, online=True).to_numpy()
    np.testing.assert_allclose(scores, batch, atol=1e-4, rtol=1e-4)
    k = WARM_UP[score]
    assert not ready[:k].any() and ready[k:].all()
    labels = np.array([r.label[0] for r in results])
    np.testing.assert_array_equal(labels, (batch > det.threshold_) & ready)
    assert labels[40] == 1
    assert not any(r.gap[0] for r in results)
    assert results[0].series == [None]


@pytest.mark.parametrize("score", SCORES)
def test_likelihood_and_cooldown_stream_equals_batch(fitted, score):
    # The same network, post-processed: the stream's likelihood and cooldown state
    # must reproduce the batch scores of the same rows.
    det = scored_differently(fitted[score], alerts=True, likelihood_history=120,
                              cooldown=5)
    df = _wide(170, seed=4)
    df.iloc[150, 0] += 6.0
    scores, ready, _ = _stream_rows(det.stream(), df)
    batch = det.decision_function(df, online=True).to_numpy()
    np.testing.assert_allclose(scores, batch, atol=1e-3, rtol=1e-3)
    k = WARM_UP[score]
    # Only the window warms up: the training scores' prior stands in for the
    # likelihood's history until the series has 100 steps of its own.
    assert (batch[:k] == 0).all() and (batch[k:k + 100] > 0).any()
    assert batch[150] == batch[k + 20:].max() > 3  # the spike: rarer than 1 in 1000
    raw = fitted[score].decision_function(df, online=True).to_numpy()
    assert not np.allclose(batch, raw)


def test_likelihood_feature_scores_still_add_up(fitted):
    det = scored_differently(fitted["reconstruction"], alerts=True, cooldown=0,
                              likelihood_history=50)
    df = _wide(160, seed=5)
    df.iloc[120, 1] += 6.0
    parts = det.feature_scores(df)
    np.testing.assert_allclose(parts.sum(axis=1), det.decision_function(df), atol=1e-9)
    assert parts.iloc[120]["b"] > parts.iloc[120]["a"]


def test_likelihood_prior_is_per_series_and_pooled_for_unseen_ones(long_det, long_frame):
    prior = long_det.likelihood_prior_
    assert prior.shape == (len(long_det.ids_) + 1, 2, 2)
    assert (prior[..., 1] > 0).all()  # a spread for every series and mode
    det = scored_differently(long_det, alerts=True, cooldown=0)
    new = long_frame[long_frame["series"] == "s1"].assign(series="new")
    scores = det.decision_function(new)
    assert np.isfinite(scores).all() and (scores > 0).any()


def test_likelihood_scores_the_training_rows_on_the_same_scale():
    det = _detector(alerts=True, cooldown=0, likelihood_history=50, contamination=0.05)
    det.fit(_wide(200))
    assert (det.decision_scores_ >= 0).all() and det.decision_scores_.max() > 0
    # The threshold comes from the validation rows' scores: on the same scale, it
    # flags some of the other training rows, neither none nor most.
    assert 0.01 <= det.labels_.mean() <= 0.2


def test_stream_many_sensors_at_once(long_det, long_frame):
    together, alone = long_det.stream(), long_det.stream()
    scores = pd.Series(np.nan, index=long_frame.index)
    for t, rows in long_frame.groupby("timestamp", sort=True):  # in time order
        ids = list(rows["series"])
        res = together.update(t, rows[["y"]].to_numpy(), series=ids)
        assert res.series == ids and res.score.shape == (len(ids),)
        one = [alone.update(t, row, series=[sid])
               for sid, row in zip(ids, rows[["y"]].to_numpy(), strict=True)]
        np.testing.assert_allclose(res.score, [r.score[0] for r in one], atol=1e-5)
        np.testing.assert_array_equal(res.ready, [r.ready[0] for r in one])
        scores[rows.index] = res.score
    batch = long_det.decision_function(long_frame, online=True)
    np.testing.assert_allclose(scores, batch, atol=1e-4, rtol=1e-4)


def test_stream_default_series_is_every_fitted_sensor(long_det):
    stream = long_det.stream()
    res = stream.update(pd.Timestamp("2024-03-01"), [[0.0], [10.0], [20.0]])
    assert res.series == long_det.ids_
    with pytest.raises(ValueError, match="series="):
        stream.update(pd.Timestamp("2024-03-01 01:00"), [[0.0], [10.0]])


@pytest.mark.parametrize("when", ["duplicate", "earlier"])
def test_stream_refuses_time_going_backwards_and_changes_nothing(fitted, when):
    det = fitted["reconstruction"]
    df = _wide(40, seed=3)
    stream = det.stream()
    first, _, _ = _stream_rows(stream, df.iloc[:20])
    stamp = df.index[19] if when == "duplicate" else df.index[5]
    # The one series of a wide fit is "the series", not "series None".
    with pytest.raises(DataError, match="for the series is not after .* out of order or dup"):
        stream.update(stamp, [100.0, 100.0], series=[None])
    rest, _, _ = _stream_rows(stream, df.iloc[20:])
    np.testing.assert_allclose(np.r_[first, rest], det.decision_function(df, online=True),
                               atol=1e-4, rtol=1e-4)


def test_stream_refuses_a_batch_with_one_bad_sensor_and_changes_nothing(long_det):
    stream = long_det.stream()
    t0 = pd.Timestamp("2024-03-01")
    stream.update(t0, [[0.0], [10.0]], series=["s0", "s1"])
    stream.update(t0 + HOUR, [[10.0]], series=["s1"])
    before = {sid: {k: np.copy(x) if isinstance(x, np.ndarray) else x for k, x in st.items()}
              for sid, st in stream._state.items()}
    with pytest.raises(DataError, match="'s1'"):  # s0 is fine, s1 has had this hour
        stream.update(t0 + HOUR, [[0.5], [10.5]], series=["s0", "s1"])
    for sid, st in stream._state.items():  # private: the state must be untouched
        np.testing.assert_array_equal(st["buffer"], before[sid]["buffer"])
        assert (st["count"], st["last"]) == (before[sid]["count"], before[sid]["last"]), sid
    assert not stream.update(t0 + HOUR, [[0.5]], series=["s0"]).gap[0]


def test_stream_gap_restarts_the_warm_up(fitted):
    det = fitted["reconstruction"]
    df = _wide(100, seed=3)
    before, after = df.iloc[:50], df.iloc[55:]  # five hours missing
    stream = det.stream()
    _stream_rows(stream, before)
    scores, ready, results = _stream_rows(stream, after)
    gaps = np.array([r.gap[0] for r in results])
    assert gaps[0] and not gaps[1:].any()
    assert not ready[:W - 1].any() and ready[W - 1:].all()
    assert (scores[:W - 1] == 0).all()
    # After the gap the series scores as if it started there.
    np.testing.assert_allclose(scores, det.decision_function(after, online=True),
                               atol=1e-4, rtol=1e-4)


def test_stream_missing_value_names_the_column_and_changes_nothing(fitted):
    det = fitted["reconstruction"]
    df = _wide(40, seed=3)
    stream = det.stream()
    first, _, _ = _stream_rows(stream, df.iloc[:20])
    for bad in (np.nan, np.inf):
        with pytest.raises(DataError, match="column 'b' of the series is .*fill='ffill'"):
            stream.update(df.index[20], [df.iloc[20, 0], bad], series=[None])
    rest, _, _ = _stream_rows(stream, df.iloc[20:])
    np.testing.assert_allclose(np.r_[first, rest], det.decision_function(df, online=True),
                               atol=1e-4, rtol=1e-4)


def test_stream_refuses_a_timezone_aware_timestamp_after_naive_ones(fitted):
    stream = fitted["reconstruction"].stream()
    stream.update(pd.Timestamp("2024-01-01 00:00"), [0.0, 3.0], series=[None])
    with pytest.raises(DataError, match="timezone"):
        stream.update(pd.Timestamp("2024-01-01 01:00", tz="UTC"), [0.0, 3.0], series=[None])


def test_stream_with_ffill_carries_the_last_value_forward():
    det = _detector(fill="ffill").fit(_wide())
    df = _wide(40, seed=3)
    holes = df.copy()
    holes.iloc[20, 1] = np.nan
    holes.iloc[30, 0] = np.nan
    carried = df.copy()
    carried.iloc[20, 1] = carried.iloc[19, 1]
    carried.iloc[30, 0] = carried.iloc[29, 0]
    with_holes, _, _ = _stream_rows(det.stream(), holes)
    np.testing.assert_allclose(with_holes, _stream_rows(det.stream(), carried)[0], atol=1e-6)
    np.testing.assert_allclose(with_holes, det.decision_function(holes, online=True),
                               atol=1e-4, rtol=1e-4)
    # Nothing to carry yet: it was told to fit with fill='ffill', as it had been.
    with pytest.raises(DataError, match="column 'a' .* fill='ffill' has no earlier value"):
        det.stream().update(df.index[0], [np.nan, 1.0], series=[None])


def test_stream_memory_stays_bounded(fitted):
    det = fitted["reconstruction"]
    df = _wide(1000, seed=4)
    stream = det.stream()
    scores, _, _ = _stream_rows(stream, df)
    # Private state, inspected on purpose: the only way to see that a long stream
    # keeps one window per series and not its history.
    assert list(stream._state) == [None]
    buffer = stream._state[None]["buffer"]
    assert buffer.shape == (W, 2 + 2 * len(det.calendar_))  # targets, calendar
    tail = det._read(df.iloc[-W:])
    np.testing.assert_allclose(buffer, det._inputs(tail, det._scaled(tail))[-W:], atol=1e-6)
    np.testing.assert_allclose(scores[-50:],
                               det.decision_function(df.iloc[-100:], online=True)[-50:],
                               atol=1e-4, rtol=1e-4)
    # The likelihood keeps a bounded history too: its last `likelihood_history`.
    det = scored_differently(det, alerts=True, likelihood_history=64, cooldown=8)
    stream = det.stream()
    _stream_rows(stream, df)
    filt = stream._state[None]["filter"]
    assert len(filt._avgs) == 64 and len(filt._raw) == det.likelihood_window
    assert len(filt._peaks) <= 8


# ------------------------------------------------------- calendar and range check
def test_calendar_auto_takes_the_cycles_the_training_data_cover_twice():
    assert _detector().fit(_wide(200)).calendar_ == ("day",)  # hourly, 8 days
    assert _detector().fit(_wide(40)).calendar_ == ()  # 1.6 days: not two cycles
    assert _detector(calendar=None).fit(_wide(200)).calendar_ == ()
    det = _detector(calendar=["day", "week"]).fit(_wide(40))  # asked for: used
    assert det.calendar_ == ("day", "week")
    assert det.net_.n_features == 2 + 4  # targets, then sin and cos of each cycle


def test_calendar_needs_timestamps():
    df = _wide(60).reset_index(drop=True)  # an integer index
    assert _detector().fit(df).calendar_ == ()
    with pytest.raises(ValueError, match="calendar features need timestamps"):
        _detector(calendar="day").fit(df)


@pytest.mark.parametrize("score", SCORES)
def test_the_network_reads_the_calendar(fitted, wide_frame, score):
    # The same values six hours later: other calendar inputs, so other scores;
    # without a calendar the timestamps cannot matter.
    df = _wide(80, seed=2)
    later = df.set_axis(df.index + 6 * HOUR)
    det = fitted[score]
    assert det.calendar_ == ("day",)
    assert not np.allclose(det.decision_function(df), det.decision_function(later))
    plain = _detector(score=score, calendar=None).fit(wide_frame)
    np.testing.assert_allclose(plain.decision_function(df), plain.decision_function(later),
                               rtol=1e-6)


@pytest.mark.parametrize("score", SCORES)
def test_range_check_flags_a_value_beyond_everything_seen(fitted, score):
    from tsrnn.likelihood import OUT_OF_RANGE_SCORE

    # The range check is part of the alerting scores.
    det = scored_differently(fitted[score], alerts=True, cooldown=0)
    low, high = det.value_range_[0, 0]
    df = _wide(60, seed=3)
    inside = df.copy()
    inside.iloc[30, 0] = high  # at the edge: in range
    df.iloc[30, 0] = high + 0.2 * (high - low)  # 20% of the range beyond it
    scores = det.decision_function(df, online=True)
    assert scores.iloc[30] >= OUT_OF_RANGE_SCORE and det.predict(df, online=True).iloc[30] == 1
    assert det.decision_function(inside, online=True).iloc[30] < OUT_OF_RANGE_SCORE
    off = scored_differently(det, range_tolerance=None)
    assert off.decision_function(df, online=True).iloc[30] < OUT_OF_RANGE_SCORE
    # Elsewhere the check changes nothing; the stream gives the same scores.
    rest = np.arange(len(df)) != 30
    np.testing.assert_allclose(scores[rest], off.decision_function(df, online=True)[rest])
    np.testing.assert_allclose(_stream_rows(det.stream(), df)[0], scores, rtol=1e-4, atol=1e-4)
    # The range grows with what the series shows: the same value again is in range.
    df.iloc[45, 0] = df.iloc[30, 0]
    assert det.decision_function(df, online=True).iloc[45] < OUT_OF_RANGE_SCORE
    # Ranking scores rank by the error alone, in batch and stream alike.
    ranking = fitted[score]
    assert ranking.decision_function(df, online=True).iloc[30] < OUT_OF_RANGE_SCORE
    assert _stream_rows(ranking.stream(), df)[0][30] < OUT_OF_RANGE_SCORE


@pytest.mark.parametrize("score", SCORES)
def test_smoothed_ranking_scores_stream_equals_batch(fitted, score):
    det = scored_differently(fitted[score], smoothing=5)
    df = _wide(80, seed=4)
    df.iloc[40:60, 0] += 3.0  # a long incident
    batch = det.decision_function(df, online=True).to_numpy()
    np.testing.assert_allclose(_stream_rows(det.stream(), df)[0], batch, rtol=1e-4, atol=1e-4)
    raw = scored_differently(fitted[score], smoothing=0).decision_function(df, online=True)
    assert (batch >= raw.to_numpy() - 1e-12).all() and (batch > raw.to_numpy()).any()


def test_an_ensemble_of_seeds_averages_their_networks(tmp_path, wide_frame):
    from tsrnn.nn import MeanEnsemble

    one = _detector(contamination=0.05).fit(wide_frame)
    det = _detector(contamination=0.05, n_models=2).fit(wide_frame)
    assert isinstance(det.net_, MeanEnsemble) and len(det.net_.members) == 2
    assert len(det.training_summary_["members"]) == 2
    # Member 0 is the single model of the same seed; member 1 trained from another.
    for a, b in zip(one.net_.parameters(), det.net_.members[0].parameters(), strict=True):
        torch.testing.assert_close(a, b)
    df = _wide(60, seed=3)
    assert not np.allclose(det.decision_function(df), one.decision_function(df))
    np.testing.assert_allclose(_stream_rows(det.stream(), df)[0],
                               det.decision_function(df, online=True), rtol=1e-4, atol=1e-4)
    det.save(tmp_path / "ens.tsrnn")
    np.testing.assert_allclose(AnomalyDetector.load(tmp_path / "ens.tsrnn").decision_function(df),
                               det.decision_function(df))


@pytest.mark.parametrize(("param", "value"), [("alerts", "no"), ("normalize_errors", 1),
                                            ("smoothing", 2.5), ("cooldown", -1),
                                            ("range_tolerance", -1)])
def test_scoring_parameters_are_checked_when_changed_after_fit(fitted, param, value):
    det = scored_differently(fitted["forecast"], **{param: value})
    for call in (lambda: det.decision_function(_wide(40)), det.stream):
        with pytest.raises(ValueError, match=param):
            call()


@pytest.mark.parametrize(("score", "param", "value"), [
    ("reconstruction", "window", W // 2), ("forecast", "window", W * 2),
    ("reconstruction", "score", "forecast"), ("forecast", "score", "reconstruction"),
    ("reconstruction", "stateful", True)])
def test_parameters_that_shape_the_networks_are_refused_when_changed_after_fit(
        fitted, wide_frame, score, param, value):
    # They failed inside torch ("expected windows [batch, 8, 3], got (114, 4, 3)",
    # "too many indices for tensor of dimension 4").
    det = scored_differently(fitted[score], **{param: value})
    for call in (lambda: det.decision_function(wide_frame), det.stream,
                 lambda: det.fit_threshold(wide_frame)):
        with pytest.raises(ValueError, match=f"fitted with {param}=.*fit again"):
            call()
    det.set_params(**{param: fitted[score].get_params()[param]})
    np.testing.assert_array_equal(det.decision_function(wide_frame),
                                  fitted[score].decision_function(wide_frame))


def test_error_scales_come_from_the_validation_rows(long_frame):
    from tsrnn.data import SeriesData
    from tsrnn.error_stats import _CHI2_MEDIAN, MIN_SCALE_ROWS, error_scales

    data = SeriesData.from_dataframe(long_frame, **LONG, target="y")
    n = len(data.values)
    errors = np.ones((n, 1))
    valid = np.ones(n, dtype=bool)
    train_end = data.lengths - MIN_SCALE_ROWS  # exactly enough held-out rows
    for i, (a, b) in enumerate(zip(data.offsets[:-1], data.offsets[1:], strict=True)):
        errors[a + train_end[i]:b] = 4.0 * (i + 1)  # the rows the network never fitted
    scales = error_scales(data, train_end, offline=(errors, valid), online=(errors, valid))
    expected = 4.0 * np.arange(1, data.n_series + 1) / _CHI2_MEDIAN
    np.testing.assert_allclose(scales[:-1, 0, 0], expected)
    np.testing.assert_allclose(scales[-1, 0, 0], np.median(expected))  # unseen series
    # Too few held-out rows: every row of the series counts.
    scales = error_scales(data, train_end + 1, offline=(errors, valid),
                          online=(errors, valid))
    np.testing.assert_allclose(scales[:-1, 0, 0], 1.0 / _CHI2_MEDIAN)


def test_error_scales_are_at_least_a_share_of_each_targets_variance(long_frame):
    from tsrnn.data import SeriesData
    from tsrnn.error_stats import _CHI2_MEDIAN, MIN_ERROR_SHARE, error_scales

    data = SeriesData.from_dataframe(long_frame, **LONG, target="y")
    n = len(data.values)
    errors = np.full((n, 1), 1e-6)  # a sensor that sat still: its errors are ~0
    errors[::2] = 0.5  # ... on every other series' rows
    valid = np.ones(n, dtype=bool)
    variance = np.arange(1.0, data.n_series + 1)[:, None]  # [S, 1]
    scales = error_scales(data, data.lengths // 2, offline=(errors, valid),
                          online=(errors, valid), variance=variance)
    median = np.array([np.median(errors[a + (b - a) // 2:b])
                       for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True)])
    expected = np.maximum(median / _CHI2_MEDIAN, MIN_ERROR_SHARE * variance[:, 0])
    np.testing.assert_allclose(scales[:-1, 1, 0], expected)
    assert (scales[:-1, 1, 0] >= MIN_ERROR_SHARE * variance[:, 0]).all()


def test_one_glitch_in_training_does_not_blind_the_detector():
    # A -9999 among readings near 20 set every error scale through the variance
    # floor (scores fell about 250-fold, and the level check's 49 swamped them),
    # and widened the level check's training levels for good.
    rng = np.random.default_rng(0)
    t = np.arange(1500)
    y = 20 + 3 * np.sin(2 * np.pi * t / 48) + rng.standard_normal(1500)
    y[1000:1005] += 8  # the anomaly
    df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=1500, freq="h"), "y": y})
    train = df.iloc[:800].copy()
    train.loc[300, "y"] = -9999.0
    params = dict(window=16, hidden_size=16, max_epochs=5, n_models=1, accelerator="cpu",
                  random_state=0)
    clean = AnomalyDetector(**params).fit(df.iloc[:800], time_col="t")
    det = AnomalyDetector(**params).fit(train, time_col="t")
    assert det.error_scale_[0, 1, 0] < 2 * clean.error_scale_[0, 1, 0]
    # and the level check keeps its training levels (low, high, spread)
    np.testing.assert_allclose(det.level_range_[0, 0], clean.level_range_[0, 0], rtol=0.05)
    scores = det.decision_function(df, online=True).to_numpy()
    assert scores[1000:1005].max() > det.threshold_ and scores[1000:1005].max() > 1.0


def test_held_out_rows_are_the_scored_validation_rows(long_frame):
    from tsrnn.data import SeriesData
    from tsrnn.error_stats import MIN_SCALE_ROWS, held_out_rows

    data = SeriesData.from_dataframe(long_frame, **LONG, target="y")
    valid = np.ones(len(data.values), dtype=bool)
    valid[data.offsets[:-1]] = False  # each series' first row has no score
    train_end = data.lengths - MIN_SCALE_ROWS
    train_end[0] += 1  # too few held-out rows: all the series' scored rows
    rows = held_out_rows(data, train_end, valid)
    a, b = data.offsets[0], data.offsets[1]
    np.testing.assert_array_equal(rows[a:b], valid[a:b])
    for i in range(1, data.n_series):
        a, b = data.offsets[i], data.offsets[i + 1]
        expected = np.arange(b - a) >= train_end[i]
        np.testing.assert_array_equal(rows[a:b], expected)


def test_range_check_stream_equals_batch_at_the_edges():
    from tsrnn.likelihood import OUT_OF_RANGE_SCORE

    # fill="ffill": an inf is carried forward like a NaN, in range; tolerance 0: a
    # value exactly at the training low (a float32 in batch) is in range.
    det = _detector(fill="ffill", range_tolerance=0.0, alerts=True, cooldown=0).fit(_wide())
    low, high = det.value_range_[0, 0]
    df = _wide(40, seed=3)
    # b stays inside its range, and moves (a constant b is a stuck sensor)
    df["b"] = det.value_range_[0, 1].mean() + 0.01 * np.sin(np.arange(len(df)))
    df.iloc[1, 0] = 2 * high - low  # out of range while the window warms up
    df.iloc[12, 0] = np.inf
    df.iloc[15, 0] = np.nextafter(low, -np.inf)  # below low, but low as a float32
    df.iloc[30, 0] = 3 * high - 2 * low  # beyond the first breach: out again
    scores, ready, results = _stream_rows(det.stream(), df)
    batch = det.decision_function(df, online=True)
    np.testing.assert_allclose(scores, batch, atol=1e-4, rtol=1e-4)
    out = np.flatnonzero(batch >= OUT_OF_RANGE_SCORE)
    np.testing.assert_array_equal(out, [1, 30])
    # A breach is an anomaly while warming up too: the stream's label says so, as
    # predict does.
    assert not ready[1] and results[1].label[0] == 1 == det.predict(df, online=True).iloc[1]
    # The columns out of range get the breach's score, the others nothing.
    shares = det.feature_scores(df, online=True).iloc[[1, 30]]
    np.testing.assert_allclose(shares["b"], 0.0)
    np.testing.assert_allclose(shares["a"], batch.iloc[[1, 30]])


def test_calendar_phases_are_read_in_the_training_timezone():
    df = _wide(200)
    df.index = df.index.tz_localize("Europe/Berlin")
    det = _detector().fit(df)
    assert det.time_zone_ == "Europe/Berlin" and det.calendar_ == ("day",)
    new = _wide(40, seed=3)
    new.index = new.index.tz_localize("Europe/Berlin")
    utc = new.tz_convert("UTC")  # the same instants, another wall clock
    np.testing.assert_allclose(det.decision_function(utc), det.decision_function(new))
    np.testing.assert_allclose(_stream_rows(det.stream(), utc)[0],
                               det.decision_function(new, online=True), atol=1e-4, rtol=1e-4)


def _as_older_file(tmp_path, det: AnomalyDetector, *, params=(), fitted=(),
                   old_params=None) -> AnomalyDetector:
    """``det`` saved, then loaded from a file as an older tsrnn wrote it: without
    the ``params`` and ``fitted`` keys it did not know (a scoring parameter also
    from the settings its threshold was fitted with), with ``old_params``."""
    import torch

    det.save(tmp_path / "new.pt")
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    for key in params:
        del payload["params"][key]
        payload["fitted"].get("threshold_scoring", {}).pop(key, None)
    for key in fitted:
        del payload["fitted"][key]
    payload["params"].update(old_params or {})
    # Older files are format version 1, which had no checksum.
    payload["format_version"] = 1
    del payload["checksum"]
    torch.save(payload, tmp_path / "old.pt")
    return AnomalyDetector.load(tmp_path / "old.pt")


def test_a_model_file_from_before_the_calendar_still_loads(tmp_path):
    det = _detector(calendar=None).fit(_wide())
    old = _as_older_file(tmp_path, det, params=("calendar", "range_tolerance"),
                         fitted=("calendar", "time_zone", "value_range", "dayfirst"))
    assert old.calendar_ == () and old.value_range_ is None and old.dayfirst_ is None
    df = _wide(150, seed=2)  # in range throughout: the same scores as before
    np.testing.assert_allclose(old.decision_function(df), det.decision_function(df))


def test_a_model_file_from_before_alerts_still_loads(tmp_path):
    # Before alerts and error normalisation: a likelihood switch, unscaled errors.
    det = _detector(calendar=None).fit(_wide())
    old = _as_older_file(tmp_path, det,
                         params=("alerts", "smoothing", "normalize_errors", "n_models"),
                         fitted=("error_scale",), old_params={"likelihood": True})
    assert old.alerts is True and "likelihood" not in old.get_params()
    # One network, unsmoothed and unscaled errors: as such a file scored.
    assert (old.n_models, old.smoothing, old.normalize_errors) == (1, 0, False)
    np.testing.assert_array_equal(old.error_scale_, np.ones_like(det.error_scale_))
    df = _wide(150, seed=2)
    same = scored_differently(det, alerts=True, normalize_errors=False)
    np.testing.assert_allclose(old.decision_function(df), same.decision_function(df))


def test_the_likelihood_average_is_a_scoring_parameter_older_files_lack(tmp_path):
    det = _detector(calendar=None, alerts=True, likelihood_average="absolute").fit(_wide())
    old = _as_older_file(tmp_path, det, params=("likelihood_average",))
    assert old.likelihood_average == "squared"  # as such files scored
    df = _wide(150, seed=2)
    assert not np.allclose(old.decision_function(df), det.decision_function(df))
    with pytest.raises(ValueError, match="likelihood_average must be one of"):
        _detector(likelihood_average="median").fit(_wide())


def test_the_drift_quantile_is_a_scoring_parameter_older_files_lack(tmp_path):
    det = _detector(calendar=None, drift_window=16).fit(_wide())
    assert det.drift_quantile == 0.75
    old = _as_older_file(tmp_path, det, params=("drift_quantile",))
    assert old.drift_quantile == 0.25  # the lower quartile, as such files scored
    df = _wide(150, seed=2)
    assert not np.allclose(old.decision_function(df), det.decision_function(df))
    same = scored_differently(det, drift_quantile=0.25)
    np.testing.assert_allclose(old.decision_function(df), same.decision_function(df))
    old.predict(df)  # its threshold was fitted with the lower quartile too
    with pytest.raises(ValueError, match="drift_quantile=0.25 at fit, now 0.5"):
        old.set_params(drift_quantile=0.5).predict(df)
    # Where the correction is not in use, the quantile does not touch the threshold.
    for unused in ({"drift_window": None}, {"alerts": True}):
        _detector(calendar=None, **unused).fit(_wide()).set_params(
            drift_quantile=0.5).predict(df)
    for bad in (0.0, 1.0, "0.5", None):
        with pytest.raises(ValueError, match="drift_quantile must be in"):
            _detector(drift_quantile=bad).fit(_wide())


def test_range_check_is_per_series(long_det, long_frame):
    from tsrnn.likelihood import OUT_OF_RANGE_SCORE

    long_det = scored_differently(long_det, alerts=True, cooldown=0)
    s0 = long_frame[long_frame["series"] == "s0"].sort_values("timestamp")
    # s0 at s2's level (20 above): out of s0's range, from the first row.
    high = s0.assign(y=s0["y"] + 20)
    scores = long_det.decision_function(high)
    assert (scores >= OUT_OF_RANGE_SCORE).iloc[:1].all()
    # A sensor unseen at fit has no range yet: its first 100 rows learn one.
    new = s0.assign(series="new", y=np.where(np.arange(len(s0)) < 50, s0["y"], s0["y"] + 20))
    assert (long_det.decision_function(new) < OUT_OF_RANGE_SCORE).all()


# ------------------------------------------------------------------- persistence
@pytest.mark.parametrize("how", ["save", "pickle"])
@pytest.mark.parametrize("score", SCORES)
def test_restored_detector_scores_the_same(fitted, tmp_path, how, score):
    det = fitted[score]
    if how == "save":
        det.save(tmp_path / "detector.pt")
        restored = AnomalyDetector.load(tmp_path / "detector.pt")
    else:
        restored = pickle.loads(pickle.dumps(det))
    df = _wide(80, seed=6)
    for online in (False, True):
        pd.testing.assert_series_equal(restored.decision_function(df, online=online),
                                       det.decision_function(df, online=online))
    assert restored.threshold_ == det.threshold_
    assert restored.calendar_ == det.calendar_ == ("day",)
    np.testing.assert_array_equal(restored.value_range_, det.value_range_)
    np.testing.assert_array_equal(restored.decision_scores_, det.decision_scores_)
    np.testing.assert_array_equal(restored.labels_, det.labels_)
    head = df.iloc[:2 * W]
    np.testing.assert_array_equal(_stream_rows(restored.stream(), head)[0],
                                  _stream_rows(det.stream(), head)[0])


# --------------------------------------------------------------------- bad input
def test_missing_value_in_the_fit_frame_names_column_and_series(long_frame):
    df = long_frame.copy()
    df.loc[df.index[df["series"] == "s1"][10], "y"] = np.nan
    with pytest.raises(DataError, match="column 'y'.*series 's1'"):
        _detector().fit(df, **LONG)


def test_too_short_series_is_named(long_frame, fitted):
    df = long_frame[(long_frame["series"] != "s1")
                    | (long_frame["timestamp"] < long_frame["timestamp"].min() + 11 * HOUR)]
    assert (df["series"] == "s1").sum() == W  # starts 3 hours late: 8 rows
    with pytest.raises(DataError, match=r"series 's1' has 8 rows, fewer than window \+ 1 = 9"):
        _detector().fit(df, **LONG)
    det = fitted["reconstruction"]
    with pytest.raises(DataError, match="8 rows"):
        det.decision_function(_wide(W))
    assert len(det.decision_function(_wide(W + 1))) == W + 1


def test_missing_column_at_scoring_time_is_named(fitted):
    df = _wide(50).drop(columns=["b"])
    for call in ("decision_function", "predict", "feature_scores"):
        with pytest.raises(DataError, match="column 'b' is not in the DataFrame"):
            getattr(fitted["reconstruction"], call)(df)


def test_stream_checks_the_shape_of_values(fitted):
    stream = fitted["reconstruction"].stream()
    with pytest.raises(ValueError, match=r"shape \[1, 2\]"):
        stream.update(pd.Timestamp("2024-01-01"), [1.0, 2.0, 3.0], series=[None])


@pytest.mark.parametrize(("param", "value"), [
    ("cell", "transformer"), ("score", "isolation"), ("threshold", "sigma"), ("window", 1),
    ("window", 0), ("hidden_size", 0), ("contamination", 0.7), ("contamination", 0.0),
    ("likelihood_window", 0), ("likelihood_history", 1), ("cooldown", -1), ("cooldown", 2.5),
    ("n_models", 0), ("smoothing", -1),
    ("calendar", "month"), ("calendar", ["day", "day"]), ("calendar", 5),
    ("range_tolerance", -0.1), ("range_tolerance", "5%"), ("range_tolerance", True),
])
def test_invalid_parameters_raise_at_fit_not_init(param, value):
    det = _detector(**{param: value})  # __init__ only stores them
    assert getattr(det, param) == value
    with pytest.raises(ValueError, match=param):
        det.fit(_wide(40))
    assert not hasattr(det, "net_")


def test_invalid_risk_is_refused_before_training(monkeypatch):
    import tsrnn.training

    def no_training(*args, **kwargs):
        raise AssertionError("fit trained before checking risk")

    monkeypatch.setattr(tsrnn.training, "fit_module", no_training)
    with pytest.raises(ValueError, match="risk"):
        _detector(threshold="pot", risk=0.5).fit(_wide(600))


# ------------------------------------------------------------------------- import
def test_exported_from_the_package():
    assert tsrnn.AnomalyDetector is AnomalyDetector
    assert "AnomalyDetector" in tsrnn.__all__


def test_scoring_a_loaded_detector_never_imports_lightning(fitted, tmp_path):
    det = fitted["reconstruction"]
    df = _wide(60, seed=3)
    det.save(tmp_path / "detector.pt")
    df.to_pickle(tmp_path / "frame.pkl")
    expected = det.decision_function(df).to_numpy()
    code = f"""
        import sys
        import numpy as np
        import pandas as pd
        from tsrnn import AnomalyDetector
        df = pd.read_pickle({str(tmp_path / "frame.pkl")!r})
        det = AnomalyDetector.load({str(tmp_path / "detector.pt")!r})
        np.save({str(tmp_path / "scores.npy")!r}, det.decision_function(df).to_numpy())
        det.predict(df, online=True)
        det.stream().update(df.index[0], df.iloc[0].to_numpy(), series=[None])
        print(sorted(m for m in sys.modules if "lightning" in m))
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
    np.testing.assert_array_equal(np.load(tmp_path / "scores.npy"), expected)


def test_labels_are_refused_when_the_scores_are_made_otherwise_than_at_fit(tmp_path):
    det = _detector(calendar=None).fit(_wide())
    df = _wide(150, seed=2)
    det.set_params(alerts=True, cooldown=10)
    scores = det.decision_function(df)  # scores: available with any post-processing
    assert len(scores) == len(df)
    message = r"threshold_ was fitted on scores made otherwise \(alerts=False at fit, now True"
    with pytest.raises(ValueError, match=message) as err:
        det.predict(df)
    # what changed, not what alerts=True made unused (the drift window, unchanged)
    assert "cooldown=100 at fit, now 10" in str(err.value)
    assert "drift_window" not in str(err.value)
    with pytest.raises(ValueError, match=message):
        det.stream()
    det.set_params(alerts=False, cooldown=100)  # back as at fit: labels again
    assert set(det.predict(df)) <= {0, 1}
    det.save(tmp_path / "d.tsrnn")
    loaded = AnomalyDetector.load(tmp_path / "d.tsrnn").set_params(smoothing=20)
    with pytest.raises(ValueError, match="smoothing=0 at fit, now 20"):
        loaded.predict(df)
    # fit_threshold: a threshold for the new scores, without retraining
    loaded.fit_threshold(_wide())
    assert loaded.threshold_scoring_["smoothing"] == 20
    np.testing.assert_array_equal(loaded.decision_scores_, loaded.decision_function(_wide()))
    online = loaded.decision_function(_wide(), online=True).to_numpy()
    held_out = online[int(loaded._train_end(loaded._read(_wide()))[0]):]
    assert loaded.threshold_ == pytest.approx(np.quantile(held_out, 1 - loaded.contamination))
    assert set(loaded.predict(df)) <= {0, 1}


def test_an_alerting_threshold_on_a_short_series_is_not_zero():
    # 300 rows: every validation row falls inside one cooldown, so after it they all
    # score 0; a threshold of their quantile would flag any score above 0.
    df = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=300, freq="h"),
                       "value": _sine(300, noise=0.1)})
    df.loc[200, "value"] = 6.0
    det = _detector(alerts=True, calendar=None).fit(df, time_col="timestamp")
    labels, scores = det.predict(df).to_numpy(), det.decision_function(df).to_numpy()
    assert det.threshold_ > 0 and labels[200] == 1
    assert labels.sum() < 0.6 * (scores > 0).sum()  # not every score above 0


@pytest.mark.parametrize("value", [0, 1, 2.5, "32", 10**6])
def test_a_window_out_of_range_gets_one_message(value):
    with pytest.raises(ValueError, match="window must be an integer from 2 to 65536, got "):
        _detector(window=value).fit(_wide(40))


def test_a_series_too_short_to_train_names_the_detectors_window():
    # 34 rows pass the length check (window + 1) but leave 31 training rows after
    # the validation rows: the error speaks of the detector's window
    with pytest.raises(DataError, match=r"training part is shorter than window = 32 rows"):
        _detector(window=32).fit(pd.DataFrame({"y": _sine(34)}))


def test_batch_scores_refuse_a_new_id_of_another_kind_as_the_stream_does(long_det,
                                                                          long_frame):
    numbered = long_frame.assign(series=long_frame["series"].str[1:].astype(int))
    with pytest.raises(DataError, match="series 0 is an integer, but the detector's series "
                                        "ids are text"):
        long_det.decision_function(numbered)
    renamed = long_frame.assign(series=long_frame["series"] + "-new")  # text: fine
    with pytest.warns(UserWarning, match="'s1-new' .90 rows.: not seen at fit, and shorter "
                                         "than the 100 points that scale a new series"):
        scores = long_det.decision_function(renamed, online=True)
    assert np.isfinite(scores).all()
    assert (scores[renamed["series"] == "s1-new"] == 0).all()  # what the warning says


def test_integer_times_on_a_detector_fitted_on_dates_say_so():
    t = np.arange(120)
    det = _detector(calendar=None).fit(pd.DataFrame(
        {"timestamp": pd.date_range("2024-01-01", periods=120, freq="h"), "y": _sine(120)}),
        time_col="timestamp")
    with pytest.raises(DataError, match=r"the time column holds integers, but the frequency "
                                        r"is one of dates \('h'"):
        det.decision_function(pd.DataFrame({"timestamp": t, "y": _sine(120)}))


def test_score_scales_are_each_series_held_out_median_at_least_one(long_frame):
    from tsrnn.data import SeriesData
    from tsrnn.error_stats import MIN_SCALE_ROWS, score_scales

    data = SeriesData.from_dataframe(long_frame, **LONG, target="y")
    scores = np.full(len(data.values), 50.0)  # the rows fitted: not read
    valid = np.ones(len(scores), dtype=bool)
    train_end = data.lengths - MIN_SCALE_ROWS
    for i, (a, b) in enumerate(zip(data.offsets[:-1], data.offsets[1:], strict=True)):
        scores[a + train_end[i]:b] = (0.5, 3.0, 7.0)[i]
    scales = score_scales(data, train_end, scores, valid)
    np.testing.assert_allclose(scales, [1.0, 3.0, 7.0])


def _bursty(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A sine whose errors are heavy-tailed: a jolt at one step in ten, at random."""
    rng = np.random.default_rng(seed)
    y = _sine(n, seed=seed) + 3.0 * (rng.random(n) < 0.1) * rng.standard_normal(n)
    return pd.DataFrame({"y": y}, index=pd.date_range("2024-01-01", periods=n, freq="h"))


def test_ranking_scores_are_divided_by_the_series_score_scale(tmp_path):
    det = _detector(smoothing=20).fit(_bursty())
    assert det.score_scale_.shape == (2,) and det.score_scale_[0] > 1.5
    df = _bursty(200, seed=1)
    raw = scored_differently(det)
    raw.score_scale_ = None  # as a file from before it scores
    np.testing.assert_allclose(det.decision_function(df, online=True),
                               raw.decision_function(df, online=True) / det.score_scale_[0])
    # The threshold reads the divided scores: a normal step is about 1 again.
    assert det.threshold_ < raw.decision_function(_bursty(), online=True).quantile(0.99)
    np.testing.assert_allclose(_stream_rows(det.stream(), df)[0],
                               det.decision_function(df, online=True), rtol=1e-4, atol=1e-5)
    det.save(tmp_path / "d.tsrnn")
    loaded = AnomalyDetector.load(tmp_path / "d.tsrnn")
    np.testing.assert_array_equal(loaded.score_scale_, det.score_scale_)
    np.testing.assert_allclose(loaded.decision_function(df), det.decision_function(df))
    # Alerting scores are likelihoods: not divided, and the scales kept for ranking.
    alerting = scored_differently(det, alerts=True).fit_threshold(_bursty())
    np.testing.assert_array_equal(alerting.score_scale_, det.score_scale_)
    plain = scored_differently(alerting)
    plain.score_scale_ = None
    np.testing.assert_array_equal(alerting.decision_function(df), plain.decision_function(df))
    back = alerting.set_params(alerts=False).fit_threshold(_bursty())
    np.testing.assert_allclose(back.score_scale_, det.score_scale_)
    assert back.threshold_ == pytest.approx(det.threshold_)


def test_fit_threshold_matches_score_scales_to_series_by_id(long_frame):
    det = _detector(smoothing=20).fit(long_frame, **LONG)
    det.score_scale_ = np.array([2.0, 3.0, 4.0, 3.0])  # as fitted on heavier tails
    ids = list(det.ids_)
    only = long_frame[long_frame["series"] == ids[1]]
    refit = scored_differently(det).fit_threshold(only)  # one series, in another place
    assert refit.score_scale_[0] == 2.0 and refit.score_scale_[2] == 4.0  # kept
    reordered = long_frame.sort_values("series", ascending=False)
    again = scored_differently(det).fit_threshold(long_frame)
    np.testing.assert_array_equal(scored_differently(det).fit_threshold(reordered).score_scale_,
                                  again.score_scale_)


def test_a_fit_threshold_that_fails_changes_nothing(long_frame):
    det = _detector(smoothing=20).fit(long_frame, **LONG)
    det.score_scale_ = np.array([2.0, 3.0, 4.0, 3.0])
    before = {k: copy.deepcopy(getattr(det, k)) for k in
              ("score_scale_", "decision_scores_", "threshold_", "labels_", "threshold_scoring_")}
    short = long_frame.groupby("series").head(60)  # too few scores for a tail fit
    with pytest.raises(ValueError, match="threshold='pot'"):
        det.set_params(threshold="pot").fit_threshold(short)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(det, name), value, err_msg=name)


@pytest.mark.parametrize("key, value, match", [
    ("score_scale", torch.zeros(2, dtype=torch.float64), "below 1"),
    ("score_scale", torch.full((2,), 0.5, dtype=torch.float64), "below 1"),
    ("score_scale", torch.full((2,), 1e-300, dtype=torch.float64), "below 1"),
    ("constant_targets", torch.full((1, 2), 0.5, dtype=torch.float64), "other than 0 and 1"),
    ("constant_targets", torch.ones(2, dtype=torch.float64), "has shape"),
])
def test_a_file_with_a_bad_score_scale_or_constant_flags_is_refused(fitted, tmp_path, key,
                                                                     value, match):
    path = tmp_path / "d.tsrnn"
    fitted["forecast"].save(path)
    payload = torch.load(path, weights_only=True)
    payload["fitted"][key] = value
    payload["checksum"] = checksum(payload)  # a crafted file, not a damaged one
    torch.save(payload, path)
    with pytest.raises(ValueError, match=f"{key}.*{match}|{match}") as err:
        AnomalyDetector.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    del payload["fitted"][key]  # a file from before it: scored as before it
    payload["checksum"] = checksum(payload)
    torch.save(payload, path)
    assert getattr(AnomalyDetector.load(path), f"{key}_") is None


def test_a_file_with_a_training_summary_of_text_is_refused(fitted, tmp_path):
    # It loaded, then summary() failed with float()'s TypeError.
    path = tmp_path / "d.tsrnn"
    fitted["forecast"].save(path)
    payload = torch.load(path, weights_only=True)
    payload["fitted"]["training_summary"] = {"epochs": 1, "best_val_loss": [1]}
    payload["checksum"] = checksum(payload)
    torch.save(payload, path)
    with pytest.raises(ValueError, match="fitted 'training_summary' .* is not epochs") as err:
        AnomalyDetector.load(path)
    assert str(path) in str(err.value)


def test_a_frame_whose_columns_are_labelled_by_numbers_scores_and_streams():
    # The fitted detector knows its targets as '0' and '1': decision_function and
    # update_frame on the very frame it was fitted on said column '0' was missing.
    frame = _wide(60).set_axis([0, 1], axis=1).rename_axis("timestamp").reset_index()
    det = _detector().fit(frame)
    assert len(det.decision_function(frame)) == len(frame)
    np.testing.assert_allclose(det.stream().update_frame(frame)["score"],
                               det.decision_function(frame, online=True), atol=1e-5)


def test_fit_threshold_on_a_frame_it_cannot_score_says_why_and_changes_nothing(long_det,
                                                                                 long_frame):
    # A frame too short for the window, or of new sensors only (not scored before
    # the rows that scale them), failed with numpy's "need at least one array to
    # concatenate" or "index -1 is out of bounds", after score_scale_ had changed.
    det = scored_differently(long_det)
    before = det.threshold_, det.score_scale_.copy()
    with pytest.raises(DataError, match="fewer than window"):
        det.fit_threshold(long_frame.iloc[:5])
    newcomers = long_frame[long_frame.series == "s0"].iloc[:60].assign(series="s9")
    with pytest.raises(DataError, match="fit_threshold: none of the frame's validation rows"), \
            pytest.warns(UserWarning, match="'s9' .60 rows.: not seen at fit"):
        det.fit_threshold(newcomers)
    assert det.threshold_ == before[0]
    np.testing.assert_array_equal(det.score_scale_, before[1])


@pytest.mark.parametrize("score", SCORES)
def test_a_value_whose_error_overflows_scores_infinite_in_batch_as_in_the_stream(fitted, score):
    # 1e37 fits float32 but its squared error does not: the step's feature share
    # was inf / inf = NaN, and decision_function's sum scored it 0 (the stream: inf).
    det = fitted[score]
    df = _wide(40, seed=3)
    df.iloc[30, 0] = 1e37
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor numpy's overflow warnings
        batch = det.decision_function(df, online=True)
        shares = det.feature_scores(df, online=True)
        streamed, _, _ = _stream_rows(det.stream(), df)
    assert np.isinf(batch.iloc[30]) and np.isinf(streamed[30])
    assert shares.iloc[30].tolist() == [np.inf, 0.0]
    np.testing.assert_allclose(streamed, batch, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stateful", [False, True])
def test_a_training_value_too_far_out_to_train_on_is_named(long_frame, stateful):
    # 3.4e38 (a fault code) among readings near 1: its square overflows float32, and
    # fit gave threshold_ NaN and scored every later row 0, without a word.
    frame = long_frame.copy()
    row = frame.index[(frame.series == "s1").to_numpy()][30]
    frame.loc[row, "y"] = 3.4e38
    position = frame.index.get_loc(row)
    with pytest.raises(DataError, match=rf"column 'y' of series 's1' holds 3.4e\+38 at row "
                                        rf"{position} \(.*\), .* once scaled: too far out"):
        _detector(stateful=stateful).fit(frame, **LONG)


def test_a_detector_saves_without_warnings_after_fit_threshold(long_det, long_frame, tmp_path):
    # decision_scores_ was pandas' read-only view: torch warned "The given NumPy array
    # is not writable" on save.
    det = scored_differently(long_det).fit_threshold(long_frame)
    assert det.decision_scores_.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.save(tmp_path / "det.tsrnn")
