"""Tests for tsrnn/level.py and the detector's level check: the training levels,
the error a level beyond them gives, the stream against the batch, and a level
shift caught that the network's errors alone let through."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from tests.test_stuck import _frame, assert_stream_and_file_agree, small_detector
from tsrnn import AnomalyDetector
from tsrnn.level import (
    MAX_CHECKS,
    MAX_LEVEL_ERROR,
    LevelWatch,
    constant_targets,
    level_errors,
    level_reference,
    rolling_means,
    value_checked,
    without_constant_targets,
)
from tsrnn.model_checks import checksum


def test_rolling_means_and_the_reference():
    x = np.arange(10.0)[:, None]
    np.testing.assert_allclose(rolling_means(x, 4)[3:, 0], np.arange(1.5, 8.0))
    assert np.isnan(rolling_means(x, 4)[:3]).all() and np.isnan(rolling_means(x[:2], 4)).all()
    low, high, spread = level_reference(x, 4)[0]
    assert (low, high) == (1.5, 7.5) and spread == pytest.approx(np.arange(1.5, 8.0).std())
    assert level_reference(np.full((30, 1), 5.0), 4)[0, 2] == 1.0  # never varied


def test_level_errors_beyond_the_training_means_in_their_spread_capped():
    reference = np.array([[-1.0, 1.0, 0.5]])  # low, high, spread
    values = np.r_[np.zeros(4), np.full(4, 2.0), np.full(8, 100.0)][:, None]
    out = level_errors(values, reference, 4)[:, 0]
    assert (out[:4] == 0).all()  # no mean of 4 steps yet, then inside the range
    assert out[7] == pytest.approx(((2.0 - 1.0) / 0.5) ** 2)  # 2 spreads beyond: 4
    assert out[-1] == MAX_LEVEL_ERROR
    below = level_errors(-values, reference, 4)[:, 0]
    np.testing.assert_allclose(below, out)  # either side


def test_the_checks_add_to_the_errors_so_a_spike_outranks_a_level_at_the_cap():
    # A series that wandered far below its training levels scores the cap on
    # every step; a spike there must still outrank its quiet steps. With the
    # higher of the two (the rule before), every step scored 49 alike.
    reference = np.array([[-1.0, 1.0, 0.5]])  # low, high, spread
    values = np.full((40, 1), -100.0)  # far below: the level check's cap
    errors = np.ones((40, 1))
    errors[30] = 6.0  # the spike, as the network sees it
    out = value_checked(errors, values, 4, longest=None, reference=reference, constant=None)
    np.testing.assert_allclose(out[4:, 0], MAX_LEVEL_ERROR + errors[4:, 0])
    assert out[30, 0] == out[:, 0].max() and (out[:, 0] < out[30, 0]).sum() == 39
    # the stuck-sensor check adds too: the same value held beyond its record
    stuck = value_checked(errors, values, 4, longest=np.array([3.0]), reference=None,
                          constant=None)
    assert (stuck[:, 0] < stuck[30, 0]).sum() == 39  # a run of 30 holds the cap too
    # stuck beyond its training levels: the two checks together add one cap, not two
    both = value_checked(errors, values, 4, longest=np.array([3.0]), reference=reference,
                         constant=None)
    np.testing.assert_allclose(both[20:, 0], MAX_CHECKS + errors[20:, 0])


def test_a_constant_target_scores_any_move_from_its_first_row():
    training = np.c_[np.full(50, 1e6), np.arange(50.0)]
    constant = constant_targets(training)
    np.testing.assert_array_equal(constant, [True, False])
    reference = level_reference(training, 4)
    up = np.float32(1e6) + 0.25  # beyond float32's rounding of 1e6 (0.0625)
    values = np.c_[[1e6, up, 1e6, 1e6 + 0.01, np.nan, 1e6 - 3], np.full(6, 20.0)]
    out = level_errors(values, reference, 4, constant)
    np.testing.assert_array_equal(out[:, 0], [0, MAX_LEVEL_ERROR, 0, 0, 0, MAX_LEVEL_ERROR])
    assert (out[:, 1] == 0).all()  # inside its range: the mean check, as before
    assert (level_errors(values, reference, 4)[:4, 0] < 1).all()  # no rule: the means only
    watch = LevelWatch(reference, 4)
    streamed = np.stack([watch.update(row, constant) for row in values])
    streamed[4, 0] = out[3, 0]  # NaN: carried forward, as the batch's filled frame has it
    np.testing.assert_array_equal(streamed, out)
    errors = np.full((6, 2), 3.0)
    np.testing.assert_array_equal(without_constant_targets(errors, constant)[:, 0], 0.0)
    assert without_constant_targets(errors, None) is errors


def test_a_pattern_with_the_same_mean_over_every_window_is_no_constant():
    # A 0/1 toggle (or any pattern whose period divides the window) has the same
    # mean over every window: taken for a constant, every step scored 49.
    toggle = np.tile([0.0, 1.0], 200)[:, None]
    assert level_reference(toggle, 16)[0, 0] == level_reference(toggle, 16)[0, 1]
    assert not constant_targets(toggle)[0]
    df = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=400, freq="h"),
                       "value": toggle[:, 0]})
    det = AnomalyDetector(window=16, hidden_size=16, max_epochs=2, n_models=1, calendar=None,
                          accelerator="cpu", random_state=0).fit(df, time_col="timestamp")
    assert not det.constant_targets_.any()
    assert det.predict(df).mean() < 0.1


def test_a_series_constant_in_training_flags_nothing_until_it_moves():
    # Rebuilding a constant, a network's errors are its own noise: measured against
    # themselves, they flagged 195 of these 200 rows.
    df = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=600, freq="h"),
                       "value": 5.0})
    det = AnomalyDetector(max_epochs=2, n_models=1, accelerator="cpu", random_state=0
                          ).fit(df.iloc[:400], time_col="timestamp")
    assert det.predict(df.iloc[400:]).sum() == 0
    assert det.predict(df).sum() == 0  # held longer than in training: not stuck
    moved = df.copy()
    moved.loc[500, "value"] = 5.5
    labels = np.asarray(det.predict(moved))
    assert labels[500] == 1 and labels[:500].sum() == 0


def _with_setpoint() -> pd.DataFrame:
    df = _frame()
    df["b"] = 5.0  # a setpoint
    return df


@pytest.fixture(scope="module")
def setpoint_det():
    return AnomalyDetector(window=16, hidden_size=16, max_epochs=3, n_models=1,
                           calendar=None, accelerator="cpu", random_state=0
                           ).fit(_with_setpoint().iloc[:400], time_col="timestamp")


def test_a_constant_sensor_beside_a_live_one_adds_no_noise(setpoint_det):
    det, df = setpoint_det, _with_setpoint()
    scores = det.decision_function(df, online=True)
    shares = det.feature_scores(df, online=True).iloc[16:]  # scored rows
    assert (shares["b"] == 0).all() and (shares["a"] > 0).all()  # b: no network noise
    older = copy.copy(det)
    older.constant_targets_ = None  # a file from before the rule scores as it did
    assert (older.feature_scores(df, online=True).iloc[16:]["b"] > 0).any()
    moved = df.copy()
    moved.loc[500, "b"] = 5.01
    after = det.decision_function(moved, online=True)
    assert after.iloc[500] >= MAX_LEVEL_ERROR / 2 > scores.iloc[500]
    stream = det.stream()
    streamed = [stream.update(r.timestamp, [r.a, r.b]).score[0] for r in moved.itertuples()]
    np.testing.assert_allclose(streamed, after.to_numpy(), rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def level_det():
    return small_detector()


def test_level_watch_equals_the_batch_and_carries_a_missing_value():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 3.0]).astype(np.float32)
    reference = level_reference(rng.normal(size=(200, 2)), 8)
    watch = LevelWatch(reference, 8)
    stream = np.stack([watch.update(row) for row in x])
    np.testing.assert_array_equal(stream, level_errors(x, reference, 8))
    assert stream[-1].min() > 0
    last = watch.recent[-1].copy()
    watch.update(np.array([np.nan, 0.0]))
    assert watch.recent[-1, 0] == last[0]  # carried forward


def test_a_level_shift_is_caught_throughout_and_the_stream_agrees(level_det, tmp_path):
    det = level_det
    df = _frame()
    assert det.level_range_.shape == (1, 2, 3)
    shifted = df.copy()
    shifted.loc[450:509, "a"] += 0.8  # an offset of 0.8 (the daily swing: 2) for 60 hours
    after = det.decision_function(shifted, online=True)
    flagged = after.iloc[470:510] > det.threshold_
    kept, det.level_range_ = det.level_range_, None  # the check off, as before it
    without = det.decision_function(shifted, online=True)
    det.level_range_ = kept
    assert flagged.all()  # every step once the window has filled with the new level
    assert (without.iloc[470:510] > det.threshold_).mean() < 0.9  # rebuilt well: missed
    assert (after >= without - 1e-9).all()
    assert (det.decision_function(df, online=True).iloc[420:] > det.threshold_).mean() < 0.1
    assert_stream_and_file_agree(det, shifted, after, tmp_path, "level_range_")


def test_a_series_unseen_at_fit_and_stateful_scores_have_no_level_check(level_det):
    assert level_det._level_range_of(None) is None and level_det._level_watch(None) is None
    det = AnomalyDetector(window=8, stateful=True, hidden_size=8, max_epochs=1, n_models=1,
                          calendar=None, accelerator="cpu", random_state=0
                          ).fit(_frame().iloc[:200], time_col="timestamp")
    assert det._level_range_of(0) is None


def _set(column: int, value: float):
    def damage(levels):
        levels[..., column] = value
        return levels
    return damage


@pytest.mark.parametrize("damage, match", [
    (_set(2, 0.0), "a spread at or below zero"),
    (_set(0, 1e9), "a low above its high"),
    (_set(1, float("nan")), "NaN or infinite"),
    (lambda levels: levels[..., :2], "has shape"),
])
def test_a_model_file_with_bad_levels_is_refused(level_det, tmp_path, damage, match):
    path = tmp_path / "d.tsrnn"
    level_det.save(path)
    payload = torch.load(path, weights_only=True)
    levels = damage(payload["fitted"]["level_range"].clone())
    payload["fitted"]["level_range"] = levels
    payload["checksum"] = checksum(payload)  # a crafted file, not a damaged one
    torch.save(payload, path)
    with pytest.raises(ValueError, match=match) as err:
        AnomalyDetector.load(path)
    assert str(path) in str(err.value)


def test_the_onnx_scores_have_the_level_check(level_det, tmp_path):
    pytest.importorskip("onnxruntime")
    from tests.test_onnx_serving import TOL, _graph_errors
    from tsrnn.export.scores import detector_scores

    det = level_det
    shifted = _frame().drop(columns="timestamp")
    shifted.loc[450:509, "a"] += 0.8
    frame = _frame()
    frame.loc[450:509, "a"] += 0.8
    meta = det.to_onnx(tmp_path / "d.onnx")
    assert meta["level_range"] == det.level_range_.tolist()
    errors = _graph_errors(det, tmp_path / "d.onnx", shifted)
    scores = detector_scores(errors, meta, values=shifted.to_numpy())
    np.testing.assert_allclose(scores, det.decision_function(frame, online=True).to_numpy(),
                               **TOL)
    without = detector_scores(errors, {**meta, "level_range": None}, values=shifted.to_numpy())
    assert (scores >= without - 1e-9).all() and scores[490] > without[490]


def test_the_onnx_scores_measure_a_constant_target_as_the_detector_does(setpoint_det,
                                                                        tmp_path):
    pytest.importorskip("onnxruntime")
    from tests.test_onnx_serving import TOL, _graph_errors
    from tsrnn.export.scores import detector_scores

    frame = _with_setpoint()
    frame.loc[500, "b"] = 5.01
    values = frame.drop(columns="timestamp")
    meta = setpoint_det.to_onnx(tmp_path / "d.onnx")
    scores = detector_scores(_graph_errors(setpoint_det, tmp_path / "d.onnx", values), meta,
                             values=values.to_numpy())
    np.testing.assert_allclose(scores, setpoint_det.decision_function(frame, online=True),
                               **TOL)
    assert scores[500] >= MAX_LEVEL_ERROR / 2
