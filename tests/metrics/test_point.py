"""Tests for tsrnn/metrics/point.py: ROC-AUC, PR-AUC and best F1.

References: scikit-learn, whose computations these metrics mirror.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from sklearn import metrics as skm

from tsrnn.metrics import best_f1, pr_auc, roc_auc, vus_pr

from .anomaly_helpers import FAST, RTOL, labelled_scores


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
