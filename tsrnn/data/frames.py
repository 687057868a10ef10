"""DataFrames in: the one place where user input is validated.

`SeriesData.from_dataframe` turns a wide frame (one series), a long frame (many
series stacked, with an id column) or a pandas Series into one float32 array with
every series stacked row-wise. Every later step (windowing, splitting, scaling, the
estimators) works on that array and trusts it: no NaN, no inf, sorted unique
timestamps at a regular frequency, numeric columns only.
"""

from __future__ import annotations

import difflib
import numbers
import re
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd

from tsrnn.data.errors import DataError, _describe_row, _where
from tsrnn.data.time_axis import (
    _check_order,
    _check_regular,
    _default_time_col,
    _parse_times,
    _period_freq,
    _resample,
    _resolve_freq,
)

__all__ = ["DataError", "SeriesData", "check_length"]

# NeuralForecast's long format: series id, time, target.
_NEURALFORECAST = ("unique_id", "ds", "y")

Fill = Literal["ffill", "interpolate"]


@dataclass(frozen=True, eq=False)
class SeriesData:
    """Validated series, stacked row-wise in one float32 array.

    Build it with :meth:`from_dataframe`. Series ``i`` occupies rows
    ``offsets[i]:offsets[i + 1]`` of ``values``. Columns are ordered targets, then
    past covariates, then known-future covariates.

    Attributes
    ----------
    values
        ``[n_rows, n_features]`` float32, every value finite.
    offsets
        ``[n_series + 1]`` int64 row offsets of each series.
    times
        Timestamps of every row, aligned with ``values``: a ``DatetimeIndex``, or an
        integer ``Index`` for frames without timestamps.
    ids
        Series identifiers in order of first appearance; ``[None]`` for a wide frame.
    target_names, past_names, future_names
        Column names of each role, as strings.
    freq
        The frequency shared by every series: a pandas offset, or an integer step.
    time_col, id_col
        Where the timestamps and series ids came from (``None``: the index / a wide
        frame).
    rows
        ``[n_rows]`` position in the input frame of each stacked row, to put per-row
        results back in the frame's order; None after resampling.
    dayfirst
        How text timestamps were read: True day-first (``13/01/2024``), False
        month-first; None where they were not text, were text of one reading (ISO
        dates, month names), or were read value by value.
    """

    values: np.ndarray
    offsets: np.ndarray
    times: pd.Index
    ids: list
    target_names: tuple[str, ...]
    past_names: tuple[str, ...] = ()
    future_names: tuple[str, ...] = ()
    freq: pd.DateOffset | int | None = None
    time_col: Hashable | None = None
    id_col: Hashable | None = None
    rows: np.ndarray | None = None
    dayfirst: bool | None = None

    # ------------------------------------------------------------------ accessors
    @property
    def n_series(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Rows in each series, ``[n_series]``."""
        return np.diff(self.offsets)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """All column names, in the order of ``values``' columns."""
        return self.target_names + self.past_names + self.future_names

    @property
    def n_targets(self) -> int:
        return len(self.target_names)

    @property
    def target_columns(self) -> slice:
        return slice(0, self.n_targets)

    @property
    def future_columns(self) -> slice:
        return slice(self.values.shape[1] - len(self.future_names), self.values.shape[1])

    def series(self, i: int) -> np.ndarray:
        """Rows of series ``i`` as a view, ``[length_i, n_features]``."""
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def series_times(self, i: int) -> pd.Index:
        return self.times[self.offsets[i] : self.offsets[i + 1]]

    def series_name(self, i: int) -> str:
        """How error messages name series ``i``."""
        if self.id_col is None:
            return "the series"
        return f"series {self.ids[i]!r}"

    # ---------------------------------------------------------------- constructor
    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame | pd.Series,
        *,
        time_col: Hashable | None = None,
        id_col: Hashable | None = None,
        target: Hashable | Sequence[Hashable] | None = None,
        past_covariates: Sequence[Hashable] | None = None,
        future_covariates: Sequence[Hashable] | None = None,
        fill: Fill | None = None,
        freq: str | pd.DateOffset | int | None = None,
        resample: bool = False,
        dayfirst: bool | None = None,
    ) -> SeriesData:
        """Validate a wide or long DataFrame (or a Series) and stack its series.

        Parameters
        ----------
        df
            Wide: one series, with a ``DatetimeIndex``, a ``PeriodIndex`` or a time
            column, and numeric columns. Long: many series stacked, told apart by
            ``id_col``. Rows of one series need not be contiguous, but must be in
            time order. A pandas ``Series`` is one series: its index is the time
            axis (a ``DatetimeIndex``, a ``PeriodIndex`` or integers) and its name
            (``"y"`` when it has none) the target column.
        time_col
            Column holding the timestamps. Default: the ``DatetimeIndex`` or
            ``PeriodIndex`` if there is one, else the only datetime (or period)
            column, else a column called ``timestamp``, ``date``, ``datetime``,
            ``time`` or ``ds``, else the integer index (a frame without timestamps).
            Periods become the timestamps of their start, and their frequency is
            kept (``freq`` defaults to it: monthly periods give ``"MS"``).
        id_col
            Column identifying each series of a long frame. Default: a wide frame.
        target
            Column(s) to forecast or score. Default: every column that has no other
            role, except in a NeuralForecast long frame: one with columns
            ``unique_id``, ``ds`` and ``y`` is read with ``id_col="unique_id"``,
            ``time_col="ds"`` and ``target="y"`` (unless ``time_col`` or ``id_col``
            name other columns). Its other columns are left out with a
            ``UserWarning`` naming them, never made targets: pass them as
            ``past_covariates=`` or ``future_covariates=`` (or name every target
            with ``target=``) to use them.
        past_covariates
            Columns known only up to the present.
        future_covariates
            Columns known over the forecast horizon too (calendar features, plans).
        fill
            Missing values (NaN, and ``±inf``, which is treated as missing) raise by
            default. ``"ffill"`` carries the last value forward (and the first value
            backward over leading gaps); ``"interpolate"`` interpolates linearly in
            time. Both work within each series.
        freq
            The expected frequency. Default: inferred from the data. Series whose
            timestamps skip a step raise, naming the gap.
        resample
            Put every series on the regular ``freq`` grid instead of raising on
            gaps: values falling in one step are averaged (duplicate timestamps
            too), and empty steps become missing values, which ``fill`` must then
            handle.
        dayfirst
            How to read text timestamps that read either way (no day beyond 12):
            True day-first, else month-first. Text that reads only one way is
            read that way; estimators pass the reading of their training frame.

        Raises
        ------
        DataError
            For any of: an empty frame, a missing column, a non-numeric column,
            missing values, unsorted or duplicate timestamps, irregular spacing, or
            mixed timezone-aware and naive timestamps. The message names the column,
            series or row at fault.
        """
        from_series = isinstance(df, pd.Series)
        if from_series:
            df = _series_frame(df, time_col)
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame or Series, got {type(df).__name__}")
        if df.shape[0] == 0 or df.shape[1] == 0:
            raise DataError(f"the DataFrame is empty (shape {df.shape})")
        if fill not in (None, "ffill", "interpolate"):
            raise ValueError(f"fill must be None, 'ffill' or 'interpolate', got {fill!r}")
        if df.columns.has_duplicates:
            dup = df.columns[df.columns.duplicated()][0]
            raise DataError(f"column {dup!r} appears more than once")
        if isinstance(df.columns, pd.MultiIndex):
            raise DataError(f"the columns are a MultiIndex ({df.columns.nlevels} levels, e.g. "
                            f"{df.columns[0]!r}): flatten them to one name each, e.g. "
                            "df.columns = ['_'.join(map(str, c)) for c in df.columns]")
        if isinstance(df.index, pd.MultiIndex):
            raise DataError(f"the rows have a MultiIndex ({list(df.index.names)}): "
                            "df.reset_index() makes its levels columns; then name them with "
                            "time_col= and id_col=")

        _check_columns_exist(df, [c for c in (time_col, id_col) if c is not None])
        if target is None and (nf := _neuralforecast_roles(df, time_col, id_col)):
            time_col, id_col, target = nf
            _warn_left_out(df, nf, past_covariates, future_covariates)
        if time_col is None and not from_series:  # a Series' time axis is its index
            time_col = _default_time_col(df)
        times, positions, reading = _parse_times(df, time_col, dayfirst)
        if freq is None:
            freq = _period_freq(df, time_col)

        codes, ids = _series_codes(df, id_col)
        targets, past, future = _resolve_roles(df, time_col, id_col, target, past_covariates,
                                               future_covariates)

        # Rows of one series become contiguous; the stable sort keeps their order, so
        # unsorted timestamps are still caught below.
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(ids))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        times = times[order]
        positions = positions[order]
        columns = targets + past + future
        values = _numeric_values(df, columns)[order]  # [N, F], the one copy we make

        names = [str(c) for c in columns]
        # Resampling averages the values that fall in one step, duplicates included.
        _check_order(times, offsets, ids, id_col, positions, duplicates_ok=resample,
                     time_col=time_col)
        freq = _resolve_freq(times, offsets, freq)
        if resample:
            values, times, offsets = _resample(values, times, offsets, freq)
        else:
            _check_regular(times, offsets, ids, id_col, freq)
        values = _handle_missing(values, times, offsets, ids, id_col, names, positions, fill,
                                 resampled=resample)
        return cls(
            values=values,
            offsets=offsets,
            times=times,
            ids=ids,
            target_names=tuple(names[: len(targets)]),
            past_names=tuple(names[len(targets) : len(targets) + len(past)]),
            future_names=tuple(names[len(targets) + len(past) :]),
            freq=freq,
            time_col=time_col,
            id_col=id_col,
            rows=None if resample else positions,
            dayfirst=reading,
        )


