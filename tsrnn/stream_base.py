"""What every live stream shares (:class:`~tsrnn.streaming.AnomalyStream`, the
windowed one, and :class:`~tsrnn.stateful_stream.StatefulStream`): the forms of
input a user passes, the reading of a timestamp, a long frame's chunk scored
timestamp by timestamp, sensors that leave, and the state file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tsrnn.data import DataError
from tsrnn.data.frames import FLOAT32_MAX, columns_named
from tsrnn.data.time_axis import read_one_time, read_time_column

if TYPE_CHECKING:
    from tsrnn.detector import AnomalyDetector

__all__ = ["BaseStream"]


class BaseStream:
    """The part of a stream that does not depend on how it scores. A subclass
    holds ``detector``, ``_known`` (fitted id -> position), ``_settings`` (the
    detector's scoring settings when the stream was made) and ``_held`` (a dict
    keyed by the ids it holds state for, in order of arrival), and defines
    ``update``, ``_drop`` (forget one series), ``_plain_state`` and ``_restore``
    (its state for :mod:`tsrnn.stream_state`)."""

    detector: AnomalyDetector
    _known: dict
    _settings: dict  # the detector's scoring settings when the stream was made

    @property
    def _held(self) -> dict:
        raise NotImplementedError

    @property
    def series(self) -> list:
        """The ids of the series the stream holds state for, in order of arrival."""
        return list(self._held)

    def remove(self, *series) -> None:
        """Forget these series (a sensor taken out of service): their memory is
        returned; one that comes back starts afresh. An id the stream does not
        hold raises ``KeyError``, and then none is removed."""
        for sid in series:
            if sid not in self._held:
                raise KeyError(f"series {sid!r} is not in the stream")
        for sid in dict.fromkeys(series):
            self._drop(sid)

    def _drop(self, sid) -> None:
        raise NotImplementedError

    def _check_settings(self) -> None:
        """A stream's state was made under the detector's post-processing as it was
        when the stream was made (the smoothing's past scores, the likelihood's
        history, whether the drift correction runs): scoring on under other
        settings would mix the two, so an update after ``set_params`` is refused.
        (``threshold_`` and the score scales ``fit_threshold`` sets are read as
        they are now.)"""
        now = self.detector._scoring_settings()
        if now != self._settings:
            changed = [f"{k}={self._settings[k]!r} when the stream was made, now {now[k]!r}"
                       for k in now if now[k] != self._settings[k]]
            raise ValueError(f"the detector's scoring changed since this stream was made "
                             f"({'; '.join(changed)}): make a new one with "
                             "detector.stream(), or set them back")

    # ------------------------------------------------------------------ input
    def _rows(self, values, series) -> tuple[list, np.ndarray]:
        """``values`` in any of the forms ``update`` takes, as ``[S, F]`` rows
        (float64), with their series ids."""
        det = self.detector
        n_f = det.n_features_in_
        if isinstance(values, dict):
            if series is not None:
                raise ValueError("pass values as {series: value} or with series=, not both")
            series, values = list(values), list(values.values())
        try:
            rows = np.asarray(values, dtype=np.float64)
        except (ValueError, TypeError):
            raise DataError(f"values must be numbers, got {values!r}") from None
        if isinstance(series, str | bytes) or (series is not None and np.ndim(series) == 0):
            series = [series]  # one id, not a sequence of characters
        if rows.ndim == 0:
            rows = rows.reshape(1, 1)  # one value: one series, one target
        elif rows.ndim == 1:
            # One target: a value per series. Several: the targets of one series.
            rows = rows[:, None] if n_f == 1 else rows[None]
        if series is None:
            if rows.shape[0] != len(det.ids_):
                raise ValueError(f"got values for {rows.shape[0]} series: pass series= with "
                                 f"their ids (the detector was fitted on {len(det.ids_)})")
            series = det.ids_
        series = list(series)
        if rows.shape != (len(series), n_f):
            raise DataError(f"values: expected one value for each of the targets "
                            f"{det.target_names_} of each of {len(series)} series, shape "
                            f"[{len(series)}, {n_f}], got shape {list(rows.shape)}")
        big = np.isfinite(rows) & (np.abs(rows) > FLOAT32_MAX)
        if big.any():  # as batch scores refuse it; float32 would make it inf
            k, j = (int(i) for i in np.argwhere(big)[0])
            raise DataError(f"column {det.target_names_[j]!r} of {series_name(series[k])} "
                            f"holds {rows[k, j]:.3g}, beyond the range of float32 "
                            f"(±{FLOAT32_MAX:.3g}) in which tsrnn computes")
        self._check_new_ids(series)
        if len(series) > 1 and len(set(map(repr, series))) < len(series):
            twice = next(s for k, s in enumerate(series) if s in series[:k])
            raise DataError(f"series {twice!r} appears twice in one update: one point per "
                            "series and timestamp")
        return series, rows

    def _check_new_ids(self, series: list) -> None:
        """A new sensor's id must be of the kind the fitted ones are: ``0`` among
        ``'s0', 's1'`` is far more often a mistake (ids read as numbers) than a
        sensor."""
        new = [sid for sid in series if sid not in self._known and sid not in self._held]
        if new:  # (the common case, none, kept cheap)
            check_id_kinds(self.detector.ids_, new)

    def _time(self, timestamp):
        """The point's time in the detector's kind of time (see :func:`_as_time`).
        A naive time for a detector fitted on aware ones, or the reverse, is
        refused, as batch scores refuse it: it names no instant the model knows."""
        det = self.detector
        stamp = _as_time(timestamp, det.freq_, det.dayfirst_)
        if isinstance(stamp, pd.Timestamp) and (stamp.tz is None) != (det.time_zone_ is None):
            raise DataError(f"timestamp {timestamp} {'has no' if stamp.tz is None else 'has a'} "
                            f"timezone, but the detector's times were "
                            f"{'in ' + det.time_zone_ if det.time_zone_ else 'naive'}: refused "
                            "rather than guessed, as batch scores refuse it")
        return stamp

    def update_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """Score a chunk of a long frame: rows of many series and timestamps, taken in
        time order, one ``update`` per timestamp.

        Returns the ``score``, ``label``, ``ready`` and ``gap`` of every row, in the
        frame's order and index. A bad row raises ``DataError`` naming its time;
        the timestamps before it have been scored.
        """
        det = self.detector
        roles = det.roles_
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
        time_col, id_col = roles["time_col"], roles["id_col"]
        targets = columns_named(df, det.target_names_)
        if time_col is None:
            raise ValueError("the detector was fitted without a time column: pass points "
                             "to update() one timestamp at a time")
        missing = [c for c in (time_col, id_col, *targets) if c is not None and c not in df]
        if missing:
            raise DataError(f"the frame lacks column(s) {missing}; it has {list(df.columns)}")
        out = {name: np.zeros(len(df), dtype) for name, dtype in
               (("score", np.float64), ("label", np.int64), ("ready", bool), ("gap", bool))}
        if df.empty:
            return pd.DataFrame(out, index=df.index)
        stamps = frame_times(df[time_col], det.freq_, det.dayfirst_)
        times = stamps.to_numpy()
        if isinstance(det.freq_, pd.offsets.BaseOffset):
            times = pd.to_datetime(stamps).to_numpy()
        order = np.argsort(times, kind="stable")
        values = _numbers(df, targets)
        ids = df[id_col].to_numpy() if id_col is not None else None
        bounds = np.flatnonzero(times[order][1:] != times[order][:-1]) + 1
        for rows in np.split(order, bounds):
            result = self.update(stamps.iloc[rows[0]], values[rows],
                                 series=None if ids is None else list(ids[rows]))
            for name in out:
                out[name][rows] = getattr(result, name)
        return pd.DataFrame(out, index=df.index)

    def update(self, timestamp, values, series=None):
        raise NotImplementedError

    # ------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write the detector and every series' state to ``path``, atomically:
        :func:`tsrnn.streaming.load_stream` gives a stream that scores exactly as
        this one would have."""
        from tsrnn.stream_state import save_stream

        save_stream(path, self.detector, self.series, self._plain_state())

    @classmethod
    def load(cls, path) -> BaseStream:
        """:func:`tsrnn.streaming.load_stream`: the stream a file holds, of the class
        its detector streams with (whichever class this is called on)."""
        from tsrnn.stream_state import load_stream

        return load_stream(path)

    def _plain_state(self):
        raise NotImplementedError

    def _restore(self, series: list, state, path) -> None:
        raise NotImplementedError


