"""Lightning callbacks for tsrnn's fits: the best weights, the last checkpoint, the
epoch bar, and the quiet that keeps Lightning's chatter out of a fit.

:func:`tsrnn.training.fit_module` adds them; like :mod:`tsrnn.training`, this
module imports Lightning, and only estimators' ``fit`` imports it.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.callbacks import Callback, Checkpoint

__all__ = ["BestWeights", "EpochProgress", "LastCheckpoint", "Quiet"]


class BestWeights(Callback):
    """Keep the weights of the best validation epoch in memory and restore them at
    the end, without writing checkpoints to disk."""

    def __init__(self, monitor: str = "val_loss"):
        self.monitor = monitor
        self.best_score = float("inf")
        self.best_epoch = -1
        self.best_state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is not None and float(score) < self.best_score:
            self.best_score, self.best_epoch = float(score), trainer.current_epoch
            self.best_state = copy.deepcopy(pl_module.state_dict())

    def on_fit_end(self, trainer, pl_module):
        if self.best_state is not None:
            pl_module.load_state_dict(self.best_state)

    # Part of a checkpoint, so a resumed fit still restores the best epoch's weights
    # when that epoch ran before the interruption.
    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch,
                "best_state": self.best_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict["best_score"]
        self.best_epoch = state_dict["best_epoch"]
        self.best_state = state_dict["best_state"]


class LastCheckpoint(Checkpoint):
    """Save the whole training state (weights, optimizer, epoch, early stopping,
    best weights, and the random state with :class:`tsrnn.checkpoints.RandomState`) to
    ``<dirpath>/last.ckpt`` after every epoch.

    The file is written beside and renamed over the previous one, so a run killed
    while saving still leaves the previous epoch's checkpoint intact.
    """

    def __init__(self, dirpath: str | os.PathLike):
        self.path = Path(dirpath) / "last.ckpt"

    def on_train_epoch_end(self, trainer, pl_module):
        # A Checkpoint subclass runs after the module's and early stopping's epoch-end
        # hooks, so the saved state includes this epoch's losses and patience count.
        # Every process takes part in saving; the first one alone writes.
        if trainer.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(tmp)
        if trainer.is_global_zero:
            os.replace(tmp, self.path)


class EpochProgress(Callback):
    """One progress bar over epochs on stderr, showing the last epoch's losses."""

    def on_train_start(self, trainer, pl_module):
        from tqdm import tqdm

        self.bar = tqdm(total=trainer.max_epochs, initial=trainer.current_epoch,
                        desc="training", unit="epoch", file=sys.stderr, dynamic_ncols=True,
                        disable=not trainer.is_global_zero)  # one bar for all processes

    def on_train_epoch_start(self, trainer, pl_module):
        self._show_losses(trainer)

    def on_train_epoch_end(self, trainer, pl_module):
        self.bar.update(1)

    def on_train_end(self, trainer, pl_module):
        self._show_losses(trainer)
        self.bar.close()

    def _show_losses(self, trainer) -> None:
        losses = {k: f"{float(v):.4g}" for k, v in trainer.callback_metrics.items()
                  if k in ("train_loss", "val_loss")}
        if losses:
            self.bar.set_postfix(losses, refresh=True)


@contextmanager
def _quiet():
    """Silence Lightning's start-up chatter (GPU/TPU banners, tips) and advice that
    does not apply here: what a fit shows is tsrnn's epoch bar, or nothing."""
    loggers = [logging.getLogger(n) for n in _LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    try:
        with warnings.catch_warnings():
            _silence()
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


_LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning.fabric",
                      "lightning_fabric")


def _silence() -> None:
    for name in _LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Worker processes cost more than they save for in-memory windows.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    # Training without a validation part (val_size=0) is a supported choice.
    warnings.filterwarnings("ignore", ".*validation_step.* but have no .*val_dataloader.*")
    warnings.filterwarnings("ignore", ".*number of training batches.*smaller than "
                            "the logging interval.*")
    warnings.filterwarnings("ignore", ".*`isinstance\\(treespec, LeafSpec\\)`.*")
    # Distributed: the epoch losses are summed over the processes before they are
    # logged (ForecastingModule._log_epoch), which is what sync_dist would do.
    warnings.filterwarnings("ignore", ".*use `self.log\\(.*sync_dist=True\\)`.*")


class Quiet(Callback):
    """:func:`_quiet` in the processes ``ddp_spawn`` starts: they receive this
    callback pickled, before Lightning says anything there."""

    def __init__(self):
        self.quiet = True  # pickle calls __setstate__ only for a non-empty state

    def __setstate__(self, state):
        self.__dict__.update(state)
        _silence()
