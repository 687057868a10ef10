"""The ``"auto"`` sizes of a forecaster, by rule from the data's frequency and the
series' lengths (never tuned on a benchmark).

The rule
--------
1. **Frequency → season and horizon.** The step (the inferred or given frequency)
   names the calendar cycle, ``season``, and M4's horizon for that frequency:

   ==================  ======================  =========================
   step                season (steps)          horizon (steps)
   ==================  ======================  =========================
   a year or more      1                       6
   a quarter           4                       8
   a month             12                      18
   a week              52                      13
   a day               7 (business days: 5)    14
   1 to 12 hours       a day's steps           two days' steps (hourly: 48)
   under an hour       a day's steps           a day's steps, at most 96
   integer times       1                       24
   ==================  ======================  =========================

2. **Input.** ``input_len = max(2 * horizon, 3 * season)``, at most 720 steps: three
   seasons or two horizons, whichever is longer (yearly 12, quarterly 16, monthly 36,
   weekly 156, daily 28, hourly 96, integer times 48).
3. **Length cap.** Every series needs ``input_len`` rows of context, and the
   shortest must still hold a training window and a validation part of at least
   one horizon (``val_rows = max(val_size of its rows, horizon)``). So the input is
   cut to ``shortest - horizon - val_rows`` when that leaves at least
   ``min(horizon, input)`` steps (a shorter input with early stopping).
4. **Too short for that:** no validation part (a :class:`AutoSizeWarning` says so;
   training runs all ``max_epochs``) and an input of ``shortest - horizon``, again
   at least ``min(horizon, input)`` steps. Shorter still: a ``DataError`` asks for
   integer sizes. The horizon is never shortened behind the user's back.

An integer ``input_len`` or ``horizon`` is kept as given; only the ``"auto"`` ones
follow the rule (an integer horizon feeds the input rule).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

from tsrnn.data import DataError, SeriesData, chronological_split, split_borders, window_starts
from tsrnn.data.split import Split
from tsrnn.data.split import _part_rows as part_rows

__all__ = ["AUTO", "AutoSizeWarning", "AutoSizes", "AutoSizing", "auto_sizes", "frequency_rule"]

AUTO = "auto"
MAX_INPUT = 720  # a month of hourly steps: SegRNN's longest input
_DAY = pd.Timedelta(days=1)


class AutoSizeWarning(UserWarning):
    """The ``"auto"`` sizes had to give something up: the series are too short for
    a validation part."""


class AutoSizes(NamedTuple):
    """What the rule chose: ``input_len``, ``horizon``, ``season``; ``validate`` is
    False when rule 4 gave up the validation part."""

    input_len: int
    horizon: int
    season: int
    validate: bool


def _step(freq) -> pd.Timedelta:
    """The mean length of one step of a pandas frequency (months and business days
    vary)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Tick):
        return pd.Timedelta(offset.nanos, "ns")
    stamps = pd.date_range("2001-01-01", periods=25, freq=offset)
    return (stamps[-1] - stamps[0]) / 24


def frequency_rule(freq) -> tuple[int, int]:
    """``(season, horizon)`` of a frequency (a pandas offset or alias; an integer
    step or None: integer times)."""
    if freq is None or isinstance(freq, int | np.integer):
        return 1, 24
    step = _step(freq)
    days = step / _DAY
    if days >= 300:
        return 1, 6
    if days >= 80:
        return 4, 8
    if days >= 27:
        return 12, 18
    if days >= 6:
        return 52, 13
    if days >= 0.9:  # business days average 1.4 calendar days
        offset = pd.tseries.frequencies.to_offset(freq)
        business = isinstance(offset, pd.offsets.BusinessDay | pd.offsets.CustomBusinessDay)
        return (5 if business else 7), 14
    per_day = _DAY / step
    season = int(round(per_day)) if abs(per_day - round(per_day)) < 1e-9 else 1
    if step >= pd.Timedelta(hours=1):
        return season, max(1, int(2 * per_day))
    return season, max(1, min(int(per_day), 96))


