"""The time axis of a frame: which column it is, parsing it (datetimes, integers,
periods, timezones), its order, its frequency, its gaps, and the regular grid that
resampling puts it on. Used by :meth:`tsrnn.data.SeriesData.from_dataframe`."""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable

import numpy as np
import pandas as pd

from tsrnn.data.errors import DataError, GapError, _where

# Column names we accept as the time column when the user names none.
_TIME_NAMES = ("timestamp", "date", "datetime", "time", "ds")


def _default_time_col(df: pd.DataFrame) -> Hashable | None:
    """None means: use the index."""
    if isinstance(df.index, pd.DatetimeIndex | pd.PeriodIndex):
        return None
    datetime_cols = [c for c in df.columns if isinstance(df[c].dtype, pd.DatetimeTZDtype
                                                         | pd.PeriodDtype)
                     or pd.api.types.is_datetime64_any_dtype(df[c].dtype)]
    if len(datetime_cols) == 1:
        return datetime_cols[0]
    if len(datetime_cols) > 1:
        raise DataError(f"several datetime columns {datetime_cols}: pass time_col= to pick one")
    lower = {str(c).lower(): c for c in df.columns}
    for name in _TIME_NAMES:
        if name in lower:
            return lower[name]
    return None

def _parse_times(df: pd.DataFrame, time_col, dayfirst: bool | None = None
                 ) -> tuple[pd.Index, np.ndarray, bool | None]:
    """Timestamps of every row, each row's position in ``df`` (for messages), and
    how text timestamps were read (True: day-first, False: month-first; None: not
    text, or text of one reading such as ISO dates), ``dayfirst`` where they
    read either way (see :func:`_reading`)."""
    positions = np.arange(len(df))
    if time_col is None:
        index = df.index
        if isinstance(index, pd.PeriodIndex):
            raw, label = pd.Series(index.to_timestamp(), index=positions), "the index"
        elif isinstance(index, pd.DatetimeIndex):
            raw, label = pd.Series(index, index=positions), "the index"
        elif pd.api.types.is_integer_dtype(index.dtype):
            return pd.Index(index.to_numpy(dtype=np.int64)), positions, None
        else:
            raise DataError(
                "no timestamps found: pass time_col=, use a DatetimeIndex, or an integer "
                f"index (the index has dtype {index.dtype})"
            )
    else:
        raw, label = df[time_col].reset_index(drop=True), f"time column {time_col!r}"
        # Before the dtype checks: a gap turns an integer column into floats (or
        # leaves pd.NA in a nullable one), and the message should name the row.
        _check_no_missing_time(raw, label)
        if isinstance(raw.dtype, pd.PeriodDtype):
            raw = raw.dt.to_timestamp()
        if pd.api.types.is_integer_dtype(raw.dtype):
            return pd.Index(raw.to_numpy(dtype=np.int64)), positions, None
        if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_float_dtype(raw.dtype):
            raise DataError(f"{label} has dtype {raw.dtype}; expected timestamps or integers")

    _check_no_missing_time(raw, label)
    if not (pd.api.types.is_datetime64_any_dtype(raw.dtype)
            or isinstance(raw.dtype, pd.DatetimeTZDtype)):
        _check_mixed_tz(raw, label)
        consistent, reading = read_in_one_format(raw, dayfirst, label)
        if consistent is not None:
            return pd.DatetimeIndex(consistent), positions, reading
        try:
            with warnings.catch_warnings():
                # pandas 2.x only warns about mixed UTC offsets (3.x raises): make
                # both take the branch below.
                warnings.simplefilter("error", FutureWarning)
                raw = pd.to_datetime(raw, format="mixed", dayfirst=bool(reading))
        except (ValueError, TypeError, FutureWarning) as exc:
            message = str(exc).lower()
            if any(word in message for word in ("timezone", "time zone", "offset")):
                # Every timestamp is aware (checked above), with several UTC offsets,
                # as local time across a DST change has: compare them in UTC.
                raw = pd.to_datetime(raw, format="mixed", utc=True, dayfirst=bool(reading))
            else:
                parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
                bad = np.flatnonzero(parsed.isna().to_numpy())
                pos = int(bad[0]) if bad.size else None
                where = f" at row {pos}: {raw.iloc[pos]!r}" if pos is not None else f": {exc}"
                raise DataError(f"{label} is not a timestamp{where}") from None
        if not pd.api.types.is_datetime64_any_dtype(raw.dtype):
            # Older pandas returns object dtype for mixed offsets instead of raising.
            raw = pd.to_datetime(raw, format="mixed", utc=True)
    return pd.DatetimeIndex(raw), positions, None

