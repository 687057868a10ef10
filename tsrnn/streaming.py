"""`AnomalyStream`: score live points one at a time with a fitted
:class:`~tsrnn.AnomalyDetector`, in bounded time and memory per point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import torch

from tsrnn.data import DataError
from tsrnn.data.calendar import calendar_names, calendar_row

if TYPE_CHECKING:
    from tsrnn.detector import AnomalyDetector

__all__ = ["AnomalyStream", "StreamResult"]


class StreamResult(NamedTuple):
    """What :meth:`AnomalyStream.update` returns, one entry per series updated.

    Attributes
    ----------
    series
        Series ids, in the order given.
    score
        Scores (0 while a series is warming up, unless the value is out of range).
    label
        0/1 labels: the score above the threshold, as :meth:`AnomalyDetector.predict`.
    ready
        False while a series has seen fewer than ``window`` points (``window + 1``
        for forecast scores) since its start or its last gap.
    gap
        True where this point came after a gap in the timestamps: the series'
        history was cleared, since a window must not span a gap.
    """

    series: list
    score: np.ndarray
    label: np.ndarray
    ready: np.ndarray
    gap: np.ndarray


class AnomalyStream:
    """Score live points one at a time, in bounded time and memory.

    Each series keeps only its last ``window`` points (scaled), so a point costs one
    forward pass over one window (per ensemble member), however long the stream
    runs. For ranking scores it also keeps its last ``smoothing`` errors; with
    ``alerts=True``, its last ``likelihood_history`` averaged errors (running
    sums: O(1) per point), its recent peaks for the ``cooldown`` and its range.
    Points of many series that arrive together are scored in one batch. The scores equal
    ``detector.decision_function(df, online=True)`` on the same data.

    Awkward input, documented:

    - a timestamp at or before the series' last one (out of order, duplicate)
      raises ``DataError`` and changes nothing;
    - a gap (a timestamp further than one step of the fitted frequency) clears the
      series' window and flags ``gap``: it warms up again (the likelihood's
      history, the series' error distribution, carries on);
    - NaN or inf raise ``DataError``, unless the detector was fitted with
      ``fill="ffill"``, which carries the series' last value forward (as the
      batch scores do); a carried value is inside the range check's range;
    - a timestamp in another timezone than the training data's is read in the
      training one for the calendar inputs; a naive one for a detector fitted on
      aware times (or the reverse) is refused, as in batch scores;
    - a value out of range is flagged (score and label) even while the series'
      window warms up, as in the batch scores;
    - a bare number as the timestamp of a datetime detector is refused (seconds,
      milliseconds and nanoseconds since 1970 look alike), as are a series listed
      twice in one call and values that are not numbers; a single id may be given
      as ``series="A"``.
    """

    def __init__(self, detector: AnomalyDetector):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(detector, "net_")
        self.detector = detector
        self._forecast = detector.score == "forecast"
        self._keep = detector.window + (1 if self._forecast else 0)
        self._known = detector._series_positions()
        self._state: dict = {}  # series id -> its state (see _new_state)

    @property
    def series(self) -> list:
        """The ids of the series the stream holds state for, in order of arrival."""
        return list(self._state)

    def _new_state(self, sid) -> dict:
        """A series' state: its last ``window`` (+1) input rows, how many of them are
        filled since its start or last gap, its last time, its scaling, its score
        filter, range watch and error scale. A series unseen at fit has no scaling
        yet: its rows are kept raw in ``warmup`` until there are enough to fit it."""
        det = self.detector
        i = self._known.get(sid)
        n_inputs = det.n_features_in_ + len(calendar_names(det.calendar_))
        return {"buffer": np.zeros((self._keep, n_inputs), np.float32), "count": 0,
                "last": None,
                "loc": None if i is None else np.asarray(det.scaler_loc_[i], np.float64),
                "spread": None if i is None else np.asarray(det.scaler_spread_[i], np.float64),
                "filter": det._score_filter(i), "watch": det._range_watch(i),
                "scale": np.asarray(det._error_scale_of(i, online=True), np.float64),
                "warmup": None if i is not None else []}

    def remove(self, *series) -> None:
        """Forget these series (a sensor taken out of service): their memory is
        returned; one that comes back starts afresh."""
        for sid in series:
            if sid not in self._state:
                raise KeyError(f"series {sid!r} is not in the stream")
            del self._state[sid]

    def _rows(self, values, series) -> tuple[list, np.ndarray]:
        """``values`` in any of the forms :meth:`update` takes, as ``[S, F]`` rows,
        with their series ids."""
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
        self._check_new_ids(series)
        if len(set(map(repr, series))) < len(series):
            twice = next(s for k, s in enumerate(series) if s in series[:k])
            raise DataError(f"series {twice!r} appears twice in one update: one point per "
                            "series and timestamp")
        return series, rows

    def _check_new_ids(self, series: list) -> None:
        """A new sensor's id must be of the kind the fitted ones are: ``0`` among
        ``'s0', 's1'`` is far more often a mistake (ids read as numbers) than a
        sensor."""
        kinds = {_id_kind(sid) for sid in self.detector.ids_}
        if len(kinds) != 1 or None in self.detector.ids_:
            return
        kind = kinds.pop()
        for sid in series:
            if sid not in self._known and sid not in self._state and _id_kind(sid) != kind:
                raise DataError(f"series {sid!r} is {_id_kind(sid)}, but the detector's "
                                f"series ids are {kind} (e.g. {self.detector.ids_[0]!r})"
                                ": a new sensor needs an id of the same kind")

    def update(self, timestamp, values, series: Sequence | None = None) -> StreamResult:
        """Add one point per series and score it.

        Parameters
        ----------
        timestamp
            The points' time (one for all series in this call).
        values
            A number (a one-series, one-target detector); ``[F]``, the targets of
            one series (or, for a one-target detector, ``[S]``: a value per series);
            ``[S, F]``: one row per series in ``series``; or a dict
            ``{series id: value or [F]}``.
        series
            Series ids of the rows; default: every fitted series in fit order (the
            single series of a wide fit). A series unseen at fit joins here: it is
            scaled by its own first points (see :class:`AnomalyStream`).
        """
        det = self.detector
        series, values = self._rows(values, series)
        stamp = _as_time(timestamp, det.freq_)
        if isinstance(stamp, pd.Timestamp) and (stamp.tz is None) != (det.time_zone_ is None):
            raise DataError(f"timestamp {timestamp} {'has no' if stamp.tz is None else 'has a'} "
                            f"timezone, but the detector's times were "
                            f"{'in ' + det.time_zone_ if det.time_zone_ else 'naive'}: refused "
                            "rather than guessed, as batch scores refuse it")
        fresh = [sid for sid in series if sid not in self._state]
        states = [self._state.get(sid) or self._new_state(sid) for sid in series]
        gap = np.zeros(len(series), dtype=bool)
        for k, (sid, st) in enumerate(zip(series, states, strict=True)):  # validate first
            last = st["last"]
            try:
                stale = last is not None and stamp <= last
            except TypeError:  # tz-aware against naive: pandas cannot order them
                raise DataError(f"timestamp {timestamp} for series {sid!r} and its last one "
                                f"({last}) disagree on having a timezone") from None
            if stale:
                raise DataError(f"timestamp {timestamp} for series {sid!r} is not after its "
                                f"last one ({last}): out of order or duplicate")
            if last is not None and det.freq_ is not None and stamp != last + det.freq_:
                gap[k] = True
            bad = ~np.isfinite(values[k])
            if bad.any() and (det.fill != "ffill" or st["count"] == 0):
                col = det.target_names_[int(np.flatnonzero(bad)[0])]
                raise DataError(f"column {col!r} of series {sid!r} is missing or infinite "
                                f"at {timestamp}; fit with fill='ffill' to carry the last "
                                "value forward")
        for sid, st in zip(series, states, strict=True):
            if sid in fresh:  # only now: a refused update changes nothing
                self._state[sid] = st
        n_f = det.n_features_in_
        calendar = (calendar_row(det._local(stamp), det.calendar_) if det.calendar_
                    else np.zeros(0))
        windows, nexts, ready = [], [], np.zeros(len(series), dtype=bool)
        breach = np.zeros(len(series), dtype=bool)
        for k, st in enumerate(states):
            buffer, count, watch = st["buffer"], st["count"], st["watch"]
            if gap[k]:
                count = 0
            if watch is not None:
                # float32 values, as batch compares (a carried-forward one, NaN or
                # inf, is missing to the range check)
                breach[k] = watch.update(values[k].astype(np.float32))
            scaled = st["warmup"] is None
            row = (values[k] - st["loc"]) / st["spread"] if scaled else values[k]
            if not np.isfinite(row).all():  # fill="ffill": the last (scaled) value
                row = np.where(np.isfinite(row), row, buffer[-1, :n_f])
            buffer[:-1] = buffer[1:]  # bounded: a shift of `window` rows
            buffer[-1, :n_f] = row
            buffer[-1, n_f:] = calendar
            st["count"], st["last"] = min(count + 1, self._keep), stamp
            if not scaled:
                self._warm_up(st, row)
            ready[k] = st["warmup"] is None and st["count"] >= self._keep
            if ready[k]:
                if self._forecast:
                    windows.append(buffer[:-1])
                    nexts.append(buffer[-1])
                else:
                    windows.append(buffer)
        score = np.zeros(len(series))
        if windows:
            batch = torch.from_numpy(np.stack(windows).astype(np.float32))
            if self._forecast:
                err = det._window_errors(batch, torch.from_numpy(np.stack(nexts)
                                                                 .astype(np.float32)))
            else:
                err = det._window_errors(batch)[:, -1]  # the newest step
            scale = np.stack([st["scale"] for st, r in zip(states, ready, strict=True) if r])
            score[ready] = (err.numpy() / scale).mean(axis=1)
        score = np.array([st["filter"].update(float(score[k]), bool(ready[k]), bool(breach[k]))
                          for k, st in enumerate(states)])
        # As predict(): a range breach is an anomaly even while the window warms up.
        label = (score > det.threshold_).astype(np.int64)
        return StreamResult(series, score, label, ready, gap)

    def _warm_up(self, st: dict, row: np.ndarray) -> None:
        """An unseen series' raw row; with enough of them, its scaling is fitted (as
        batch scores fit it on the same first rows) and its window scaled."""
        st["warmup"].append(np.array(row, np.float64))
        if len(st["warmup"]) < self.detector._warmup:
            return
        from tsrnn.data.scaling import fit_stats

        loc, spread = fit_stats(np.stack(st["warmup"]), self.detector.scaler)
        n_f = self.detector.n_features_in_
        st["buffer"][:, :n_f] = (st["buffer"][:, :n_f] - loc) / spread
        st["loc"], st["spread"], st["warmup"] = loc, spread, None

    def update_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """Score a chunk of a long frame: rows of many series and timestamps, taken in
        time order, one :meth:`update` per timestamp.

        Returns the ``score``, ``label``, ``ready`` and ``gap`` of every row, in the
        frame's order and index. A bad row raises ``DataError`` naming its time;
        the timestamps before it have been scored.
        """
        det = self.detector
        roles = det.roles_
        time_col, id_col, targets = roles["time_col"], roles["id_col"], det.target_names_
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
        if time_col is None:
            raise ValueError("the detector was fitted without a time column: pass points "
                             "to update() one timestamp at a time")
        missing = [c for c in (time_col, id_col, *targets) if c is not None and c not in df]
        if missing:
            raise DataError(f"the frame lacks column(s) {missing}; it has {list(df.columns)}")
        times = df[time_col].to_numpy()
        if isinstance(det.freq_, pd.offsets.BaseOffset):
            times = pd.to_datetime(df[time_col]).to_numpy()
        order = np.argsort(times, kind="stable")
        values = df[targets].to_numpy(dtype=np.float64)
        ids = df[id_col].to_numpy() if id_col is not None else None
        out = {name: np.zeros(len(df), dtype) for name, dtype in
               (("score", np.float64), ("label", np.int64), ("ready", bool), ("gap", bool))}
        bounds = np.flatnonzero(times[order][1:] != times[order][:-1]) + 1
        for rows in np.split(order, bounds):
            result = self.update(df[time_col].iloc[rows[0]], values[rows],
                                 series=None if ids is None else list(ids[rows]))
            for name in out:
                out[name][rows] = getattr(result, name)
        return pd.DataFrame(out, index=df.index)

    # ------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write the detector and every series' state to ``path``, atomically:
        :meth:`load` gives a stream that scores exactly as this one would have."""
        from tsrnn import persistence
        from tsrnn.files import atomic_write
        from tsrnn.model_checks import checksum
        from tsrnn.stream_state import to_plain

        payload = {"format": STREAM_FORMAT, "format_version": 1,
                   "model": persistence.payload_of(self.detector),
                   "series": persistence._plain(list(self._state), "series ids"),
                   "state": [to_plain(st) for st in self._state.values()]}
        payload["checksum"] = checksum(payload)
        with atomic_write(path, "wb") as f:
            torch.save(payload, f)

    @classmethod
    def load(cls, path) -> AnomalyStream:
        """The stream :meth:`save` wrote, with its detector; the file is read with
        ``weights_only=True`` and checked (format, checksum, every series' state
        against the detector's shapes) before it is used."""
        from tsrnn import persistence
        from tsrnn.detector import AnomalyDetector
        from tsrnn.model_checks import checksum
        from tsrnn.stream_state import from_plain

        what = "stream state file"
        payload = persistence.load_file(path, what)
        if not isinstance(payload, dict) or payload.get("format") != STREAM_FORMAT:
            raise ValueError(f"{path} is not a tsrnn {what}")
        if payload.get("format_version") != 1:
            raise ValueError(f"{path}: stream state format {payload.get('format_version')!r} "
                             "is not one this tsrnn reads")
        try:
            intact = payload.get("checksum") == checksum(payload)
        except (ValueError, RecursionError):
            intact = False
        if not intact:
            raise ValueError(f"{path} is damaged: its content does not match its checksum")
        model = persistence.build(AnomalyDetector, persistence.verify(payload.get("model"),
                                                                      path), path)
        stream = cls(model)
        series, states = payload.get("series"), payload.get("state")
        if not isinstance(series, list) or not isinstance(states, list) or \
                len(series) != len(states):
            raise ValueError(f"{path} is damaged: its series and their states do not match")
        for sid, plain in zip(series, states, strict=True):
            where = f"{path}: series {sid!r}"
            template = stream._new_state(sid)
            state = from_plain(plain, template, where)
            _check_state(state, template, where)
            stream._state[sid] = state
        return stream