def series_name(sid) -> str:
    """A series as messages name it: by its id, or "the series" for the one series
    of a detector fitted without ids (whose id is None), as batch scores name it."""
    return "the series" if sid is None else f"series {sid!r}"


def missing_value(col, sid, timestamp, fill) -> DataError:
    """The error for a NaN or inf a stream cannot fill: without ``fill="ffill"``,
    or before the series has a value to carry forward."""
    why = ("fill='ffill' has no earlier value of the series to carry forward" if fill == "ffill"
           else "fit with fill='ffill' to carry the last value forward")
    return DataError(f"column {col!r} of {series_name(sid)} is missing or infinite at "
                     f"{timestamp}; {why}")


def _numbers(df: pd.DataFrame, targets: list) -> np.ndarray:
    """``df[targets]`` as float64; a value that is not a number is named with its
    column and row (``update`` names it too, as it refuses its row's call)."""
    try:
        return df[targets].to_numpy(dtype=np.float64)
    except (ValueError, TypeError):
        for col in targets:
            numbers = pd.to_numeric(df[col], errors="coerce")
            bad = (numbers.isna() & df[col].notna()).to_numpy()
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise DataError(f"column {col!r} must hold numbers; row {df.index[k]!r} "
                                f"holds {df[col].iloc[k]!r}") from None
        raise


