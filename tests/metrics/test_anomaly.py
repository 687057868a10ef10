"""Tests for tsrnn/metrics/anomaly.py.

References: scikit-learn for the point-wise metrics; for the others, plain loops
written here from the published definitions (Tatbul et al. 2018; TSB-AD's VUS;
NAB's sweeper), values computed with the reference packages themselves (prts
1.0.0.3, TSB-AD 1.5) on fixed inputs, hand-worked examples, and ports of NAB's
own tests (numenta/NAB tests/integration/{true,false}_positive_test.py,
sweeper_test.py).
"""

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as skm

from tsrnn.metrics import (
    NAB_PROFILES,
    best_f1,
    nab_benchmark,
    nab_score,
    point_adjusted_f1,
    pr_auc,
    range_precision_recall,
    roc_auc,
    vus_pr,
    windows_to_labels,
)

FAST = settings(max_examples=50, deadline=None)
RTOL = 1e-12


@st.composite
def labelled_scores(draw, min_size=2, max_size=60, ties=True):
    """(labels, scores) with at least one anomaly and one normal step."""
    n = draw(st.integers(min_size, max_size))
    labels = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    assume(0 < labels.sum() < n)
    values = st.integers(0, 6).map(float) if ties and draw(st.booleans()) else st.floats(-5, 5)
    scores = draw(arrays(np.float64, n, elements=values))
    return labels, scores


def _ranges(mask):
    """[(first, last)] of each run of 1s, by a plain loop."""
    out, start = [], None
    for i, v in enumerate(list(mask) + [0]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - 1))
            start = None
    return out


# ------------------------------------------------------------------ point-wise, vs scikit-learn
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_and_pr_auc_match_sklearn(seed, ties):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 500))
    labels = (rng.random(n) < rng.uniform(0.02, 0.5)).astype(int)
    labels[:2] = [0, 1]
    scores = rng.integers(0, 8, n).astype(float) if ties else rng.standard_normal(n) + labels
    got_roc, got_ap = roc_auc(labels, scores), pr_auc(labels, scores)
    assert type(got_roc) is float and type(got_ap) is float
    np.testing.assert_allclose(got_roc, skm.roc_auc_score(labels, scores), rtol=RTOL)
    np.testing.assert_allclose(got_ap, skm.average_precision_score(labels, scores), rtol=RTOL)


@FAST
@given(case=labelled_scores())
def test_point_metrics_match_sklearn_on_random_inputs(case):
    labels, scores = case
    np.testing.assert_allclose(roc_auc(labels, scores), skm.roc_auc_score(labels, scores), RTOL)
    np.testing.assert_allclose(
        pr_auc(labels, scores), skm.average_precision_score(labels, scores), RTOL
    )
    # Bool and float labels are the same labels.
    assert pr_auc(labels.astype(bool), scores) == pr_auc(labels.astype(float), scores)


def test_array_likes_are_accepted():
    labels, scores = [0, 1, 0, 1, 1], [0.1, 0.8, 0.3, 0.2, 0.9]
    expected = pr_auc(np.array(labels), np.array(scores))
    assert pr_auc(pd.Series(labels), pd.Series(scores)) == expected
    assert pr_auc([False, True, False, True, True], scores) == expected
    assert vus_pr(pd.Series(labels, dtype="Int64"), tuple(scores), 2) == vus_pr(labels, scores, 2)


def test_point_metric_invariants():
    rng = np.random.default_rng(1)
    labels = (rng.random(300) < 0.1).astype(int)
    scores = rng.standard_normal(300) + labels
    assert roc_auc(labels, -scores) == pytest.approx(1 - roc_auc(labels, scores), rel=RTOL)
    # Only the ranking counts: a strictly increasing transform changes nothing.
    assert pr_auc(labels, np.exp(scores)) == pr_auc(labels, scores)
    assert roc_auc(labels, 3 * scores + 1) == roc_auc(labels, scores)
    assert roc_auc(labels, labels) == pr_auc(labels, labels) == 1.0
    assert roc_auc(labels, np.zeros(300)) == 0.5
    assert pr_auc(np.ones(5), np.arange(5.0)) == 1.0  # all anomalous: AP is defined


