"""Lightning glue: one thin LightningModule per task, and the Trainer set-up.

Lightning is imported here and in the modules only fitting uses
(:mod:`tsrnn.callbacks`, :mod:`tsrnn.checkpoints`, :mod:`tsrnn.ddp`), and only
estimators' ``fit`` imports them. Networks stay plain
``nn.Module``s (``tsrnn.nn``); prediction never goes through the Trainer.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, Checkpoint, EarlyStopping
from torch import nn
from torch.nn import functional as F

from tsrnn.callbacks import BestWeights, EpochProgress, LastCheckpoint, Quiet, _quiet
from tsrnn.checkpoints import (
    _FIT_OPTIONS,
    RandomState,
    check_checkpoint,
    fit_options,
    shuffler,
)

__all__ = ["ForecastingModule", "RandomState", "ReconstructionModule", "fit_module",
           "fit_options", "pinball_loss", "point_loss"]

LOSSES = ("mse", "mae", "huber")
SCHEDULERS = (None, "plateau", "cosine")


def point_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "mse":
        return F.mse_loss
    if name == "mae":
        return F.l1_loss
    if name == "huber":
        return F.huber_loss
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor):
    """Mean pinball loss of ``pred [..., Q]`` against ``target [...]``."""
    diff = target[..., None] - pred  # [..., Q]
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()


class ForecastingModule(pl.LightningModule):
    """Loss, optimizer and logging for a forecasting network; nothing else."""

    def __init__(self, net: nn.Module, *, loss: str = "mse",
                 quantiles: Sequence[float] | None = None, lr: float = 1e-3,
                 lr_scheduler: str | None = None, max_epochs: int = 1,
                 monitor: str = "val_loss"):
        super().__init__()
        self.net = net
        self.point_loss = point_loss(loss)
        self.register_buffer("quantiles", torch.tensor(list(quantiles or []),
                                                       dtype=torch.float32))
        self.lr, self.lr_scheduler, self.max_epochs = lr, lr_scheduler, max_epochs
        self.monitor = monitor  # what the plateau scheduler watches
        self._sums: dict[str, tuple[torch.Tensor | float, int]] = {}
        # Teacher forcing (decoders that have it) decays linearly to 0 over training.
        self.teacher_forcing_start = float(getattr(net, "teacher_forcing", 0.0))
        if lr_scheduler not in SCHEDULERS:
            raise ValueError(f"lr_scheduler must be one of {SCHEDULERS}, got {lr_scheduler!r}")

    def on_train_epoch_start(self):
        if self.teacher_forcing_start > 0:
            left = 1.0 - self.current_epoch / max(1, self.max_epochs)
            self.net.teacher_forcing = self.teacher_forcing_start * max(0.0, left)

    def on_train_end(self):
        if self.teacher_forcing_start > 0:  # the fitted net keeps its configured ratio
            self.net.teacher_forcing = self.teacher_forcing_start

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # Lightning's generic collection walk costs ~0.7 ms a step; a Batch is four
        # tensors, moved directly.
        return type(batch)(*(t.to(device, non_blocking=True) for t in batch))

    def _loss(self, batch) -> torch.Tensor:
        future = batch.future if batch.future.shape[-1] else None
        pred = self.net(batch.inputs, future, batch.targets)  # targets: teacher forcing
        if self.quantiles.numel():
            return pinball_loss(pred, batch.targets, self.quantiles)  # pred [B, H, C, Q]
        return self.point_loss(pred[..., 0], batch.targets)

    # Losses are summed here and logged once an epoch: self.log on every step costs
    # Lightning ~0.6 ms of bookkeeping, a tenth of a small RNN's step.
    def _accumulate(self, name: str, loss: torch.Tensor, batch) -> None:
        n = batch.inputs.shape[0]
        total, count = self._sums.get(name, (0.0, 0))
        self._sums[name] = (total + loss.detach() * n, count + n)

    def _log_epoch(self, name: str) -> None:
        total, count = self._sums.pop(name, (0.0, 0))
        if self.trainer.world_size > 1:  # every process logs the loss over all of them
            both = torch.tensor([float(total), count], dtype=torch.float64,
                                device=self.device)
            total, count = self.trainer.strategy.reduce(both, reduce_op="sum").float()
        if count:
            self.log(name, total / count, prog_bar=True)

    # This process's share of a distributed step's batch (tsrnn.ddp.ShareBatches):
    # DDP averages the processes' gradients, and a part of b windows out of n
    # counts b * processes / n so that the average is the whole batch's mean.
    share = 1.0

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        if self.share:  # 0: a repeated window, only there to keep the steps equal
            self._accumulate("train_loss", loss, batch)
        return loss if self.share == 1.0 else loss * self.share

    def validation_step(self, batch, batch_idx):
        self._accumulate("val_loss", self._loss(batch), batch)

    def on_train_epoch_end(self):
        self._log_epoch("train_loss")

    def on_validation_epoch_end(self):
        self._log_epoch("val_loss")

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        if self.lr_scheduler is None:
            return optimizer
        if self.lr_scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5,
                                                                   patience=2)
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor}}
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                               T_max=max(1, self.max_epochs))
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def _chunk_step(self, optimizer, loss: torch.Tensor) -> None:
        """One optimizer step on one chunk's loss, for the modules that optimise by
        hand (truncated BPTT: a step per chunk), clipping as the Trainer would."""
        optimizer.zero_grad()
        self.manual_backward(loss)
        if self.gradient_clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip,
                                gradient_clip_algorithm="norm")
        optimizer.step()


class ReconstructionModule(ForecastingModule):
    """Loss and optimizer for an autoencoder: rebuild the input windows."""

    def _loss(self, batch) -> torch.Tensor:
        return F.mse_loss(self.net(batch.inputs), batch.inputs)


def _wants_progress(verbose: bool | str) -> bool:
    """``verbose``: True shows the epoch bar, False nothing, ``"auto"`` the bar when
    standard error is a terminal (not in logs, pipes or notebooks' captured output)."""
    if verbose == "auto":
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())
    return bool(verbose)