def check_length(data: SeriesData, min_length: int, what: str = "input_len + horizon") -> None:
    """Raise `DataError` naming the first series shorter than ``min_length`` rows."""
    short = np.flatnonzero(data.lengths < min_length)
    if short.size:
        i = short[0]
        more = f" ({short.size} series in all are too short)" if short.size > 1 else ""
        raise DataError(
            f"{data.series_name(i)} has {data.lengths[i]} rows, fewer than "
            f"{what} = {min_length}{more}"
        )


def _check_columns_exist(df: pd.DataFrame, cols: Sequence[Hashable]) -> None:
    have = [str(c) for c in df.columns]
    for col in cols:
        if col not in df.columns:
            close = difflib.get_close_matches(str(col), have, n=1, cutoff=0.5)
            listed = f"columns: {have}"
            hint = f"did you mean {close[0]!r}? Its {listed}" if close else f"its {listed}"
            raise DataError(f"column {col!r} is not in the DataFrame; {hint}")


def _series_frame(series: pd.Series, time_col) -> pd.DataFrame:
    """A Series as a one-column frame: its index the time axis, its name the target."""
    if time_col is not None:
        raise DataError(f"a Series has no time column {time_col!r}: its index is its time "
                        "axis. Pass a DataFrame with that column, or leave time_col out")
    index = series.index
    if not (isinstance(index, pd.DatetimeIndex | pd.PeriodIndex | pd.MultiIndex)
            or pd.api.types.is_integer_dtype(index.dtype)):
        raise DataError(f"a Series' index is its time axis, and this one has dtype "
                        f"{index.dtype}: make it a DatetimeIndex (s.index = "
                        "pd.to_datetime(s.index)), a PeriodIndex or integers")
    return series.to_frame(name="y" if series.name is None else series.name)


