"""The Numenta Anomaly Benchmark's scoring (NAB v1.1, Lavin & Ahmad, 2015).

`nab_score` scores one series and `nab_benchmark` a corpus with NAB's optimised
threshold and normalisation, under the cost profiles of `NAB_PROFILES`;
`windows_to_labels` turns NAB's labelled windows into 0/1 labels. The
conventions on inputs and errors are described in `tsrnn.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tsrnn.metrics._common import _check_number, _check_series

__all__ = ["NAB_PROFILES", "nab_benchmark", "nab_score", "windows_to_labels"]

# NAB config/profiles.json (NAB v1.1); the tn weight is 1.0 in every profile, but
# NAB gives true negatives no score, so it is left out.
NAB_PROFILES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "standard": MappingProxyType({"tp": 1.0, "fp": 0.11, "fn": 1.0}),
        "reward_low_FP": MappingProxyType({"tp": 1.0, "fp": 0.22, "fn": 1.0}),
        "reward_low_FN": MappingProxyType({"tp": 1.0, "fp": 0.11, "fn": 2.0}),
    }
)


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
