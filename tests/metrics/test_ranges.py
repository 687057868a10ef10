"""Tests for tsrnn/metrics/ranges.py: point-adjusted F1 and range-based precision
and recall.

References: plain loops written here from the published definitions (Xu et al.
2018's point adjustment; Tatbul et al. 2018), values computed with the reference
package prts 1.0.0.3 on fixed inputs, hand-worked examples, and scikit-learn.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn import metrics as skm

from tsrnn.metrics import best_f1, point_adjusted_f1, range_precision_recall, vus_pr

from .anomaly_helpers import FAST, RTOL, _ranges, labelled_scores


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
