"""A forecaster's calendar inputs: the cycles its data's frequency calls for, fed
to the network as known-future covariates (the calendar of the horizon is known).

The rule for ``calendar="auto"``: the (at most) two shortest of the cycles day,
week and year that are longer than one step of the data's frequency.

==================  ================
step                cycles
==================  ================
under a day         day, week
a day               week, year
a week, a month,    year
a quarter
a year or more      none
integer times       none
==================  ================

The columns are sine and cosine of each cycle's phase (:mod:`tsrnn.data.calendar`),
already in [-1, 1]: they are not scaled, and are never columns of the user's frame.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tsrnn.data import SeriesData
from tsrnn.data.calendar import CYCLES, calendar_features, calendar_names, check_calendar

__all__ = ["forecast_cycles", "horizon_calendar", "pad_stats", "with_calendar",
           "without_calendar"]


def forecast_cycles(calendar, freq) -> tuple[str, ...]:
    """The cycles of a ``calendar`` parameter (``"auto"``, None or cycle names) for
    data at ``freq`` (a pandas offset; an integer or None: integer times)."""
    cycles = check_calendar(calendar)
    integer_times = freq is None or isinstance(freq, int | np.integer)
    if cycles is not None:
        if cycles and integer_times:
            raise ValueError("calendar features need timestamps, but the data have an "
                             "integer index: pass time_col, or calendar=None")
        return cycles
    if integer_times:
        return ()
    from tsrnn.auto import _step

    step = _step(freq)
    # A week is just under 7 days in no calendar, but a month is 28-31: compare with a
    # little room so that a month never counts as longer than itself.
    return tuple(name for name, length in CYCLES.items() if step < 0.99 * length)[:2]


def with_calendar(data: SeriesData, cycles: tuple[str, ...]) -> SeriesData:
    """``data`` with the calendar columns of ``cycles`` appended as its last
    known-future covariates (``data`` itself without cycles)."""
    if not cycles:
        return data
    features = calendar_features(data.times, cycles).astype(data.values.dtype)  # [N, 2C]
    return dataclasses.replace(data, values=np.concatenate([data.values, features], axis=1),
                               future_names=(*data.future_names, *calendar_names(cycles)))


def without_calendar(data: SeriesData, cycles: tuple[str, ...]) -> SeriesData:
    """What :func:`with_calendar` added, taken off again."""
    if not cycles:
        return data
    n = len(calendar_names(cycles))
    return dataclasses.replace(data, values=data.values[:, :-n],
                               future_names=data.future_names[:-n])


def pad_stats(loc: np.ndarray, spread: np.ndarray,
              cycles: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Scaling statistics ``[S, F]`` of the user's columns, extended by location 0
    and spread 1 for the calendar columns (which are not scaled)."""
    n = len(calendar_names(cycles))
    pad = np.zeros((loc.shape[0], n), dtype=loc.dtype)
    return np.concatenate([loc, pad], axis=1), np.concatenate([spread, pad + 1], axis=1)


def horizon_calendar(times: list[pd.DatetimeIndex], cycles: tuple[str, ...]) -> np.ndarray:
    """``[S, T, 2C]`` float32: the calendar columns of each series' ``T`` times (its
    horizon steps, or its context's)."""
    return np.stack([calendar_features(t, cycles) for t in times])
