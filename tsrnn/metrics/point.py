"""Point-wise, threshold-free anomaly-detection metrics: ROC-AUC, PR-AUC, best F1.

Every time step counts on its own. scikit-learn is not imported: these mirror its
computations in numpy (the tests check them against scikit-learn). The
conventions on inputs and errors are described in `tsrnn.metrics`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from tsrnn.metrics._common import _labels_and_scores, _require_positive

__all__ = ["best_f1", "pr_auc", "roc_auc"]


# ------------------------------------------------------------------ point-wise, threshold-free
def _curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives at each distinct threshold, highest threshold first.

    scikit-learn's ``confusion_matrix_at_thresholds``: at ``thresholds[k]``,
    ``scores >= thresholds[k]`` detects ``tps[k]`` anomalies and ``fps[k]`` normal points.
    """
    order = np.argsort(scores, kind="stable")[::-1]
    sorted_scores = scores[order]
    # The last index of each run of tied scores, so that ties are all in or all out.
    ends = np.concatenate((np.flatnonzero(np.diff(sorted_scores)), [scores.size - 1]))
    tps = np.cumsum(labels[order], dtype=np.float64)[ends]
    fps = 1 + ends.astype(np.float64) - tps
    return tps, fps, sorted_scores[ends]


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve, point-wise.

    The probability that a random anomalous time step scores higher than a random
    normal one (ties count one half). Equals scikit-learn's ``roc_auc_score``,
    whose computation (trapezoids over the ROC curve) it mirrors.

    Parameters
    ----------
    labels
        Ground truth, 0/1 per time step.
    scores
        Anomaly scores, higher is more anomalous.

    Returns
    -------
    float
        In ``[0, 1]``; 0.5 for uninformative scores.

    Raises
    ------
    ValueError
        If the lengths differ, the inputs are empty or hold NaN or inf, labels are
        not 0/1, or labels hold only one class (no anomaly, or nothing but
        anomalies): ROC-AUC needs both.
    TypeError
        If an input is not numeric.
    """
    labels, scores = _labels_and_scores(labels, scores)
    _require_positive(labels, "ROC-AUC")
    if labels.all():
        raise ValueError("labels hold no normal time step (no 0): ROC-AUC is undefined")
    tps, fps, _ = _curve(labels, scores)
    if tps.size > 2:
        # roc_curve(drop_intermediate=True): drop collinear points, as scikit-learn does,
        # so that the trapezoids (and their rounding) are the same.
        keep = np.concatenate(([True], np.diff(fps, 2) != 0, [True]))
        keep[1:-1] |= np.diff(tps, 2) != 0
        tps, fps = tps[keep], fps[keep]
    tpr = np.concatenate(([0.0], tps)) / tps[-1]
    fpr = np.concatenate(([0.0], fps)) / fps[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def pr_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the precision-recall curve, point-wise: average precision.

    ``sum_k (R_k - R_{k-1}) * P_k`` over the distinct thresholds, the step-wise
    integral without interpolation. Equals scikit-learn's
    ``average_precision_score``, whose computation it mirrors.

    Parameters
    ----------
    labels
        Ground truth, 0/1 per time step.
    scores
        Anomaly scores, higher is more anomalous.

    Returns
    -------
    float
        In ``[0, 1]``; about the anomaly ratio for uninformative scores.

    Raises
    ------
    ValueError
        If the lengths differ, the inputs are empty or hold NaN or inf, labels are
        not 0/1, or labels hold no anomaly (recall is undefined).
    TypeError
        If an input is not numeric.
    """
    labels, scores = _labels_and_scores(labels, scores)
    _require_positive(labels, "PR-AUC")
    tps, fps, _ = _curve(labels, scores)
    precision = np.concatenate((np.flip(tps / (tps + fps)), [1.0]))
    recall = np.concatenate((np.flip(tps / tps[-1]), [0.0]))
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def best_f1(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """The best point-wise F1 over all thresholds, and the threshold that reaches it.

    This is an *oracle* threshold, chosen with the labels, so it overstates what
    a deployed detector would reach; it is the usual "best F1" of papers and
    benchmarks.

    Parameters
    ----------
    labels
        Ground truth, 0/1 per time step.
    scores
        Anomaly scores, higher is more anomalous.

    Returns
    -------
    f1 : float
        The largest F1 of the detections ``scores >= threshold`` over every
        distinct score as threshold.
    threshold : float
        The largest threshold reaching it (the fewest detections).

    Raises
    ------
    ValueError
        If the lengths differ, the inputs are empty or hold NaN or inf, labels are
        not 0/1, or labels hold no anomaly (F1 is undefined).
    TypeError
        If an input is not numeric.
    """
    labels, scores = _labels_and_scores(labels, scores)
    _require_positive(labels, "F1")
    tps, fps, thresholds = _curve(labels, scores)
    f1 = 2 * tps / (tps + fps + tps[-1])  # 2TP / (2TP + FP + FN), never 0 / 0
    best = int(np.argmax(f1))
    return float(f1[best]), float(thresholds[best])
