"""The drift correction of ranking scores: errors measured against a series' own
recent error level, where that level has risen since the series' first steps.

A network fitted on a series' early rows rebuilds later rows less well once the
series drifts away from them: a trend beyond the training levels, a sensor that
ages, a load that grows. Its errors then climb slowly for weeks, and on a fleet a
drifting series' normal rows outrank a fault on a steady one (on the bundled
sensors, two trending sensors held 72 to 77 of the 79 normal rows above the
shared 1% threshold, and hid a level shift and a drift on the others).

Each target's error level is tracked as a quantile (:data:`DRIFT_QUANTILE`, the
upper quartile, by default) of its last ``window`` errors, and compared with the
same quantile of its first ``window // 4`` errors (the reference). Where it has
risen, the errors are divided by the rise; where it has not, they are left as
they are. A quantile over a long window moves only when many steps have moved:
the upper quartile, when a quarter of the window has (a fault that fills a
tenth of it lifts the level by about 1.44, a twentieth by about 1.2), while a
drift lifts every step. The upper quartile rather than the lower also follows a
drifting series' spread, not only its floor, and the spread is what sets where
its normal steps sit against a shared threshold (README "How well it detects":
the datasets left out one at a time, and why not 0.9).
What is divided is the network's error only: the stuck-sensor and level checks,
which compare values with the training rows, keep their meaning.

Measured on the detection benchmark (README "How well it detects"). Batch
(:func:`drift_corrected`) and stream (:class:`DriftWatch`) give the same numbers,
bit for bit: both take the quantile as pandas' rolling quantile does, of the
errors rounded to float32 (the stream keeps them so, at half the memory; the
level moves by far more than that rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DRIFT_QUANTILE", "DriftWatch", "drift_corrected", "reference_steps"]

# The error level: the upper quartile, which moves only when a quarter of the
# window has moved (before drift_quantile could be chosen: the lower quartile).
DRIFT_QUANTILE = 0.75
# A reference level below this (in units of the series' typical validation error,
# with normalize_errors=True; of scaled squared errors without) is a series rebuilt
# almost exactly at first; dividing by it would turn rounding into a rise.
MIN_REFERENCE = 0.01
# The stream keeps errors as float32; larger ones are kept as the largest float32
# (their level is off any scale already), in batch as in the stream.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _as_kept(x: np.ndarray) -> np.ndarray:
    """Errors as the stream keeps them: float32, at most the largest float32."""
    return np.minimum(x, _FLOAT32_MAX).astype(np.float32)


def reference_steps(window: int) -> int:
    """How many first steps set a series' reference error level."""
    return max(int(window) // 4, 1)


def _ratios(levels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """How far each error level has risen over the reference, at least 1."""
    with np.errstate(invalid="ignore"):
        ratio = levels / np.maximum(reference, MIN_REFERENCE)
    return np.maximum(np.nan_to_num(ratio, nan=1.0), 1.0)


def drift_corrected(errors: np.ndarray, valid: np.ndarray, window: int | None,
                    quantile: float = DRIFT_QUANTILE) -> np.ndarray:
    """One series' errors ``[T, F]``, each valid step's divided by how far its
    target's error level has risen (``window`` None: unchanged).

    The level before step ``t`` is the ``quantile`` of the target's last
    ``window`` valid errors before it; the reference, that of its first
    ``reference_steps(window)`` valid errors. Until those are known, nothing is
    divided. Steps that are not ``valid`` neither count nor change.
    """
    errors = np.asarray(errors, dtype=np.float64)
    if window is None:
        return errors.copy()
    valid = np.asarray(valid, dtype=bool)
    first = reference_steps(window)
    out = errors.copy()
    x = errors[valid]
    if len(x) <= first:
        return out
    # levels[j]: the quantile of valid errors j - window + 1 .. j (pandas' rolling
    # quantile, linear interpolation; DriftWatch takes it the same way), as float32
    kept = _as_kept(x).astype(np.float64)
    levels = pd.DataFrame(kept).rolling(window, min_periods=first).quantile(
        quantile).to_numpy()
    ratio = np.ones_like(x)
    ratio[first:] = _ratios(levels[first - 1:-1], levels[first - 1])
    out[valid] = x / ratio
    return out


def _quantiles(ordered: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile of each column of sorted values ``[n, F]``, as pandas'
    rolling quantile takes it (linear interpolation, in float64)."""
    n = len(ordered)
    position = q * (n - 1)
    low = int(position)
    below = ordered[low].astype(np.float64)
    if n == 1 or position == low:
        return below
    return below + (ordered[low + 1].astype(np.float64) - below) * (position - low)


class DriftWatch:
    """The streaming form of :func:`drift_corrected`, for one series: its last
    ``window`` errors per target, in arrival order and sorted, and its reference.
    Two float32 arrays of ``[window, F]``: 32 KB a target at the default window
    of 4096."""

    # The quantile when it is the lower quartile, which state files saved before it
    # could be chosen used, and hold no attribute for.
    quantile = 0.25

    def __init__(self, window: int, n_targets: int, quantile: float = DRIFT_QUANTILE):
        if quantile != DriftWatch.quantile:
            self.quantile = float(quantile)
        self.window = int(window)
        self.recent = np.zeros((self.window, n_targets), np.float32)  # a ring, oldest at start
        self.ordered = np.zeros((self.window, n_targets), np.float32)  # the same, sorted
        self.count = 0
        self.start = 0
        self.reference = np.full(n_targets, np.nan)  # NaN until the first steps are in

    def update(self, errors: np.ndarray) -> np.ndarray:
        """``[F]`` the newest valid step's errors, divided by the rise of the error
        level before it; then the step joins the level."""
        x = np.asarray(errors, np.float64)
        out = x.copy()
        kept = _as_kept(x)
        if self.count >= reference_steps(self.window):
            levels = _quantiles(self.ordered[:self.count], self.quantile)
            out = x / _ratios(levels, self.reference)
        self._push(kept)
        if self.count == reference_steps(self.window) and np.isnan(self.reference).all():
            self.reference = _quantiles(self.ordered[:self.count], self.quantile)
        return out

    def _push(self, x: np.ndarray) -> None:
        n = self.count
        if n == self.window:  # the oldest leaves, from the ring and the sorted copy
            old = self.recent[self.start].copy()
            for f, value in enumerate(old):
                column = self.ordered[:n, f]
                i = int(np.searchsorted(column, value))
                column[i:n - 1] = column[i + 1:n]  # (numpy copies overlapping slices)
            self.recent[self.start] = x
            self.start = (self.start + 1) % self.window
            n -= 1
        else:
            self.recent[n] = x
        for f, value in enumerate(x):
            column = self.ordered[:n + 1, f]
            i = int(np.searchsorted(column[:n], value))
            column[i + 1:n + 1] = column[i:n]
            column[i] = value
        self.count = n + 1

    def check(self, fresh: DriftWatch, where: str) -> None:
        """Refuse a loaded state that a stream of this detector (``fresh``: a new
        watch of it) could not have made."""
        if not (type(self.window) is int and self.window == fresh.window):
            raise ValueError(f"{where}: its drift window is not the detector's "
                             f"drift_window ({fresh.window})")
        if not (type(self.quantile) is float and self.quantile == fresh.quantile):
            raise ValueError(f"{where}: its drift quantile is not the detector's "
                             f"drift_quantile ({fresh.quantile})")
        if not (type(self.count) is int and 0 <= self.count <= self.window
                and type(self.start) is int and 0 <= self.start < self.window
                and (self.start == 0 or self.count == self.window)):
            raise ValueError(f"{where}: its drift window's count or start is out of range")
        filled = self.ordered[:self.count]
        if not (np.isfinite(filled).all() and (filled >= 0).all()
                and np.array_equal(np.sort(self.recent[:self.count], axis=0), filled)):
            raise ValueError(f"{where}: its drift window holds values that are not "
                             "the sorted errors of its ring")
        known = np.isfinite(self.reference)
        if self.count >= reference_steps(self.window):
            if not (known.all() and (self.reference >= 0).all()):
                raise ValueError(f"{where}: its drift reference is not errors")
        elif known.any():
            raise ValueError(f"{where}: it has a drift reference before its first steps")
