"""Partitioned streams: sensors hashed to Ray actors (or to partitions in this
process), each actor holding the live stream state of its own sensors."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from tsrnn.detector_scores import same_scales
from tsrnn.distributed.engine import (
    model_bytes,
    model_from_bytes,
    ray_session,
    resolve_engine,
)
from tsrnn.stream_base import frame_times
from tsrnn.streaming import StreamResult

__all__ = ["PartitionedStream", "partition_of"]


def partition_of(series, n_partitions: int) -> int:
    """The partition of a series id: a CRC-32 of its ``repr``, so the same id goes to
    the same partition in every process and run (Python's ``hash`` of a string is
    salted per process)."""
    if isinstance(series, np.generic):
        series = series.item()  # np.int64(3) is the id 3
    return zlib.crc32(repr(series).encode("utf-8")) % n_partitions


class PartitionedStream:
    """A detector's live stream (:meth:`tsrnn.AnomalyDetector.stream`), with its
    series spread over ``n_partitions`` partitions by :func:`partition_of`.

    With Ray each partition is an actor in its own process (on any node of the
    cluster) that holds the state of its series; :meth:`update` and
    :meth:`update_frame` split a batch by partition, send each part to its actor,
    and put the results back in the input's order. Each series' state depends on
    its own points only, so the scores are those of one stream in one process, to
    float32 rounding (numpy's float32 products round a row differently in batches
    of other sizes, as one stream's do when its series come in other groups).
    ``engine="local"`` runs the same partitions in this process: the same results,
    bit for bit.

    The partitions hold copies of the detector as it was when the stream was
    made: after ``fit_threshold`` or ``set_params`` on it, :meth:`update` refuses,
    and a new ``PartitionedStream`` ships the detector as it is now.

    Every partition checks its points as one stream does. The form of the input is
    checked here, before any partition sees it; a point a partition refuses (a
    stale time, a NaN) raises its error, naming the series, after the other
    partitions have taken their points, as if they had come in separate updates.

    Parameters
    ----------
    detector
        A fitted :class:`~tsrnn.AnomalyDetector` (``stateful=True`` for O(1) state
        per series). It travels to the actors as its model file's bytes.
    n_partitions
        Partitions (Ray actors).
    engine, address
        As :func:`tsrnn.distributed.map_series`.
    cpus_per_partition
        CPUs Ray reserves for each actor; default: one, or a share of the
        cluster's CPUs when there are more partitions than CPUs.
    """

    def __init__(self, detector, n_partitions: int = 2, *, engine: str = "auto",
                 address: str | None = None, cpus_per_partition: float | None = None):
        if isinstance(n_partitions, bool) or not isinstance(n_partitions, int) \
                or n_partitions < 1:
            raise ValueError(f"n_partitions must be a positive integer, got {n_partitions!r}")
        self.detector = detector
        self._parser = detector.stream()  # reads the forms of input; never updated
        self._shipped = _as_shipped(detector)
        self.n_partitions = n_partitions
        self.engine = resolve_engine(engine, address)
        data = model_bytes(detector)
        if self.engine == "local":
            self._parts = [_Partition(data) for _ in range(n_partitions)]
            return
        with ray_session(address) as ray:
            if cpus_per_partition is None:
                cpus = ray.cluster_resources().get("CPU", 1)
                cpus_per_partition = min(1.0, cpus / n_partitions)
            actor = ray.remote(num_cpus=cpus_per_partition, max_restarts=0)(_Partition)
            self._parts = [actor.remote(data) for _ in range(n_partitions)]
            self._ray = ray

    def partitions(self, series) -> np.ndarray:
        """The partition of each of these series ids."""
        return np.array([partition_of(s, self.n_partitions) for s in series], dtype=np.int64)

    def update(self, timestamp, values, series=None) -> StreamResult:
        """:meth:`StatefulStream.update <tsrnn.stateful_stream.StatefulStream.update>`
        over the partitions: the same forms of input, the results in input order."""
        self._check_shipped()
        series, rows = self._parser._rows(values, series)
        self._parser._time(timestamp)
        parts = self.partitions(series)
        calls = []
        for p in np.unique(parts):
            pick = np.flatnonzero(parts == p)
            calls.append((pick, self._call(p, "update", timestamp, rows[pick],
                                           [series[i] for i in pick])))
        out = _empty(len(series))
        for pick, result in self._results(calls):
            for name in out:
                out[name][pick] = getattr(result, name)
        return StreamResult(series, **out)

    def update_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """:meth:`BaseStream.update_frame <tsrnn.stream_base.BaseStream.update_frame>`
        over the partitions: each gets the rows of its series in one call, and the
        ``score``, ``label``, ``ready`` and ``gap`` of every row come back in the
        frame's order and index."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
        self._check_shipped()
        id_col = self.detector.roles_["id_col"]
        if id_col is not None and id_col not in df:
            raise ValueError(f"the frame lacks the id column {id_col!r}; it has "
                             f"{list(df.columns)}")
        time_col = self.detector.roles_["time_col"]
        if time_col is not None and time_col in df:  # one reading for every partition
            times = frame_times(df[time_col], self.detector.freq_, self.detector.dayfirst_)
            df = df.copy(deep=False)
            df[time_col] = times
        ids = df[id_col].to_numpy() if id_col is not None else [None] * len(df)
        parts = self.partitions(pd.unique(np.asarray(ids, dtype=object)))
        part_of = dict(zip(pd.unique(np.asarray(ids, dtype=object)), parts, strict=True))
        row_parts = np.array([part_of[i] for i in ids], dtype=np.int64)
        calls = []
        for p in np.unique(row_parts):
            pick = np.flatnonzero(row_parts == p)
            calls.append((pick, self._call(p, "update_frame", df.iloc[pick])))
        out = _empty(len(df))
        for pick, result in self._results(calls):
            for name in out:
                out[name][pick] = result[name].to_numpy()
        return pd.DataFrame(out, index=df.index)

    def close(self) -> None:
        """End the partitions' actors (their state is lost)."""
        if self.engine == "ray":
            for part in self._parts:
                self._ray.kill(part)
        self._parts = []

    # ------------------------------------------------------------- internals
    def _check_shipped(self) -> None:
        """The partitions score with the detector they were given: one changed
        since (a new threshold, score scales or scoring settings) would be
        followed by a stream of it in this process and not by them."""
        threshold, scales, settings = _as_shipped(self.detector)
        if (threshold, settings) != self._shipped[::2] or not same_scales(scales,
                                                                          self._shipped[1]):
            raise ValueError("the detector changed since this PartitionedStream shipped it "
                             "to its partitions (fit_threshold or set_params): make a new "
                             "PartitionedStream to score with it as it is now")

    def _call(self, p: int, method: str, *args):
        if not self._parts:
            raise RuntimeError("the stream is closed")
        part = self._parts[p]
        if self.engine == "local":
            return getattr(part, method)(*args)
        return getattr(part, method).remote(*args)

    def _results(self, calls: list) -> list:
        """Each call's result; the first refusal raised once all have answered."""
        if self.engine == "ray":
            from tsrnn.distributed.engine import ray_reason

            refs = [ref for _, ref in calls]
            try:
                answers = self._ray.get(refs)
            except Exception as err:  # an actor died: its series' state is gone
                raise RuntimeError(f"a stream partition failed: {ray_reason(err)}") from None
            calls = [(pick, answer) for (pick, _), answer in zip(calls, answers, strict=True)]
        out = []
        for pick, (ok, value) in calls:
            if not ok:
                raise value
            out.append((pick, value))
        return out


def _as_shipped(detector) -> tuple:
    """What of a detector may change after fit and changes its stream's scores or
    labels: its threshold, score scales (a copy) and scoring settings."""
    scales = getattr(detector, "score_scale_", None)
    return (float(detector.threshold_), None if scales is None else np.array(scales),
            detector._scoring_settings())


def _empty(n: int) -> dict[str, np.ndarray]:
    """The columns of a stream's results, for ``n`` points."""
    return {"score": np.zeros(n), "label": np.zeros(n, np.int64), "ready": np.zeros(n, bool),
            "gap": np.zeros(n, bool)}


class _Partition:
    """One partition: a stream of the shipped detector. Errors come back as
    values, so that the caller raises the stream's own error, not Ray's."""

    def __init__(self, data: bytes):
        self.stream = model_from_bytes(data).stream()

    def update(self, timestamp, rows, series):
        return _attempt_raw(lambda: self.stream.update(timestamp, rows, series=series))

    def update_frame(self, df):
        return _attempt_raw(lambda: self.stream.update_frame(df))


def _attempt_raw(call):
    try:
        return True, call()
    except Exception as err:  # raised again by the caller as the stream raised it
        return False, _portable(err)


def _portable(err: Exception) -> Exception:
    """``err`` as an exception that survives the trip back from an actor (one whose
    class takes other arguments than a message would not unpickle), its kind and
    message kept."""
    from tsrnn.data import DataError

    for kind in (DataError, KeyError, TypeError, ValueError):
        if isinstance(err, kind):
            return kind(*err.args[:1]) if kind is KeyError else kind(str(err))
    from tsrnn.distributed.engine import one_line

    return RuntimeError(one_line(err))