def _neuralforecast_roles(df: pd.DataFrame, time_col, id_col) -> tuple | None:
    """``(time_col, id_col, target)`` of a NeuralForecast long frame whose target the
    user left out; None for any other frame."""
    id_name, time_name, target_name = _NEURALFORECAST
    if not all(c in df.columns for c in _NEURALFORECAST):
        return None
    if time_col not in (None, time_name) or id_col not in (None, id_name):
        return None
    return time_name, id_name, target_name


def _warn_left_out(df: pd.DataFrame, roles: tuple, past, future) -> None:
    """In a NeuralForecast frame only ``y`` is the target: say which columns that
    leaves out, rather than make them targets behind the user's back."""
    named = {*roles, *_as_list(past), *_as_list(future)}
    left = [c for c in df.columns if c not in named]
    if left:
        warnings.warn(
            f"a NeuralForecast-style frame (unique_id, ds, y): only 'y' is the target, so "
            f"columns {left} are left out. To use them pass past_covariates={left} (known "
            f"only up to the present) or future_covariates={left} (known over the horizon "
            f"too), or name every target with target=",
            UserWarning, stacklevel=4)


def _series_codes(df: pd.DataFrame, id_col) -> tuple[np.ndarray, list]:
    if id_col is None:
        return np.zeros(len(df), dtype=np.int64), [None]
    col = df[id_col]
    if col.isna().any():
        pos = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise DataError(f"id column {id_col!r} is missing at row {pos}")
    codes, uniques = pd.factorize(col, sort=False)  # order of first appearance
    return codes.astype(np.int64), list(uniques)


