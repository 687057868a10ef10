"""Training checkpoints that resume safely and exactly.

A checkpoint is a file like any other: :func:`check_checkpoint` loads it with
``weights_only=True`` whatever the environment says and refuses, with one line
naming it, one that cannot be read, holds code or holds another network. And a
resumed fit must end where the uninterrupted one would have: :class:`RandomState`
keeps the random draws training makes in the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.callbacks import Callback
from torch import nn

from tsrnn.persistence import load_file

__all__ = ["RandomState", "check_checkpoint", "check_shapes", "shuffler"]


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