STREAM_FORMAT = "tsrnn-stream"


def _id_kind(sid) -> str:
    if isinstance(sid, str):
        return "text"
    if isinstance(sid, int | np.integer) and not isinstance(sid, bool):
        return "an integer"
    return type(sid).__name__


def _check_state(state, template: dict, where: str) -> None:
    """A loaded series state has the parts, sizes and values a fresh one would."""
    if not isinstance(state, dict) or set(state) != set(template):
        raise ValueError(f"{where}: not a series state")
    if not isinstance(state["count"], int) or not 0 <= state["count"] <= len(state["buffer"]):
        raise ValueError(f"{where}: count {state['count']!r} is out of range")
    n_f = len(template["scale"])
    for name in ("loc", "spread"):
        value = state[name]
        if value is None and state["warmup"] is not None:
            continue
        if not isinstance(value, np.ndarray) or value.shape != (n_f,) or \
                not np.isfinite(value).all() or (name == "spread" and (value <= 0).any()):
            raise ValueError(f"{where}: its scaling {name} is not {n_f} finite numbers"
                             + (" > 0" if name == "spread" else ""))
    warmup = state["warmup"]
    if warmup is not None and (not isinstance(warmup, list) or any(
            not isinstance(r, np.ndarray) or r.shape != (n_f,) for r in warmup)):
        raise ValueError(f"{where}: its warm-up rows are not rows of {n_f} values")
    if not isinstance(state["last"], pd.Timestamp | int | type(None)):
        raise ValueError(f"{where}: its last time is not a time")


def _as_time(timestamp, freq):
    """The point's time in the detector's kind of time: a date for a datetime fit
    (a bare number is refused: seconds, milliseconds or nanoseconds since 1970
    cannot be told apart), an integer step for an integer one."""
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
        stamp = pd.Timestamp(timestamp)
    except (ValueError, TypeError):
        raise DataError(f"timestamp {timestamp!r} is not a date") from None
    if stamp is pd.NaT:
        raise DataError(f"timestamp is missing ({timestamp!r})")
    return stamp
