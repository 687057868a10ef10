"""Input errors of the anomaly-detection metrics: the checks they share
(tsrnn/metrics/_common.py), run on every metric that takes labels with scores or
predictions, and the argument checks specific to each metric.
"""

import re

import numpy as np
import pytest

from tsrnn.metrics import (
    best_f1,
    point_adjusted_f1,
    pr_auc,
    range_precision_recall,
    roc_auc,
    vus_pr,
)

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
