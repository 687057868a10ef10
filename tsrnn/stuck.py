"""The stuck-sensor check: a value that stays exactly the same for longer than its
series ever held one in training.

A sensor that freezes (a dead transmitter, a jammed valve, a data pipeline
repeating its last reading) is the one fault an error model of recent windows
rewards: a flat line is easy to forecast and to rebuild. What gives it away is
the run of identical values, which a live sensor with noise never holds for
long. Each target's run (the steps its value has equalled the one before) is
compared with the longest run the series showed in training, ``L``; beyond it,
``(run / (L + 1))^2`` is added to the target's error (in
the units of the normalised errors, about 1 on a normal step: a run twice the
training record counts as a 2-sigma surprise, three times as 3 sigma, and so
on, up to 7). On the bundled sensors this catches both stuck sensors at a 1%
false-alarm rate (one of two without it).

A target that never moved in training has nothing to be stuck against: the
level check (:mod:`tsrnn.level`) alone scores it, 0 while it holds its value.

Batch (:func:`run_lengths`, :func:`stuck_errors`) and stream (:class:`StuckWatch`)
give the same numbers; like the range check, a run is counted from a series'
first row.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_STUCK_ERROR", "StuckWatch", "longest_runs", "run_lengths", "stuck_errors"]

# A run 7 times the training record counts as a 7-sigma error, and no more: a
# sensor stuck for days would otherwise swamp the smoothing's running mean of the
# steps after it. (Chosen on the bundled sensors, the one labelled set with stuck
# sensors, among no cap and caps of 9, 25, 49 and 100: the largest PR-AUC for
# seeds 0 and 1 without losing an incident of another kind; NAB and SKAB checked.)
MAX_STUCK_ERROR = 49.0


def run_lengths(values: np.ndarray) -> np.ndarray:
    """``[T, F]``: at each step, how many steps in a row each column's value has
    equalled the one before (0: it changed, or the first step)."""
    x = np.asarray(values)
    steps = np.arange(len(x))[:, None]
    changed = np.ones(x.shape, dtype=bool)
    changed[1:] = x[1:] != x[:-1]
    last_change = np.maximum.accumulate(np.where(changed, steps, 0), axis=0)
    return (steps - last_change).astype(np.float64)


def longest_runs(values: np.ndarray) -> np.ndarray:
    """``[F]``: the longest run of each column (0 for fewer than 2 rows)."""
    runs = run_lengths(values)
    return runs.max(axis=0) if len(runs) else np.zeros(np.shape(values)[1])


def stuck_errors(runs: np.ndarray, longest: np.ndarray) -> np.ndarray:
    """What a run says, in the units of normalised squared errors:
    ``(run / (longest + 1))^2`` where the run beats the training record, else 0,
    at most :data:`MAX_STUCK_ERROR`."""
    return np.where(runs > longest,
                    np.minimum((runs / (longest + 1.0)) ** 2, MAX_STUCK_ERROR), 0.0)


class StuckWatch:
    """The streaming form of :func:`run_lengths` and :func:`stuck_errors`, for one
    series: its last values and their runs."""

    def __init__(self, longest: np.ndarray):
        self.longest = np.array(longest, np.float64)
        self.last: np.ndarray | None = None
        self.runs = np.zeros_like(self.longest)

    def update(self, values: np.ndarray) -> np.ndarray:
        """``[F]`` stuck errors of the newest values ``[F]`` (as the batch reads them:
        float32, a missing one carried forward as the last)."""
        x = np.asarray(values, np.float32)
        if self.last is not None:
            x = np.where(np.isfinite(x), x, self.last)
            self.runs = np.where(x == self.last, self.runs + 1.0, 0.0)
        self.last = x
        return stuck_errors(self.runs, self.longest)
