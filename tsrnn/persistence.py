"""Safe model files: parameters, weights and fitted state as tensors and plain values.

Modelled on NeuralForecast (``hyper_parameters`` + ``state_dict``, then
``cls(**params)`` and ``load_state_dict(strict=True)``), plus the fitted
preprocessing and the library versions. Files load with
``torch.load(weights_only=True)``: nothing in them can run code when loaded, even
with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` set (an explicit argument wins over it).

A model file is input from anywhere, so loading trusts nothing in it: a file that
cannot be read, holds code, fails its checksum, or holds weights and fitted
state that do not fit its parameters (see :mod:`tsrnn.model_checks`) is refused
with one ``ValueError`` line that names it.

Format versions: 1 had no checksum; 2 adds ``checksum``, the sha256 of the
content (:func:`tsrnn.model_checks.checksum`). Version 1 files still load.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tsrnn import model_checks
from tsrnn._checks import a_or_an

FORMAT = "tsrnn-model"
FORMAT_VERSION = 2


def versions() -> dict[str, str]:
    import sklearn

    import tsrnn

    return {"tsrnn": tsrnn.__version__, "torch": str(torch.__version__), "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__}


def _plain(value: Any, where: str) -> Any:
    """Check that ``value`` survives ``weights_only=True`` loading."""
    if value is None or isinstance(value, bool | int | float | str | torch.Tensor):
        return value
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    raise TypeError(f"cannot save {where}: {type(value).__name__} {value!r} is not a plain "
                    "value (use str or int series ids and column names)")


def save(estimator, path: str | os.PathLike) -> None:
    """Write atomically: a crash never leaves a half-written model file. In a
    distributed training's other processes, nothing: the first one writes it."""
    from tsrnn.files import atomic_write, is_main_process

    if not is_main_process():
        return
    with atomic_write(path, "wb") as f:
        torch.save(payload_of(estimator), f)


