"""Tests for tsrnn/metrics/nab.py: NAB scoring and windows_to_labels.

References: a plain loop written here from NAB's sweeper, hand-worked examples,
and ports of NAB's own tests (numenta/NAB
tests/integration/{true,false}_positive_test.py, sweeper_test.py).
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tsrnn.metrics import NAB_PROFILES, nab_benchmark, nab_score, windows_to_labels

from .anomaly_helpers import FAST


# ------------------------------------------------------------------ NAB
def _sigmoid(x):
    return -1.0 if x > 3 else 2 / (1 + math.exp(5 * x)) - 1


def _nab_loop(scores, windows, threshold, tp, fp, fn, probationary):
    """NAB's rules, row by row; windows as [(first_row, last_row)]."""
    n = len(scores)
    skip = min(math.floor(probationary * n), probationary * 5000)
    total = 0.0
    for first, last in windows:
        if last < skip:
            continue
        hits = [i for i in range(first, last + 1) if i >= skip and scores[i] >= threshold]
        if hits:
            total += tp * _sigmoid(-(last - hits[0] + 1) / (last - first + 1)) / _sigmoid(-1)
        else:
            total -= fn
    for i in range(n):
        if i < skip or scores[i] < threshold or any(a <= i <= b for a, b in windows):
            continue
        before = [(a, b) for a, b in windows if b < i]
        if not before:
            total -= fp
        else:
            a, b = before[-1]
            total += fp * _sigmoid((i - b) / (b - a) if b > a else math.inf)
    return total


STANDARD = NAB_PROFILES["standard"]
ONES = {"tp": 1.0, "fp": 1.0, "fn": 1.0}  # the cost matrix of NAB's own tests


def _times(n):
    return pd.date_range("2015-01-01", periods=n, freq="5min")


def _nab_test_windows(times, n_windows, size):
    """NAB's test_helpers.generateWindows: evenly spaced windows of `size` rows."""
    gap = round((len(times) - n_windows * size) / (n_windows + 1))
    firsts = [gap * (i + 1) + size * i for i in range(n_windows)]
    return [(times[f], times[f + size - 1]) for f in firsts]


def _one_detection(n, row):
    scores = np.zeros(n)
    scores[row] = 1.0
    return scores


def test_nab_detection_at_window_start_scores_a_tp_and_later_less():
    times = _times(100)
    windows = [(times[40], times[49])]  # 10 rows
    start = nab_score(times, _one_detection(100, 40), windows, threshold=0.5, probationary=0)
    assert start == 1.0  # S(-1) / S(-1) * A_TP, exactly
    end = nab_score(times, _one_detection(100, 49), windows, threshold=0.5, probationary=0)
    assert end == pytest.approx(_sigmoid(-1 / 10) / _sigmoid(-1))
    assert 0 < end < 0.3 < start
    middle = nab_score(times, _one_detection(100, 44), windows, threshold=0.5, probationary=0)
    assert middle == pytest.approx(_sigmoid(-6 / 10) / _sigmoid(-1))


def test_nab_false_positives():
    times, profile = _times(100), "standard"
    windows = [(times[40], times[49])]
    kw = {"threshold": 0.5, "profile": profile, "probationary": 0}
    # Before any window: the full A_FP, plus the missed window.
    assert nab_score(times, _one_detection(100, 10), windows, **kw) == pytest.approx(-0.11 - 1)
    # Just after the window, in window widths less one: a reduced penalty.
    after = nab_score(times, _one_detection(100, 51), windows, **kw)
    assert after == pytest.approx(0.11 * _sigmoid(2 / 9) - 1)
    assert -1 - 0.11 < after < -1
    # More than three widths after it: the full A_FP again.
    assert nab_score(times, _one_detection(100, 80), windows, **kw) == pytest.approx(-0.11 - 1)
    # No detection at all: A_FN per window.
    assert nab_score(times, np.zeros(100), windows, **kw) == -1.0