def read_time_column(column: pd.Series, dayfirst: bool | None = None) -> pd.Index:
    """One time column, read as :meth:`SeriesData.from_dataframe` reads it (a
    stream's chunk, say): its errors name the column and the row."""
    return _parse_times(column.to_frame(), column.name, dayfirst)[0]

def read_one_time(text: str, dayfirst: bool | None = None) -> pd.Timestamp:
    """One text time (a stream's point, a payload's), read as a column of such
    text would be (:func:`_reading`); pandas' ``ValueError`` where it is none."""
    parsed, _ = read_in_one_format(pd.Series([text]), dayfirst)
    return pd.Timestamp(text) if parsed is None else parsed.iloc[0]

def read_in_one_format(text: pd.Series, dayfirst: bool | None = None,
                       label: str = "the time text") -> tuple[pd.Series | None, bool | None]:
    """Text timestamps read with one format for the whole column (None where no
    one format reads them all: several formats, mixed UTC offsets, a bad
    value), and how they read (:func:`_reading`, whose errors name ``label``)."""
    reading = _reading(text, dayfirst, label)
    return _read_with(text, dayfirst=bool(reading)), reading

def _reading(text: pd.Series, dayfirst: bool | None, label: str) -> bool | None:
    """How text timestamps read: True day-first, False month-first; None for text
    with one reading (ISO dates, month names).

    Only text that starts with two numbers, day and month in some order
    ("13/01/2024 08:00", "01.13.24 11 PM"), reads two ways: day-first where no
    second number passes 12, month-first where no first one does. Where both
    hold (no day beyond 12), nothing in the text tells them apart: it reads as
    ``dayfirst`` says (an estimator passes its training frame's reading, so a
    later day of day-first text is read day-first), else month-first, pandas'
    reading. Value by value, "12/01/2024" would be December and "13/01/2024"
    January in one column; and pandas reads "2024-01-05" day-first as 1 May,
    so no other text is ever read day-first. Text that writes day and month
    both ways, or such dates beside other forms, is refused, naming two rows."""
    values = text.dropna()
    if (values.empty or not isinstance(values.iloc[0], str)
            or re.match(_TWO_NUMBERS_FIRST, values.iloc[0]) is None
            or pd.api.types.infer_dtype(values, skipna=True) != "string"):
        return None  # (an ISO column is not searched through: its first value tells)
    found = values.str.extract(_TWO_NUMBERS_FIRST)
    shaped = found[0].notna().to_numpy()
    if not shaped.all():
        a, b = int(np.argmax(shaped)), int(np.argmax(~shaped))
        raise DataError(f"{label} mixes date forms: {values.iloc[a]!r} (row {a}) and "
                        f"{values.iloc[b]!r} (row {b}); write every time one way (ISO "
                        "8601, '2024-01-13 08:00', reads one way only)")
    first, second = found[0].astype(int).to_numpy(), found[1].astype(int).to_numpy()
    if ((first > 12) & (second > 12)).any():
        return None  # no date at all ("13/13/2024"): the parser names its row
    day_first, month_first = bool((second <= 12).all()), bool((first <= 12).all())
    if day_first and (dayfirst or not month_first):
        return True
    if month_first:
        return False
    a, b = int(np.argmax(first > 12)), int(np.argmax(second > 12))
    raise DataError(f"{label} writes day and month both ways: {values.iloc[a]!r} (row {a}) "
                    f"is day-first, {values.iloc[b]!r} (row {b}) month-first")

# Two numbers of one or two digits, then a third: "13/01/2024", "1.13.24", "5-1-2024".
_TWO_NUMBERS_FIRST = r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d"

def _read_with(text: pd.Series, dayfirst: bool) -> pd.Series | None:
    try:
        with warnings.catch_warnings():
            # "could not infer format", "dayfirst=True with an ISO format": the
            # reading is judged by _reading, not by pandas' guesses.
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, dayfirst=dayfirst)
    except (ValueError, TypeError, OverflowError):
        return None
    return parsed if pd.api.types.is_datetime64_any_dtype(parsed.dtype) else None

def _period_freq(df: pd.DataFrame, time_col) -> pd.DateOffset | None:
    """The timestamp frequency of periods (monthly periods start at "MS"), so that it
    is kept rather than inferred; None when the times are not periods."""
    dtype = df.index.dtype if time_col is None else df[time_col].dtype
    if not isinstance(dtype, pd.PeriodDtype):
        return None
    start = df.index[0] if time_col is None else df[time_col].iloc[0]
    return pd.period_range(start, periods=3, freq=dtype.freq).to_timestamp().freq

