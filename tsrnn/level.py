"""The level check: a target whose recent mean leaves the range such means had in
training.

A slow fault (a valve that closes and stays closed, an offset, a decalibrating
sensor) moves a signal to a new level and keeps it there. A network that
rebuilds windows learns the shape of a window more than where it sits, so it
rebuilds a shifted one well and its error stays low once the edge has passed.
What gives the fault away is the level itself: each target's mean over the last
``span`` steps (the network's window) is compared with the lowest and highest
such means of the series' training rows. Beyond them, ``(excess / spread)^2``
is added to the target's error, ``spread`` being the standard deviation of
those training means: in the units of the normalised errors, about 1 on a
normal step, so a mean 3 spreads beyond anything seen in training counts as a
3-sigma surprise. Capped at 49, as the stuck-sensor check (:mod:`tsrnn.stuck`),
so one sensor's new level cannot swamp the smoothing's running mean of the
steps after it; and the two checks together add at most 49
(:data:`MAX_CHECKS`), so a sensor stuck beyond its training levels is not
counted twice.

Added, not the higher of the two: the level and the network's error are two
pieces of evidence, and a spike on a series that has wandered beyond its
training levels should still outrank that series' quiet steps. With the higher
of the two, every step of a series whose level held the cap scored the cap, and
no spike there could outrank another step (a point-anomaly probe on NAB's files,
``benchmarks/detection.py --datasets nab-blips``: PR-AUC 0.441 against 0.463
added, seed 0). Over the whole benchmark (README, "How well it detects"),
seeds 0 / 1 / 2: NAB's and the sensors' ranking better at every seed, SKAB's at
most 0.002 lower, SKAB-free's level.

Measured on the detection benchmark (``benchmarks/detection.py
--no-level-check``, seeds 0 / 1 / 2; README "How well it detects"): SKAB's valve
experiments rank better (PR-AUC 0.853 / 0.870 / 0.860 to 0.877 / 0.896 /
0.893), NAB's ranking by 0.004 to 0.006 and its alerting score by 0.1 to 0.4;
SKAB fitted on anomaly-free data and the bundled sensors within 0.001 (their
missed drifts and level shifts are caught at each sensor's own 1% false-alarm
rate, and hidden by one threshold for four sensors, two of which trend). The
span is the window rather than four windows: better or level on every dataset.

A target that never moved in the series' training rows (a setpoint, a switched-off
sensor, a status column) is checked step by step rather than by its recent
mean, and the network's error for it is dropped (:func:`constant_targets`,
which the detector keeps as ``constant_targets_``; files saved before it have
none, and score as they did):
rebuilding a constant, a network's error is its own noise, with no natural
scale, and measured against itself that noise flagged 195 of 200 rows of a
series that stayed exactly at its training value. Such a target scores 0 while
it holds its value and :data:`MAX_LEVEL_ERROR` at any step it leaves it (beyond
float32's rounding): with no spread in training, there is nothing smaller to
measure a move in.

Batch (:func:`level_errors`) and stream (:class:`LevelWatch`) give the same
numbers; like the stuck-sensor check, the mean is taken from a series' first
row, and a series unseen at fit has no reference, so no check.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tsrnn.data.scaling import is_constant, spread_or_one, without_glitches
from tsrnn.stuck import run_lengths, stuck_errors

__all__ = ["MAX_CHECKS", "MAX_LEVEL_ERROR", "LevelWatch", "constant_targets", "level_errors",
           "level_reference", "rolling_means", "value_checked", "without_constant_targets"]

# As the stuck-sensor check's cap: a new level held for days would otherwise swamp
# the smoothing's running mean of the steps after it.
MAX_LEVEL_ERROR = 49.0
# And the two checks together, for the same reason: a sensor stuck beyond its
# training levels adds what either check alone may, not twice that.
MAX_CHECKS = MAX_LEVEL_ERROR


def rolling_means(values: np.ndarray, span: int) -> np.ndarray:
    """``[T, F]``: each column's mean over the last ``span`` rows (NaN before)."""
    x = np.asarray(values, np.float64)
    out = np.full(x.shape, np.nan)
    if len(x) >= span:
        out[span - 1:] = sliding_window_view(x, span, axis=0).mean(axis=-1)  # [T-span+1, F]
    return out


def level_reference(values: np.ndarray, span: int) -> np.ndarray:
    """``[F, 3]``: the low, the high and the spread of each column's means over
    ``span`` rows of a series' training ``values`` (``[T, F]``, at least ``span``
    rows). The spread is their standard deviation, 1 where they never varied (the
    scalers' rule for a constant column). (A floor of ``std / sqrt(span)``, the
    spread of means of independent values, cost NAB's alerting score 2.2 points
    at seed 0 and was left out; without it, a series fitted on a few windows'
    worth of rows gets a narrow range and a small spread.)"""
    x = without_glitches(values)  # one fault code would widen the range for good
    means = rolling_means(x, span)[span - 1:]  # [T - span + 1, F]
    spread = means.std(axis=0)
    spread = spread_or_one(spread, np.median(x, axis=0))  # the scalers' constant column
    return np.stack([means.min(axis=0), means.max(axis=0), spread], axis=-1)