def _as_list(cols) -> list:
    if cols is None:
        return []
    if isinstance(cols, (str, bytes)) or not isinstance(cols, Sequence | pd.Index):
        return [cols]
    return list(cols)


def columns_named(df: pd.DataFrame, cols: list) -> list:
    """The columns named in ``cols``: a fitted model remembers its columns by their
    text (column ``0`` as ``'0'``), so a name that is not a column's label but is the
    text of exactly one column's label names that column."""
    found = []
    for col in cols:
        if col not in df.columns:
            same = [c for c in df.columns if str(c) == str(col)]
            col = same[0] if len(same) == 1 else col
        found.append(col)
    return found


def _resolve_roles(df, time_col, id_col, target, past, future) -> tuple[list, list, list]:
    past, future = columns_named(df, _as_list(past)), columns_named(df, _as_list(future))
    targets = columns_named(df, _as_list(target))
    _check_columns_exist(df, targets + past + future)
    taken = {c for c in (time_col, id_col) if c is not None}
    if not targets:
        targets = [c for c in df.columns if c not in taken and c not in past and c not in future]
        if not targets:
            raise DataError(f"no target column left: every column ({list(df.columns)}) is the "
                            "time or id column or a covariate; pass target=")
        for col in targets:
            if not _is_numeric(df[col].dtype):
                hint = ""
                if time_col is None and _holds_times(df[col]):
                    hint = f" If it holds the series' times, pass time_col={col!r}."
                elif id_col is None:
                    hint = f" If it identifies series, pass id_col={col!r}."
                raise _not_numeric(df, col, f".{hint} Otherwise drop it, or name the target "
                                            "columns with target=.")
    seen: dict = {}
    for role, cols in (("target", targets), ("past covariate", past),
                       ("future covariate", future)):
        for col in cols:
            if col in taken:
                raise DataError(f"column {col!r} is the time or id column and cannot be a {role}")
            if col in seen:
                if seen[col] == role:  # not "both a target and a target"
                    raise DataError(f"column {col!r} is named twice as a {role}")
                raise DataError(f"column {col!r} is both a {seen[col]} and a {role}")
            seen[col] = role
    return targets, past, future


# Numbers written with thousands separators ("4,862.48", "4.862,48", "12 345"), which
# pandas reads as text (its own thousands= would also merge a decimal "1,5" into 15).
_GROUPED_NUMBER = re.compile(r"[-+]?[1-9]\d{0,2}(?:([,.' ])\d{3})(?:\1\d{3})*(?:[.,]\d+)?")
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def _not_numeric(df: pd.DataFrame, col, advice: str = "") -> DataError:
    """The error for a column that is not numeric; it says so when it holds numbers
    as objects (or categories), or as text with thousands separators beside a decimal mark
    ("4,862.48"; "1,500" alone may be a decimal comma): no id column either way."""
    values = df[col].dropna()
    if len(values) and values.map(lambda v: isinstance(v, numbers.Real | Decimal)).all():
        return DataError(f"column {col!r} holds numbers, but with dtype {df[col].dtype}: "
                         f"convert it, e.g. df[{col!r}].astype(float)")
    if len(values) and values.map(lambda v: isinstance(v, str)).all():
        text = values.str.strip()
        plain = text.str.fullmatch(_PLAIN_NUMBER).to_numpy()
        grouped = text.str.fullmatch(_GROUPED_NUMBER).to_numpy() & ~plain
        if grouped.any() and (grouped | plain).all():
            k = int(np.argmax(grouped))
            row = int(np.flatnonzero(df[col].notna().to_numpy())[k])
            return DataError(f"column {col!r} holds numbers written with thousands "
                             f"separators, read as text: {text.iloc[k]!r} at row {row}. "
                             "Remove the separators (e.g. save the file without number "
                             "formatting)")
    return DataError(f"column {col!r} is not numeric (dtype {df[col].dtype}){advice}")