def check_id_kinds(fitted: list, new: list) -> None:
    """Refuse a ``new`` series id of another kind than the ``fitted`` ones (text or
    integers): ``0`` among ``'s0', 's1'`` is far more often a mistake (ids read as
    numbers) than a sensor. Batch scores and the stream apply the same rule."""
    kinds = {_id_kind(sid) for sid in fitted}
    if len(kinds) != 1 or None in fitted:
        return
    kind = kinds.pop()
    for sid in new:
        if _id_kind(sid) != kind:
            sid = sid.item() if isinstance(sid, np.generic) else sid  # 0, not np.int64(0)
            raise DataError(f"series {sid!r} is {_id_kind(sid)}, but the detector's "
                            f"series ids are {kind} (e.g. {fitted[0]!r})"
                            ": a new sensor needs an id of the same kind")


def _id_kind(sid) -> str:
    if isinstance(sid, str):
        return "text"
    if isinstance(sid, int | np.integer) and not isinstance(sid, bool):
        return "an integer"
    return type(sid).__name__


def frame_times(column: pd.Series, freq, dayfirst: bool | None) -> pd.Series:
    """A frame's time column as its points' timestamps, where the detector's times
    are dates and the column holds text: read as the batch reads it, in one format
    for the whole column (a day-first "13/01/2024" next to "12/01/2024", which
    read value by value would be December), as the training text was where it
    reads either way (``dayfirst``, the detector's ``dayfirst_``), a bad value
    named by its row. As it is otherwise: each point is checked by
    :func:`_as_time` (a number is refused there, not read as nanoseconds since
    1970)."""
    if not (isinstance(freq, pd.offsets.BaseOffset)
            and pd.api.types.infer_dtype(column, skipna=True) == "string"):
        return column
    return pd.Series(read_time_column(column, dayfirst), index=column.index,
                     name=column.name)


def _as_time(timestamp, freq, dayfirst: bool | None = None):
    """The point's time in the detector's kind of time: a date for a datetime fit
    (a bare number is refused: seconds, milliseconds or nanoseconds since 1970
    cannot be told apart; text that reads either way, "05/01/2024", is read as
    the training text was, ``dayfirst``), an integer step for an integer one."""
    if isinstance(timestamp, list | tuple | np.ndarray | pd.Index | pd.Series):
        raise DataError(f"timestamp must be one time, for every series of the call, got "
                        f"{type(timestamp).__name__} of {len(timestamp)}")
    if timestamp is None or (not isinstance(timestamp, str) and pd.isna(timestamp)):
        raise DataError(f"timestamp is missing ({timestamp!r})")
    if freq is None:
        return timestamp
    if isinstance(freq, int | np.integer):
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | np.integer):
            raise DataError(f"timestamp {timestamp!r} must be an integer step, as the "
                            "detector's times are")
        return timestamp
    if isinstance(timestamp, int | float | np.integer | np.floating):
        raise DataError(f"timestamp {timestamp!r} is a number, but the detector's times are "
                        "dates: pass a date (for epoch seconds, pd.Timestamp(t, unit='s'))")
    try:
        stamp = (read_one_time(timestamp, dayfirst) if isinstance(timestamp, str)
                 else pd.Timestamp(timestamp))
    except (ValueError, TypeError):
        raise DataError(f"timestamp {timestamp!r} is not a date") from None
    if stamp is pd.NaT:
        raise DataError(f"timestamp is missing ({timestamp!r})")
    return stamp