def constant_targets(values: np.ndarray) -> np.ndarray:
    """``[F]``: the columns of one series' training ``values`` ``[T, F]`` that never
    changed (their range within float32's rounding of their level). Not their
    means: a 0/1 toggle or a pattern whose period divides the span has the same
    mean over every ``span`` steps, and is no constant."""
    x = np.asarray(values, np.float64)
    low = np.nanmin(x, axis=0)
    return is_constant(np.nanmax(x, axis=0) - low, low)


def without_constant_targets(errors: np.ndarray, constant: np.ndarray | None) -> np.ndarray:
    """The network's ``errors`` ``[..., F]`` with those of the ``constant`` targets
    (:func:`constant_targets`; None: none) set to 0: the level check measures them."""
    return errors if constant is None else np.where(constant, 0.0, errors)


def _excess(means: np.ndarray, values: np.ndarray, reference: np.ndarray,
            constant: np.ndarray | None) -> np.ndarray:
    low, high, spread = reference[..., 0], reference[..., 1], reference[..., 2]
    beyond = np.maximum(np.maximum(means - high, low - means), 0.0) / spread
    out = np.minimum(np.nan_to_num(beyond) ** 2, MAX_LEVEL_ERROR)  # NaN: no mean yet
    if constant is None:
        return out
    # A constant's move: beyond float32's rounding of it (a missing value is none)
    moved = ~is_constant(np.abs(values - low), low)
    return np.where(constant, np.where(moved, MAX_LEVEL_ERROR, 0.0), out)


def level_errors(values: np.ndarray, reference: np.ndarray, span: int,
                 constant: np.ndarray | None = None) -> np.ndarray:
    """What each target's level says, in the units of normalised squared errors:
    ``[T, F]`` from one series' ``values`` ``[T, F]`` and its ``reference``
    (:func:`level_reference`): ``(excess / spread)^2`` where the mean of the last
    ``span`` values is beyond the training ones, else 0 (and before ``span``
    rows), at most :data:`MAX_LEVEL_ERROR`. A ``constant`` target
    (:func:`constant_targets`) scores :data:`MAX_LEVEL_ERROR` at each value that
    leaves its training value, from the first row, else 0."""
    x = np.asarray(values, np.float64)
    return _excess(rolling_means(x, span), x, np.asarray(reference, np.float64), constant)


def value_checked(errors: np.ndarray, values: np.ndarray, span: int, *,
                  longest: np.ndarray | None, reference: np.ndarray | None,
                  constant: np.ndarray | None) -> np.ndarray:
    """One series' normalised ``errors`` ``[T, F]`` plus what its ``values``
    ``[T, F]`` say: their runs of unchanged values against the training record
    ``longest`` (:mod:`tsrnn.stuck`; None: no check) and their level against
    ``reference`` (None: no check), the two together at most
    :data:`MAX_CHECKS`; a ``constant`` target's errors and stuck check replaced
    by the level check's. The batch scores and the ONNX ones share it; the
    stream adds the same terms step by step."""
    checks = 0.0 if longest is None else stuck_errors(run_lengths(values), longest)
    if reference is not None:  # (a target constant in training is its alone)
        errors = without_constant_targets(errors, constant)
        checks = (without_constant_targets(checks, constant)
                  + level_errors(values, reference, span, constant))
    return errors + np.minimum(checks, MAX_CHECKS)


class LevelWatch:
    """The streaming form of :func:`level_errors`, for one series: its last
    ``span`` values."""

    def __init__(self, reference: np.ndarray, span: int):
        self.reference = np.array(reference, np.float64)
        self.span = int(span)
        self.recent = np.zeros((self.span, len(self.reference)))
        self.count = 0
        self.last: np.ndarray | None = None

    def update(self, values: np.ndarray, constant: np.ndarray | None = None) -> np.ndarray:
        """``[F]`` level errors after the newest values ``[F]`` (as the batch reads
        them: float32, a missing one carried forward as the last), the ``constant``
        targets as :func:`level_errors` measures them."""
        x = np.asarray(values, np.float32)
        if self.last is not None:
            x = np.where(np.isfinite(x), x, self.last)
        self.last = x
        self.recent[:-1] = self.recent[1:]  # bounded: a shift of `span` rows
        self.recent[-1] = x
        self.count = min(self.count + 1, self.span)
        means = (rolling_means(self.recent, self.span)[-1] if self.count == self.span
                 else np.full(len(self.reference), np.nan))  # no mean yet
        return _excess(means, x.astype(np.float64), self.reference, constant)