def auto_sizes(freq, lengths, input_len, horizon, val_rows) -> AutoSizes:
    """The sizes for series of ``lengths`` at ``freq``.

    Parameters
    ----------
    freq
        The data's frequency (pandas offset, integer step or None).
    lengths
        Rows per series.
    input_len, horizon
        ``"auto"`` or an integer (kept).
    val_rows
        ``val_rows(n, horizon)``: validation rows of a series of ``n`` rows (0: the
        user asked for none).
    """
    season, rule_horizon = frequency_rule(freq)
    h = rule_horizon if horizon == AUTO else int(horizon)
    if input_len != AUTO:
        return AutoSizes(int(input_len), h, season, True)
    want = min(max(2 * h, 3 * season), MAX_INPUT)
    least = min(h, want)
    shortest = int(np.min(lengths))
    n_val = int(val_rows(shortest, h))
    inp = min(want, shortest - h - n_val)
    if inp >= least:
        return AutoSizes(inp, h, season, True)
    if n_val:  # rule 4: give up the validation part before the input
        inp = min(want, shortest - h)
        if inp >= least:
            return AutoSizes(inp, h, season, False)
    raise DataError(f"the shortest series has {shortest} rows: too few for input_len='auto' "
                    f"with horizon={h} (it needs at least horizon + {least} input steps "
                    f"= {h + least} rows). Pass integers: a shorter horizon=N, or input_len=N")


class AutoSizing:
    """A mixin of :class:`tsrnn.Forecaster`: its fitted sizes by the rule above, and
    the training and validation windows they give."""

    def _auto(self) -> bool:
        return AUTO in (self.input_len, self.horizon)

    def _set_sizes(self, data: SeriesData) -> bool:
        """``input_len_``, ``horizon_`` and ``season_``: the rule of :mod:`tsrnn.auto`
        for ``"auto"`` ones, the integers as given. Returns False when the rule left
        no room for a validation part."""
        sizes = auto_sizes(data.freq, data.lengths, self.input_len, self.horizon,
                           self._val_rows)
        self.input_len_, self.horizon_, self.season_ = (sizes.input_len, sizes.horizon,
                                                        sizes.season)
        if not sizes.validate:
            warnings.warn(AutoSizeWarning(
                f"the shortest series ({int(data.lengths.min())} rows) is too short for "
                f"input_len='auto' with a validation part of horizon={self.horizon_} rows: "
                f"training on every row with input_len={self.input_len_}, no validation "
                f"and no early stopping (all max_epochs={self.max_epochs})"), stacklevel=3)
        self.segment_len_ = self._segment_len()  # an integer one must fit the input
        return sizes.validate

    def _val_rows(self, n: int, horizon: int) -> int:
        """Validation rows of a series of ``n`` rows: ``val_size`` of them, and with
        ``"auto"`` sizes at least one horizon (else no window would validate)."""
        rows = int(part_rows(self.val_size, np.array([n]), "val_size")[0])
        return max(rows, horizon) if rows and self._auto() else rows

    def _split(self, data: SeriesData, validate: bool) -> Split:
        """Train and validation windows; with ``"auto"`` sizes each validation part
        holds at least one horizon where the series is long enough for it."""
        length, horizon = self.input_len_, self.horizon_
        val_size = self.val_size if validate else 0
        if not (self._auto() and validate):
            return chronological_split(data, length, horizon, val_size=val_size, test_size=0)
        borders = split_borders(data.lengths, val_size=val_size, test_size=0)
        n = data.lengths
        roomy = (n - horizon >= length + horizon) & (borders[:, 2] > borders[:, 1])
        borders[:, 1] = np.where(roomy, np.minimum(borders[:, 1], n - horizon), borders[:, 1])
        train = window_starts(data.offsets, length, horizon, target_to=borders[:, 1])
        val = window_starts(data.offsets, length, horizon, target_from=borders[:, 1],
                            target_to=borders[:, 2])
        if train.size == 0:
            raise DataError(f"no training window: every series' training part is shorter "
                            f"than input_len + horizon = {length + horizon} rows")
        return Split(train=train, val=val, test=val[:0], borders=borders)