def test_nab_profiles_weigh_errors_differently():
    times = _times(200)
    windows = [(times[50], times[59]), (times[120], times[129])]
    scores = np.zeros(200)
    scores[[52, 90, 91, 180]] = 1.0  # a TP, three FPs; the second window is missed
    raw = {
        name: nab_score(times, scores, windows, threshold=0.5, profile=name, probationary=0)
        for name in NAB_PROFILES
    }
    tp = _sigmoid(-8 / 10) / _sigmoid(-1)
    fps = _sigmoid(31 / 9) + _sigmoid(32 / 9) + _sigmoid(51 / 9)  # all -1: over 3 widths
    assert raw["standard"] == pytest.approx(tp + 0.11 * fps - 1)
    assert raw["reward_low_FP"] == pytest.approx(tp + 0.22 * fps - 1)
    assert raw["reward_low_FN"] == pytest.approx(tp + 0.11 * fps - 2)
    assert raw["reward_low_FP"] < raw["standard"] and raw["reward_low_FN"] < raw["standard"]
    assert (
        nab_score(times, scores, windows, threshold=0.5, profile=dict(STANDARD), probationary=0)
        == raw["standard"]
    )


def test_nab_probationary_period_is_ignored():
    times = _times(100)  # 15 probationary rows
    windows = [(times[5], times[12]), (times[60], times[69])]  # the first is probationary
    quiet = nab_score(times, np.zeros(100), windows, threshold=0.5)
    assert quiet == -1.0  # only the second window is scored
    assert nab_score(times, _one_detection(100, 14), windows, threshold=0.5) == quiet
    assert nab_score(times, _one_detection(100, 15), windows, threshold=0.5) < quiet
    assert nab_score(times, _one_detection(100, 15), windows, threshold=0.5, probationary=0) < (
        quiet
    )


@pytest.mark.parametrize(
    ("n", "probationary", "length"),
    [(100, 0.0, 0), (100, 0.1, 10), (100, 0.15, 15), (5000, 0.1, 500), (6000, 0.1, 500)],
)
def test_nab_probationary_length(n, probationary, length):
    # Port of sweeper_test.testGetProbationaryLength: min(floor(p n), p 5000) rows.
    times, windows = np.arange(n), [(n - 5, n - 1)]
    quiet = nab_score(times, np.zeros(n), windows, threshold=0.5, probationary=probationary)
    if length:
        last_ignored = _one_detection(n, length - 1)
        assert (
            nab_score(times, last_ignored, windows, threshold=0.5, probationary=probationary)
            == quiet
        )
    first_scored = _one_detection(n, length)
    assert nab_score(times, first_scored, windows, threshold=0.5, probationary=probationary) < quiet


# Ports of numenta/NAB tests/integration/true_positive_test.py and false_positive_test.py.
def test_nab_port_first_true_positive_within_window():
    times = _times(10)
    windows = _nab_test_windows(times, 1, 2)
    scores = _one_detection(10, times.get_loc(windows[0][0]))
    assert nab_score(times, scores, windows, threshold=0.5, profile=ONES, probationary=0) == 1.0


def test_nab_port_earlier_true_positive_is_better_and_only_the_first_counts():
    times = _times(10)
    windows = _nab_test_windows(times, 1, 2)
    first, last = (times.get_loc(t) for t in windows[0])
    kw = {"threshold": 0.5, "profile": ONES, "probationary": 0}
    early = nab_score(times, _one_detection(10, first), windows, **kw)
    late = nab_score(times, _one_detection(10, last), windows, **kw)
    assert early > late
    both = _one_detection(10, first) + _one_detection(10, last)
    assert nab_score(times, both, windows, **kw) == early


def test_nab_port_true_positives_with_different_window_sizes():
    times = _times(10)
    kw = {"threshold": 0.5, "profile": ONES, "probationary": 0}
    scores = []
    for size in (2, 3):
        windows = _nab_test_windows(times, 1, size)
        start = times.get_loc(windows[0][0])
        scores.append(nab_score(times, _one_detection(10, start), windows, **kw))
    assert scores[0] == scores[1] == 1.0


def test_nab_port_true_positive_at_right_edge_of_window():
    times = _times(1000)
    windows = _nab_test_windows(times, 1, 100)
    last = times.get_loc(windows[0][1])
    kw = {"threshold": 0.5, "profile": ONES, "probationary": 0}
    at_edge = nab_score(times, _one_detection(1000, last), windows, **kw)
    just_after = nab_score(times, _one_detection(1000, last + 1), windows, **kw)
    # The scaled sigmoid crosses zero between the last row and the next one.
    assert at_edge + just_after + 1 == pytest.approx(0.0, abs=1e-3)


