"""`StatefulStream`: score live points with a detector fitted with
``stateful=True``, one recurrent cell step per point, however long the stream.

Every series has a slot in a few arrays (the recurrent state of every ensemble
member, the prediction for its next step, its scaling, its last time, its recent
errors), so an update of a thousand series is a handful of vectorised numpy
operations, and one series costs the same operations on one row. The cell step
is numpy's, from the network's torch weights: for a batch of one it runs about
ten times faster than torch's call overhead allows, and gives the batch scores
(float32 rounding apart).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tsrnn.data import DataError
from tsrnn.data.calendar import calendar_row
from tsrnn.detector_scores import same_scales
from tsrnn.likelihood import MIN_HISTORY, OUT_OF_RANGE_SCORE, _outside
from tsrnn.stateful_cells import Cells
from tsrnn.stateful_state import plain_state, restore
from tsrnn.stream_base import BaseStream, missing_value, series_name
from tsrnn.streaming import StreamResult

if TYPE_CHECKING:
    from tsrnn.detector import AnomalyDetector

__all__ = ["StatefulStream"]

_NEVER = np.iinfo(np.int64).min  # the last time of a series not seen yet


class StatefulStream(BaseStream):
    """Score live points one at a time: O(1) time and memory per point and series.

    The :class:`~tsrnn.streaming.AnomalyStream` contract (``update(timestamp,
    values, series=None) -> StreamResult``, its forms of input, ``update_frame``,
    ``remove``, ``save`` and :func:`~tsrnn.streaming.load_stream`, and its rules for
    awkward input), for a detector fitted with ``stateful=True``: each point costs
    one cell step per ensemble member, and a series keeps its recurrent state, the
    prediction of its next step, its last scaled row and its last ``smoothing``
    errors (with ``alerts=True``, the :class:`~tsrnn.likelihood.ScoreFilter` of the
    likelihood, about 200 KB per series at the default ``likelihood_history``). The
    scores equal ``detector.decision_function(df)`` on the same data.

    - A series is ready (scored) once it has seen ``window`` points since its start
      or its last gap: before, its state is warming up.
    - A series unseen at fit joins when it first comes. Its scaling comes from its
      first ``max(100, window)`` points (``detector._warmup``), as batch scores
      fit it; until then it is not ready. At the point that completes them, its
      buffered points are run through the cells (its state cleared at any gap
      among them), so its state is the one batch scoring has there, and that
      point is scored. Its error scale, likelihood prior and range check start
      from the detector's pooled ones (the range learnt from its first points).
    - A gap (a timestamp further than one step of the fitted frequency) clears
      the series' state and flags ``gap``; it warms up again. The smoothing (and
      the likelihood's history) carry on, as in :class:`AnomalyStream`.
    - A timestamp at or before a series' last one raises ``DataError`` and changes
      nothing; so do NaN or inf (unless the detector was fitted with
      ``fill="ffill"``, which carries the series' last value forward), a series
      listed twice, a new id of another kind than the fitted ones, values that
      are not numbers, and a naive timestamp for a detector fitted on aware
      times (or the reverse).

    Cost: ranking scores (``alerts=False``) are vectorised across the series of a
    call. With ``alerts=True`` the likelihood and cooldown run series by series
    (one :class:`~tsrnn.likelihood.ScoreFilter` call each, about 10 µs), which
    then dominates an update of many series. A new series' replay costs its
    warm-up's cell steps, once.
    """

    def __init__(self, detector: AnomalyDetector):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(detector, "net_")
        det = detector
        self.detector = det
        self._cells = Cells(det.net_, det.n_features_in_)
        self._known = det._series_positions()
        self._n = det.n_features_in_
        self._window = det.window
        self._smoothing = det.smoothing if det.smoothing > 1 and not det.alerts else 0
        self._folded = _copy(getattr(det, "score_scale_", None))  # the scales folded in
        self._settings = det._scoring_settings()  # what its state was made under
        self._range = det._range_check
        freq = det.freq_
        self._step = None if freq is None or isinstance(freq, int | np.integer) else freq
        self._slot: dict = {}  # series id -> its row in the arrays below
        self._ids: list = []  # the id of each slot
        self._filters: list = []  # alerts=True: a ScoreFilter per slot
        self._warming: dict = {}  # unseen series id -> its first points (_new_warming)
        self._phases: dict = {}  # calendar inputs by phase
        self._alloc(0)

    # ----------------------------------------------------------------- state
    def _fresh(self, cap: int) -> dict:
        """The per-series arrays of ``cap`` fresh slots."""
        m, n_layers, h = self._cells.members, self._cells.layers, self._cells.hidden
        f = self._n
        new = {
            "h": np.zeros((m, n_layers, cap, h), np.float32),
            "pred": np.zeros((m, cap, f), np.float32),  # each member's next-step guess
            "row": np.zeros((cap, f), np.float32),  # the last scaled (warming: raw) values
            "count": np.zeros(cap, np.int64),  # points since the start or a gap, <= window
            "last": np.full(cap, _NEVER),  # the last time (ns, or the integer step)
            "loc": np.zeros((cap, f)), "spread": np.ones((cap, f)),
            "scale": np.ones((cap, f)),  # online error scale, times members and targets
            "recent": np.zeros((cap, max(self._smoothing, 1))),  # the last errors, a ring
            "n_recent": np.zeros(cap, np.int64),
            "low": np.full((cap, f), np.inf), "high": np.full((cap, f), -np.inf),
            "learning": np.zeros(cap, np.int64),  # range check: steps left to learn
        }
        if self._cells.kind == "lstm":
            new["c"] = np.zeros((m, n_layers, cap, h), np.float32)
        return new

    def _alloc(self, cap: int) -> None:
        """The per-series arrays, for ``cap`` slots (the used ones kept)."""
        new = self._fresh(cap)
        old = getattr(self, "_arrays", None)
        if old is not None:
            used = slice(0, len(self._ids))
            for key, arr in new.items():
                arr[_at(key, used)] = old[key][_at(key, used)]
        self._arrays = new
        self._cap = cap

    def _new_warming(self) -> dict:
        """An unseen series' first points, raw (float32, as batch reads them), their
        times and whether each came after a gap, until its scaling is fitted."""
        size = self.detector._warmup
        return {"rows": np.zeros((size, self._n), np.float32),
                "ticks": np.zeros(size, np.int64), "gaps": np.zeros(size, bool), "n": 0}

    @property
    def _held(self) -> dict:
        return self._slot

    def _slots(self, series: list) -> np.ndarray:
        """Each id's slot; a series seen for the first time gets one."""
        missing = [sid for sid in series if sid not in self._slot]
        if missing:
            self._add(missing)
        return np.fromiter((self._slot[sid] for sid in series), np.int64, len(series))

    def _add(self, series: list) -> None:
        det = self.detector
        need = len(self._ids) + len(series)
        if need > self._cap:
            self._alloc(max(need, 2 * self._cap, 16))
        a, fresh = self._arrays, self._fresh(1)
        for sid in series:
            k, i = len(self._ids), self._known.get(sid)
            for key, arr in a.items():  # a slot freed by remove() holds old state
                arr[_at(key, k)] = fresh[key][_at(key, 0)]
            self._slot[sid] = k
            self._ids.append(sid)
            if i is None:  # unseen at fit: scaled once its first points are in
                self._warming[sid] = self._new_warming()
            else:
                a["loc"][k], a["spread"][k] = det.scaler_loc_[i], det.scaler_spread_[i]
            # (ranking scores are linear in the errors, so the score scale divides here)
            a["scale"][k] = (det._error_scale_of(i, online=True) * self._cells.members * self._n
                             * det._score_scale_of(i))
            start = det._range_of(i)
            if start is None:  # learnt from the series' first points
                a["learning"][k] = MIN_HISTORY
            else:
                a["low"][k], a["high"][k] = start
            self._filters.append(det._score_filter(i) if det.alerts else None)

    def _follow_score_scale(self) -> None:
        """Fold in the detector's score scales anew where ``fit_threshold`` has
        learnt others since they were folded, as the batch scores and the
        threshold read them now: each slot's error scale and its smoothing's ring
        of past scores move by the ratio of the new scale to the old."""
        det = self.detector
        scales = getattr(det, "score_scale_", None)
        if same_scales(scales, self._folded):
            return  # (compared by value: an array changed in place counts too)
        a, old = self._arrays, self._folded
        for k, sid in enumerate(self._ids):
            i = self._known.get(sid)
            ratio = det._score_scale_of(i) / (
                1.0 if det.alerts or old is None else float(old[-1 if i is None else i]))
            a["scale"][k] *= ratio
            a["recent"][k] /= ratio
        self._folded = _copy(scales)

    def _drop(self, sid) -> None:
        """Free a series' slot: the last slot moves into it, so the used slots stay
        the first ones; the arrays shrink when a quarter of them is used."""
        k, last = self._slot.pop(sid), len(self._ids) - 1
        if k != last:
            moved = self._ids[last]
            for key, arr in self._arrays.items():
                arr[_at(key, k)] = arr[_at(key, last)]
            self._ids[k], self._filters[k] = moved, self._filters[last]
            self._slot[moved] = k
        self._ids.pop()
        self._filters.pop()
        self._warming.pop(sid, None)
        if self._cap > 16 and len(self._ids) <= self._cap // 4:
            self._alloc(max(self._cap // 2, 16))

    # ---------------------------------------------------------------- update
    def update(self, timestamp, values, series: Sequence | None = None) -> StreamResult:
        """Add one point per series and score it.

        Parameters
        ----------
        timestamp
            The points' time (one for all series in this call).
        values
            As :meth:`AnomalyStream.update <tsrnn.streaming.AnomalyStream.update>`: a
            number, ``[F]``, ``[S]`` (one target), ``[S, F]`` or ``{series id: value
            or [F]}``.
        series
            Series ids of the rows; default: every fitted series in fit order (the
            single series of a wide fit). A series unseen at fit joins here (see
            :class:`StatefulStream`).
        """
        det = self.detector
        self._check_settings()
        self._follow_score_scale()  # before a new series folds in today's
        series, values = self._rows(values, series)
        stamp = self._time(timestamp)
        fresh = [sid for sid in series if sid not in self._slot]
        slots = self._slots(series)
        try:
            index, t, last, gap, x32, finite = self._checked(stamp, timestamp, slots,
                                                             series, values)
        except DataError:
            for sid in reversed(fresh):  # a refused update changes nothing
                self._drop(sid)
            raise
        # Valid: from here on the state changes.
        a = self._arrays
        breach = self._breaches(index, x32) if self._range else None
        row = ((x32 - a["loc"][index]) / a["spread"][index]).astype(np.float32)  # [S, F]
        if not finite:  # fill="ffill": the last (scaled; warming: raw) value
            row = np.where(np.isfinite(row), row, a["row"][index])
        warming = self._warm_up(series, slots, row, t, gap, stamp) if self._warming else None
        count = a["count"][index]  # read after a replay (_warm_up) set it
        if gap.any():
            count = np.where(gap, 0, count)
            for key in ("h", "c"):
                if key in a:
                    state = a[key][:, :, index]
                    state[:, :, gap] = 0.0
                    a[key][:, :, index] = state
        ready = count >= self._window
        scaled = row
        if warming is not None:
            ready &= ~warming
            scaled = np.where(warming[:, None], np.float32(0.0), row)  # no scaling yet
        miss = a["pred"][:, index] - scaled  # [M, S, F]
        # The mean over members and targets of the squared errors, each target's in
        # units of its typical one (the "scale" array holds scale * M * F, and for
        # ranking scores the score scale).
        with np.errstate(over="ignore"):  # a value of 1e37: an infinite error, as in batch
            raw = (np.square(miss) / a["scale"][index]).sum(axis=(0, 2)) * ready  # [S]
        # One cell step: the state now holds this point, the prediction is for the next.
        self._step_cells(index, scaled, stamp)
        a["row"][index] = row
        count = np.minimum(count + 1, self._window)
        a["count"][index] = count if warming is None else np.where(warming, 0, count)
        a["last"][index] = t
        score = self._post_process(slots, index, raw, ready, breach)
        label = (score > det.threshold_).astype(np.int64)
        return StreamResult(series, score, label, ready, gap)

    def _checked(self, stamp, timestamp, slots: np.ndarray, series: list, values):
        """The update's slots (a slice where they are consecutive), time, last times,
        gaps and float32 values, after refusing stale times and missing values."""
        det = self.detector
        whole = _as_slice(slots)
        index = slots if whole is None else whole  # a slice reads views, not copies
        t = _ticks(stamp)
        last = self._arrays["last"][index]  # _NEVER for a series not seen yet
        stale = last >= t
        if stale.any():
            k = int(np.flatnonzero(stale)[0])
            raise DataError(f"timestamp {timestamp} for {series_name(series[k])} is not after its "
                            f"last one ({_from_ticks(int(last[k]), stamp)}): out of order or "
                            "duplicate")
        if det.freq_ is None:
            gap = np.zeros(len(series), dtype=bool)
        else:
            previous = (_ticks(stamp - self._step) if self._step is not None
                        else t - int(det.freq_))
            gap = (last != previous) & (last != _NEVER)
        x32 = values.astype(np.float32)  # as the batch scores read a frame
        finite = bool(np.isfinite(x32).all())
        if not finite:
            self._check_missing(x32, last, series, timestamp)
        return index, t, last, gap, x32, finite

    def _step_cells(self, index, rows: np.ndarray, stamp) -> None:
        """One cell step of scaled ``rows [S, F]`` for the slots at ``index``."""
        a = self._arrays
        c = a["c"][:, :, index] if "c" in a else None
        h, c, pred = self._cells.step(self._with_calendar(rows, stamp), a["h"][:, :, index], c)
        a["h"][:, :, index] = h
        if c is not None:
            a["c"][:, :, index] = c
        a["pred"][:, index] = pred

    def _with_calendar(self, rows: np.ndarray, stamp) -> np.ndarray:
        """The network's inputs: the scaled targets, then the calendar inputs of
        ``stamp`` (one time, or one per row)."""
        if not self.detector.calendar_:
            return rows
        inputs = np.empty((len(rows), self._cells.inputs), np.float32)
        inputs[:, :self._n] = rows
        inputs[:, self._n:] = (np.stack([self._calendar(s) for s in stamp])
                               if isinstance(stamp, list) else self._calendar(stamp))
        return inputs

    def _warm_up(self, series: list, slots: np.ndarray, row: np.ndarray, t: int,
                 gap: np.ndarray, stamp) -> np.ndarray:
        """Keep the raw rows of unseen series until there are ``detector._warmup``:
        then fit their scaling on them (as batch scores do), replay them through the
        cells and scale this point's ``row`` in place. Returns which series of the
        call are still warming up (this point not scaled)."""
        warming = np.fromiter((sid in self._warming for sid in series), bool, len(series))
        done = []
        for k in np.flatnonzero(warming):
            w = self._warming[series[k]]
            n = w["n"]
            w["rows"][n], w["ticks"][n], w["gaps"][n], w["n"] = row[k], t, gap[k], n + 1
            if n + 1 == len(w["rows"]):
                done.append(k)
        if done:
            row[done] = self._replay([self._warming.pop(series[k]) for k in done],
                                     slots[done], stamp)
            warming[done] = False
        return warming

    def _replay(self, warm: list[dict], slots: np.ndarray, stamp) -> np.ndarray:
        """Scale these series from their first points and run all but the last of
        them through the cells from a clear state (cleared again after a gap), as
        the stream would have; returns the last points, scaled ``[D, F]``."""
        from tsrnn.data.scaling import fit_stats

        a, det = self._arrays, self.detector
        for w, s in zip(warm, slots, strict=True):
            a["loc"][s], a["spread"][s] = fit_stats(w["rows"], det.scaler)
        loc, spread = a["loc"][slots][:, None], a["spread"][slots][:, None]  # [D, 1, F]
        rows = ((np.stack([w["rows"] for w in warm]) - loc) / spread).astype(np.float32)
        gaps = np.stack([w["gaps"] for w in warm])  # [D, W]
        ticks = np.stack([w["ticks"] for w in warm])
        shape = a["h"][:, :, slots].shape
        h = np.zeros(shape, np.float32)
        c = np.zeros(shape, np.float32) if "c" in a else None
        pred = np.zeros((shape[0], len(slots), self._n), np.float32)
        count = np.zeros(len(slots), np.int64)
        for j in range(rows.shape[1] - 1):
            g = gaps[:, j]
            if g.any():
                count[g] = 0
                h[:, :, g] = 0.0
                if c is not None:
                    c[:, :, g] = 0.0
            times = [_from_ticks(int(v), stamp) for v in ticks[:, j]] if det.calendar_ else None
            h, c, pred = self._cells.step(self._with_calendar(rows[:, j], times), h, c)
            count = np.minimum(count + 1, self._window)
        a["h"][:, :, slots] = h
        if c is not None:
            a["c"][:, :, slots] = c
        a["pred"][:, slots], a["count"][slots] = pred, count
        return rows[:, -1]

    def _check_missing(self, x32: np.ndarray, last: np.ndarray, series: list, timestamp):
        """NaN or inf: refused unless ``fill="ffill"`` and the series has a value to
        carry."""
        bad = ~np.isfinite(x32)
        rows = bad.any(axis=1)
        if self.detector.fill == "ffill":
            rows &= last == _NEVER
        if rows.any():
            k = int(np.flatnonzero(rows)[0])
            col = self.detector.target_names_[int(np.flatnonzero(bad[k])[0])]
            raise missing_value(col, series[k], timestamp, self.detector.fill)

    def _calendar(self, stamp) -> np.ndarray:
        """The calendar inputs of a time, cached by its phase: a stream at a fixed
        frequency goes round the same few phases."""
        local = self.detector._local(stamp)
        key = (local.day_of_week, local.hour, local.minute, local.second)
        row = self._phases.get(key)
        if row is None:
            if len(self._phases) > 100_000:
                self._phases.clear()
            row = self._phases[key] = calendar_row(local, self.detector.calendar_)
        return row

    def _breaches(self, index, x32: np.ndarray) -> np.ndarray:
        """The range check (:class:`tsrnn.likelihood.RangeWatch`), vectorised."""
        a = self._arrays
        x = np.where(np.isfinite(x32), x32, np.nan).astype(np.float64)
        low, high = a["low"][index], a["high"][index]
        out = _outside(x, low, high, self.detector.range_tolerance).any(axis=1)
        a["low"][index], a["high"][index] = np.fmin(low, x), np.fmax(high, x)
        learning = a["learning"][index]
        out &= learning == 0
        a["learning"][index] = np.maximum(learning - 1, 0)
        return out

    def _post_process(self, slots, index, raw, ready, breach) -> np.ndarray:
        """:func:`tsrnn.likelihood.post_process`, a step at a time: the smoothing
        vectorised; the likelihood and cooldown series by series."""
        if self.detector.alerts:
            return np.array([self._filters[s].update(float(raw[k]), bool(ready[k]),
                                                     bool(breach[k]) if breach is not None
                                                     else False)
                             for k, s in enumerate(slots)])
        score = raw
        if self._smoothing:
            a, size = self._arrays, self._smoothing
            recent, n = a["recent"][index], a["n_recent"][index]
            recent[ready, n[ready] % size] = raw[ready]  # the ring's oldest entry gives way
            n = n + ready
            mean = recent.sum(axis=1) / np.maximum(np.minimum(n, size), 1)
            score = np.where(ready, np.maximum(raw, mean), 0.0)
            a["recent"][index], a["n_recent"][index] = recent, n
        if breach is not None:
            score = np.where(breach, np.maximum(score, OUT_OF_RANGE_SCORE), score)
        return score

    def _plain_state(self) -> dict:
        """The state for the file (tsrnn/stateful_state.py), with the detector's
        score scales as the file's detector will have them."""
        self._follow_score_scale()
        return plain_state(self)

    _restore = restore

    def memory_bytes(self) -> int:
        """Bytes of per-series state held now (the arrays, at their capacity)."""
        return (sum(arr.nbytes for arr in self._arrays.values())
                + sum(arr.nbytes for w in self._warming.values()
                      for arr in w.values() if isinstance(arr, np.ndarray)))


def _copy(scales: np.ndarray | None) -> np.ndarray | None:
    return None if scales is None else np.array(scales, np.float64)


def _at(key: str, slots) -> tuple:
    """The index of ``slots`` (one, a slice or an array) in the array ``key``: the
    slot axis is the third of the states ``[M, L, S, H]``, the second of ``pred``,
    else the first."""
    return (slice(None),) * {"h": 2, "c": 2, "pred": 1}.get(key, 0) + (slots,)


def _as_slice(slots: np.ndarray) -> slice | None:
    """Slots ``a, a + 1, ..., b - 1`` as a slice (a view, not a copy), else None."""
    n = len(slots)
    if n and slots[-1] - slots[0] == n - 1 and (n < 3 or bool((np.diff(slots) == 1).all())):
        return slice(int(slots[0]), int(slots[0]) + n)
    return None


def _ticks(stamp) -> int:
    """A time as an integer: nanoseconds since 1970 in UTC, or the integer step."""
    if isinstance(stamp, pd.Timestamp):
        return stamp.value
    return int(stamp)


def _from_ticks(value: int, like):
    if isinstance(like, pd.Timestamp):
        out = pd.Timestamp(value)
        return out.tz_localize("UTC").tz_convert(like.tz) if like.tz is not None else out
    return value
