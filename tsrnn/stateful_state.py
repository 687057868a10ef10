"""A :class:`~tsrnn.stateful_stream.StatefulStream`'s state for its file
(:func:`tsrnn.streaming.load_stream`): the used slots of its arrays, in order of
arrival, its score filters and the first points of the series still warming up;
read back into a fresh stream of the same detector, every part checked against
what that stream has (array shapes and dtypes, finite values, counts in range)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tsrnn.likelihood import MIN_HISTORY
from tsrnn.stream_state import from_plain

if TYPE_CHECKING:
    from tsrnn.stateful_stream import StatefulStream

# Arrays whose every value is finite (the range's low and high are +-inf until set).
FINITE = ("h", "c", "pred", "row", "loc", "spread", "scale", "recent")


def plain_state(stream: StatefulStream) -> dict:
    """The state of ``stream.series``, in that order."""
    from tsrnn.stateful_stream import _at

    order = np.fromiter(stream._slot.values(), np.int64, len(stream._slot))
    return {"arrays": {key: arr[_at(key, order)] for key, arr in stream._arrays.items()},
            "filters": [stream._filters[k] for k in order],
            "warming": [stream._warming.get(sid) for sid in stream._slot]}


def restore(stream: StatefulStream, series: list, state, path) -> None:
    """Fill a fresh ``stream`` with the state :func:`plain_state` wrote for
    ``series``; a part that a stream of this detector could not hold raises
    ``ValueError`` naming ``path``."""
    from tsrnn.stateful_stream import _at

    stream._add(series)  # fresh slots 0..n-1: the template of every part
    n = len(series)
    template = plain_state(stream)
    # Part by part: a list's items have no template in from_plain.
    state = state.get("__dict__") if isinstance(state, dict) and len(state) == 1 else None
    if not isinstance(state, dict) or set(state) != set(template):
        raise ValueError(f"{path}: not a stateful stream's state (a windowed stream's, or "
                         "another detector's?)")
    arrays = from_plain(state["arrays"], template["arrays"], f"{path}: arrays")
    if not isinstance(arrays, dict) or set(arrays) != set(template["arrays"]):
        raise ValueError(f"{path}: its arrays are not those of this detector's stream")
    for key, fresh in template["arrays"].items():
        _check_array(arrays[key], fresh, f"{path}: array {key!r}", key in FINITE)
    if (arrays["spread"] <= 0).any() or (arrays["scale"] <= 0).any():
        raise ValueError(f"{path}: a scaling spread or an error scale is not > 0")
    for key, top in (("count", stream._window), ("learning", MIN_HISTORY),
                     ("n_recent", np.iinfo(np.int64).max)):
        if ((arrays[key] < 0) | (arrays[key] > top)).any():
            raise ValueError(f"{path}: array {key!r} holds counts out of [0, {top}]")
    if np.isnan(arrays["low"]).any() or np.isnan(arrays["high"]).any():
        raise ValueError(f"{path}: a range bound is NaN")
    filters, warming = state["filters"], state["warming"]
    if not isinstance(filters, list) or not isinstance(warming, list) or \
            len(filters) != n or len(warming) != n:
        raise ValueError(f"{path} is damaged: its series and their states do not match")
    for k, sid in enumerate(series):
        where = f"{path}: series {sid!r}"
        filters[k] = from_plain(filters[k], template["filters"][k], where)
        if type(filters[k]) is not type(template["filters"][k]):
            raise ValueError(f"{where}: its score filter is not this detector's")
        if filters[k] is not None:
            filters[k].check(template["filters"][k], where)
        warming[k] = _warming(warming[k], template["warming"][k], where)
    for key, arr in stream._arrays.items():
        arr[_at(key, slice(0, n))] = arrays[key]
    stream._filters = filters
    stream._warming = {sid: w for sid, w in zip(series, warming, strict=True) if w is not None}


def _warming(value, fresh: dict | None, where: str) -> dict | None:
    """A series' warm-up points: none for a fitted series (or one done warming up),
    else fewer than the warm-up's length, finite."""
    if value is None:
        return None
    if fresh is None:
        raise ValueError(f"{where}: warm-up points for a series seen at fit")
    value = from_plain(value, fresh, where)
    if not isinstance(value, dict) or set(value) != set(fresh):
        raise ValueError(f"{where}: its warm-up points are not a warm-up's")
    for key in ("rows", "ticks", "gaps"):
        _check_array(value[key], fresh[key], f"{where}: warm-up {key}", key == "rows")
    n = value["n"]
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < len(fresh["rows"]):
        raise ValueError(f"{where}: its count of warm-up points {n!r} is out of range")
    return value


def _check_array(value, fresh: np.ndarray, where: str, finite: bool) -> None:
    if not isinstance(value, np.ndarray) or value.shape != fresh.shape or \
            value.dtype != fresh.dtype:
        raise ValueError(f"{where}: expected an array of {fresh.dtype} {fresh.shape}")
    if finite and not np.isfinite(value).all():
        raise ValueError(f"{where}: holds NaN or inf")