def _check_no_missing_time(raw: pd.Series, label: str) -> None:
    if raw.isna().any():
        pos = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise DataError(f"{label} has a missing timestamp at row {pos}")

def _check_mixed_tz(raw: pd.Series, label: str) -> None:
    """Timezone-aware next to naive timestamps: pandas' own error names no row."""
    aware = np.array([_is_aware(x) for x in raw.to_numpy()])
    if aware.any() and not aware.all():
        first_aware = int(np.flatnonzero(aware)[0])
        first_naive = int(np.flatnonzero(~aware)[0])
        raise DataError(
            f"{label} mixes timezone-aware and naive timestamps: row {first_aware} "
            f"({raw.iloc[first_aware]}) has a timezone, row {first_naive} "
            f"({raw.iloc[first_naive]}) has none. Localize them all, or none."
        )

def _is_aware(x) -> bool:
    if isinstance(x, str):
        try:
            x = pd.Timestamp(x)
        except (ValueError, TypeError):
            return False
    return getattr(x, "tzinfo", None) is not None

def _ticks(times: pd.Index) -> np.ndarray:
    """Timestamps as int64 nanoseconds (integer times as they are)."""
    if isinstance(times, pd.DatetimeIndex):
        return times.as_unit("ns").asi8
    return times.to_numpy(dtype=np.int64)

def _check_order(times: pd.Index, offsets, ids, id_col, positions,
                 duplicates_ok: bool = False, time_col=None) -> None:
    t = _ticks(times)
    step = np.diff(t)
    inside = np.ones(len(step), dtype=bool)
    inside[offsets[1:-1] - 1] = False  # the step from one series into the next
    checks = [((step < 0) & inside, "unsorted")]
    if not duplicates_ok:
        checks.append(((step == 0) & inside, "duplicate"))
    for bad, what in checks:
        if bad.any():
            k = int(np.flatnonzero(bad)[0]) + 1
            code = int(np.searchsorted(offsets, k, side="right") - 1)
            where = _where(ids, id_col, code)
            if what == "unsorted":
                column = "the index" if time_col is None else repr(time_col)
                raise DataError(
                    f"timestamps in {column} are not sorted{where}: row {positions[k]} "
                    f"({times[k]}) comes after row {positions[k - 1]} ({times[k - 1]}). Sort "
                    "the frame by time first (or, if the text has mixed date formats such "
                    "as day-first and month-first, parse it yourself)."
                )
            raise DataError(
                f"duplicate timestamp {times[k]}{where}: rows {positions[k - 1]} and "
                f"{positions[k]}"
            )

def _resolve_freq(times: pd.Index, offsets, freq):
    datetime = isinstance(times, pd.DatetimeIndex)
    if freq is not None:
        if not datetime and isinstance(freq, pd.offsets.BaseOffset):  # a fitted model's, say
            raise DataError(f"the time column holds integers, but the frequency is one of "
                            f"dates ({freq.freqstr!r}; a model fitted on dates scores dates)")
        kind = "a pandas frequency such as '5min' or 'h'" if datetime else \
            "an integer step, as the time column holds integers"
        try:
            step = pd.tseries.frequencies.to_offset(freq) if datetime else int(freq)
        except (ValueError, TypeError):
            raise ValueError(f"freq={freq!r} is not {kind}") from None
        # 2.5 was read as 2; a step of 0 failed inside pandas ("range() arg 3 must not
        # be zero"), and a negative one as a gap at every step.
        if not datetime and not isinstance(freq, str) and step != freq:
            raise ValueError(f"freq={freq!r} is not {kind}")
        if (step.n if datetime else step) <= 0:
            raise ValueError(f"freq={freq!r} is not a step forward in time")
        return step
    if datetime:
        # pandas names calendar frequencies ("MS", "B") that no fixed step can, but
        # it gives up on a whole series with one gap. So vote over short runs taken
        # across every series: a gap spoils only the runs that straddle it.
        votes: dict = {}
        for t in _short_runs(times, offsets):
            with warnings.catch_warnings():
                # pandas 3.1 warns that infer_freq will return an offset, not a
                # string; to_offset below takes either.
                warnings.simplefilter("ignore")
                inferred = pd.infer_freq(t)
            if inferred is not None:
                key = pd.tseries.frequencies.to_offset(inferred).freqstr
                votes[key] = votes.get(key, 0) + 1
        if votes:
            return pd.tseries.frequencies.to_offset(max(votes, key=votes.get))
    # Irregular data: the most common step is the intended one, the rest are gaps.
    steps = np.diff(_ticks(times))[_inside_steps(offsets)]
    steps = steps[steps > 0]
    if steps.size == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    if datetime:
        return pd.tseries.frequencies.to_offset(pd.Timedelta(int(values[np.argmax(counts)]),
                                                             unit="ns"))
    return int(values[np.argmax(counts)])

