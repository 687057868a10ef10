"""Calendar inputs: where each timestamp falls in its day, its week and its year.

Many sensor series repeat daily or weekly. A window of recent steps cannot tell
the 09:00 rise from an anomalous one unless the model also knows the hour, and a
window long enough to hold a whole day needs far more training data than the
hour does. Each cycle becomes two columns, the sine and cosine of its phase, so
23:59 and 00:00 sit side by side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["CYCLES", "calendar_features", "calendar_names", "calendar_row", "check_calendar",
           "resolve_calendar"]

# Cycle name -> its length. Day and week are the cycles of human activity that
# sub-daily and daily sensor data show; the year is the season of daily, weekly
# and monthly data (a forecaster's global model learns it across series).
CYCLES = {"day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7),
          "year": pd.Timedelta(days=365.2425)}
# The detector's "auto" looks at day and week only: one sensor's history rarely
# holds the two full years a yearly cycle would need.
DETECTOR_CYCLES = ("day", "week")
# A cycle is used only if the training data cover it this many times: with fewer,
# later phases would be ones the model never saw.
MIN_CYCLES = 2
_NEEDS_TIMESTAMPS = ("calendar features need timestamps, but the data have an integer "
                     "index: pass time_col, or calendar=None")


def calendar_names(cycles: Sequence[str]) -> list[str]:
    """Column names of the features, e.g. ``["day_sin", "day_cos"]``."""
    return [f"{c}_{f}" for c in cycles for f in ("sin", "cos")]


def calendar_features(times: pd.Index, cycles: Sequence[str]) -> np.ndarray:
    """``[len(times), 2 * len(cycles)]`` float32: sin and cos of each cycle's phase.

    The phase is read from the wall-clock time of each timestamp (its own timezone
    if it has one): human cycles follow local time.
    """
    if not cycles:
        return np.zeros((len(times), 0), dtype=np.float32)
    if not isinstance(times, pd.DatetimeIndex):
        raise ValueError(_NEEDS_TIMESTAMPS)
    seconds = (times.hour * 3600 + times.minute * 60 + times.second).to_numpy(np.float64)
    return _features(seconds, times.day_of_week.to_numpy(np.float64),
                     times.day_of_year.to_numpy(np.float64),
                     365.0 + times.is_leap_year.astype(np.float64), cycles)


def calendar_row(t: pd.Timestamp, cycles: Sequence[str]) -> np.ndarray:
    """The features of one timestamp, ``[2 * len(cycles)]``: what
    :func:`calendar_features` gives, without building an index (the stream's
    per-point cost)."""
    seconds = np.array([t.hour * 3600 + t.minute * 60 + t.second], dtype=np.float64)
    return _features(seconds, np.array([t.day_of_week], dtype=np.float64),
                     np.array([t.day_of_year], dtype=np.float64),
                     np.array([365.0 + t.is_leap_year]), cycles)[0]


def _features(seconds: np.ndarray, day_of_week: np.ndarray, day_of_year: np.ndarray,
              year_days: np.ndarray, cycles) -> np.ndarray:
    day = seconds / 86400.0
    columns = []
    for cycle in cycles:
        if cycle == "day":
            phase = day
        elif cycle == "week":
            phase = (day_of_week + day) / 7.0
        elif cycle == "year":
            phase = (day_of_year - 1 + day) / year_days
        else:
            raise ValueError(f"unknown calendar cycle {cycle!r}; known: {list(CYCLES)}")
        columns += [np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase)]
    if not columns:
        return np.zeros((len(seconds), 0), dtype=np.float32)
    return np.stack(columns, axis=1).astype(np.float32)


def check_calendar(calendar) -> tuple[str, ...] | None:
    """The cycles a ``calendar`` parameter names (None for ``"auto"``); a clear
    error for anything else."""
    if calendar is None:
        return ()
    if isinstance(calendar, str):
        if calendar == "auto":
            return None
        cycles = (calendar,)
    else:
        try:
            cycles = tuple(calendar)
        except TypeError:
            cycles = (calendar,)
    unknown = [c for c in cycles if not isinstance(c, str) or c not in CYCLES]
    if unknown or len(set(cycles)) != len(cycles):
        raise ValueError(f"calendar must be 'auto', None or cycles out of {list(CYCLES)} "
                         f"(each once), got {calendar!r}")
    return cycles


def resolve_calendar(calendar, times: pd.Index, offsets: np.ndarray, freq) -> tuple[str, ...]:
    """The cycles to use: ``calendar`` checked, or chosen from the data if ``"auto"``.

    ``"auto"`` takes each of day and week that is longer than the data's step (for
    frequencies without a fixed step, such as business days or months, the
    median spacing) and that the longest training series covers at least twice;
    none for data without timestamps.
    """
    cycles = check_calendar(calendar)
    if cycles is not None:
        if cycles and not isinstance(times, pd.DatetimeIndex):
            raise ValueError(_NEEDS_TIMESTAMPS)
        return cycles
    if not isinstance(times, pd.DatetimeIndex) or len(times) == 0:
        return ()
    bounds = [(a, b) for a, b in zip(offsets[:-1], offsets[1:], strict=True) if b > a]
    span = max(times[b - 1] - times[a] for a, b in bounds)
    step = _step(freq, times, bounds)
    return tuple(name for name in DETECTOR_CYCLES
                 if step is not None and step < CYCLES[name] and span >= MIN_CYCLES * CYCLES[name])


def _step(freq, times: pd.DatetimeIndex, bounds) -> pd.Timedelta | None:
    """The data's step: the fixed step of ``freq``, or for irregular data and
    calendar frequencies ("B", "MS") the median spacing of the timestamps."""
    if freq is not None:
        try:
            return pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
        except (TypeError, ValueError):
            pass
    # In nanoseconds whatever the index's own unit (pandas 3 may store seconds).
    gaps = [np.diff(times[a:b].as_unit("ns").asi8) for a, b in bounds if b - a > 1]
    if not gaps:
        return None
    return pd.Timedelta(int(np.median(np.concatenate(gaps))), unit="ns")
