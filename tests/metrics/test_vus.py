"""Tests for tsrnn/metrics/vus.py: VUS-PR.

References: a plain loop written here from TSB-AD's definition, values computed
with TSB-AD 1.5 itself on fixed inputs, hand-worked examples, and scikit-learn's
average precision.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as skm

from tsrnn.metrics import pr_auc, vus_pr

from .anomaly_helpers import FAST, RTOL, _ranges, labelled_scores


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
