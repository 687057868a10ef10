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
from tsrnn.likelihood import MIN_HISTORY, OUT_OF_RANGE_SCORE, _outside
from tsrnn.stateful_cells import Cells
from tsrnn.stream_base import _as_time
from tsrnn.streaming import StreamResult

if TYPE_CHECKING:
    from tsrnn.detector import AnomalyDetector

__all__ = ["StatefulStream"]

_NEVER = np.iinfo(np.int64).min  # the last time of a series not seen yet


class StatefulStream:
    """Score live points one at a time: O(1) time and memory per point and series.

    The :class:`~tsrnn.streaming.AnomalyStream` contract (``update(timestamp,
    values, series=None) -> StreamResult``, and its rules for awkward input), for a
    detector fitted with ``stateful=True``: each point costs one cell step per
    ensemble member, and a series keeps its recurrent state, the prediction of its
    next step, its last scaled row and its last ``smoothing`` errors (with
    ``alerts=True``, the :class:`~tsrnn.likelihood.ScoreFilter` of the likelihood,
    about 200 KB per series at the default ``likelihood_history``). The scores equal
    ``detector.decision_function(df)`` on the same data.

    - A series is ready (scored) once it has seen ``window`` points since its start
      or its last gap: before, its state is warming up.
    - A gap (a timestamp further than one step of the fitted frequency) clears
      the series' state and flags ``gap``; it warms up again. The smoothing (and
      the likelihood's history) carry on, as in :class:`AnomalyStream`.
    - A timestamp at or before a series' last one raises ``DataError`` and changes
      nothing; so do NaN or inf (unless the detector was fitted with
      ``fill="ffill"``, which carries the series' last value forward), a series
      unseen at fit, a series listed twice, values that are not numbers, and a
      timestamp with a timezone after ones without (or the reverse: every series
      of a stream shares its clock).

    Cost: ranking scores (``alerts=False``) are vectorised across the series of a
    call. With ``alerts=True`` the likelihood and cooldown run series by series
    (one :class:`~tsrnn.likelihood.ScoreFilter` call each, about 10 µs), which
    then dominates an update of many series.
    """

    def __init__(self, detector: AnomalyDetector):
        det = detector
        self.detector = det
        self._cells = Cells(det.net_, det.n_features_in_)
        self._known = det._series_positions()
        self._n = det.n_features_in_
        self._warm_up = det.window
        self._smoothing = det.smoothing if det.smoothing > 1 and not det.alerts else 0
        self._range = det._range_check
        freq = det.freq_
        self._step = None if freq is None or isinstance(freq, int | np.integer) else freq
        self._aware: bool | None = None  # whether the stream's timestamps have a zone
        self._slot: dict = {}  # series id -> its row in the arrays below
        self._ids: list = []
        self._filters: list = []  # alerts=True: a ScoreFilter per slot
        self._phases: dict = {}  # calendar inputs by phase
        self._alloc(0)

    # ----------------------------------------------------------------- state
    def _alloc(self, cap: int) -> None:
        """The per-series arrays, for ``cap`` slots (existing rows kept)."""
        m, n_layers, h = self._cells.members, self._cells.layers, self._cells.hidden
        f = self._n
        old = getattr(self, "_arrays", None)
        new = {
            "h": np.zeros((m, n_layers, cap, h), np.float32),
            "pred": np.zeros((m, cap, f), np.float32),  # each member's next-step guess
            "row": np.zeros((cap, f), np.float32),  # the last scaled values
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
        if old is not None:
            used = len(self._ids)
            for key, arr in new.items():
                _copy_slots(arr, old[key], used, key in ("h", "c", "pred"))
        self._arrays = new
        self._cap = cap

    def _slots(self, series: list) -> np.ndarray:
        """Each id's slot; a fitted series seen for the first time gets one."""
        missing = [sid for sid in series if sid not in self._slot]
        for sid in missing:
            if sid not in self._known:
                raise DataError(f"series {sid!r} was not seen at fit; the stream needs its "
                                f"scaling: known series are {list(self._known)[:10]}")
        if missing:
            self._add(missing)
        return np.fromiter((self._slot[sid] for sid in series), np.int64, len(series))

    def _add(self, series: list) -> None:
        det = self.detector
        need = len(self._ids) + len(series)
        if need > self._cap:
            self._alloc(max(need, 2 * self._cap, 16))
        a = self._arrays
        for sid in series:
            k, i, f = len(self._ids), self._known[sid], self._n
            self._slot[sid] = k
            self._ids.append(sid)
            a["loc"][k], a["spread"][k] = det.scaler_loc_[i], det.scaler_spread_[i]
            a["scale"][k] = det._error_scale_of(i, online=True) * self._cells.members * f
            start = det._range_of(i)
            if start is None:  # learnt from the series' first points
                a["learning"][k] = MIN_HISTORY
            else:
                a["low"][k], a["high"][k] = start
            self._filters.append(det._score_filter(i) if det.alerts else None)

    # ---------------------------------------------------------------- update
    def update(self, timestamp, values, series: Sequence | None = None) -> StreamResult:
        """Add one point per series and score it.

        Parameters
        ----------
        timestamp
            The points' time (one for all series in this call).
        values
            ``[F]`` for one series, or ``[S, F]``: one row per series in ``series``.
        series
            Series ids of the rows; default: the single series of a wide fit, or
            every fitted series in fit order.
        """
        det = self.detector
        values, series = self._check_values(values, series)
        stamp = _as_time(timestamp, det.freq_)
        slots = self._slots(series)
        a = self._arrays
        whole = _as_slice(slots)
        index = slots if whole is None else whole  # a slice reads views, not copies
        t, aware = _ticks(stamp)
        if self._aware is not None and aware != self._aware:
            raise DataError(f"timestamp {timestamp} and the stream's earlier ones disagree "
                            "on having a timezone")
        last = a["last"][index]  # _NEVER for a series not seen yet
        stale = last >= t
        if stale.any():
            k = int(np.flatnonzero(stale)[0])
            raise DataError(f"timestamp {timestamp} for series {series[k]!r} is not after its "
                            f"last one ({_from_ticks(int(last[k]), stamp)}): out of order or "
                            "duplicate")
        if det.freq_ is None:
            gap = np.zeros(len(series), dtype=bool)
        else:
            previous = (_ticks(stamp - self._step)[0] if self._step is not None
                        else t - int(det.freq_))
            gap = (last != previous) & (last != _NEVER)
        x32 = values.astype(np.float32)  # as the batch scores read a frame
        finite = np.isfinite(x32).all()
        if not finite:
            self._check_missing(x32, last, series, timestamp)
        # Valid: from here on the state changes.
        self._aware = aware
        breach = self._breaches(index, x32) if self._range else None
        count = a["count"][index]
        if gap.any():
            count = np.where(gap, 0, count)
            for key in ("h", "c"):
                if key in a:
                    state = a[key][:, :, index]
                    state[:, :, gap] = 0.0
                    a[key][:, :, index] = state
        row = ((x32 - a["loc"][index]) / a["spread"][index]).astype(np.float32)  # [S, F]
        if not finite:  # fill="ffill": the last scaled value
            row = np.where(np.isfinite(row), row, a["row"][index])
        ready = count >= self._warm_up
        miss = a["pred"][:, index] - row  # [M, S, F]
        # The mean over members and targets of the squared errors, each target's in
        # units of its typical one (the "scale" array holds scale * M * F).
        raw = (np.square(miss) / a["scale"][index]).sum(axis=(0, 2)) * ready  # [S]
        # One cell step: the state now holds this point, the prediction is for the next.
        if det.calendar_:
            calendar = self._calendar(stamp)
            inputs = np.empty((len(row), self._cells.inputs), np.float32)
            inputs[:, :self._n], inputs[:, self._n:] = row, calendar
        else:
            inputs = row
        c = a["c"][:, :, index] if "c" in a else None
        h, c, pred = self._cells.step(inputs, a["h"][:, :, index], c)
        a["h"][:, :, index] = h
        if c is not None:
            a["c"][:, :, index] = c
        a["pred"][:, index] = pred
        a["row"][index] = row
        a["count"][index] = np.minimum(count + 1, self._warm_up)
        a["last"][index] = t
        score = self._post_process(slots, index, raw, ready, breach)
        label = (score > det.threshold_).astype(np.int64)
        return StreamResult(series, score, label, ready, gap)

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
            raise DataError(f"column {col!r} of series {series[k]!r} is missing or infinite "
                            f"at {timestamp}; fit with fill='ffill' to carry the last value "
                            "forward")

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

    def _check_values(self, values, series) -> tuple[np.ndarray, list]:
        det = self.detector
        try:
            values = np.asarray(values, dtype=np.float64)
        except (ValueError, TypeError):
            raise DataError(f"values must be numbers, got {values!r}") from None
        if values.ndim == 1:
            values = values[None]
        if isinstance(series, str | bytes) or (series is not None and np.ndim(series) == 0):
            series = [series]  # one id, not a sequence of characters
        if series is None:
            series = det.ids_ if values.shape[0] == len(det.ids_) else None
            if series is None:
                raise ValueError(f"got {values.shape[0]} rows: pass series= with their ids")
        series = list(series)
        if len(series) > 1 and len(set(map(repr, series))) < len(series):
            twice = next(s for k, s in enumerate(series) if s in series[:k])
            raise DataError(f"series {twice!r} appears twice in one update: one point per "
                            "series and timestamp")
        if values.shape != (len(series), self._n):
            raise ValueError(f"expected values of shape [{len(series)}, {self._n}] "
                             f"({det.target_names_}), got {values.shape}")
        return values, series

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

    def memory_bytes(self) -> int:
        """Bytes of per-series state held now (the arrays, at their capacity)."""
        return sum(arr.nbytes for arr in self._arrays.values())


def _copy_slots(new: np.ndarray, old: np.ndarray, used: int, state: bool) -> None:
    """Copy the ``used`` slots of an array into its larger successor (the slot axis
    is the third of the states ``[M, L, S, H]``, the second of ``pred``, else the
    first)."""
    if new.ndim == 4:
        new[:, :, :used] = old[:, :, :used]
    elif state:
        new[:, :used] = old[:, :used]
    else:
        new[:used] = old[:used]


def _as_slice(slots: np.ndarray) -> slice | None:
    """Slots ``a, a + 1, ..., b - 1`` as a slice (a view, not a copy), else None."""
    n = len(slots)
    if n and slots[-1] - slots[0] == n - 1 and (n < 3 or bool((np.diff(slots) == 1).all())):
        return slice(int(slots[0]), int(slots[0]) + n)
    return None


def _ticks(stamp) -> tuple[int, bool]:
    """A time as an integer (nanoseconds since 1970 in UTC, or the integer step),
    and whether it has a timezone."""
    if isinstance(stamp, pd.Timestamp):
        return stamp.value, stamp.tz is not None
    return int(stamp), False


def _from_ticks(value: int, like):
    if isinstance(like, pd.Timestamp):
        out = pd.Timestamp(value)
        return out.tz_localize("UTC").tz_convert(like.tz) if like.tz is not None else out
    return value