def fit_module(
    module: pl.LightningModule,
    train_loader,
    val_loader=None,
    *,
    max_epochs: int,
    patience: int | None,
    gradient_clip: float | None,
    accelerator: str = "auto",
    devices: Any = "auto",
    precision: Any = "32-true",
    verbose: bool = False,
    log_dir: str | None = None,
    trainer_kwargs: dict | None = None,
    distributed: str | None = None,
) -> dict[str, Any]:
    """Train ``module`` with early stopping on ``val_loss`` (when there is a
    validation loader), restoring the best weights. Returns a summary.

    ``distributed``: ``"ddp"`` or ``"ddp_spawn"`` trains on ``devices`` processes
    with Lightning's strategy of that name (see :mod:`tsrnn.ddp`); the trained
    weights end up in ``module`` in the calling process either way.

    Callbacks in ``trainer_kwargs`` are added to tsrnn's own. Checkpoints, resuming
    and a progress bar come from an enclosing :func:`fit_options` block.
    """
    callbacks: list[Callback] = []
    best = None
    if val_loader is not None:
        best = BestWeights()
        callbacks.append(best)
        if patience is not None:
            callbacks.append(EarlyStopping("val_loss", patience=patience, mode="min"))
    extra = dict(trainer_kwargs or {})
    callbacks.extend(extra.pop("callbacks", None) or [])  # added to ours, not instead
    several: dict[str, Any] = {}
    if distributed is not None:
        from tsrnn import ddp

        several = ddp.trainer_options(distributed, train_loader, val_loader, best)
        callbacks.extend([*several.pop("callbacks"), Quiet()])
    run = _FIT_OPTIONS.get()
    ckpt_path = None
    if (run.progress if run is not None and run.progress is not None
            else _wants_progress(verbose)):
        callbacks.append(EpochProgress())
    if run is not None and run.checkpoint_dir is not None:
        checkpoint = LastCheckpoint(run.checkpoint_dir)
        callbacks.extend([RandomState(shuffler(train_loader)), checkpoint])
        if run.resume and checkpoint.path.exists():
            check_checkpoint(checkpoint.path, module)
            ckpt_path = str(checkpoint.path)
    logger: Any = False
    if log_dir is not None:
        from pytorch_lightning.loggers import CSVLogger

        logger = CSVLogger(log_dir, name="tsrnn")
    options = dict(
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=devices,
        precision=precision,
        gradient_clip_val=gradient_clip,
        gradient_clip_algorithm="norm",
        callbacks=callbacks,
        logger=logger,
        enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
        enable_progress_bar=False,  # tsrnn's own bar (EpochProgress), or none
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=log_dir,
        **several,
    )
    options.update(extra)
    with _quiet():
        trainer = pl.Trainer(**options)
        # weights_only explicitly: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD in the environment
        # would otherwise make torch unpickle whatever the checkpoint holds.
        try:
            with (ddp.process_errors() if distributed == "ddp_spawn"
                  else contextlib.nullcontext()):
                trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt_path,
                            weights_only=True)
        except SystemExit:
            # Lightning answers Ctrl+C by cleaning up and calling sys.exit(1), and
            # leaves Ctrl+C ignored: a caller of fit() should see the interrupt it made.
            if not trainer.interrupted:
                raise
            with contextlib.suppress(ValueError):  # only the main thread may set it
                signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt from None
    if distributed == "ddp":
        ddp.wait_for_processes_at_exit(trainer)
    if distributed == "ddp_spawn":
        return ddp.spawn_summary(trainer, best is not None)
    return {
        "epochs": trainer.current_epoch,
        "best_epoch": None if best is None else best.best_epoch,
        "best_val_loss": None if best is None else best.best_score,
    }


