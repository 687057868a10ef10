"""Training checkpoints that resume safely and exactly.

A checkpoint is a file like any other: :func:`check_checkpoint` loads it with
``weights_only=True`` whatever the environment says and refuses, with one line
naming it, one that cannot be read, holds code or holds another network. And a
resumed fit must end where the uninterrupted one would have: :class:`RandomState`
keeps the random draws training makes in the checkpoint.

:func:`fit_options` holds a run's checkpoint settings for every fit inside it, and
an ensemble's members each resume from their own folder (:func:`member_options`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple

import torch
from pytorch_lightning.callbacks import Callback
from torch import nn

from tsrnn.persistence import load_file

__all__ = ["RandomState", "check_checkpoint", "check_shapes", "finished_member", "fit_options",
           "mark_finished", "member_options", "shuffler"]


class RandomState(Callback):
    """Keep the random state training draws from in the checkpoint: the shuffler's
    generator (the order of each epoch's batches) and torch's global generator
    (dropout), so a resumed fit makes the draws the uninterrupted one would have
    made and ends with the same weights.

    Lightning restores callbacks before it makes the first epoch's batches, so the
    state is put back in :meth:`load_state_dict` itself.
    """

    def __init__(self, shuffler: torch.Generator | None):
        self.shuffler = shuffler

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.shuffler is not None:
            state["shuffler"] = self.shuffler.get_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        try:
            torch.set_rng_state(state_dict["torch"])
            if self.shuffler is not None and "shuffler" in state_dict:
                self.shuffler.set_state(state_dict["shuffler"])
            cuda = state_dict.get("cuda")
            if cuda is not None and torch.cuda.is_available() \
                    and len(cuda) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda)
        except (KeyError, TypeError, RuntimeError) as err:
            raise ValueError(f"the checkpoint's random state is damaged ({err})") from None


def shuffler(loader) -> torch.Generator | None:
    """The generator that orders a loader's batches: tsrnn's ``BatchIndices``
    sampler keeps it, a plain DataLoader's ``RandomSampler`` or the loader does."""
    for owner in (getattr(loader, "sampler", None), loader):
        generator = getattr(owner, "generator", None)
        if isinstance(generator, torch.Generator):
            return generator
    return None


# What Lightning reads from a checkpoint to resume a fit.
_CHECKPOINT_KEYS = {"epoch": int, "global_step": int, "state_dict": dict, "loops": dict,
                    "callbacks": dict, "optimizer_states": list, "lr_schedulers": list}


def check_checkpoint(path: Path, module: nn.Module) -> None:
    """Refuse, with one line naming it, a checkpoint Lightning should not resume
    from: unreadable, holding code, missing what a resume reads, or holding a
    network of another shape. Lightning then loads it again, also with
    ``weights_only=True``."""
    checkpoint = load_file(path, "training checkpoint")
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path} is not a tsrnn training checkpoint")
    for key, kind in _CHECKPOINT_KEYS.items():
        if not isinstance(checkpoint.get(key), kind):
            raise ValueError(f"{path} is not a tsrnn training checkpoint: its {key!r} "
                             f"is missing or not a {kind.__name__}")
    check_shapes(path, checkpoint["state_dict"], module.state_dict())


def check_shapes(path: Path, stored: dict, expected: dict[str, torch.Tensor]) -> None:
    differ = [k for k in expected.keys() | stored.keys()
              if not isinstance(stored.get(k), torch.Tensor) or k not in expected
              or stored[k].shape != expected[k].shape]
    if differ:
        raise ValueError(f"{path} holds a network of another shape than these settings "
                         f"give ({sorted(differ)[0]!r}); delete it, or train without resuming")


class _FitOptions(NamedTuple):
    checkpoint_dir: Path | None
    resume: bool
    progress: bool | None
    member: int | None = None  # inside an ensemble's fit: which member trains


_FIT_OPTIONS: ContextVar[_FitOptions | None] = ContextVar("tsrnn_fit_options", default=None)


@contextmanager
def fit_options(*, checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
                progress: bool | None = None) -> Iterator[None]:
    """Settings for every fit inside the block, whatever the estimator.

    They are run settings, not model parameters, so they stay out of
    ``get_params()`` and out of saved model files.

    Parameters
    ----------
    checkpoint_dir
        Save the training state to ``<checkpoint_dir>/last.ckpt`` after every epoch
        (see :class:`tsrnn.callbacks.LastCheckpoint`).
    resume
        Start from that checkpoint when it exists, continuing its epochs with the
        random draws the uninterrupted fit would have made (the same weights in
        the end); without one, train from the start. The checkpoint is loaded with
        ``torch.load(weights_only=True)`` whatever the environment says, and one
        that cannot be read, holds code or holds another network's shape raises a
        ``ValueError`` naming it.
    progress
        Show a progress bar over epochs on stderr (True), or none (False); None
        leaves it to each estimator's ``verbose``.

    Examples
    --------
    >>> with fit_options(checkpoint_dir="run.ckpt", resume=True):  # doctest: +SKIP
    ...     model.fit(df)
    """
    token = _FIT_OPTIONS.set(_FitOptions(
        None if checkpoint_dir is None else Path(checkpoint_dir), resume, progress))
    try:
        yield
    finally:
        _FIT_OPTIONS.reset(token)


@contextmanager
def member_options(k: int) -> Iterator[None]:
    """Inside an ensemble's fit: member ``k`` keeps its checkpoint in its own
    subfolder ``member-k`` of :func:`fit_options`' ``checkpoint_dir``, so each
    member resumes from its own training state."""
    run = _FIT_OPTIONS.get()
    if run is None or run.checkpoint_dir is None:
        yield
        return
    token = _FIT_OPTIONS.set(run._replace(checkpoint_dir=run.checkpoint_dir / f"member-{k}",
                                          member=k))
    try:
        yield
    finally:
        _FIT_OPTIONS.reset(token)


_FINISHED = "finished.pt"


def finished_member(net: torch.nn.Module) -> dict | None:
    """Inside :func:`member_options` with ``resume``: a member an interrupted run
    trained to the end is loaded into ``net`` (not trained again, which would
    restart its early stopping); returns its training summary, or None."""
    run = _FIT_OPTIONS.get()
    if run is None or run.member is None or not run.resume:
        return None
    path = run.checkpoint_dir / _FINISHED
    if not path.exists():
        return None
    payload = load_file(path, "training checkpoint")
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict) \
            or not isinstance(payload.get("summary"), dict):
        raise ValueError(f"{path} is not a tsrnn training checkpoint")
    check_shapes(path, payload["state_dict"], net.state_dict())
    net.load_state_dict(payload["state_dict"], strict=True)
    return payload["summary"]


def mark_finished(net: torch.nn.Module, summary: dict) -> None:
    """Inside :func:`member_options`: keep a trained member's final weights, so a
    resumed run skips it."""
    from tsrnn.files import atomic_write, is_main_process

    run = _FIT_OPTIONS.get()
    if run is None or run.member is None or not is_main_process():
        return

    run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(run.checkpoint_dir / _FINISHED, "wb") as f:
        torch.save({"state_dict": net.state_dict(), "summary": summary}, f)
