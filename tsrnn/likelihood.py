"""Post-processing of raw anomaly scores: the anomaly likelihood, the range check
and alarm cooldown.

Raw reconstruction or forecast errors are not comparable from one series to the
next, and a series' error level drifts as it changes. The *anomaly likelihood*
(after Numenta's HTM detector; Ahmad et al., "Unsupervised real-time anomaly
detection for streaming data", Neurocomputing 2017) asks instead how unusual the
recent average error is against the series' own long-run distribution of averaged
errors, so a score means the same on every series.

The short-term average is of the raw scores (squared errors) as they come
(``average="squared"``, HTM's, and this module's default for raw scores of any
kind) or of the errors' magnitudes (``average="absolute"``: the mean of their
square roots, squared back; for one target the mean absolute error squared, for
several the mean of each step's root mean square over the targets, squared;
:class:`tsrnn.AnomalyDetector`'s default). A mean of squared errors follows its
largest few, so a single outlier lifts twenty steps' average about as far as an
incident does; HTM's scores are bounded in [0, 1] and have no such tail. On
NAB's 28 files ``"absolute"`` scored 72.7 / 72.6 / 72.8 against 70.5 / 70.4 / 70.6
(seeds 0 / 1 / 2; the same windows caught, fewer false alarms); ``"squared"``
catches more single-step spikes (README "How well it detects").

The *range check* (also after HTM's NAB detector) catches what a model of recent
windows can miss: a value beyond everything the series has shown, by more than a
fraction of that range, scores :data:`OUT_OF_RANGE_SCORE` whatever its error.

All steps are causal: a step's output depends on that step and earlier ones
only. The batch functions here and the streaming :class:`ScoreFilter` give the
same numbers (tested), the stream in amortized O(1) time and O(history) memory
per point.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import log_ndtr

__all__ = ["AVERAGES", "OUT_OF_RANGE_SCORE", "RangeWatch", "ScoreFilter", "anomaly_likelihood",
           "apply_cooldown", "likelihood_prior", "post_process", "range_breaches", "sustained"]

# A likelihood needs this many earlier averaged errors before it says anything
# (fewer, and the spread is a guess). Until a series has them, a prior (the
# training scores' mean and spread) stands in for the missing ones, or, with
# none, the output is 0.
MIN_HISTORY = 100
# Errors are squared errors in units of the series' training variance; a spread
# below (0.1 standard deviations)^2 is noise, not a scale to measure surprise in.
MIN_SPREAD = 0.01
_LN10 = np.log(10.0)
# The score of a value out of range: -log10(p) for a p of 10^-1000, above any
# likelihood a series reaches otherwise, so a breach ranks first and passes any
# threshold fitted on normal data.
OUT_OF_RANGE_SCORE = 1000.0
# The likelihood's short-term averages: of the squared errors as they come (this
# module's default, for raw scores of any kind), or of the errors' magnitudes (the
# detector's).
AVERAGES = ("squared", "absolute")


def _reference(n, s1, s2, history: int, prior):
    """Mean and standard deviation of ``n`` earlier averages (sums ``s1``, ``s2``),
    topped up to ``min(history, MIN_HISTORY)`` values by the prior's."""
    if prior is None:
        n0, m0, v0 = 0, 0.0, 0.0
    else:
        n0 = np.maximum(min(history, MIN_HISTORY) - n, 0)
        m0, v0 = prior[0], prior[1] ** 2
    total = n0 + np.asarray(n)
    s1, s2 = np.asarray(s1, dtype=np.float64), np.asarray(s2, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (n0 * m0 + s1) / total
        var = (n0 * (v0 + m0 * m0) + s2 - total * mean * mean) / (total - 1)
    return np.nan_to_num(mean), np.sqrt(np.maximum(np.nan_to_num(var), 0.0)), total


def likelihood_prior(raw: np.ndarray, valid: np.ndarray | None = None, *,
                     window: int = 20, average: str = "squared") -> tuple[float, float]:
    """Mean and standard deviation of the short-term averages of ``raw`` (e.g. a
    series' training scores): the prior of :func:`anomaly_likelihood`."""
    raw = np.asarray(raw, dtype=np.float64)
    x = raw if valid is None else raw[np.asarray(valid, dtype=bool)]
    if len(x) < 2:
        raise ValueError(f"a prior needs at least 2 scores, got {len(x)}")
    avg = _likelihood_averages(x, window, average)
    return float(avg.mean()), float(avg.std(ddof=1))


def _check_average(average: str) -> None:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")


def _likelihood_averages(x: np.ndarray, window: int, average: str) -> np.ndarray:
    """The likelihood's short-term average at every step: the mean of the last
    ``window`` raw scores (``"squared"``), or the square of the mean of their
    square roots (``"absolute"``: the errors' magnitudes, for squared errors)."""
    _check_average(average)
    if average == "squared":
        return _short_averages(x, window)
    root_means = _short_averages(np.sqrt(np.maximum(x, 0.0)), window)
    return root_means * root_means


def _short_averages(x: np.ndarray, window: int) -> np.ndarray:
    """The mean of the last ``window`` values at every step (of fewer at the start)."""
    return _trailing_sums(x, window, inclusive=True) / np.minimum(np.arange(len(x)) + 1, window)


def _likelihood_from(avg: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """-log10 of the Gaussian tail probability: 6 is a one-in-a-million average.

    Not capped (HTM caps near 10): ranking the rarest events is what a threshold
    needs most."""
    with np.errstate(over="ignore"):  # an error beyond float64 is infinitely unlikely
        z = (avg - mean) / np.maximum(std, MIN_SPREAD)
    return np.maximum(-log_ndtr(-z) / _LN10, 0.0)


def anomaly_likelihood(raw: np.ndarray, valid: np.ndarray | None = None, *,
                       window: int = 20, history: int = 8640,
                       prior: tuple[float, float] | None = None,
                       average: str = "squared") -> np.ndarray:
    """Anomaly likelihood of one series' raw scores, each step from the past only.

    Parameters
    ----------
    raw
        Raw scores ``[T]`` of one series, in time order.
    valid
        Which steps have a raw score (False: a warming-up step, which stays 0 and
        enters no average). Default: all.
    window
        Short-term average: of the last ``window`` valid raw scores.
    history
        Long-run distribution: the mean and standard deviation of the
        ``history`` short-term averages before this step.
    prior
        ``(mean, std)`` of the averages to expect (:func:`likelihood_prior` of the
        training scores). While fewer than ``min(history, 100)`` averages are
        known, prior values make up the difference, so the first steps get a
        score too; then the series' own history takes over.
    average
        ``"squared"`` (default): the short-term average is the mean of the raw
        scores; ``"absolute"``: the square of the mean of their square roots (for
        one target's squared errors, the mean absolute error, squared).

    Returns
    -------
    numpy.ndarray
        ``[T]`` scores ``-log10(p) >= 0``, where ``p`` is the Gaussian tail
        probability of the short-term average against the long-run ones (6: a
        one-in-a-million average; a typical step scores below 1). 0 for invalid
        steps and, without a prior, until ``min(history, 100)`` averages are known.
    """
    raw = np.asarray(raw, dtype=np.float64)
    valid = np.ones(len(raw), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    out = np.zeros(len(raw))
    x = raw[valid]
    if len(x) == 0:
        return out
    avg = _likelihood_averages(x, window, average)
    # The reference for average j is averages [j - history, j), exclusive of j.
    n = np.minimum(np.arange(len(x)), history)
    mean, std, total = _reference(n, _trailing_sums(avg, history),
                                  _trailing_sums(avg * avg, history), history, prior)
    scores = _likelihood_from(avg, mean, std)
    scores[total < min(history, MIN_HISTORY)] = 0.0
    out[valid] = scores
    return out


def _trailing_sums(x: np.ndarray, h: int, inclusive: bool = False) -> np.ndarray:
    """``sum(x[j-h:j])`` for every ``j`` (``x[j-h+1:j+1]`` if ``inclusive``).

    Not as a difference of running totals: once a huge value has left the window
    that difference keeps its rounding error. Cut into blocks of ``h``, a window
    is a suffix of one block plus a prefix of the next, both sums of its own
    elements only (van Herk / Gil-Werman).
    """
    if inclusive:
        return _trailing_sums(np.append(x, 0.0), h)[1:]
    n = len(x)
    blocks = np.concatenate([x, np.zeros((-n) % h)]).reshape(-1, h)
    prefix = np.cumsum(blocks, axis=1)
    suffix = np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1]
    k, i = np.divmod(np.arange(n), h)
    current = np.where(i > 0, prefix[k, i - 1], 0.0)  # block k up to j
    previous = np.where(k > 0, suffix[k - 1, i], 0.0)  # block k - 1 from j - h
    return current + previous


class _WindowSum:
    """Sum and sum of squares of the last ``size`` values pushed, exact like
    :func:`_trailing_sums`: a queue as two stacks, so no departed value's rounding
    stays in the totals. Three float arrays of ``size``: about 200 KB per series
    at the default history of 8640."""

    def __init__(self, size: int):
        self.size = size
        self._back = np.empty(size)  # the newest values, oldest first
        self._n_back = 0
        self._back_sums = [0.0, 0.0]
        # Suffix sums of the older values: [k] sums values k.. of the front, so
        # the oldest remaining value's entry, [_front_start], is the front's total.
        self._front = np.empty((size, 2))
        self._front_start = self._n_front = 0

    def __len__(self) -> int:
        return self._n_back + self._n_front

    def totals(self) -> tuple[float, float]:
        s1, s2 = self._back_sums
        if self._n_front:
            f1, f2 = self._front[self._front_start]
            s1, s2 = s1 + f1, s2 + f2
        return s1, s2

    def push(self, value: float) -> None:
        if len(self) == self.size:  # drop the oldest first
            if not self._n_front:  # move the back over, summing from the newest
                values = self._back[:self._n_back]
                self._front[:self._n_back, 0] = np.cumsum(values[::-1])[::-1]
                self._front[:self._n_back, 1] = np.cumsum((values * values)[::-1])[::-1]
                self._front_start, self._n_front = 0, self._n_back
                self._n_back, self._back_sums = 0, [0.0, 0.0]
            self._front_start += 1
            self._n_front -= 1
        self._back[self._n_back] = value
        self._n_back += 1
        self._back_sums = [self._back_sums[0] + value, self._back_sums[1] + value * value]


def sustained(raw: np.ndarray, valid: np.ndarray | None = None,
              smoothing: int = 0) -> np.ndarray:
    """Each valid raw score raised to the mean of the last ``smoothing`` valid raw
    scores (itself included) where that is higher; 0 where not ``valid``.

    A short anomaly keeps its own peak, and every step of a long one stays as
    high as the incident's running mean, even where the step alone looks normal
    (a model's error dips inside a long incident as it follows the new level).
    ``smoothing`` 0 or 1: the raw scores."""
    raw = np.asarray(raw, dtype=np.float64)
    valid = np.ones(len(raw), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    out = np.zeros(len(raw))
    x = raw[valid]
    out[valid] = np.maximum(x, _short_averages(x, smoothing)) if smoothing > 1 else x
    return out


def apply_cooldown(scores: np.ndarray, cooldown: int) -> np.ndarray:
    """Keep a score only where it beats every score of the previous ``cooldown``
    steps; elsewhere 0.

    One incident then raises one alarm (at its onset, and again only if it gets
    worse) instead of one per step. Decided on the scores alone, so it holds for
    any threshold.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if cooldown <= 0 or len(scores) == 0:
        return scores.copy()
    padded = np.concatenate([np.full(cooldown, -np.inf), scores[:-1]])
    previous = sliding_window_view(padded, cooldown).max(axis=1)
    return np.where(scores > previous, scores, 0.0)


def post_process(raw: np.ndarray, valid: np.ndarray | None = None, *, likelihood: bool,
                 window: int = 20, history: int = 8640, cooldown: int = 0,
                 prior: tuple[float, float] | None = None,
                 breaches: np.ndarray | None = None, smoothing: int = 0,
                 average: str = "squared") -> np.ndarray:
    """One series' final scores: :func:`anomaly_likelihood` if ``likelihood``, else
    the raw scores (0 where not ``valid``), each raised to the mean of the last
    ``smoothing`` valid ones if that is higher (:func:`sustained`); at least
    :data:`OUT_OF_RANGE_SCORE` where ``breaches`` (of :func:`range_breaches`); then
    :func:`apply_cooldown`. :class:`ScoreFilter` is the same, a point at a time."""
    if likelihood:
        scores = anomaly_likelihood(raw, valid, window=window, history=history, prior=prior,
                                    average=average)
    else:
        scores = sustained(raw, valid, smoothing)
    if breaches is not None:
        scores = np.where(breaches, np.maximum(scores, OUT_OF_RANGE_SCORE), scores)
    return apply_cooldown(scores, cooldown)


def range_breaches(values: np.ndarray, tolerance: float,
                   start: tuple[np.ndarray, np.ndarray] | None = None, *,
                   per_column: bool = False) -> np.ndarray:
    """Which steps leave the range seen before them by more than ``tolerance`` of it.

    Parameters
    ----------
    values
        ``[T]`` or ``[T, F]`` values of one series, in time order.
    tolerance
        Margin on either side, as a fraction of the range (HTM uses 0.05).
    start
        ``(low, high)``, each ``[F]``: the range known before the first step (e.g.
        the training data's). Default: none; the range is learnt from the series'
        own steps, and the first ``MIN_HISTORY`` (100) steps, which set it, never
        breach (a new series would otherwise breach at almost every step of its
        first rise).

    Returns
    -------
    numpy.ndarray
        ``[T]`` bool: True where any column is below ``low - tolerance * (high -
        low)`` or above ``high + tolerance * (high - low)``, with ``low`` and
        ``high`` the extremes of the start range and every earlier step. A column
        that has shown a single value so far (no range yet) never breaches. A
        missing value (NaN or inf) neither breaches nor widens the range.
        With ``per_column``: ``[T, F]``, which columns breach.
    """
    x = _missing_as_nan(values)
    x = x[:, None] if x.ndim == 1 else x
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    lo0, hi0 = (x[0], x[0]) if start is None else (np.asarray(s, np.float64) for s in start)
    # fmin/fmax: a missing value neither widens the range nor hides it later
    low = np.fmin.accumulate(np.vstack([lo0, x[:-1]]), axis=0)  # before each step
    high = np.fmax.accumulate(np.vstack([hi0, x[:-1]]), axis=0)
    out = _outside(x, low, high, tolerance)
    if start is None:
        out[:MIN_HISTORY] = False
    return out if per_column else out.any(axis=1)


def _missing_as_nan(values) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(x), x, np.nan)


def _outside(x, low, high, tolerance: float) -> np.ndarray:
    """The range check's rule, elementwise: beyond ``[low, high]`` by more than
    ``tolerance`` of its width, for a column with a range (``high > low``)."""
    with np.errstate(invalid="ignore"):  # inf - inf before a column's first value
        margin = tolerance * (high - low)
        return ((x < low - margin) | (x > high + margin)) & (high > low)


class RangeWatch:
    """The streaming form of :func:`range_breaches`, for one series."""

    def __init__(self, tolerance: float, start: tuple[np.ndarray, np.ndarray] | None = None):
        self.tolerance = tolerance
        self.low, self.high = (None, None) if start is None else (
            np.array(start[0], np.float64), np.array(start[1], np.float64))
        self._learning = 0 if start is not None else MIN_HISTORY  # steps left to learn

    def update(self, values: np.ndarray) -> bool:
        """Whether ``values`` ``[F]`` breach the range so far; then widen it by them.

        A missing value (NaN or inf, carried forward by the stream) neither
        breaches nor widens: the value carried is already inside the range."""
        x = _missing_as_nan(values)
        if self.low is None:
            self.low, self.high = np.full_like(x, np.inf), np.full_like(x, -np.inf)
        out = bool(_outside(x, self.low, self.high, self.tolerance).any())
        self.low = np.fmin(self.low, x)  # fmin/fmax: NaN leaves the range as it was
        self.high = np.fmax(self.high, x)
        if self._learning:
            self._learning -= 1
            return False
        return out


class ScoreFilter:
    """The streaming form of :func:`post_process`, for one series: O(1) time per
    point (amortized) and O(history) memory."""

    # A class default, set on an instance only where it differs: stream state files
    # saved before the average could be chosen hold no such attribute.
    average = "squared"

    def __init__(self, *, likelihood: bool, window: int, history: int, cooldown: int,
                 prior: tuple[float, float] | None = None, smoothing: int = 0,
                 average: str = "squared"):
        _check_average(average)
        if average != ScoreFilter.average:
            self.average = average
        self.likelihood, self.prior = likelihood, prior
        # the last `smoothing` valid raw scores, for sustained()
        self._recent = _WindowSum(smoothing) if smoothing > 1 and not likelihood else None
        self.window, self.history, self.cooldown = window, history, cooldown
        # For the likelihood only (ranking scores need neither: ~200 KB a series saved)
        # the last `window` raw scores (their square roots for average="absolute")
        self._raw = _WindowSum(window) if likelihood else None
        self._avgs = _WindowSum(history) if likelihood else None  # the short-term averages
        self._peaks: deque = deque()  # (step, score), decreasing: a sliding maximum
        self._step = 0

    def check(self, fresh: ScoreFilter, where: str) -> None:
        """Refuse a loaded filter whose settings are not those of ``fresh`` (a new
        filter of the same detector): its scores would mean something else."""
        for name in ("likelihood", "window", "history", "cooldown", "average"):
            mine, theirs = getattr(self, name), getattr(fresh, name)
            if type(mine) is not type(theirs) or mine != theirs:
                raise ValueError(f"{where}: its score filter's {name} is not the "
                                 f"detector's ({theirs!r})")

    def update(self, raw: float, valid: bool, breach: bool = False) -> float:
        """The final score of the next step (``valid``: it has a raw score;
        ``breach``: its value is out of range)."""
        if not valid:
            score = 0.0  # a warming-up step enters no average
        elif self.likelihood:
            score = self._likelihood(raw)
        elif self._recent is not None:
            self._recent.push(raw)
            score = max(raw, self._recent.totals()[0] / len(self._recent))
        else:
            score = raw
        if breach:
            score = max(score, OUT_OF_RANGE_SCORE)
        return self._cool(score)

    def _likelihood(self, raw: float) -> float:
        if self.average == "squared":
            self._raw.push(raw)
            avg = self._raw.totals()[0] / len(self._raw)
        else:  # the mean of the roots, squared: as _likelihood_averages
            self._raw.push(float(np.sqrt(max(raw, 0.0))))
            root_mean = self._raw.totals()[0] / len(self._raw)
            avg = root_mean * root_mean
        mean, std, total = _reference(len(self._avgs), *self._avgs.totals(), self.history,
                                      self.prior)
        score = 0.0
        if total >= min(self.history, MIN_HISTORY):
            score = float(_likelihood_from(avg, mean, std))
        self._avgs.push(avg)
        return score

    def _cool(self, score: float) -> float:
        if self.cooldown <= 0:
            return score
        step, peaks = self._step, self._peaks
        self._step += 1
        while peaks and peaks[0][0] < step - self.cooldown:
            peaks.popleft()
        keep = not peaks or score > peaks[0][1]
        while peaks and peaks[-1][1] <= score:
            peaks.pop()
        peaks.append((step, score))
        return score if keep else 0.0
