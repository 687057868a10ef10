"""VUS-PR, the volume under the range-based precision-recall surface
(Paparrizos et al., 2022), as the TSB-AD benchmark computes it.

The conventions on inputs and errors are described in `tsrnn.metrics`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from tsrnn._checks import check_integer
from tsrnn.metrics._common import _labels_and_scores, _require_positive, _segments

__all__ = ["vus_pr"]


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
