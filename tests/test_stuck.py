"""Tests for tsrnn/stuck.py and the detector's stuck-sensor check: run lengths,
the error a run gives, the stream against the batch, and a frozen sensor caught."""

import numpy as np
import pandas as pd
import pytest

from tsrnn import AnomalyDetector
from tsrnn.stuck import MAX_STUCK_ERROR, StuckWatch, longest_runs, run_lengths, stuck_errors


def test_run_lengths_count_the_steps_a_value_repeats():
    x = np.array([[1.0, 5.0], [1.0, 6.0], [1.0, 6.0], [2.0, 6.0], [2.0, 7.0]])
    np.testing.assert_array_equal(run_lengths(x), [[0, 0], [1, 0], [2, 1], [0, 2], [1, 0]])
    np.testing.assert_array_equal(longest_runs(x), [2, 2])
    assert longest_runs(np.zeros((0, 3))).tolist() == [0, 0, 0]


def test_stuck_errors_start_beyond_the_training_record_and_are_capped():
    runs = np.array([0.0, 3.0, 4.0, 8.0, 1000.0])
    out = stuck_errors(runs, np.full(5, 3.0))  # the record: 3 repeats
    np.testing.assert_allclose(out[:2], 0.0)  # up to the record: nothing
    np.testing.assert_allclose(out[2:4], [1.0, 4.0])  # (run / (record + 1))^2
    assert out[4] == MAX_STUCK_ERROR


def test_stuck_watch_equals_the_batch_and_carries_a_missing_value():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(200, 2)).astype(np.float32)  # runs of every length
    longest = np.array([1.0, 2.0])
    watch = StuckWatch(longest)
    stream = np.stack([watch.update(row) for row in x])
    np.testing.assert_allclose(stream, stuck_errors(run_lengths(x), longest))
    watch = StuckWatch(np.zeros(1))
    assert watch.update(np.array([4.0]))[0] == 0.0
    assert watch.update(np.array([np.nan]))[0] == 1.0  # carried forward: the same value


def _frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    return pd.DataFrame({
        "timestamp": pd.date_range("2024-01-01", periods=n, freq="h"),
        "a": 10 + np.sin(steps * 2 * np.pi / 24) + 0.1 * rng.standard_normal(n),
        "b": 5 + np.cos(steps * 2 * np.pi / 24) + 0.1 * rng.standard_normal(n)})


def small_detector() -> AnomalyDetector:
    """A detector of the two sensors of :func:`_frame`, fitted on their first 400
    hours (also tests/test_level.py's)."""
    return AnomalyDetector(window=16, hidden_size=16, max_epochs=3, n_models=1,
                           calendar=None, accelerator="cpu", random_state=0
                           ).fit(_frame().iloc[:400], time_col="timestamp")


def assert_stream_and_file_agree(det: AnomalyDetector, frame: pd.DataFrame,
                                 scores: pd.Series, tmp_path, fitted: str) -> None:
    """The stream's scores of ``frame`` (sensors a and b) and those of ``det`` saved
    and loaded equal its online ``scores``; the file keeps attribute ``fitted``."""
    stream = det.stream()
    streamed = [stream.update(r.timestamp, [r.a, r.b]).score[0] for r in frame.itertuples()]
    np.testing.assert_allclose(streamed, scores.to_numpy(), rtol=1e-4, atol=1e-5)
    det.save(tmp_path / "d.tsrnn")
    loaded = AnomalyDetector.load(tmp_path / "d.tsrnn")
    np.testing.assert_array_equal(getattr(loaded, fitted), getattr(det, fitted))
    np.testing.assert_allclose(loaded.decision_function(frame, online=True), scores)


@pytest.fixture(scope="module")
def stuck_det():
    return small_detector()


def test_a_stuck_sensor_is_caught_and_the_stream_agrees(stuck_det, tmp_path):
    det = stuck_det
    assert det.longest_run_.shape == (2, 2) and (det.longest_run_ == 0).all()  # noisy
    df = _frame()
    frozen = df.copy()
    frozen.loc[450:470, "a"] = frozen.loc[449, "a"]  # sensor a sticks for 21 hours
    before = det.decision_function(df, online=True)
    after = det.decision_function(frozen, online=True)
    labels = det.predict(frozen, online=True)
    assert labels.iloc[455:471].all()  # flagged within a few steps, and throughout
    assert det.predict(df, online=True).iloc[450:471].sum() <= 2  # unfrozen: hardly any
    assert after.iloc[460] > 10 * before.iloc[460]
    shares = det.feature_scores(frozen, online=True).iloc[460]
    assert shares["a"] > 0.9 * shares.sum()  # blamed on the stuck sensor
    assert_stream_and_file_agree(det, frozen, after, tmp_path, "longest_run_")
