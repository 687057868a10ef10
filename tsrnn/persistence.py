"""Safe model files: parameters, weights and fitted state as tensors and plain values.

Modelled on NeuralForecast (``hyper_parameters`` + ``state_dict``, then
``cls(**params)`` and ``load_state_dict(strict=True)``), plus the fitted
preprocessing and the library versions. Files load with
``torch.load(weights_only=True)``: nothing in them can run code when loaded.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import torch

FORMAT = "tsrnn-model"
FORMAT_VERSION = 1


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
    """Write atomically: a crash never leaves a half-written model file."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": _plain(estimator.get_params(deep=False), "parameters"),
        "state_dict": {k: v.detach().cpu() for k, v in estimator.net_.state_dict().items()},
        "fitted": _plain(estimator._fitted_state(), "fitted state"),
        "versions": versions(),
    }
    from tsrnn.files import atomic_write

    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def load(cls, path: str | os.PathLike):
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tsrnn model file")
    if payload["estimator"] != cls.__name__:
        raise ValueError(f"{path} holds a {payload['estimator']}, not a {cls.__name__}")
    if payload["format_version"] > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer tsrnn "
                         f"({payload['versions'].get('tsrnn')}); upgrade tsrnn to load it")
    params = payload["params"]
    upgrade = getattr(cls, "_upgrade_params", None)
    estimator = cls(**(upgrade(params) if upgrade else params))
    estimator._restore(payload["fitted"], payload["state_dict"])
    estimator.saved_versions_ = payload["versions"]
    return estimator


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