def payload_of(estimator) -> dict:
    """What a model file holds, checksum included (:func:`save` writes it; a
    stream state file nests it)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": _plain(estimator.get_params(deep=False), "parameters"),
        "state_dict": {k: v.detach().cpu() for k, v in estimator.net_.state_dict().items()},
        "fitted": _plain(estimator._fitted_state(), "fitted state"),
        "versions": versions(),
    }
    payload["checksum"] = model_checks.checksum(payload)
    return payload


def load_file(path: str | os.PathLike, what: str = "model file") -> Any:
    """``torch.load(path, weights_only=True)``, whatever the environment says, with
    torch's errors turned into one line that names the file.

    A missing file raises ``FileNotFoundError``; a folder, an unreadable file (empty,
    truncated, another format) or one holding code (anything the weights-only
    unpickler refuses) a ``ValueError``. Torch's own message for the last case
    suggests retrying with ``weights_only=False``, which would run that code: it is
    not passed on.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a {what}")
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} not found")
    if not path.is_file():  # a FIFO would block the read, a device never end it
        raise ValueError(f"{path} is not a regular file, so not a {what}")
    unreadable = (f"{path} is not a tsrnn {what} (cannot be read: it is truncated, "
                  "damaged or another kind of file)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # the weights-only unpickler refused something
        if not _pickled(path):  # e.g. a CSV: its first byte is no pickle instruction
            raise ValueError(unreadable) from None
        raise ValueError(f"{path} is not a tsrnn {what} (refused: it contains code)") from None
    except PermissionError:  # the file may be fine; the user must see why it is not read
        raise
    except Exception:  # miniz, EOFError, IndexError, ...: torch's errors for bad bytes
        raise ValueError(unreadable) from None


def _pickled(path: Path) -> bool:
    """Whether the file starts as ``torch.save``'s files do: a zip archive (of
    pickles) or, in torch's legacy format, a pickle."""
    with open(path, "rb") as f:
        head = f.read(4)
    return head == b"PK\x03\x04" or head[:1] == b"\x80"


def read(path: str | os.PathLike) -> dict:
    """The payload of a model file, its format and checksum verified."""
    return verify(load_file(path), path)


def verify(payload: Any, path: str | os.PathLike) -> dict:
    """``payload`` (read from ``path``) as a model file's, its format, version and
    checksum checked; errors name ``path``."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tsrnn model file")
    version = payload.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path} is damaged: format_version {version!r} is not a version")
    if version > FORMAT_VERSION:
        written_by = payload.get("versions")
        written_by = written_by.get("tsrnn") if isinstance(written_by, dict) else None
        raise ValueError(f"{path} was written by a newer tsrnn ({written_by}); upgrade "
                         "tsrnn to load it")
    if version >= 2:  # version 1 files have no checksum
        stored = payload.get("checksum")
        try:
            actual = model_checks.checksum(payload)
        except (ValueError, RecursionError):
            actual = None
        if not isinstance(stored, str) or stored != actual:
            raise ValueError(f"{path} is damaged: its content does not match its checksum")
    try:
        model_checks.check_payload(payload)
    except ValueError as err:
        raise ValueError(f"{path} is damaged or not a tsrnn model file: {err}") from None
    return payload


def load(cls, path: str | os.PathLike):
    """The ``cls`` estimator a model file holds (see :func:`read` and :func:`build`)."""
    return build(cls, read(path), path)


def build(cls, payload: dict, path: str | os.PathLike):
    """The estimator of a payload :func:`read` returned, every part of it checked
    (:mod:`tsrnn.model_checks`) before anything is allocated from it."""
    if payload["estimator"] != cls.__name__:
        raise ValueError(f"{path} holds {a_or_an(str(payload['estimator']))}, not "
                         f"{a_or_an(cls.__name__)}")
    try:
        params = payload["params"]
        upgrade = getattr(cls, "_upgrade_params", None)
        params = upgrade(params) if upgrade else params
        known = cls._get_param_names()
        unknown = [name for name in params if name not in known]
        if unknown:
            raise ValueError(f"{cls.__name__} has no parameter {unknown[0]!r}")
        estimator = cls(**params)
        estimator._check_params()  # the checks fit makes: sizes, names, ranges
        # Each layer and each ensemble member holds at least one weight tensor: a
        # count above that would only make building the network (even on the meta
        # device) take minutes.
        for name in ("num_layers", "n_models"):
            if getattr(estimator, name, 1) > len(payload["state_dict"]):
                raise ValueError(f"{name}={getattr(estimator, name)} is more than its "
                                 f"{len(payload['state_dict'])} weights can hold")
        estimator._restore(payload["fitted"], payload["state_dict"])
        # Older files may lack entries (they have defaults); none has entries that
        # this tsrnn would not write.
        unknown = sorted(set(payload["fitted"]) - set(estimator._fitted_state()))
        if unknown:
            raise ValueError(f"its fitted state has an entry {unknown[0]!r} that no tsrnn "
                             "writes")
    except Exception as err:  # whatever the cause, the file is at fault, not the caller
        raise ValueError(f"{path} is damaged or not a usable tsrnn model file: "
                         f"{_reason(err)}") from None
    estimator.saved_versions_ = payload["versions"]
    return estimator


def _reason(err: Exception) -> str:
    if isinstance(err, KeyError):
        return f"{err.args[0]!r} is missing"
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def freq_to_plain(freq) -> str | int | None:
    if freq is None or isinstance(freq, int | np.integer):
        return None if freq is None else int(freq)
    return freq.freqstr


def freq_from_plain(freq):
    if freq is None or isinstance(freq, int):
        return freq
    return pd.tseries.frequencies.to_offset(freq)


def time_to_plain(t) -> str | int:
    return t.isoformat() if isinstance(t, pd.Timestamp) else int(t)


def time_from_plain(t):
    return pd.Timestamp(t) if isinstance(t, str) else t