@FAST
@given(case=labelled_scores())
def test_best_f1_is_the_brute_force_maximum_over_sklearn_thresholds(case):
    labels, scores = case
    precision, recall, thresholds = skm.precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore"):
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))[:-1]
    got, threshold = best_f1(labels, scores)
    assert got == pytest.approx(f1.max(), rel=1e-12)
    # The threshold reaches it, and every larger threshold scores less.
    assert skm.f1_score(labels, scores >= threshold) == pytest.approx(got, rel=1e-12)
    assert all(f1[thresholds > threshold] < got - 1e-12)


def test_best_f1_hand_worked():
    # Thresholds 4, 3, 2, 1 give F1 2/3, 1/2, 4/5, 2/3.
    assert best_f1([1, 0, 1, 0], [4.0, 3.0, 2.0, 1.0]) == (pytest.approx(0.8), 2.0)


# ------------------------------------------------------------------ point adjustment
def _point_adjust_loop(labels, predicted):
    adjusted = list(predicted)
    for first, last in _ranges(labels):
        if any(predicted[first : last + 1]):
            adjusted[first : last + 1] = [1] * (last - first + 1)
    return adjusted


def test_point_adjusted_f1_hand_worked():
    labels = [0, 1, 1, 1, 0, 0, 1, 1, 0, 0]
    predicted = [0, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    # Adjusted: the first range becomes 3 TPs; the second is missed; 1 FP.
    assert point_adjusted_f1(labels, predicted) == pytest.approx(2 * 3 / (4 + 5))
    assert skm.f1_score(labels, predicted) == pytest.approx(2 * 1 / (2 + 5))  # unadjusted
    assert point_adjusted_f1(labels, [0] * 10) == 0.0
    # A range at index 0 is adjusted from index 0 (some implementations skip it).
    assert point_adjusted_f1([1, 1, 1, 0], [0, 0, 1, 0]) == 1.0


@FAST
@given(case=labelled_scores(), quantile=st.floats(0, 1))
def test_point_adjusted_f1_matches_a_loop_and_sklearn_f1(case, quantile):
    labels, scores = case
    threshold = float(np.quantile(scores, quantile))
    predicted = (scores >= threshold).astype(int)
    expected = skm.f1_score(labels, _point_adjust_loop(labels, predicted), zero_division=0)
    assert point_adjusted_f1(labels, predicted) == pytest.approx(expected, rel=1e-12)
    assert point_adjusted_f1(labels, scores, threshold=threshold) == point_adjusted_f1(
        labels, predicted
    )
    assert point_adjusted_f1(labels, predicted) >= skm.f1_score(labels, predicted) - 1e-12


def test_point_adjustment_flatters_random_scores():
    # Kim et al. (2022): random scores look good once point-adjusted.
    rng = np.random.default_rng(0)
    labels = np.zeros(10_000, dtype=int)
    for start in range(500, 10_000, 1000):
        labels[start : start + 100] = 1  # 10 ranges of 100 steps
    scores = rng.random(labels.size)
    pa_f1 = point_adjusted_f1(labels, scores, threshold=float(np.quantile(scores, 0.98)))
    assert pa_f1 > 0.7
    assert best_f1(labels, scores)[0] < 0.25  # unadjusted, even at the oracle threshold
    assert vus_pr(labels, scores, max_buffer=20) < 0.2


# ------------------------------------------------------------------ range-based (Tatbul 2018)
def _delta(i, length, bias):
    return {
        "flat": 1,
        "front": length - i + 1,
        "back": i,
        "middle": i if i <= length / 2 else length - i + 1,
    }[bias]


def _range_score_loop(own, other, alpha, cardinality, bias):
    """Tatbul et al.'s formulas for recall (own = real) or precision (own = predicted)."""
    own_ranges, other_ranges = _ranges(own), _ranges(other)
    if not own_ranges:
        return 0.0
    total = 0.0
    for first, last in own_ranges:
        length = last - first + 1
        weights = [_delta(i, length, bias) for i in range(1, length + 1)]
        overlapping = [(a, b) for a, b in other_ranges if a <= last and b >= first]
        omega = 0.0
        for a, b in overlapping:
            covered = range(max(a, first), min(b, last) + 1)
            omega += sum(weights[t - first] for t in covered) / sum(weights)
        gamma = 1.0 if cardinality == "one" or len(overlapping) <= 1 else 1 / len(overlapping)
        total += alpha * bool(overlapping) + (1 - alpha) * gamma * omega
    return total / len(own_ranges)


def test_range_precision_recall_hand_worked():
    labels = [0, 1, 1, 1, 1, 0, 0, 0]
    first_half = [0, 1, 1, 0, 0, 0, 0, 0]
    assert range_precision_recall(labels, first_half) == (1.0, 0.5)
    # Positional weights of the 4 steps: front 4,3,2,1; back 1,2,3,4; middle 1,2,2,1.
    assert range_precision_recall(labels, first_half, bias="front")[1] == pytest.approx(7 / 10)
    assert range_precision_recall(labels, first_half, bias="back")[1] == pytest.approx(3 / 10)
    assert range_precision_recall(labels, first_half, bias="middle")[1] == pytest.approx(3 / 6)
    # Existence: one detected step of four, alpha = 0.5.
    one_step = [0, 0, 0, 1, 0, 0, 0, 0]
    assert range_precision_recall(labels, one_step, alpha=0.5)[1] == pytest.approx(0.625)
    # Cardinality: two predicted ranges cover the real one.
    split = [0, 1, 0, 1, 0, 0, 0, 0]
    assert range_precision_recall(labels, split)[1] == pytest.approx(0.5)
    assert range_precision_recall(labels, split, cardinality="reciprocal")[1] == pytest.approx(0.25)
    # Precision: half of the predicted range [2, 5] lies in the real one [1, 4]... 3 of 4.
    late = [0, 0, 1, 1, 1, 1, 0, 0]
    assert range_precision_recall(labels, late)[0] == pytest.approx(0.75)
    assert range_precision_recall(labels, [0] * 8) == (0.0, 0.0)  # nothing predicted


# prts 1.0.0.3: ts_precision(real, pred, 0.0, c, b), ts_recall(real, pred, 0.3, c, b).
PRTS_REAL = [0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0]
PRTS_PRED = [0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1]
PRTS_VALUES = {
    ("one", "flat"): (0.5625, 0.6733333333333332),
    ("one", "front"): (0.6, 0.6466666666666666),
    ("one", "back"): (0.525, 0.6999999999999998),
    ("one", "middle"): (0.5416666666666666, 0.6888888888888888),
    ("reciprocal", "flat"): (0.5, 0.6033333333333333),
    ("reciprocal", "front"): (0.5375, 0.5844444444444444),
    ("reciprocal", "back"): (0.4625, 0.6222222222222222),
    ("reciprocal", "middle"): (0.5, 0.611111111111111),
}


@pytest.mark.parametrize(("cardinality", "bias"), PRTS_VALUES)
def test_range_precision_recall_match_prts(cardinality, bias):
    got = range_precision_recall(PRTS_REAL, PRTS_PRED, 0.3, cardinality, bias)
    np.testing.assert_allclose(got, PRTS_VALUES[cardinality, bias], rtol=RTOL)


@FAST
@given(
    case=labelled_scores(ties=False),
    predicted=st.lists(st.integers(0, 1), min_size=60, max_size=60),
    alpha=st.sampled_from([0.0, 0.2, 1.0]),
    cardinality=st.sampled_from(["one", "reciprocal"]),
    bias=st.sampled_from(["flat", "front", "back", "middle"]),
)
def test_range_precision_recall_match_the_formulas(case, predicted, alpha, cardinality, bias):
    labels, _ = case
    predicted = predicted[: labels.size]
    precision, recall = range_precision_recall(labels, predicted, alpha, cardinality, bias)
    expected_precision = _range_score_loop(predicted, labels, 0.0, cardinality, bias)
    expected_recall = _range_score_loop(labels, predicted, alpha, cardinality, bias)
    assert precision == pytest.approx(expected_precision, rel=1e-12, abs=1e-15)
    assert recall == pytest.approx(expected_recall, rel=1e-12, abs=1e-15)


@FAST
@given(
    real=st.lists(st.integers(0, 1), min_size=1, max_size=40),
    predicted=st.lists(st.integers(0, 1), min_size=40, max_size=40),
)
def test_single_step_ranges_give_point_precision_and_recall(real, predicted):
    # Anomalies and detections on even steps only: every range is one step long.
    assume(any(real))
    labels = np.zeros(2 * len(real), dtype=int)
    labels[::2] = real
    detections = np.zeros_like(labels)
    detections[::2] = predicted[: len(real)]
    precision, recall = range_precision_recall(labels, detections)
    assert precision == pytest.approx(skm.precision_score(labels, detections, zero_division=0))
    assert recall == pytest.approx(skm.recall_score(labels, detections))


# ------------------------------------------------------------------ VUS-PR
def _vus_pr_loop(labels, scores, max_buffer, n_thresholds=250):
    """The TSB-AD definition, one buffer width, threshold and time step at a time."""
    labels, scores, n = list(labels), list(scores), len(labels)
    ranges, n_anomalous = _ranges(labels), sum(labels)
    descending = sorted(scores, reverse=True)
    thresholds = [descending[int(r)] for r in np.linspace(0, n - 1, n_thresholds)]
    volume = 0.0
    for width in range(max_buffer + 1):
        half = width // 2
        soft = [float(v) for v in labels]
        merged = []
        for first, last in ranges:
            for d in range(1, half + 1):
                for t in (last + d, first - d):
                    if 0 <= t < n:
                        soft[t] += math.sqrt(1 - d / width)
            lo, hi = max(first - half, 0), min(last + half, n - 1)
            if merged and merged[-1][1] >= lo:  # widened ranges that overlap merge
                merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        soft = [min(v, 1.0) for v in soft]
        ap, previous_tpr = 0.0, 0.0
        for threshold in thresholds:
            detected = [s >= threshold for s in scores]
            tp = sum(soft[t] for t in range(n) if detected[t])
            buffer = sum(soft[t] for t in range(n) if detected[t] and not labels[t])
            recall = min(tp / ((n_anomalous + n_anomalous + buffer) / 2), 1.0)
            touched = sum(any(detected[lo : hi + 1]) for lo, hi in merged)
            tpr = recall * touched / len(merged)
            ap += (tpr - previous_tpr) * tp / sum(detected)
            previous_tpr = tpr
        volume += ap
    return volume / (max_buffer + 1)


# TSB-AD 1.5: generate_curve(labels, scores, w, "opt", 250)[-1] (VUS-PR).
VUS_LABELS = np.zeros(40, dtype=int)
VUS_LABELS[[8, 9, 10, 25, 26, 30]] = 1
# fmt: off
VUS_SCORES = [
    0.0, 0.465, 1.071, 0.745, 0.162, 0.223, 0.76, 1.015, 0.998, 0.5, 0.982, 1.076, 0.73, 0.152,
    0.234, 0.774, 1.009, 0.482, 0.001, 0.498, 1.081, 0.715, 0.142, 0.246, 0.788, 1.502, 0.966,
    0.003, 0.515, 1.086, 1.2, 0.132, 0.258, 0.801, 0.994, 0.45, 0.005, 0.532, 1.089, 0.684,
]
# fmt: on
TSB_AD_VALUES = {0: 0.4668803418803419, 4: 0.5841925822004466, 10: 0.649637133846828}


@pytest.mark.parametrize("max_buffer", TSB_AD_VALUES)
def test_vus_pr_matches_tsb_ad(max_buffer):
    got = vus_pr(VUS_LABELS, VUS_SCORES, max_buffer)
    assert type(got) is float
    assert got == pytest.approx(TSB_AD_VALUES[max_buffer], rel=RTOL)
    assert got == pytest.approx(_vus_pr_loop(VUS_LABELS, VUS_SCORES, max_buffer), rel=RTOL)


def test_vus_pr_matches_tsb_ad_with_sampled_thresholds():
    # 600 steps: TSB-AD's 250 thresholds no longer cover every score.
    rng = np.random.default_rng(7)
    labels = np.zeros(600, dtype=int)
    labels[100:130] = labels[400:405] = 1
    scores = np.round(rng.random(600) + 0.8 * np.convolve(labels, np.ones(9) / 9, "same"), 2)
    assert vus_pr(labels, scores, 20) == pytest.approx(0.821814748197722, rel=RTOL)
    assert vus_pr(labels, scores, 20, n_thresholds=None) != vus_pr(labels, scores, 20)


@FAST
@given(
    case=labelled_scores(max_size=30),
    max_buffer=st.integers(0, 9),
    n_thresholds=st.sampled_from([250, 7]),
)
def test_vus_pr_matches_the_loop(case, max_buffer, n_thresholds):
    labels, scores = case
    got = vus_pr(labels, scores, max_buffer, n_thresholds=n_thresholds)
    expected = _vus_pr_loop(labels, scores, max_buffer, n_thresholds)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert 0.0 <= got <= 1.0


@FAST
@given(n=st.integers(1, 250), data=st.data())
def test_vus_pr_without_buffer_is_pr_auc_for_one_range(n, data):
    first = data.draw(st.integers(0, n - 1))
    last = data.draw(st.integers(first, n - 1))
    labels = np.zeros(n, dtype=int)
    labels[first : last + 1] = 1
    scores = data.draw(arrays(np.float64, n, elements=st.integers(0, 5).map(float)))
    assert vus_pr(labels, scores, max_buffer=0) == pytest.approx(
        skm.average_precision_score(labels, scores), rel=1e-12
    )
    assert vus_pr(labels, scores, max_buffer=0, n_thresholds=None) == pytest.approx(
        pr_auc(labels, scores), rel=1e-12
    )


def test_vus_pr_properties():
    rng = np.random.default_rng(3)
    labels = np.zeros(500, dtype=int)
    labels[[40, 41, 42, 200, 300, 301]] = 1
    scores = rng.random(500) + 0.5 * labels
    # Perfect scores give 1 at every buffer width, once a threshold falls between the
    # anomalies and the rest: 250 thresholds sampled from 500 scores can miss it.
    assert vus_pr(labels, labels.astype(float), max_buffer=30) == 1.0
    perfect = labels + 0.1 * rng.random(500)
    assert vus_pr(labels, perfect, max_buffer=30, n_thresholds=None) == 1.0
    assert vus_pr(labels[:250], perfect[:250], max_buffer=30) == 1.0
    assert 0.9 < vus_pr(labels, perfect, max_buffer=30) < 1.0
    # Only the ranking of the scores counts.
    base = vus_pr(labels, scores, 16)
    assert vus_pr(labels, np.log(scores + 1) * 7 - 3, 16) == base


def test_vus_pr_without_buffer_hand_worked():
    # Ranges A = [0, 1] and B = [5]; from high to low: A, A, four normal steps, B, normal.
    labels = [1, 1, 0, 0, 0, 1, 0, 0]
    scores = [0.9, 0.8, 0.1, 0.2, 0.3, 0.05, 0.4, 0.0]
    # Point-wise: recall 1/3, 2/3 at precision 1, then 1 at precision 3/7.
    assert pr_auc(labels, scores) == pytest.approx(1 / 3 + 1 / 3 + 1 / 3 * 3 / 7)
    # VUS: recall times the share of ranges touched: 1/6, 1/3 (only A), then 1.
    assert vus_pr(labels, scores, max_buffer=0) == pytest.approx(1 / 6 + 1 / 6 + 2 / 3 * 3 / 7)
    assert vus_pr(labels, scores, max_buffer=1) == vus_pr(labels, scores, max_buffer=0)


def test_vus_pr_forgives_a_slightly_late_detection():
    labels = np.zeros(200, dtype=int)
    labels[100:105] = 1
    late = np.zeros(200)
    late[106:109] = 1.0  # fires just after the anomaly
    assert vus_pr(labels, late, max_buffer=0) == pytest.approx(5 / 200)  # chance level
    assert vus_pr(labels, late, max_buffer=20) > 0.2


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


# ------------------------------------------------------------------ errors of them all
CALLS = {
    "roc_auc": roc_auc,
    "pr_auc": pr_auc,
    "best_f1": best_f1,
    "point_adjusted_f1": lambda y, s: point_adjusted_f1(y, s, threshold=0.5),
    "range_precision_recall": lambda y, p: range_precision_recall(y, p),
    "vus_pr": lambda y, s: vus_pr(y, s, max_buffer=4),
}
SECOND = {"range_precision_recall": "predictions"}


@pytest.mark.parametrize("name", CALLS)
def test_length_mismatch(name):
    second = SECOND.get(name, "scores")
    with pytest.raises(
        ValueError,
        match=rf"labels and {second} must have the same length, "
        rf"got labels 4 and {second} 3",
    ):
        CALLS[name]([0, 1, 0, 1], [0.0, 1.0, 0.0])


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf(name, bad):
    second = SECOND.get(name, "scores")
    with pytest.raises(
        ValueError,
        match=rf"^{second} contains NaN or inf \(1 of 4 values; "
        rf"first at index 2",
    ):
        CALLS[name]([0, 1, 0, 1], [0.0, 1.0, bad, 1.0])
    with pytest.raises(ValueError, match=r"^labels contains NaN or inf"):
        CALLS[name]([0, 1, bad, 1], [0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize("name", CALLS)
def test_labels_must_be_0_or_1(name):
    with pytest.raises(ValueError, match=r"^labels must hold only 0 and 1, got 2\.0 at index 1"):
        CALLS[name]([0, 2, 0, 1], [0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize("name", CALLS)
def test_no_anomaly_is_an_error(name):
    with pytest.raises(ValueError, match=r"labels hold no anomaly \(no 1\): .* is undefined"):
        CALLS[name]([0, 0, 0, 0], [0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize("name", CALLS)
def test_empty_and_2d_inputs(name):
    with pytest.raises(ValueError, match=r"are empty"):
        CALLS[name]([], [])
    with pytest.raises(ValueError, match=r"must be 1-D \(one series\), got shape \(2, 2\)"):
        CALLS[name]([[0, 1], [0, 1]], [[0.0, 1.0], [0.0, 1.0]])


def test_specific_errors():
    with pytest.raises(ValueError, match=r"no normal time step \(no 0\): ROC-AUC is undefined"):
        roc_auc([1, 1], [0.2, 0.4])
    with pytest.raises(ValueError, match=r"^predictions must hold only 0 and 1.*threshold="):
        point_adjusted_f1([0, 1, 1], [0.2, 0.7, 0.9])
    with pytest.raises(ValueError, match=r"^labels must hold only 0 and 1, got 2\.0 at index 1$"):
        point_adjusted_f1([0, 2, 1], [0, 1, 1])
    with pytest.raises(ValueError, match=r"^predictions must hold only 0 and 1"):
        range_precision_recall([0, 1, 1], [0, 0.5, 1])
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        range_precision_recall([0, 1], [0, 1], alpha=1.5)
    with pytest.raises(ValueError, match=re.escape("bias must be one of ['flat', 'front'")):
        range_precision_recall([0, 1], [0, 1], bias="front-end bias")
    with pytest.raises(ValueError, match=r"cardinality must be one of \['one', 'reciprocal'\]"):
        range_precision_recall([0, 1], [0, 1], cardinality="udf_gamma")
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=r"max_buffer must be an integer >= 0"):
            vus_pr([0, 1], [0.1, 0.2], max_buffer=bad)
    with pytest.raises(ValueError, match=r"n_thresholds must be an integer >= 1"):
        vus_pr([0, 1], [0.1, 0.2], n_thresholds=0)
    with pytest.raises(TypeError, match=r"^scores must be numeric"):
        pr_auc([0, 1], ["a", "b"])
