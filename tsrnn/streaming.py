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
      training one for the calendar inputs;
    - a value out of range is flagged (score and label) even while the series'
      window warms up, as in the batch scores;
    - a bare number as the timestamp of a datetime detector is refused (seconds,
      milliseconds and nanoseconds since 1970 look alike), as are a series listed
      twice in one call and values that are not numbers; a single id may be given
      as ``series="A"``.
    """

    def __init__(self, detector: AnomalyDetector):
        self.detector = detector
        self._forecast = detector.score == "forecast"
        self._keep = detector.window + (1 if self._forecast else 0)
        self._known = detector._series_positions()
        # series id -> [buffer [keep, F + calendar], count, last time, loc, spread,
        #               ScoreFilter, RangeWatch or None, online error scale [F]]
        self._state: dict = {}

    def _series_state(self, sid):
        if sid not in self._state:
            if sid not in self._known:
                raise DataError(f"series {sid!r} was not seen at fit; the stream needs its "
                                f"scaling: known series are {list(self._known)[:10]}")
            i = self._known[sid]
            det = self.detector
            n_inputs = det.n_features_in_ + len(calendar_names(det.calendar_))
            self._state[sid] = [np.zeros((self._keep, n_inputs), np.float32), 0, None,
                                det.scaler_loc_[i], det.scaler_spread_[i],
                                det._score_filter(i), det._range_watch(i),
                                det._error_scale_of(i, online=True)]
        return self._state[sid]

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
        if len(set(map(repr, series))) < len(series):
            twice = next(s for k, s in enumerate(series) if s in series[:k])
            raise DataError(f"series {twice!r} appears twice in one update: one point per "
                            "series and timestamp")
        if values.shape != (len(series), det.n_features_in_):
            raise ValueError(f"expected values of shape [{len(series)}, {det.n_features_in_}] "
                             f"({det.target_names_}), got {values.shape}")
        stamp = _as_time(timestamp, det.freq_)
        states = [self._series_state(sid) for sid in series]
        gap = np.zeros(len(series), dtype=bool)
        for k, (sid, st) in enumerate(zip(series, states, strict=True)):  # validate first
            last = st[2]
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
            if bad.any() and (det.fill != "ffill" or st[1] == 0):
                col = det.target_names_[int(np.flatnonzero(bad)[0])]
                raise DataError(f"column {col!r} of series {sid!r} is missing or infinite "
                                f"at {timestamp}; fit with fill='ffill' to carry the last "
                                "value forward")
        n_f = det.n_features_in_
        calendar = (calendar_row(det._local(stamp), det.calendar_) if det.calendar_
                    else np.zeros(0))
        windows, nexts, ready = [], [], np.zeros(len(series), dtype=bool)
        breach = np.zeros(len(series), dtype=bool)
        for k, st in enumerate(states):
            buffer, count, _, loc, spread, _, watch, _ = st
            if gap[k]:
                count = 0
            if watch is not None:
                # float32 values, as batch compares (a carried-forward one, NaN or
                # inf, is missing to the range check)
                breach[k] = watch.update(values[k].astype(np.float32))
            row = (values[k] - loc) / spread
            if not np.isfinite(row).all():  # fill="ffill": the last scaled value
                row = np.where(np.isfinite(row), row, buffer[-1, :n_f])
            buffer[:-1] = buffer[1:]  # bounded: a shift of `window` rows
            buffer[-1, :n_f] = row
            buffer[-1, n_f:] = calendar
            st[1], st[2] = min(count + 1, self._keep), stamp
            ready[k] = st[1] >= self._keep
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
            scale = np.stack([st[7] for st, r in zip(states, ready, strict=True) if r])
            score[ready] = (err.numpy() / scale).mean(axis=1)
        score = np.array([st[5].update(float(score[k]), bool(ready[k]), bool(breach[k]))
                          for k, st in enumerate(states)])
        # As predict(): a range breach is an anomaly even while the window warms up.
        label = (score > det.threshold_).astype(np.int64)
        return StreamResult(series, score, label, ready, gap)


def _as_time(timestamp, freq):
    """The point's time in the detector's kind of time: a date for a datetime fit
    (a bare number is refused: seconds, milliseconds or nanoseconds since 1970
    cannot be told apart), an integer step for an integer one."""
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
