"""Anomaly-detection metrics for one series: pure numpy functions, computed in float64.

Conventions shared by every function:

- ``labels`` are the ground truth, one value per time step: 0 (normal) or 1
  (anomalous), as bool, int or float. Consecutive 1s form one anomaly *range*
  (also called a segment or an event).
- ``scores`` are anomaly scores, one float per time step: **higher means more
  anomalous** (PyOD's ``decision_function`` convention).
- ``predictions`` are 0/1 detections. Wherever a function turns scores into
  detections, it uses ``scores >= threshold``.
- Inputs are 1-D array-likes of equal length (numpy arrays, lists, pandas Series,
  CPU torch tensors). Empty inputs, NaN and inf, and labels other than 0/1 are
  rejected with a ``ValueError`` that names the argument at fault. Results are
  Python floats.

Which metric to report:

- `vus_pr` (Paparrizos et al., 2022) is the metric the TSB-AD benchmark (Liu &
  Paparrizos, NeurIPS 2024) recommends: threshold-free, tolerant of small
  misalignments between detections and labelled ranges, and not inflated by
  point adjustment.
- `pr_auc` and `roc_auc` are the point-wise classics (scikit-learn's
  ``average_precision_score`` and ``roc_auc_score``). ROC-AUC looks good on
  heavily imbalanced series; prefer PR-AUC.
- `range_precision_recall` scores detections range by range (Tatbul et al., 2018).
- `point_adjusted_f1` is reported by many deep-learning papers, but it is known to
  flatter detectors (Kim et al., 2022): report it only next to an unadjusted metric.
- `nab_score` and `nab_benchmark` reproduce the Numenta Anomaly Benchmark's
  scoring, which rewards early detection inside labelled windows.

scikit-learn is not imported: the point-wise metrics mirror its computations in
numpy (the tests check them against scikit-learn), so that ``import tsrnn.metrics``
stays light.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tsrnn._checks import check_integer

__all__ = [
    "NAB_PROFILES",
    "best_f1",
    "nab_benchmark",
    "nab_score",
    "point_adjusted_f1",
    "pr_auc",
    "range_precision_recall",
    "roc_auc",
    "vus_pr",
    "windows_to_labels",
]

# NAB config/profiles.json (NAB v1.1); the tn weight is 1.0 in every profile, but
# NAB gives true negatives no score, so it is left out.
NAB_PROFILES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "standard": MappingProxyType({"tp": 1.0, "fp": 0.11, "fn": 1.0}),
        "reward_low_FP": MappingProxyType({"tp": 1.0, "fp": 0.22, "fn": 1.0}),
        "reward_low_FN": MappingProxyType({"tp": 1.0, "fp": 0.11, "fn": 2.0}),
    }
)

_BIASES = ("flat", "front", "back", "middle")
_CARDINALITIES = ("one", "reciprocal")


# ------------------------------------------------------------------ validation
def _as_1d_float(x: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype.kind not in "biufO":
        raise TypeError(f"{name} must be numeric, got an array of dtype {array.dtype}")
    try:
        array = array.astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:  # object arrays holding None, strings, pd.NA
        raise TypeError(f"{name} must be numeric: {err}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one series), got shape {array.shape}")
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} contains NaN or inf ({int(bad.sum())} of {array.size} values; "
            f"first at index {first}: {array[first]})"
        )


def _check_binary(array: np.ndarray, name: str, hint: str = "") -> np.ndarray:
    not_binary = (array != 0) & (array != 1)
    if not_binary.any():
        first = int(np.flatnonzero(not_binary)[0])
        raise ValueError(
            f"{name} must hold only 0 and 1, got {float(array[first])!r} at index {first}{hint}"
        )
    return array == 1


def _check_series(
    arrays: Sequence[tuple[ArrayLike, str]], binary: Sequence[str] = ()
) -> list[np.ndarray]:
    """Convert, then check lengths, emptiness, finiteness and 0/1-ness, in that order."""
    converted = [(_as_1d_float(x, name), name) for x, name in arrays]
    (first, first_name), *rest = converted
    for array, name in rest:
        if array.shape != first.shape:
            raise ValueError(
                f"{first_name} and {name} must have the same length, got {first_name} "
                f"{first.shape[0]} and {name} {array.shape[0]}"
            )
    if first.size == 0:
        names = " and ".join(name for _, name in converted)
        raise ValueError(f"{names} are empty")
    out = []
    for array, name in converted:
        _check_finite(array, name)
        out.append(_check_binary(array, name) if name in binary else array)
    return out


def _labels_and_scores(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = _check_series([(labels, "labels"), (scores, "scores")], binary=["labels"])
    return labels, scores


def _require_positive(labels: np.ndarray, what: str) -> None:
    if not labels.any():
        raise ValueError(f"labels hold no anomaly (no 1): {what} is undefined")


def _check_choice(value: Any, name: str, choices: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _check_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return float(value)


def _segments(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index (inclusive) of every run of True in a 1-D bool array."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


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


# ------------------------------------------------------------------ VUS-PR (TSB-AD)
def _merged_buffers(
    starts: np.ndarray, ends: np.ndarray, half: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The anomaly ranges widened by ``half`` steps each side, merged where they meet.

    TSB-AD's ``new_sequence``: two neighbours stay apart only while
    ``end_k + half < start_{k+1} - half``.
    """
    apart = ends[:-1] + half < starts[1:] - half
    first = np.concatenate(([True], apart))
    last = np.concatenate((apart, [True]))
    return np.maximum(starts[first] - half, 0), np.minimum(ends[last] + half, n - 1)