def test_nab_port_false_positives():
    times = _times(1000)
    windows = _nab_test_windows(times, 1, 10)
    kw = {"threshold": 0.5, "profile": ONES, "probationary": 0}
    one = nab_score(times, _one_detection(1000, 0), windows, **kw)
    assert one < 0
    two = _one_detection(1000, 0) + _one_detection(1000, 1)
    assert nab_score(times, two, windows, **kw) < one
    # No window at all: a false positive costs exactly A_FP.
    assert nab_score(times, _one_detection(1000, 0), [], **kw) == -1.0
    # Just after a window, an earlier FP costs less than a later one.
    times = _times(10)
    windows = _nab_test_windows(times, 1, 2)
    after = times.get_loc(windows[0][1]) + 1
    assert nab_score(times, _one_detection(10, after), windows, **kw) > nab_score(
        times, _one_detection(10, after + 1), windows, **kw
    )


def test_nab_port_window_score_interaction():
    # sweeper_test.testCalcSweepScoreWindowScoreInteraction: a detection gains inside
    # a window and loses outside it (probationary rows aside).
    n, windows = 100, [(30, 39), (75, 95)]
    times = np.arange(n)
    quiet = nab_score(times, np.zeros(n), windows, threshold=0.5, probationary=0.1)
    for row in range(10, n):
        got = nab_score(times, _one_detection(n, row), windows, threshold=0.5, probationary=0.1)
        inside = 30 <= row <= 39 or 75 <= row <= 95
        assert (got > quiet) if inside else (got < quiet), row


@FAST
@given(
    scores=arrays(np.float64, st.integers(5, 80), elements=st.integers(0, 4).map(float)),
    data=st.data(),
    profile=st.sampled_from(list(NAB_PROFILES)),
    probationary=st.sampled_from([0.0, 0.15, 0.4]),
)
def test_nab_score_matches_the_loop(scores, data, profile, probationary):
    n = scores.size
    cuts = sorted(data.draw(st.sets(st.integers(0, n - 1), max_size=6)))
    windows = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
    threshold = data.draw(st.sampled_from([0.0, 1.0, 2.5, 4.0, np.inf]))
    weights = NAB_PROFILES[profile]
    got = nab_score(
        np.arange(n),
        scores,
        windows,
        threshold=threshold,
        profile=profile,
        probationary=probationary,
    )
    expected = _nab_loop(
        scores, windows, threshold, weights["tp"], weights["fp"], weights["fn"], probationary
    )
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def _corpus(seed):
    rng = np.random.default_rng(seed)
    corpus = {}
    for name, n in (("a", 120), ("b", 90), ("c", 150)):
        times = _times(n)
        firsts = sorted(rng.choice(np.arange(25, n - 15, 15), size=2, replace=False))
        windows = [(times[f], times[f + 9]) for f in firsts]
        scores = np.round(rng.random(n) * 0.7 + 0.4 * windows_to_labels(times, windows), 2)
        corpus[name] = (times, scores, windows)
    return corpus


@pytest.mark.parametrize("profile", list(NAB_PROFILES))
@pytest.mark.parametrize("seed", [0, 1])
def test_nab_benchmark_optimises_one_threshold_by_brute_force(profile, seed):
    corpus = _corpus(seed)
    result = nab_benchmark(corpus, profile)
    candidates = np.unique(np.concatenate([s for _, s, _ in corpus.values()]))
    totals = {
        float(t): sum(
            nab_score(*entry[:2], entry[2], threshold=float(t), profile=profile)
            for entry in corpus.values()
        )
        for t in np.append(candidates, np.inf)
    }
    best = max(totals.values())
    assert result["raw"] == pytest.approx(best, rel=1e-12)
    assert result["threshold"] == max(t for t, v in totals.items() if v >= best - 1e-9)
    n_windows = 6
    weights = NAB_PROFILES[profile]
    assert result["null"] == -weights["fn"] * n_windows
    assert result["perfect"] == weights["tp"] * n_windows
    assert result["score"] == pytest.approx(
        100 * (best - result["null"]) / (result["perfect"] - result["null"])
    )
    assert result["per_series"] == {
        name: nab_score(*entry[:2], entry[2], threshold=result["threshold"], profile=profile)
        for name, entry in corpus.items()
    }


def test_nab_benchmark_null_is_0_and_perfect_is_100():
    corpus = _corpus(2)
    never = {name: (t, np.zeros(len(t)), w) for name, (t, _, w) in corpus.items()}
    result = nab_benchmark(never, "standard")
    assert result["score"] == 0.0
    assert result["threshold"] == np.inf
    perfect = {}
    for name, (times, _, windows) in corpus.items():
        scores = np.zeros(len(times))
        scores[[times.get_loc(start) for start, _ in windows]] = 1.0
        perfect[name] = (times, scores, windows)
    for profile in NAB_PROFILES:
        result = nab_benchmark(perfect, profile)
        assert result["score"] == 100.0 and result["threshold"] == 1.0
    assert 0 < nab_benchmark(corpus, "standard")["score"] < 100


