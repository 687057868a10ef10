"""Range-based metrics of anomaly detections: point-adjusted F1 and range-based
precision and recall (Tatbul et al., 2018).

Both score each labelled anomaly range (a run of 1s) as a whole, rather than time
step by time step. The conventions on inputs and errors are described in
`tsrnn.metrics`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from tsrnn.metrics._common import (
    _check_binary,
    _check_choice,
    _check_number,
    _check_series,
    _labels_and_scores,
    _require_positive,
    _segments,
)

__all__ = ["point_adjusted_f1", "range_precision_recall"]

_BIASES = ("flat", "front", "back", "middle")
_CARDINALITIES = ("one", "reciprocal")


# ------------------------------------------------------------------ point-adjusted F1
def point_adjusted_f1(
    labels: ArrayLike, scores_or_predictions: ArrayLike, threshold: float | None = None
) -> float:
    """Point-wise F1 after point adjustment.

    Point adjustment (Xu et al., 2018, "Unsupervised Anomaly Detection via
    Variational Auto-Encoder for Seasonal KPIs in Web Applications") counts a whole
    labelled anomaly range as detected as soon as one of its time steps is
    detected, then computes the point-wise F1.

    .. warning::
       Point adjustment is known to flatter detectors. Kim et al. (2022,
       "Towards a Rigorous Evaluation of Time-series Anomaly Detection", AAAI)
       show that with it even **random scores** reach a high F1, often above
       published state-of-the-art models, because one lucky hit in a long range
       turns the whole range into true positives. Report it, if at all, next to
       an unadjusted metric such as `best_f1`, `pr_auc` or `vus_pr`.

    Parameters
    ----------
    labels
        Ground truth, 0/1 per time step.
    scores_or_predictions
        0/1 predictions when ``threshold`` is None; otherwise anomaly scores, and
        the predictions are ``scores >= threshold``.
    threshold
        Threshold for scores, or None for 0/1 predictions.

    Returns
    -------
    float
        In ``[0, 1]``; 0 when nothing is detected.

    Raises
    ------
    ValueError
        If the lengths differ, the inputs are empty or hold NaN or inf, labels (or
        predictions, without a threshold) are not 0/1, ``threshold`` is NaN, or
        labels hold no anomaly (recall is undefined).
    TypeError
        If an input is not numeric.
    """
    if threshold is None:
        labels, predicted = _check_series(
            [(labels, "labels"), (scores_or_predictions, "predictions")], binary=["labels"]
        )
        hint = " (pass threshold= to score continuous anomaly scores)"
        predicted = _check_binary(predicted, "predictions", hint)
    else:
        threshold = _check_number(threshold, "threshold")
        labels, scores = _labels_and_scores(labels, scores_or_predictions)
        predicted = scores >= threshold
    _require_positive(labels, "F1")
    starts, ends = _segments(labels)
    hits = np.concatenate(([0], np.cumsum(predicted)))
    hit = hits[ends + 1] - hits[starts] > 0  # [n_ranges]
    # Mark every range that is hit, with +1 / -1 at its edges and a running sum.
    edges = np.zeros(labels.size + 1, dtype=np.int64)
    np.add.at(edges, starts[hit], 1)
    np.add.at(edges, ends[hit] + 1, -1)
    adjusted = predicted | (np.cumsum(edges[:-1]) > 0)
    tp = np.count_nonzero(adjusted & labels)
    return float(2 * tp / (np.count_nonzero(adjusted) + np.count_nonzero(labels)))


# ------------------------------------------------------------------ range-based (Tatbul 2018)
def _positional_bias(position: np.ndarray, length: np.ndarray, bias: str) -> np.ndarray:
    """delta(i, l) of Tatbul et al. for the 1-based position i in a range of length l."""
    if bias == "flat":
        return np.ones(position.size)
    if bias == "front":
        return (length - position + 1).astype(np.float64)
    if bias == "back":
        return position.astype(np.float64)
    return np.where(position <= length / 2, position, length - position + 1).astype(np.float64)


def _range_rewards(
    own: np.ndarray, other: np.ndarray, bias: str, cardinality: str
) -> tuple[np.ndarray, np.ndarray]:
    """Overlap reward and existence (0/1) of each range of ``own`` against ``other``."""
    starts, ends = _segments(own)
    lengths = ends - starts + 1
    range_of = np.repeat(np.arange(starts.size), lengths)  # range id of each point in own
    points = np.flatnonzero(own)
    delta = _positional_bias(points - starts[range_of] + 1, lengths[range_of], bias)
    total = np.bincount(range_of, weights=delta, minlength=starts.size)
    covered = np.bincount(range_of, weights=delta * other[points], minlength=starts.size)
    # The ranges of ``other`` that overlap each range: they end at or after its start
    # and start at or before its end (ranges of one series never overlap each other).
    other_starts, other_ends = _segments(other)
    n_overlapping = np.searchsorted(other_starts, ends, side="right") - np.searchsorted(
        other_ends, starts, side="left"
    )
    # omega summed over the overlapping ranges: their intersections with this range
    # are disjoint, so the sum is the covered share of the positional weights.
    overlap = covered / total
    if cardinality == "reciprocal":
        overlap = overlap / np.maximum(n_overlapping, 1)
    return overlap, (n_overlapping > 0).astype(np.float64)


def range_precision_recall(
    labels: ArrayLike,
    predictions: ArrayLike,
    alpha: float = 0.0,
    cardinality: str = "one",
    bias: str = "flat",
) -> tuple[float, float]:
    """Range-based precision and recall (Tatbul et al., NeurIPS 2018).

    Tatbul, Lee, Zdonik, Alam & Gottschlich, "Precision and Recall for Time
    Series". Each real range ``R_i`` and each predicted range ``P_j`` (runs of 1s)
    is scored as a whole:

    - ``Recall_T = mean_i [alpha * Existence(R_i) + (1 - alpha) * Overlap(R_i)]``,
      where ``Existence`` is 1 if any predicted point falls in ``R_i``.
    - ``Precision_T = mean_j Overlap(P_j)``: no existence reward, as in the paper
      (a prediction that merely touches an anomaly is not a good prediction).
    - ``Overlap(X) = gamma(X) * sum_k omega(X, X ∩ Y_k)`` over the ranges ``Y_k``
      of the other side that overlap ``X``; ``omega`` is the share of ``X``'s
      positional weights ``delta`` that the intersection covers.

    With ``alpha=0, cardinality="one", bias="flat"`` and anomalies of one time step
    each, these are the classic point-wise precision and recall.

    Parameters
    ----------
    labels
        Ground truth, 0/1 per time step.
    predictions
        Detections, 0/1 per time step.
    alpha
        Weight of the existence reward in recall, in ``[0, 1]``.
    cardinality
        ``gamma``, the penalty for a range overlapped by several ranges of the other
        side: ``"one"`` (none) or ``"reciprocal"`` (``1 / count`` when ``count > 1``).
    bias
        ``delta``, the weight of the ``i``-th of ``l`` positions in a range:
        ``"flat"`` (1), ``"front"`` (``l - i + 1``: early detection counts more),
        ``"back"`` (``i``) or ``"middle"`` (``i`` up to ``l / 2``, then
        ``l - i + 1``). It weighs the positions of the real ranges for recall and
        of the predicted ranges for precision, as in the ``prts`` package.

    Returns
    -------
    precision : float
        In ``[0, 1]``; 0 when nothing is predicted (strictly, undefined; 0 is the
        convention of scikit-learn's ``zero_division`` and ``prts``).
    recall : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the lengths differ, the inputs are empty or hold NaN or inf, either is
        not 0/1, labels hold no anomaly (recall is undefined), ``alpha`` is outside
        ``[0, 1]``, or ``cardinality`` or ``bias`` is not one of the choices.
    TypeError
        If an input is not numeric.
    """
    alpha = _check_number(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    _check_choice(cardinality, "cardinality", _CARDINALITIES)
    _check_choice(bias, "bias", _BIASES)
    labels, predicted = _check_series(
        [(labels, "labels"), (predictions, "predictions")], binary=["labels", "predictions"]
    )
    _require_positive(labels, "range-based recall")
    overlap, existence = _range_rewards(labels, predicted, bias, cardinality)
    recall = float(np.mean(alpha * existence + (1 - alpha) * overlap))
    if not predicted.any():
        return 0.0, recall
    precision = float(np.mean(_range_rewards(predicted, labels, bias, cardinality)[0]))
    return precision, recall
