"""Checks of the training settings every estimator shares (learning rate, gradient
clipping, early stopping, seed, hardware, several processes, and the escape hatch
to Lightning's Trainer): each bad value is named here, before Lightning would fail on it with a
message about its own internals."""

from __future__ import annotations

import difflib
import os
import sys
from typing import Any

from tsrnn._checks import check_fraction, check_integer, check_positive, is_integer

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = ("32-true", "32", 32, "64-true", "64", 64, "16-mixed", "16-true", "16", 16,
              "bf16-mixed", "bf16-true", "bf16", "transformer-engine",
              "transformer-engine-float16")
DISTRIBUTED = (None, "ddp", "ddp_spawn")


def check_training(estimator: Any) -> None:
    """Raise a one-line ``ValueError`` naming the first bad training setting."""
    check_positive(estimator.lr, "lr")
    check_positive(estimator.gradient_clip, "gradient_clip", optional=True)
    if estimator.patience is not None:
        check_integer(estimator.patience, "patience", 0)
    for name in ("dropout", "recurrent_dropout"):
        if hasattr(estimator, name):
            check_fraction(getattr(estimator, name), name)
    seed = estimator.random_state
    if seed is not None and (not is_integer(seed) or not 0 <= seed < 2**32):
        raise ValueError(f"random_state must be None or an integer in [0, 2**32), got {seed!r}")
    if estimator.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {[p for p in PRECISIONS if isinstance(p, str)]}"
                         f", got {estimator.precision!r}")
    _check_accelerator(estimator.accelerator)
    _check_devices(estimator.devices)
    _check_trainer_kwargs(estimator.trainer_kwargs)
    check_distributed(estimator)


def _check_accelerator(accelerator: Any) -> None:
    if not isinstance(accelerator, str):
        return  # a Lightning Accelerator instance: Lightning checks it
    if accelerator not in ACCELERATORS:
        raise ValueError(f"accelerator must be one of {list(ACCELERATORS)} (or a Lightning "
                         f"Accelerator), got {accelerator!r}")
    import torch

    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(f"accelerator={accelerator!r}, but torch sees no CUDA GPU on this "
                         "machine; use 'cpu' or 'auto'")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ValueError("accelerator='mps', but this machine has no Apple GPU; use 'cpu' or "
                         "'auto'")


def _check_devices(devices: Any) -> None:
    """``"auto"``, a count (-1: all), a list of device indices, or Lightning's string
    forms of those ("2", "0,1", "-1")."""
    given = devices
    if devices == "auto":
        return
    if isinstance(devices, str):
        parts = [p.strip() for p in devices.split(",") if p.strip()]
        ok = bool(parts) and all(p.lstrip("-").isdigit() for p in parts)
        devices = [int(p) for p in parts] if ok and len(parts) > 1 else (
            int(parts[0]) if ok else None)
    if is_integer(devices) and (devices >= 1 or devices == -1):
        return
    if isinstance(devices, list | tuple) and devices and all(
            is_integer(d) and d >= 0 for d in devices):
        return
    raise ValueError(f"devices must be 'auto', a number of devices >= 1 (-1: all), or a list "
                     f"of device indices, got {given!r}")


def _check_trainer_kwargs(kwargs: Any) -> None:
    if kwargs is None:
        return
    if not isinstance(kwargs, dict):
        raise ValueError(f"trainer_kwargs must be a dict of Lightning Trainer arguments or None, "
                         f"got {kwargs!r}")
    if not kwargs:
        return
    import inspect

    import pytorch_lightning as pl

    # Over the MRO: a Trainer subclass may take **kwargs and pass them on.
    callbacks = kwargs.get("callbacks")
    if callbacks is not None:
        from pytorch_lightning.callbacks import Callback

        items = callbacks if isinstance(callbacks, list | tuple) else [callbacks]
        if not all(isinstance(c, Callback) for c in items):
            raise ValueError(f"trainer_kwargs['callbacks'] must be a list of Lightning "
                             f"Callbacks, got {callbacks!r}")
    known = [name for cls in pl.Trainer.__mro__ if "__init__" in vars(cls)
             for name, p in inspect.signature(cls.__init__).parameters.items()
             if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    for key in kwargs:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"trainer_kwargs: {key!r} is not a Lightning Trainer argument"
                             f"{hint}")


def check_distributed(estimator: Any) -> None:
    """``distributed``: one of :data:`DISTRIBUTED`, and a program Lightning can
    start more processes of (see :mod:`tsrnn.ddp`)."""
    value = getattr(estimator, "distributed", None)
    if value is None:
        return
    if value not in DISTRIBUTED:
        raise ValueError(f"distributed must be None, 'ddp' or 'ddp_spawn', got {value!r}")
    if "strategy" in (estimator.trainer_kwargs or {}):
        raise ValueError(f"distributed={value!r} and trainer_kwargs['strategy'] both choose "
                         "Lightning's strategy: pass one of them")
    if estimator.devices == "auto" and not _gpus(estimator.accelerator):
        raise ValueError(f"distributed={value!r} with devices='auto' is one process on CPUs: "
                         "set devices to the number of processes, e.g. devices=2")
    if _interactive():
        raise ValueError(
            f"distributed={value!r} cannot start training processes from a notebook or an "
            "interactive session (Lightning's 'ddp' runs a script again, and 'ddp_spawn' "
            "processes cannot import what a notebook defines): put the fit in a script and "
            "run it with `python script.py` (or torchrun)")
    if value == "ddp" and not _script_to_rerun():
        raise ValueError(
            "distributed='ddp' runs the script again in each extra process, but this "
            "program has no script file or module to run (python -c, or code read from "
            "standard input): put the fit in a script, or use distributed='ddp_spawn'")


def _gpus(accelerator: Any) -> bool:
    """Whether Lightning's ``devices="auto"`` means the GPUs (all of them) rather
    than one CPU process."""
    import torch

    return accelerator in ("gpu", "cuda") or (accelerator == "auto"
                                              and torch.cuda.is_available())


def _interactive() -> bool:
    # Lightning's own test (a REPL or `python -i`), and Jupyter's kernel, which sets
    # neither.
    return hasattr(sys, "ps1") or bool(sys.flags.interactive) or "ipykernel" in sys.modules


def _script_to_rerun() -> bool:
    """Whether Lightning can start this program again: a ``python -m`` module or a
    script file (what its ``ddp`` launcher runs in each extra process)."""
    import __main__

    if getattr(__main__, "__spec__", None) is not None:
        return True
    return bool(sys.argv) and os.path.isfile(sys.argv[0])
