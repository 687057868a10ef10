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

from typing import NamedTuple

import numpy as np
import pandas as pd

from tsrnn.data import DataError

__all__ = ["AUTO", "AutoSizeWarning", "AutoSizes", "auto_sizes", "frequency_rule"]

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
                    f"= {h + least} rows). Pass integers: a shorter horizon, or input_len")
