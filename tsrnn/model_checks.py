"""Checks on what a model file holds, before anything is built from it.

A model file may come from anywhere: ``torch.load(weights_only=True)`` keeps it
from running code, but what it unpickles can still be the wrong type, the wrong
shape, NaN, or sizes that ask for tens of GB. Each check raises a one-line
``ValueError`` that names the key at fault; :func:`tsrnn.persistence.load` adds
the file's name. Parameters' own values are checked by each estimator's
``_check_params``, as in ``fit``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from tsrnn._checks import a_or_an

__all__ = ["MAX_NET_BYTES", "build_net", "check_payload", "checksum", "fitted_array",
           "fitted_training_summary", "fitted_value"]

# Far above any network tsrnn trains (a 1,024-unit, 4-layer LSTM is ~130 MB), far
# below what would make loading a file swap or die.
MAX_NET_BYTES = 4 * 2**30

_HEADER = {"format", "format_version", "checksum"}
_TOP_LEVEL = {"estimator": str, "params": dict, "state_dict": dict, "fitted": dict,
              "versions": dict}


def check_payload(payload: dict) -> None:
    """The types of a payload's top-level entries and of its weights."""
    unknown = sorted(set(payload) - set(_TOP_LEVEL) - _HEADER)
    if unknown:
        raise ValueError(f"it has an entry {unknown[0]!r} that no tsrnn writes")
    for key, kind in _TOP_LEVEL.items():
        if key not in payload:
            raise ValueError(f"it has no {key!r} entry")
        if not isinstance(payload[key], kind):
            raise ValueError(f"its {key!r} entry is a {type(payload[key]).__name__}, "
                             f"not a {kind.__name__}")
    for name in payload["params"]:
        if not isinstance(name, str):
            raise ValueError(f"parameter name {name!r} is not a string")
    for name, value in payload["state_dict"].items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise ValueError(f"weight {name!r} is not a named tensor")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"weight {name!r} holds NaN or infinite values")


def build_net(make: Callable[[], nn.Module], weights: dict[str, torch.Tensor]) -> nn.Module:
    """``make()`` with ``weights`` loaded, once the stored weights are known to fit.

    ``make`` runs first on torch's ``meta`` device, which allocates nothing: a file
    whose parameters say ``hidden_size=60000`` beside small stored tensors is
    refused here, before the real network would ask for tens of GB.
    """
    with torch.device("meta"):
        shell = make()
    tensors = [*shell.parameters(), *shell.buffers()]
    size = sum(t.numel() * t.element_size() for t in tensors)
    if size > MAX_NET_BYTES:
        raise ValueError(f"its parameters describe a network of {size / 2**30:.1f} GiB, "
                         f"over the {MAX_NET_BYTES / 2**30:.0f} GiB limit")
    expected = shell.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing or unexpected:
        what = (f"weight {missing[0]!r} is missing" if missing
                else f"weight {unexpected[0]!r} is not part of the network")
        raise ValueError(f"its weights do not match its parameters: {what}")
    for key, shape in expected.items():
        if weights[key].shape != shape.shape:
            raise ValueError(f"weight {key!r} has shape {tuple(weights[key].shape)}, but the "
                             f"parameters give {tuple(shape.shape)}")
        if weights[key].dtype != shape.dtype:
            raise ValueError(f"weight {key!r} is {weights[key].dtype}, but the network's is "
                             f"{shape.dtype}")
    net = make()
    net.load_state_dict(weights, strict=True)
    return net


def fitted_value(state: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    """``state[key]``, refused unless it is of ``kind`` (``bool`` is never an int)."""
    if key not in state:
        raise ValueError(f"its fitted state has no {key!r}")
    value = state[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ValueError(f"fitted {key!r} is a {type(value).__name__}, not a {names}")
    return value


def fitted_training_summary(state: dict) -> dict:
    """``state["training_summary"]``, refused unless its epochs, best epoch and best
    validation loss (each member's too, under ``"members"``) are what a training
    writes: counts, a finite number, or None. ``summary()`` prints them."""
    summary = fitted_value(state, "training_summary", dict)
    members = summary.get("members", [])
    if not isinstance(members, list):
        raise ValueError("fitted 'training_summary' members are not a list")
    for part in (summary, *members):
        if not isinstance(part, dict):
            raise ValueError("fitted 'training_summary' holds a member that is not a dict")
        counts = [part.get(k) for k in ("epochs", "best_epoch")]
        loss = part.get("best_val_loss")
        if not all(n is None or (isinstance(n, int) and not isinstance(n, bool) and n >= 0)
                   for n in counts) or not (loss is None or (
                       isinstance(loss, int | float) and not isinstance(loss, bool)
                       and np.isfinite(loss))):
            raise ValueError(f"fitted 'training_summary' {part} is not epochs, best epoch "
                             "and best validation loss")
    return summary


def fitted_array(state: dict, key: str, shape: tuple[int | None, ...], *,
                 finite: bool = True, positive: bool = False) -> np.ndarray:
    """``state[key]`` as an array, refused unless it is a tensor of ``shape`` (None:
    any length) whose values are finite and, with ``positive``, above zero."""
    value = fitted_value(state, key, torch.Tensor)
    if value.ndim != len(shape) or any(n is not None and n != m
                                       for n, m in zip(shape, value.shape, strict=True)):
        want = tuple("any" if n is None else n for n in shape)
        raise ValueError(f"fitted {key!r} has shape {tuple(value.shape)}, expected {want}")
    if not value.is_floating_point():
        raise ValueError(f"fitted {key!r} holds {value.dtype}, not floating-point values")
    if finite and not bool(torch.isfinite(value).all()):
        raise ValueError(f"fitted {key!r} holds NaN or infinite values")
    if positive and not bool((value > 0).all()):
        raise ValueError(f"fitted {key!r} holds zero or negative values (a spread or "
                         "scale must be above zero)")
    return value.numpy()


def checksum(payload: dict) -> str:
    """sha256 of the payload's content, the ``checksum`` entry aside: every tensor's
    dtype, shape and bytes and every plain value, dictionaries in key order.

    Saving then loading changes none of these, so the sum only changes when the
    file's content does (a bit flipped on disk, a partial overwrite).
    """
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != "checksum"})
    return "sha256:" + digest.hexdigest()


def _feed(digest, value: Any) -> None:
    # Each value is tagged with its type and length, so that different contents
    # can never feed the same bytes (["ab"] and ["a", "b"], 1 and 1.0 and True).
    if value is None:
        digest.update(b"N")
    elif isinstance(value, bool):
        digest.update(b"T" if value else b"F")
    elif isinstance(value, int):
        _text(digest, b"i", str(value))
    elif isinstance(value, float):
        digest.update(b"f" + struct.pack("<d", value))
    elif isinstance(value, str):
        _text(digest, b"s", value)
    elif isinstance(value, list | tuple):
        digest.update(b"l" + struct.pack("<q", len(value)))
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        digest.update(b"d" + struct.pack("<q", len(value)))
        for key in sorted(value, key=str):
            _feed(digest, str(key))
            _feed(digest, value[key])
    elif isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        _text(digest, b"t", f"{t.dtype}{tuple(t.shape)}")
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        digest.update(struct.pack("<q", len(data)) + data)
    else:
        raise ValueError(f"it holds {a_or_an(type(value).__name__)}, not a plain value or tensor")


def _text(digest, tag: bytes, text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    digest.update(tag + struct.pack("<q", len(data)) + data)