def test_nab_accepts_datetimes_strings_and_plain_indices():
    times = _times(60)
    scores = np.zeros(60)
    scores[[20, 45]] = 1.0
    as_times = nab_score(times, scores, [(times[18], times[25])], threshold=1.0)
    as_strings = nab_score(times, scores, [("2015-01-01 01:30", "2015-01-01 02:05")], threshold=1.0)
    as_index = nab_score(np.arange(60), scores, [(18, 25)], threshold=1.0)
    assert as_times == as_strings == as_index
    # Bounds between time stamps select the rows inside them.
    assert nab_score(np.arange(60.0), scores, [(17.5, 25.2)], threshold=1.0) == as_index


def test_windows_to_labels():
    times = _times(10)
    labels = windows_to_labels(times, [(times[1], times[2]), ("2015-01-01 00:30", times[9])])
    assert labels.tolist() == [0, 1, 1, 0, 0, 0, 1, 1, 1, 1]
    assert labels.dtype == np.int8
    assert windows_to_labels(np.arange(5), []).tolist() == [0] * 5


@pytest.mark.parametrize(
    ("windows", "match"),
    [
        ([(5, 3)], r"window 0 starts after it ends"),
        ([(2.2, 2.8)], r"window 0 .* holds no timestamp"),
        ([(4, 6), (1, 2)], r"sorted and must not overlap: window 1"),
        ([(1, 4), (4, 6)], r"sorted and must not overlap: window 1"),
        ([(1, 2, 3)], r"\(start, end\) pairs"),
        ([(None, 3)], r"window 0 has a missing bound"),
    ],
)
def test_bad_windows(windows, match):
    with pytest.raises(ValueError, match=match):
        windows_to_labels(np.arange(10), windows)
    with pytest.raises(ValueError, match=match):
        nab_score(np.arange(10), np.zeros(10), windows, threshold=0.5)


@pytest.mark.parametrize(
    ("timestamps", "error", "match"),
    [
        (np.array([0, 1, 1, 2]), ValueError, r"strictly increasing, got 1 then 1 at index 2"),
        (np.array([0.0, np.nan, 2, 3]), ValueError, r"NaT, NaN or inf"),
        (np.array(["a", "b", "c", "d"]), TypeError, r"numeric or numpy datetime64"),
        (pd.date_range("2015", periods=4, tz="UTC"), TypeError, r"tz_convert\(None\)"),
        (np.arange(5), ValueError, r"timestamps and scores must have the same length"),
    ],
)
def test_bad_timestamps(timestamps, error, match):
    with pytest.raises(error, match=match):
        nab_score(timestamps, np.zeros(4), [], threshold=0.5)


def test_bad_nab_arguments():
    times, scores = np.arange(10), np.zeros(10)
    with pytest.raises(ValueError, match=r"profile must be one of \['standard', 'reward_low_FP'"):
        nab_score(times, scores, [], threshold=0.5, profile="reward_low_FP_rate")
    with pytest.raises(ValueError, match=r"mapping with keys 'tp', 'fp', 'fn'"):
        nab_score(times, scores, [], threshold=0.5, profile={"tp": 1.0, "fp": 1.0})
    with pytest.raises(ValueError, match=r"probationary must be a fraction in \[0, 1\]"):
        nab_score(times, scores, [], threshold=0.5, probationary=15)
    with pytest.raises(ValueError, match=r"threshold must not be NaN"):
        nab_score(times, scores, [], threshold=np.nan)
    with pytest.raises(ValueError, match=r"no series has a scored anomaly window"):
        nab_benchmark({"a": (times, scores, [(0, 1)])}, probationary=0.5)
    with pytest.raises(ValueError, match=r"results\['a'\]: scores contains NaN"):
        nab_benchmark({"a": (times, np.full(10, np.nan), [(5, 6)])})
    with pytest.raises(ValueError, match=r"results\['a'\] must be a \(timestamps, scores"):
        nab_benchmark({"a": (times, scores)})
    with pytest.raises(ValueError, match=r"non-empty mapping"):
        nab_benchmark({})