class ClassificationModule(ForecastingModule):
    """Cross-entropy and optimizer for a sequence classifier or tagger
    (:class:`tsrnn.nn.SequenceNet`); padded steps carry no loss.

    With ``tbptt_steps``, truncated backpropagation through time: each batch is run
    in chunks of that many steps (:meth:`SequenceNet.chunks`), the state carried and
    detached between chunks, with one optimizer step per chunk (Lightning's manual
    optimization; the Trainer must then get no ``gradient_clip_val``, this module
    clips to ``gradient_clip`` itself). For ``output="last"`` a sequence's loss is
    in the chunk where it ends, so earlier chunks learn nothing from it.
    """

    def __init__(self, net: nn.Module, *, lr: float = 1e-3, tbptt_steps: int | None = None,
                 gradient_clip: float | None = None):
        super().__init__(net, lr=lr)
        self.tbptt_steps = tbptt_steps
        self.gradient_clip = gradient_clip
        self.automatic_optimization = tbptt_steps is None

    def _loss(self, batch) -> torch.Tensor:
        logits = self.net(batch.inputs, batch.lengths, batch.state)
        return classification_loss(logits, batch.targets)

    def training_step(self, batch, batch_idx):
        if self.tbptt_steps is None:
            return super().training_step(batch, batch_idx)
        optimizer = self.optimizers()
        total, count = 0.0, 0
        chunks = self.net.chunks(batch.inputs, batch.lengths, self.tbptt_steps,
                                 batch.state)
        for start, logits, ends in chunks:
            if self.net.output == "last":
                logits, targets = logits[ends], batch.targets[ends]  # [E, C], [E]
            else:
                targets = batch.targets[:, start : start + logits.shape[1]]  # [B, k]
            n = int((targets != -100).sum())
            if n == 0:
                continue  # nothing ends here: the chunk only carries the state on
            loss = classification_loss(logits, targets)
            self._chunk_step(optimizer, loss)
            total, count = total + loss.detach() * n, count + n
        if count:
            previous, seen = self._sums.get("train_loss", (0.0, 0))
            self._sums["train_loss"] = (previous + total / count * len(batch.inputs),
                                        seen + len(batch.inputs))


def classification_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits [B, C]`` or ``[B, T, C]`` against class indices
    ``[B]`` or ``[B, T]``; targets of -100 (padded steps) count for nothing."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100)


class NextStepModule(ForecastingModule):
    """Loss and optimizer for a :class:`tsrnn.nn.next_step.NextStepNet` over whole
    series (:class:`tsrnn.stateful.SeriesBatch`), trained as it is used: truncated
    backpropagation through time, chunks of ``tbptt_steps`` in time order, the state
    carried (detached) between them, one optimizer step per chunk (manual
    optimization: the Trainer gets no ``gradient_clip_val``, this module clips to
    ``gradient_clip`` itself). The validation loss is on each series' end (from
    ``train_end`` on), the state carried in from its training part."""

    def __init__(self, net: nn.Module, *, lr: float = 1e-3, tbptt_steps: int = 64,
                 gradient_clip: float | None = None, max_epochs: int = 1,
                 monitor: str = "val_loss"):
        super().__init__(net, lr=lr, max_epochs=max_epochs, monitor=monitor)
        self.tbptt_steps, self.gradient_clip = tbptt_steps, gradient_clip
        self.automatic_optimization = False

    @staticmethod
    def _next_step_loss(pred: torch.Tensor, x: torch.Tensor, start: int, low: torch.Tensor,
                        high: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Squared error of the predictions ``pred [B, k, I]`` of steps ``start..``
        for the steps after them, on targets at rows ``[low, high)`` per series."""
        k = pred.shape[1]
        target = x[:, start + 1:start + 1 + k]  # [B, <=k, I]
        pred = pred[:, :target.shape[1]]
        t = torch.arange(start + 1, start + 1 + target.shape[1], device=x.device)  # [k]
        mask = (t[None] >= low[:, None]) & (t[None] < high[:, None])  # [B, k]
        n = int(mask.sum())
        if n == 0:
            return pred.sum() * 0.0, 0
        err = (pred - target).square().mean(dim=-1)  # [B, k]
        return (err * mask).sum() / n, n

    def training_step(self, batch, batch_idx):
        optimizer = self.optimizers()
        x = batch.inputs[:, :int(batch.train_end.max())]  # [B, T_train, I]
        zero = torch.zeros_like(batch.train_end)
        total, count = 0.0, 0
        for start, pred in self.net.chunks(x, self.tbptt_steps):
            loss, n = self._next_step_loss(pred, x, start, zero, batch.train_end)
            if n == 0:
                continue
            self._chunk_step(optimizer, loss)
            total, count = total + loss.detach() * n, count + n
        if count:
            previous, seen = self._sums.get("train_loss", (0.0, 0))
            self._sums["train_loss"] = (previous + total, seen + count)

    def validation_step(self, batch, batch_idx):
        pred, _ = self.net(batch.inputs)  # [B, T, I]: the state runs on from training
        loss, n = self._next_step_loss(pred, batch.inputs, 0, batch.train_end, batch.lengths)
        if n:
            previous, seen = self._sums.get("val_loss", (0.0, 0))
            self._sums["val_loss"] = (previous + loss.detach() * n, seen + n)