def _buffer_weights(
    labels: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int
) -> np.ndarray:
    """Soft labels of the time steps just outside the anomalies, for one buffer width.

    TSB-AD's ``sequencing``: a step ``d = 1 .. width // 2`` before a range's start or
    after its end gets ``sqrt(1 - d / width)``; overlapping ramps add up and the sum
    is capped at 1. Anomalous steps get 0 here (they count fully elsewhere).
    """
    n, half = labels.size, width // 2
    ramp = np.zeros(n)
    if half > 0:
        d = np.arange(1, half + 1)
        # [n_ranges, 2, half]: after each end, then before each start, in range order
        # (the order in which TSB-AD adds the ramps, which fixes the rounding).
        where = np.stack((ends[:, None] + d, starts[:, None] - d), axis=1)
        value = np.broadcast_to(np.sqrt(1 - d / width), where.shape)
        inside = (where >= 0) & (where < n)
        np.add.at(ramp, where[inside], value[inside])
    return np.where(labels, 0.0, np.minimum(ramp, 1.0))


def vus_pr(
    labels: ArrayLike,
    scores: ArrayLike,
    max_buffer: int = 100,
    *,
    n_thresholds: int | None = 250,
) -> float:
    """Volume under the range-based precision-recall surface (VUS-PR).

    Paparrizos, Boniol, Palpanas, Tsay, Elmore & Franklin, "Volume Under the
    Surface: A New Accuracy Evaluation Measure for Time-Series Anomaly Detection"
    (VLDB 2022), as implemented in TSB-AD (``TSB_AD/evaluation/basic_metrics.py``,
    ``RangeAUC_volume_opt``; Liu & Paparrizos, "The Elephant in the Room: Towards
    A Reliable Time-Series Anomaly Detection Benchmark", NeurIPS 2024), the
    benchmark that recommends it. This function reproduces that code's results.

    For each buffer width ``l = 0, 1, ..., max_buffer``:

    1. Soft labels: the ``l // 2`` steps on each side of every anomaly range get
       ``sqrt(1 - d / l)`` at distance ``d`` (capped at 1 where ramps overlap),
       the anomalies 1, everything else 0.
    2. At each threshold, with detections ``D = scores >= threshold``:
       ``TP = |D ∩ anomalies| + sum of the soft labels on D``;
       ``recall = min(TP / (P + B / 2), 1)`` with ``P`` anomalous steps and ``B`` the
       soft labels on ``D``; ``TPR = recall * existence``, where ``existence`` is
       the share of the widened (and merged) ranges that ``D`` touches; and
       ``precision = TP / |D|``.
    3. The range-based average precision ``sum_k (TPR_k - TPR_{k-1}) * precision_k``
       over the thresholds, with ``TPR_0 = 0``.

    VUS-PR is the mean of these over the ``max_buffer + 1`` widths.

    Parameters
    ----------
    labels
        Ground truth, 0/1 per time step.
    scores
        Anomaly scores, higher is more anomalous.
    max_buffer
        The widest buffer ``l``, in time steps; a buffer of width ``l`` reaches
        ``l // 2`` steps beyond each side of an anomaly range (widths 0 and 1 add
        nothing). TSB-AD passes the series' period here ("sliding window",
        estimated from the autocorrelation by ``find_length_rank``, 125 when none
        is found); its ``get_metrics`` defaults to 100, as this function does. For
        a seasonal series, pass the season length (e.g. 24 for hourly data with a
        daily cycle): misalignments up to half of it are then partly forgiven.
    n_thresholds
        TSB-AD evaluates 250 thresholds: the scores at 250 evenly spaced ranks
        (``np.linspace(0, n - 1, 250)``) of the scores sorted from high to low. On
        series of up to 250 steps that is every distinct score. None uses every
        distinct score on longer series too (exact, and no longer TSB-AD's number).

    Returns
    -------
    float
        In ``[0, 1]``. It is 1 when every anomalous step scores above every other
        step and one of the thresholds separates them, which is certain with
        ``n_thresholds=None``, on series of up to ``n_thresholds`` steps, or with
        two distinct scores; TSB-AD's sampled thresholds can miss that cut on
        longer series. With ``max_buffer=0`` and a single anomaly range, it equals
        `pr_auc` when every distinct score is a threshold.

    Raises
    ------
    ValueError
        If the lengths differ, the inputs are empty or hold NaN or inf, labels are
        not 0/1, labels hold no anomaly (recall is undefined), ``max_buffer`` is
        not an integer >= 0, or ``n_thresholds`` is not None or an integer >= 1.
    TypeError
        If an input is not numeric.
    """
    check_integer(max_buffer, "max_buffer", 0)
    if n_thresholds is not None:
        check_integer(n_thresholds, "n_thresholds", 1)
    labels, scores = _labels_and_scores(labels, scores)
    _require_positive(labels, "VUS-PR")
    n = labels.size
    n_anomalous = float(np.count_nonzero(labels))
    starts, ends = _segments(labels)

    order = np.argsort(scores, kind="stable")[::-1]  # high to low
    sorted_scores = scores[order]
    ranks = np.arange(n) if n_thresholds is None else np.linspace(0, n - 1, n_thresholds)
    thresholds = sorted_scores[ranks.astype(int)]
    # Thresholds that detect the same steps give the same point on the curve and add
    # nothing to the step-wise integral: keep one of each. A threshold detects the
    # top-`count` steps in `order`, tied scores included.
    counts = np.unique(n - np.searchsorted(sorted_scores[::-1], thresholds, side="left"))
    thresholds = sorted_scores[counts - 1]
    anomalies_hit = np.cumsum(labels[order], dtype=np.float64)[counts - 1]

    volume = 0.0
    for width in range(max_buffer + 1):
        soft = _buffer_weights(labels, starts, ends, width)
        soft_hit = np.cumsum(soft[order])[counts - 1]
        tp = anomalies_hit + soft_hit
        # TSB-AD's (P + N_labels) / 2, with N_labels = P + soft_hit: the buffer counts
        # half, so that recall is neither inflated nor deflated by it.
        recall = np.minimum(tp / ((n_anomalous + (n_anomalous + soft_hit)) / 2), 1.0)
        first, last = _merged_buffers(starts, ends, width // 2, n)
        # A widened range is touched once the threshold reaches its highest score.
        bounds = np.stack((first, last + 1), axis=1).ravel()
        range_max = np.maximum.reduceat(np.append(scores, -np.inf), bounds)[::2]
        touched = first.size - np.searchsorted(np.sort(range_max), thresholds, side="left")
        tpr = recall * (touched / first.size)
        precision = tp / counts
        volume += float(np.dot(np.diff(tpr, prepend=0.0), precision))
    return volume / (max_buffer + 1)


# ------------------------------------------------------------------ NAB
def _nab_weights(profile: str | Mapping[str, float]) -> tuple[float, float, float]:
    if isinstance(profile, str):
        if profile not in NAB_PROFILES:
            raise ValueError(
                f"profile must be one of {list(NAB_PROFILES)} or a mapping with keys "
                f"'tp', 'fp', 'fn', got {profile!r}"
            )
        profile = NAB_PROFILES[profile]
    elif not isinstance(profile, Mapping) or set(profile) != {"tp", "fp", "fn"}:
        raise ValueError(
            f"profile must be one of {list(NAB_PROFILES)} or a mapping with keys 'tp', "
            f"'fp', 'fn', got {profile!r}"
        )
    weights = tuple(_check_number(profile[key], f"profile[{key!r}]") for key in ("tp", "fp", "fn"))
    if not all(0 <= w < math.inf for w in weights):
        raise ValueError(f"profile weights must be finite and >= 0, got {dict(profile)}")
    return weights


def _as_timestamps(timestamps: ArrayLike) -> np.ndarray:
    ts = np.asarray(timestamps)
    if ts.dtype.kind not in "iufM":
        raise TypeError(
            f"timestamps must be numeric or numpy datetime64 (tz-naive), got dtype "
            f"{ts.dtype}; convert tz-aware times with .tz_convert(None) first"
        )
    if ts.ndim != 1:
        raise ValueError(f"timestamps must be 1-D (one series), got shape {ts.shape}")
    if ts.size == 0:
        raise ValueError("timestamps are empty")
    missing = np.isnat(ts) if ts.dtype.kind == "M" else ~np.isfinite(ts)
    if missing.any():
        raise ValueError(
            f"timestamps contain NaT, NaN or inf (first at index {int(np.flatnonzero(missing)[0])})"
        )
    if ts.size > 1 and not (ts[1:] > ts[:-1]).all():
        first = int(np.flatnonzero(~(ts[1:] > ts[:-1]))[0]) + 1
        raise ValueError(
            f"timestamps must be strictly increasing, got {ts[first - 1]} then "
            f"{ts[first]} at index {first}"
        )
    return ts


def _window_rows(ts: np.ndarray, windows: Any) -> tuple[np.ndarray, np.ndarray]:
    """First and last row (inclusive) of each window, from (start, end) timestamps."""
    raw = np.asarray(windows, dtype=object)
    if raw.size == 0:
        raw = raw.reshape(0, 2)
    if raw.ndim != 2 or raw.shape[1] != 2:
        raise ValueError(
            f"windows must be a sequence of (start, end) pairs, got an array of shape {raw.shape}"
        )
    dtype = ts.dtype if ts.dtype.kind == "M" else np.dtype(np.float64)
    try:
        bounds = raw.astype(dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"window bounds must be comparable with timestamps ({dtype}): {err}"
        ) from None
    missing = np.isnat(bounds) if dtype.kind == "M" else np.isnan(bounds)
    if missing.any():
        raise ValueError(
            f"window {int(np.flatnonzero(missing.any(axis=1))[0])} has a missing bound"
        )
    starts, ends = bounds[:, 0], bounds[:, 1]
    series = ts if dtype.kind == "M" else ts.astype(np.float64)
    first = np.searchsorted(series, starts, side="left")
    last = np.searchsorted(series, ends, side="right") - 1
    for k in range(len(bounds)):
        if not starts[k] <= ends[k]:
            raise ValueError(f"window {k} starts after it ends: {list(raw[k])}")
        if first[k] > last[k]:
            raise ValueError(f"window {k} {list(raw[k])} holds no timestamp of the series")
        if k and first[k] <= last[k - 1]:
            raise ValueError(
                f"windows must be sorted and must not overlap: window {k} "
                f"{list(raw[k])} begins before window {k - 1} ends"
            )
    return first, last


def windows_to_labels(timestamps: ArrayLike, windows: Any) -> np.ndarray:
    """0/1 labels that mark the time steps inside the windows.

    Parameters
    ----------
    timestamps
        The series' time stamps (datetime64, e.g. a tz-naive pandas
        ``DatetimeIndex``) or a plain numeric index (compared as float64),
        strictly increasing.
    windows
        ``(start, end)`` pairs, inclusive, in the units of ``timestamps`` (strings
        such as ``"2014-02-19 10:50:00"`` work for datetimes), sorted and not
        overlapping; each must hold at least one time stamp. NAB's
        ``combined_windows.json`` holds them in this form.

    Returns
    -------
    numpy.ndarray
        ``int8`` array of 0 and 1, one per time stamp.

    Raises
    ------
    ValueError
        If timestamps are not 1-D, empty, missing or not strictly increasing, or a
        window is malformed, empty, unsorted or overlaps another.
    TypeError
        If timestamps are neither numeric nor datetime64, or a bound cannot be
        converted to their type.
    """
    ts = _as_timestamps(timestamps)
    first, last = _window_rows(ts, windows)
    edges = np.zeros(ts.size + 1, dtype=np.int64)
    np.add.at(edges, first, 1)
    np.add.at(edges, last + 1, -1)
    return (np.cumsum(edges[:-1]) > 0).astype(np.int8)


def _scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's ``scaledSigmoid``: ``2 / (1 + exp(5 x)) - 1``, and -1 beyond ``x = 3``."""
    sigmoid = 2.0 / (1.0 + np.exp(5.0 * np.minimum(position, 3.0))) - 1.0
    return np.where(position > 3.0, -1.0, sigmoid)


# Reward of a detection at the very start of a window, which NAB scales to A_TP.
_MAX_TP = float(_scaled_sigmoid(np.array(-1.0)))


class _NabSeries:
    """One series prepared for NAB scoring: the unweighted reward of a detection at
    every row (NAB's ``Sweeper.calcSweepScore``), which does not depend on the
    threshold or the profile."""

    def __init__(
        self, timestamps: ArrayLike, scores: ArrayLike, windows: Any, probationary: float
    ) -> None:
        ts = _as_timestamps(timestamps)
        (scores,) = _check_series([(scores, "scores")])
        if scores.size != ts.size:
            raise ValueError(
                f"timestamps and scores must have the same length, got timestamps "
                f"{ts.size} and scores {scores.size}"
            )
        first, last = _window_rows(ts, windows)
        n = ts.size
        rows = np.arange(n)
        width = (last - first + 1).astype(np.float64)
        k = np.searchsorted(first, rows, side="right") - 1  # last window starting at or before
        inside = (k >= 0) & (rows <= np.append(last, -1)[k])  # k = -1 reads the -1 sentinel
        reward = np.empty(n)
        # Inside a window: the relative position -(end - i + 1) / width runs from -1 at
        # the first row to -1 / width at the last, so even the last row earns a little.
        k_in = k[inside]
        reward[inside] = _scaled_sigmoid(-(last[k_in] - rows[inside] + 1) / width[k_in])
        # Outside: the distance from the end of the preceding window, in window widths
        # less one; -1 (the full A_FP) before the first window. NAB divides by zero
        # after a one-row window; the limit, -1, is used instead.
        outside = rows[~inside]
        prev = np.searchsorted(last, outside, side="left") - 1
        distance = np.full(outside.size, np.inf)
        after = prev >= 0
        after[after] = width[prev[after]] > 1
        distance[after] = (outside[after] - last[prev[after]]) / (width[prev[after]] - 1)
        reward[~inside] = _scaled_sigmoid(distance)
        # NAB's probationary period, min(floor(p * n), p * 5000) rows, is never scored;
        # neither is a window that lies wholly inside it.
        self.start_row = math.ceil(min(math.floor(probationary * n), probationary * 5000))
        self.scores, self.reward, self.first, self.last = scores, reward, first, last
        self.scored_outside = ~inside & (rows >= self.start_row)
        self.scored_windows = np.flatnonzero(last >= self.start_row)

    def _window_rows(self, k: int) -> slice:
        return slice(max(int(self.first[k]), self.start_row), int(self.last[k]) + 1)

    def raw_score(self, threshold: float, tp: float, fp: float, fn: float) -> float:
        detected = self.scores >= threshold
        total = float(np.sum(self.reward[detected & self.scored_outside] * fp))
        for k in self.scored_windows:
            rows = self._window_rows(k)
            hits = np.flatnonzero(detected[rows])
            # Only the first detection in a window counts (NAB keeps the largest
            # reward, which, decreasing along the window, is the first one's).
            total += self.reward[rows][hits[0]] * tp / _MAX_TP if hits.size else -fn
        return total

    def increments(self, tp: float, fp: float, fn: float) -> tuple[np.ndarray, np.ndarray]:
        """(score, change of the raw score when the row turns into a detection) of
        every scored row: a sweep over thresholds is then a cumulative sum, starting
        from ``-fn`` per scored window."""
        outside = np.flatnonzero(self.scored_outside)
        row_scores, changes = [self.scores[outside]], [self.reward[outside] * fp]
        for k in self.scored_windows:
            rows = self._window_rows(k)
            by_score = np.argsort(-self.scores[rows], kind="stable")
            # A window is worth max(-A_FN, best reward detected so far): each row
            # changes the score by the step it adds to that running maximum.
            reward = self.reward[rows][by_score] * tp / _MAX_TP
            best = np.maximum.accumulate(np.concatenate(([-fn], reward)))
            row_scores.append(self.scores[rows][by_score])
            changes.append(np.diff(best))
        return np.concatenate(row_scores), np.concatenate(changes)


def _check_probationary(probationary: float) -> float:
    probationary = _check_number(probationary, "probationary")
    if not 0.0 <= probationary <= 1.0:
        raise ValueError(f"probationary must be a fraction in [0, 1], got {probationary!r}")
    return probationary


def nab_score(
    timestamps: ArrayLike,
    scores: ArrayLike,
    windows: Any,
    *,
    threshold: float,
    profile: str | Mapping[str, float] = "standard",
    probationary: float = 0.15,
) -> float:
    """Raw NAB score of one series (Lavin & Ahmad, 2015, Numenta Anomaly Benchmark).

    Detections are ``scores >= threshold``. Following NAB v1.1's
    ``nab/sweeper.py`` row by row:

    - **Inside a window** only the first detection counts. At relative position
      ``x = -(end - i + 1) / width`` (``-1`` at the window's first row, ``-1/width``
      at its last) it earns ``A_TP * S(x) / S(-1)``, where
      ``S(x) = 2 / (1 + exp(5 x)) - 1`` is NAB's scaled sigmoid: ``A_TP`` at the
      very start, falling towards 0 at the end.
    - **A window without detection** costs ``A_FN``.
    - **Each detection outside the windows** costs ``A_FP * S(x)`` with
      ``x = (i - end_prev) / (width_prev - 1)`` measured from the end of the
      preceding window (and ``S = -1`` for ``x > 3``): a detection just after a
      window costs almost nothing, one far from any window the full ``A_FP``. With
      no preceding window it costs the full ``A_FP``.
    - True negatives score 0. The first ``min(floor(probationary * n),
      probationary * 5000)`` rows (the probationary period, in which a detector
      learns) are ignored: detections there count for nothing, and a window lying
      wholly inside it is not scored.

    Parameters
    ----------
    timestamps
        The series' time stamps (datetime64, e.g. a tz-naive pandas
        ``DatetimeIndex``) or a plain numeric index (compared as float64),
        strictly increasing.
    scores
        Anomaly scores, higher is more anomalous (NAB's are in ``[0, 1]``; any
        finite floats work here).
    windows
        Labelled anomaly windows: ``(start, end)`` pairs, inclusive, in the units of
        ``timestamps`` (strings such as ``"2014-02-19 10:50:00"`` work for
        datetimes), sorted and not overlapping. NAB's bounds are time stamps of the
        series; other bounds select the rows between them.
    threshold
        Detection threshold; ``inf`` detects nothing.
    profile
        Cost weights: ``"standard"`` (A_TP 1, A_FP 0.11, A_FN 1),
        ``"reward_low_FP"`` (A_FP 0.22) or ``"reward_low_FN"`` (A_FN 2), from NAB's
        ``config/profiles.json``; or a mapping with keys ``"tp"``, ``"fp"``,
        ``"fn"``. See `NAB_PROFILES`.
    probationary
        Fraction of the rows at the start that are not scored; NAB uses 0.15.

    Returns
    -------
    float
        The raw score: between ``-A_FN * n_windows - A_FP * n_rows`` and
        ``A_TP * n_windows``. See `nab_benchmark` for NAB's normalised score.

    Raises
    ------
    ValueError
        If the lengths differ; scores are empty or hold NaN or inf; timestamps are
        not 1-D, missing or not strictly increasing; a window is malformed, holds no
        time stamp, or is unsorted or overlapping; ``threshold`` is NaN;
        ``probationary`` is outside ``[0, 1]``; or ``profile`` is unknown.
    TypeError
        If scores are not numeric, timestamps neither numeric nor datetime64, or a
        window bound cannot be converted to their type.
    """
    threshold = _check_number(threshold, "threshold")
    weights = _nab_weights(profile)
    series = _NabSeries(timestamps, scores, windows, _check_probationary(probationary))
    return series.raw_score(threshold, *weights)


def nab_benchmark(
    results: Mapping[str, tuple[ArrayLike, ArrayLike, Any]],
    profile: str | Mapping[str, float] = "standard",
    *,
    probationary: float = 0.15,
) -> dict[str, Any]:
    """NAB's final score over a corpus, with one threshold optimised for all series.

    As NAB v1.1 does (``nab/optimizer.py`` over ``Sweeper.calcScoreByThreshold``):
    every distinct score of every series is tried as the threshold, the one with
    the largest summed raw `nab_score` wins (the largest such threshold on a tie),
    and the sum is normalised as
    ``100 * (raw - null) / (perfect - null)``, where ``null`` is the raw score of a
    detector that never fires (``-A_FN`` per window) and ``perfect`` that of one
    detection at the first row of every window (``A_TP`` per window). 0 is the null
    detector, 100 the perfect one; negative scores are worse than never firing.

    Windows wholly inside a probationary period are not scored and count in neither
    ``null`` nor ``perfect`` (NAB's ``perfect`` counts every labelled window; its
    labels keep windows out of the probationary period, where the two agree).

    Parameters
    ----------
    results
        ``{name: (timestamps, scores, windows)}``, one entry per series, each as
        `nab_score` takes them.
    profile
        ``"standard"``, ``"reward_low_FP"``, ``"reward_low_FN"``, or a mapping with
        keys ``"tp"``, ``"fp"``, ``"fn"``; see `nab_score`.
    probationary
        Fraction of each series' rows that is not scored; NAB uses 0.15.

    Returns
    -------
    dict
        ``"score"``: the normalised score (float); ``"threshold"``: the optimised
        threshold (``inf`` if never firing scores best); ``"raw"``, ``"null"``,
        ``"perfect"``: the summed raw scores; ``"per_series"``: ``{name: raw
        score}`` at that threshold.

    Raises
    ------
    ValueError
        If ``results`` is empty, an entry is not a ``(timestamps, scores, windows)``
        triple, no series has a scored window (the normalisation divides by zero),
        or as `nab_score` raises.
    TypeError
        As `nab_score` raises.
    """
    weights = _nab_weights(profile)
    tp, fp, fn = weights
    probationary = _check_probationary(probationary)
    if not isinstance(results, Mapping) or not results:
        raise ValueError(
            "results must be a non-empty mapping {name: (timestamps, scores, windows)}"
        )
    prepared = {}
    for name, entry in results.items():
        if not isinstance(entry, tuple | list) or len(entry) != 3:
            raise ValueError(f"results[{name!r}] must be a (timestamps, scores, windows) triple")
        try:
            prepared[name] = _NabSeries(*entry, probationary)
        except (ValueError, TypeError) as err:
            raise type(err)(f"results[{name!r}]: {err}") from None
    n_windows = sum(s.scored_windows.size for s in prepared.values())
    if n_windows == 0:
        raise ValueError(
            "no series has a scored anomaly window: the normalised NAB score "
            "(100 * (raw - null) / (perfect - null)) is undefined"
        )
    null, perfect = -fn * n_windows, tp * n_windows
    # Sweep every distinct score from high to low, as NAB's calcScoreByThreshold does:
    # candidates[j] detects every row scoring >= it, and totals[j] is the summed raw
    # score; candidates[0] = inf detects nothing.
    parts = [s.increments(*weights) for s in prepared.values()]
    row_scores = np.concatenate([p[0] for p in parts])
    changes = np.concatenate([p[1] for p in parts])
    order = np.argsort(-row_scores, kind="stable")
    sorted_scores = row_scores[order]
    ends = np.flatnonzero(np.diff(np.append(sorted_scores, -np.inf)))  # last of each tie
    totals = np.concatenate(([null], null + np.cumsum(changes[order])[ends]))
    candidates = np.concatenate(([np.inf], sorted_scores[ends]))
    threshold = float(candidates[int(np.argmax(totals))])  # first maximum: highest threshold
    per_series = {name: s.raw_score(threshold, *weights) for name, s in prepared.items()}
    raw = float(sum(per_series.values()))
    return {
        "score": 100.0 * (raw - null) / (perfect - null),
        "threshold": threshold,
        "raw": raw,
        "null": float(null),
        "perfect": float(perfect),
        "per_series": per_series,
    }