def _holds_times(column: pd.Series) -> bool:
    """Whether a text column reads as timestamps ("2024-01-05", "05/01/2024 10:00")."""
    text = column.dropna().astype(str).str.strip().head(50)
    if text.empty or text.str.fullmatch(_PLAIN_NUMBER).any():  # pandas reads "1,5" as a date
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": it is a guess anyway
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().all())


def _is_numeric(dtype) -> bool:
    return (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) and not (
        pd.api.types.is_complex_dtype(dtype)
    )


def _numeric_values(df: pd.DataFrame, columns: list) -> np.ndarray:
    for col in columns:
        if not _is_numeric(df[col].dtype):
            raise _not_numeric(df, col)
    # Nullable dtypes (Int64, Float64, boolean) carry pd.NA: turn it into NaN so that
    # the missing-value check below names it like any other gap.
    out = np.empty((len(df), len(columns)), dtype=np.float32)
    for j, col in enumerate(columns):
        column = df[col].to_numpy(dtype=np.float64, na_value=np.nan)
        _check_float32(col, column)
        out[:, j] = column
    return out


FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def _check_float32(col, column: np.ndarray) -> None:
    """Refuse values that float32, in which the networks compute, cannot hold: beyond
    its range (they would become inf), or so large against their own variation that
    rounding to float32's 7 digits erases it (a counter near 2**62 with a daily
    pattern would train on a constant)."""
    finite = column[np.isfinite(column)]
    if not finite.size:
        return
    big = np.abs(finite) > FLOAT32_MAX
    if big.any():
        row = int(np.flatnonzero(np.isfinite(column))[np.argmax(big)])
        raise DataError(f"column {col!r} holds {column[row]:.3g} at data row {row + 1}, beyond "
                        f"the range of float32 (±{FLOAT32_MAX:.3g}) in which tsrnn computes")
    # A constant column has no variation to lose (np.std of one repeated value that
    # binary cannot hold exactly, 21.3 say, is ~1e-17 of rounding, not a spread).
    spread = 0.0 if finite.max() == finite.min() else float(np.std(finite))
    if 0 < spread < FLOAT32_TINY:
        # Below it float32 keeps ever fewer digits, and the scaler takes such a
        # spread for none: the column would be scored as a constant.
        raise DataError(
            f"column {col!r} varies by {spread:.3g} (standard deviation), below float32's "
            f"smallest normal number ({FLOAT32_TINY:.3g}) in which tsrnn computes, so the "
            f"variation would be lost. Scale it first, e.g. df[{col!r}] / df[{col!r}].std()")
    resolution = float(np.spacing(np.float32(np.abs(finite).max())))
    if spread > 0 and resolution > spread / 10:
        raise DataError(
            f"column {col!r} varies by {spread:.3g} (standard deviation) around values as large "
            f"as {np.abs(finite).max():.3g}: float32, in which tsrnn computes, keeps 7 digits "
            f"(steps of {resolution:.3g} there), so the variation would be lost. Subtract an "
            f"offset first, e.g. df[{col!r}] - df[{col!r}].min()")


def _handle_missing(values, times, offsets, ids, id_col, names, positions, fill, resampled):
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    if fill is None:
        row, col = (int(i[0]) for i in np.nonzero(bad))
        code = int(np.searchsorted(offsets, row, side="right") - 1)
        kind = "missing" if np.isnan(values[row, col]) else f"infinite ({values[row, col]})"
        where = (f"at {times[row]}" if resampled
                 else f"at {_describe_row(positions[row], times[row])}")
        hint = " (a step that resampling left empty)" if resampled else ""
        raise DataError(
            f"column {names[col]!r} is {kind}{_where(ids, id_col, code)} {where}{hint}; "
            f"{int(bad.sum())} values in all are missing or infinite. "
            "Pass fill='ffill' or fill='interpolate' to fill them."
        )
    values = np.where(bad, np.nan, values)
    for code in range(len(offsets) - 1):
        rows = slice(offsets[code], offsets[code + 1])
        frame = pd.DataFrame(values[rows])
        empty = frame.columns[frame.isna().all()]
        if len(empty):
            raise DataError(
                f"column {names[empty[0]]!r} has no finite value{_where(ids, id_col, code)}: "
                "there is nothing to fill from"
            )
        if fill == "interpolate":
            frame = frame.interpolate(method="linear", limit_direction="both")
        else:
            frame = frame.ffill().bfill()
        values[rows] = frame.to_numpy(dtype=np.float32)
    return values