def _short_runs(times: pd.DatetimeIndex, offsets, run: int = 5, most: int = 64):
    """Up to ``most`` runs of ``run`` consecutive timestamps, spread over all series."""
    starts = [np.arange(offsets[i], offsets[i + 1] - run + 1) for i in range(len(offsets) - 1)]
    starts = np.concatenate(starts) if starts else np.empty(0, dtype=np.int64)
    if starts.size == 0:  # every series is shorter than a run: use each whole
        return [times[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)
                if offsets[i + 1] - offsets[i] >= 3]
    pick = starts[np.linspace(0, starts.size - 1, min(most, starts.size)).astype(np.int64)]
    return [times[k : k + run] for k in pick]

def _inside_steps(offsets) -> np.ndarray:
    inside = np.ones(offsets[-1] - 1, dtype=bool)
    inside[offsets[1:-1] - 1] = False
    return inside

def _expected_times(t0, n: int, freq) -> pd.Index:
    if isinstance(freq, int):
        return pd.Index(t0 + freq * np.arange(n, dtype=np.int64))
    return pd.date_range(t0, periods=n, freq=freq)

def _check_regular(times, offsets, ids, id_col, freq) -> None:
    if freq is None:
        return
    candidates = range(len(offsets) - 1)
    if isinstance(freq, int | pd.offsets.Tick):
        # Fixed steps: one vectorised pass finds the series with a gap, if any.
        t = _ticks(times)
        step = freq if isinstance(freq, int) else freq.nanos
        bad = np.flatnonzero((np.diff(t) != step) & _inside_steps(offsets))
        candidates = np.searchsorted(offsets, bad[:1] + 1, side="right") - 1
    for code in candidates:
        t = times[offsets[code] : offsets[code + 1]]
        if len(t) < 2:
            continue
        expected = _expected_times(t[0], len(t), freq)
        mismatch = np.flatnonzero(np.asarray(expected != t))
        if mismatch.size:
            k = int(mismatch[0])
            freq_name = freq if isinstance(freq, int) else freq.freqstr
            if k == 0:  # off the frequency's own grid: month ends for 'MS', say
                raise GapError(
                    f"irregular timestamps{_where(ids, id_col, code)}: the first, {t[0]}, "
                    f"is not a step of the frequency {freq_name!r} (whose next step is "
                    f"{expected[0]})",
                    "Pass the data's own frequency as freq=, or resample=True to put the "
                    "series on this one's grid."
                )
            if t[k] < expected[k]:  # not a gap: steps finer than the frequency
                raise GapError(
                    f"irregular timestamps{_where(ids, id_col, code)}: {t[k - 1]} then "
                    f"{t[k]}, sooner than the frequency {freq_name!r} allows (expected "
                    f"{expected[k]})",
                    "If the data are sampled more finely than that (a model fitted on "
                    "other data), resample them to it first; else pass freq= if the "
                    "frequency was inferred wrongly."
                )
            raise GapError(
                f"irregular timestamps{_where(ids, id_col, code)}: a gap from {t[k - 1]} to "
                f"{t[k]}, where the frequency is {freq_name!r} (expected {expected[k]})",
                "Pass resample=True (with fill=) to put the series on a regular grid, "
                "or freq= if the frequency was inferred wrongly."
            )

def _resample(values, times, offsets, freq):
    if freq is None:
        return values, times, offsets
    parts, stamps, counts = [], [], []
    for code in range(len(offsets) - 1):
        rows = slice(offsets[code], offsets[code + 1])
        frame = pd.DataFrame(values[rows], index=times[rows])
        if isinstance(freq, int):
            grid = pd.Index(np.arange(times[rows][0], times[rows][-1] + 1, freq))
            frame = frame.groupby((frame.index - grid[0]) // freq * freq + grid[0]).mean()
            frame = frame.reindex(grid)
        else:
            frame = frame.resample(freq).mean()
        parts.append(frame.to_numpy(dtype=np.float32))
        stamps.append(frame.index)
        counts.append(len(frame))
    new_times = stamps[0].append(stamps[1:]) if len(stamps) > 1 else stamps[0]
    new_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return np.concatenate(parts), new_times, new_offsets
