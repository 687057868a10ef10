"""Stream state files: ``stream.save(path)`` (:func:`save_stream`) and
:func:`load_stream`, for :class:`~tsrnn.streaming.AnomalyStream` and
:class:`~tsrnn.stateful_stream.StatefulStream` alike, and a stream's state as
plain values and tensors.

The objects a stream keeps per series (score filters, range watches, the window
sums inside them) become dictionaries of their attributes, tagged with their
class. Only those classes are rebuilt, and each rebuilt object is checked against
a fresh one made from the detector (same attributes, arrays of the same shape and
dtype), so a state file can neither run code (it is also read with
``weights_only=True``) nor smuggle in state of another shape.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import pandas as pd
import torch

from tsrnn.drift import DriftWatch
from tsrnn.level import LevelWatch
from tsrnn.likelihood import RangeWatch, ScoreFilter, _WindowSum
from tsrnn.stuck import StuckWatch

CLASSES = {cls.__name__: cls for cls in (ScoreFilter, RangeWatch, _WindowSum, StuckWatch,
                                         LevelWatch, DriftWatch)}


def to_plain(value: Any) -> Any:
    """``value`` in the forms ``torch.load(weights_only=True)`` reads back."""
    if type(value).__name__ in CLASSES and type(value) is CLASSES[type(value).__name__]:
        return {"__class__": type(value).__name__,
                "attrs": {k: to_plain(v) for k, v in vars(value).items()}}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.array(value, copy=True))}
    if isinstance(value, deque):
        return {"__deque__": [to_plain(v) for v in value]}
    if isinstance(value, tuple):
        return {"__tuple__": [to_plain(v) for v in value]}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": {str(k): to_plain(v) for k, v in value.items()}}
    if isinstance(value, pd.Timestamp):
        return {"__time__": value.isoformat()}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot save stream state holding {type(value).__name__}")


def from_plain(value: Any, template: Any, where: str) -> Any:
    """The value :func:`to_plain` made, checked against ``template``, a fresh value of
    the same place (its class, attributes, array shapes); errors name ``where``."""
    if isinstance(value, dict) and "__class__" in value:
        cls = CLASSES.get(value["__class__"])
        if cls is None or type(template) is not cls:
            raise ValueError(f"{where}: {value['__class__']!r} where a "
                             f"{type(template).__name__} belongs")
        attrs, expected = value.get("attrs"), vars(template)
        if not isinstance(attrs, dict) or set(attrs) != set(expected):
            raise ValueError(f"{where}: the attributes of a {cls.__name__} do not match")
        obj = cls.__new__(cls)
        for k, v in attrs.items():
            setattr(obj, k, from_plain(v, expected[k], f"{where}.{k}"))
        return obj
    if isinstance(value, dict) and "__ndarray__" in value:
        array = value["__ndarray__"]
        if not isinstance(array, torch.Tensor) or array.dim() > max(
                2, template.ndim if isinstance(template, np.ndarray) else 0):
            raise ValueError(f"{where}: expected an array")
        array = array.numpy()
        if isinstance(template, np.ndarray) and (array.dtype != template.dtype
                                                 or array.shape != template.shape):
            raise ValueError(f"{where}: an array of {array.dtype} {array.shape}, expected "
                             f"{template.dtype} {template.shape}")
        return array
    if isinstance(value, dict) and len(value) == 1:
        (tag, inner), = value.items()
        if tag == "__deque__" and isinstance(inner, list):
            return deque(from_plain(v, None, where) for v in inner)
        if tag == "__tuple__" and isinstance(inner, list):
            return tuple(from_plain(v, None, where) for v in inner)
        if tag == "__time__" and isinstance(inner, str):
            return pd.Timestamp(inner)
        if tag == "__dict__" and isinstance(inner, dict):
            known = template if isinstance(template, dict) else {}
            return {k: from_plain(v, known.get(k), f"{where}.{k}") for k, v in inner.items()}
    if isinstance(value, list):
        return [from_plain(v, None, where) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"{where}: unexpected {type(value).__name__} in a stream state file")


STREAM_FORMAT = "tsrnn-stream"
WHAT = "stream state file"


def save_stream(path, detector, series: list, state) -> None:
    """Write a stream state file: the detector's model payload, the series ids and
    their state (plain values, :func:`to_plain`), checksummed, atomically."""
    from tsrnn import persistence
    from tsrnn.files import atomic_write
    from tsrnn.model_checks import checksum

    payload = {"format": STREAM_FORMAT, "format_version": 1,
               "model": persistence.payload_of(detector),
               "series": persistence._plain(list(series), "series ids"),
               "state": to_plain(state)}
    payload["checksum"] = checksum(payload)
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def load_stream(path):
    """The stream a state file holds, with its detector: an
    :class:`~tsrnn.streaming.AnomalyStream` or a
    :class:`~tsrnn.stateful_stream.StatefulStream`, as ``detector.stream()`` makes
    for that detector. The file is read with ``weights_only=True`` and checked
    (format, checksum, the detector, every array of the state against the shapes
    a fresh stream of that detector has, its values) before it is used; a bad
    file raises a one-line ``ValueError`` naming it."""
    from tsrnn import persistence
    from tsrnn.detector import AnomalyDetector
    from tsrnn.model_checks import checksum

    payload = persistence.load_file(path, WHAT)
    if not isinstance(payload, dict) or payload.get("format") != STREAM_FORMAT:
        raise ValueError(f"{path} is not a tsrnn {WHAT}")
    if payload.get("format_version") != 1:
        raise ValueError(f"{path}: stream state format {payload.get('format_version')!r} "
                         "is not one this tsrnn reads")
    try:
        intact = payload.get("checksum") == checksum(payload)
    except (ValueError, RecursionError):
        intact = False
    if not intact:
        raise ValueError(f"{path} is damaged: its content does not match its checksum")
    model = persistence.build(AnomalyDetector, persistence.verify(payload.get("model"), path),
                              path)
    stream = model.stream()
    series = payload.get("series")
    if not isinstance(series, list) or len(set(map(repr, series))) < len(series):
        raise ValueError(f"{path} is damaged: its series ids are not a list of distinct ids")
    stream._restore(series, payload.get("state"), path)
    return stream
