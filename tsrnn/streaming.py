"""`AnomalyStream`: score live points one at a time with a fitted
:class:`~tsrnn.AnomalyDetector`, in bounded time and memory per point.

:func:`load_stream` is the one way to read a stream state file back
(``stream.save(path)`` wrote it): it returns the stream its detector makes,
this windowed one or, for a detector fitted with ``stateful=True``, a
:class:`~tsrnn.stateful_stream.StatefulStream`. ``AnomalyStream.load`` is the
same function, kept for the files and callers that predate the stateful stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import torch

from tsrnn.data import DataError
from tsrnn.data.calendar import calendar_names, calendar_row
from tsrnn.level import MAX_CHECKS, without_constant_targets
from tsrnn.stream_base import BaseStream, missing_value, series_name
from tsrnn.stream_state import load_stream

if TYPE_CHECKING:
    from tsrnn.detector import AnomalyDetector

__all__ = ["AnomalyStream", "StreamResult", "load_stream"]


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


class AnomalyStream(BaseStream):
    """Score live points one at a time, in bounded time and memory.

    Each series keeps only its last ``window`` points (scaled), so a point costs one
    forward pass over one window (per ensemble member), however long the stream
    runs. For ranking scores it also keeps its last ``smoothing`` errors; with
    ``alerts=True``, its last ``likelihood_history`` averaged errors (running
    sums: O(1) per point), its recent peaks for the ``cooldown`` and its range;
    for the stuck-sensor and level checks, its last value, how long it has held,
    and its last ``window`` raw values (which a gap does not clear: as in batch
    scores, the checks run on from the series' first point); for the drift
    correction (ranking scores), its last ``drift_window`` errors per target,
    in order and sorted. Points of many
    series that arrive together are scored in one batch. The scores equal
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

    ``remove`` forgets series; ``save`` writes every series' state, which
    :func:`load_stream` reads back (a stream stopped and restored scores as an
    uninterrupted one). These and the forms of input are shared with
    :class:`~tsrnn.stateful_stream.StatefulStream` (:mod:`tsrnn.stream_base`).
    """

    def __init__(self, detector: AnomalyDetector):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(detector, "net_")
        self.detector = detector
        self._forecast = detector.score == "forecast"
        self._keep = detector.window + (1 if self._forecast else 0)
        self._known = detector._series_positions()
        self._settings = detector._scoring_settings()  # what its state was made under
        self._state: dict = {}  # series id -> its state (see _new_state)

    @property
    def _held(self) -> dict:
        return self._state

    def _drop(self, sid) -> None:
        del self._state[sid]

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
                "warmup": None if i is not None else [],
                # the stuck-sensor and level checks; absent for model files from
                # before them (and the level check for a series unseen at fit)
                **({} if det._stuck_watch(i) is None else {"stuck": det._stuck_watch(i)}),
                **({} if det._level_watch(i) is None else {"level": det._level_watch(i)}),
                # the drift correction (ranking scores; absent for older model files)
                **({} if det._drift_watch() is None else {"drift": det._drift_watch()})}

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
        self._check_settings()
        series, values = self._rows(values, series)
        stamp = self._time(timestamp)
        fresh = [sid for sid in series if sid not in self._state]
        states = [self._state.get(sid) or self._new_state(sid) for sid in series]
        gap = np.zeros(len(series), dtype=bool)
        for k, (sid, st) in enumerate(zip(series, states, strict=True)):  # validate first
            last = st["last"]
            try:
                stale = last is not None and stamp <= last
            except TypeError:  # tz-aware against naive: pandas cannot order them
                raise DataError(f"timestamp {timestamp} for {series_name(sid)} and its last one "
                                f"({last}) disagree on having a timezone") from None
            if stale:
                raise DataError(f"timestamp {timestamp} for {series_name(sid)} is not after its "
                                f"last one ({last}): out of order or duplicate")
            if last is not None and det.freq_ is not None and stamp != last + det.freq_:
                gap[k] = True
            bad = ~np.isfinite(values[k])
            if bad.any() and (det.fill != "ffill" or st["count"] == 0):
                col = det.target_names_[int(np.flatnonzero(bad)[0])]
                raise missing_value(col, sid, timestamp, det.fill)
        for sid, st in zip(series, states, strict=True):
            if sid in fresh:  # only now: a refused update changes nothing
                self._state[sid] = st
        n_f = det.n_features_in_
        calendar = (calendar_row(det._local(stamp), det.calendar_) if det.calendar_
                    else np.zeros(0))
        windows, nexts, ready = [], [], np.zeros(len(series), dtype=bool)
        breach = np.zeros(len(series), dtype=bool)
        checks = np.zeros((len(series), n_f))  # the stuck-sensor and level checks'
        constant = [det._constant_of(self._known.get(sid)) for sid in series]
        for k, st in enumerate(states):
            if "stuck" in st:
                checks[k] = st["stuck"].update(values[k])
            if "level" in st:  # (a target constant in training is its alone)
                checks[k] = (without_constant_targets(checks[k], constant[k])
                             + st["level"].update(values[k], constant[k]))
            buffer, count, watch = st["buffer"], st["count"], st["watch"]
            if gap[k]:
                count = 0
            if watch is not None:
                # float32 values, as batch compares (a carried-forward one, NaN or
                # inf, is missing to the range check)
                breach[k] = watch.update(values[k].astype(np.float32))
            scaled = st["warmup"] is None
            x = values[k].astype(np.float32)  # as the batch reads them
            row = (x - st["loc"]) / st["spread"] if scaled else x
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
            scored = [st for st, r in zip(states, ready, strict=True) if r]
            errors = err.numpy().astype(np.float64) / np.stack([st["scale"] for st in scored])
            for j, k in enumerate(np.flatnonzero(ready)):
                if "drift" in scored[j]:
                    errors[j] = scored[j]["drift"].update(errors[j])
                errors[j] = without_constant_targets(errors[j], constant[k])
            # as tsrnn.level.value_checked
            score[ready] = (errors + np.minimum(checks[ready], MAX_CHECKS)).mean(axis=1)
        score = np.array([st["filter"].update(float(score[k]), bool(ready[k]), bool(breach[k]))
                          / det._score_scale_of(self._known.get(sid))
                          for k, (sid, st) in enumerate(zip(series, states, strict=True))])
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

    # ------------------------------------------------------------ persistence
    def _plain_state(self) -> list:
        return list(self._state.values())

    def _restore(self, series: list, state, path) -> None:
        """Every series' state from a file (:func:`tsrnn.streaming.load_stream`),
        each checked against a fresh one of this detector."""
        from tsrnn.stream_state import from_plain

        if not isinstance(state, list) or len(series) != len(state):
            raise ValueError(f"{path} is damaged: its series and their states do not match")
        for sid, plain in zip(series, state, strict=True):
            where = f"{path}: series {sid!r}"
            template = self._new_state(sid)
            restored = from_plain(plain, template, where)
            _check_state(restored, template, where)
            self._state[sid] = restored


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
    if "drift" in state:
        if not isinstance(state["drift"], type(template["drift"])):
            raise ValueError(f"{where}: its drift window is not one")
        state["drift"].check(template["drift"], where)
    state["filter"].check(template["filter"], where)

