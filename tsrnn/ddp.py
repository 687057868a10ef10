"""Training on several processes with Lightning's own DDP strategies.

An estimator's ``distributed`` parameter names the strategy: ``"ddp"`` (Lightning
runs the script once more per extra process; the script's first process is the
caller) or ``"ddp_spawn"`` (Lightning starts the processes from inside ``fit`` and
returns the trained weights to the caller). tsrnn adds only what equal results
need:

- every process trains on its own part of each batch (:class:`ShareBatches`), so
  a step of ``devices`` processes averages the gradient over the same
  ``batch_size`` windows a one-process step sees (each process takes
  ``batch_size / devices`` of them);
- the epoch losses are summed over the processes before they are logged, so early
  stopping, the best weights and a plateau scheduler see the one-process numbers
  on every process;
- only the first process (rank 0) writes files: checkpoints, logs and model files.

The checks of ``distributed`` are in :mod:`tsrnn._training_checks`, and
:func:`tsrnn.files.is_main_process` tells the processes apart; this module, like
:mod:`tsrnn.training`, imports Lightning.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.strategies import DDPStrategy


class _DDPStrategy(DDPStrategy):
    """Lightning's DDP, ending a gloo process group in step.

    Lightning leaves a gloo group to the end of the process (it destroys only
    NCCL ones, at exit). A process that exits first then closes its connections
    under the other's gloo threads, which abort that process ("terminate called
    without an active exception", seen now and then at the end of a ddp_spawn
    fit). So at the end of a ddp_spawn fit, whose processes end with it, they meet
    once more and each destroys its group. (With ``ddp`` the processes go on with
    the script, and the group tells them apart: it stays, as before.)
    """

    def teardown(self) -> None:
        super().teardown()
        import torch.distributed as dist

        if (self._start_method == "spawn" and dist.is_available() and dist.is_initialized()
                and dist.get_backend() == "gloo"):
            try:  # bounded: a process that failed must not hold the others for long
                dist.monitored_barrier(timeout=timedelta(seconds=120))
            finally:
                dist.destroy_process_group()


def strategy(distributed: str):
    """Lightning's DDP strategy for ``distributed`` (backend: Lightning's choice,
    gloo on CPUs and NCCL on CUDA GPUs)."""
    # The networks' buffers are constants (quantile levels), so there is nothing to
    # broadcast each forward pass; broadcasting would also make validation, whose
    # batch counts may differ by one between processes, wait on each other.
    return _DDPStrategy(start_method="spawn" if distributed == "ddp_spawn" else "popen",
                        forward_sync_buffers=False)


class ShareBatches(Callback):
    """Give each process its part of every batch, and every process the first
    process's shuffling, once Lightning has started them.

    With ``ddp`` each process seeds its own shuffler (the same ``random_state``
    gives the same seed, but ``random_state=None`` does not), so the first
    process's generator state is broadcast: all processes then cut the same
    permutation into the same batches, and each takes its own part of each.
    """

    def __init__(self, train_sampler, val_sampler=None):
        self.samplers = [s for s in (train_sampler, val_sampler) if s is not None]

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        # Parts of a batch differ by one window when it does not divide evenly:
        # weigh each by its size (see ForecastingModule.share).
        sampler, world = self.samplers[0], trainer.world_size
        size = min(sampler.batch_size, sampler.n - batch_idx * sampler.batch_size)
        own = size // world + (trainer.global_rank < size % world)  # as tensor_split cuts
        pl_module.share = own * world / size

    def setup(self, trainer, pl_module, stage):
        for sampler in self.samplers:
            sampler.rank, sampler.world = trainer.global_rank, trainer.world_size
            generator = getattr(sampler, "generator", None)
            if generator is not None:
                generator.set_state(trainer.strategy.broadcast(generator.get_state(), src=0))


class SpawnSummary(Callback):
    """With ``ddp_spawn`` the callbacks ran in other processes: the epochs and the
    best epoch come back to the caller's Trainer in its ``callback_metrics``, which
    Lightning returns."""

    def __init__(self, best=None):
        self.best = best

    def on_fit_end(self, trainer, pl_module):
        trainer.callback_metrics.update({
            "tsrnn_epochs": torch.tensor(trainer.current_epoch),
            "tsrnn_best_epoch": torch.tensor(-1 if self.best is None else self.best.best_epoch),
            "tsrnn_best_val_loss": torch.tensor(float("inf") if self.best is None
                                                else self.best.best_score,
                                                dtype=torch.float64)})


def spawn_summary(trainer, has_best: bool) -> dict[str, Any]:
    metrics = trainer.callback_metrics
    return {"epochs": int(metrics["tsrnn_epochs"]),
            "best_epoch": int(metrics["tsrnn_best_epoch"]) if has_best else None,
            "best_val_loss": float(metrics["tsrnn_best_val_loss"]) if has_best else None}


def trainer_options(distributed: str, train_loader, val_loader, best) -> dict[str, Any]:
    """The Trainer arguments and callbacks of a distributed fit."""
    callbacks = [ShareBatches(train_loader.sampler,
                              None if val_loader is None else val_loader.sampler)]
    if distributed == "ddp_spawn":
        callbacks.append(SpawnSummary(best))
        _send_generators_by_value()
    # tsrnn's samplers cut each batch between the processes (ShareBatches), where
    # Lightning's would deal out whole batches and change the batch size.
    return {"strategy": strategy(distributed), "use_distributed_sampler": False,
            "callbacks": callbacks}


@contextmanager
def process_errors() -> Iterator[None]:
    """An error in a process ``ddp_spawn`` started, as one line naming the process
    and the error, not torch's wrapper around the process's whole traceback."""
    from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

    try:
        yield
    except ProcessRaisedException as err:
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        raise RuntimeError(f"training process {err.error_index} failed: "
                           f"{lines[-1] if lines else 'no message'}") from None
    except ProcessExitedException as err:
        how = err.signal_name or f"exit code {err.exit_code}"
        raise RuntimeError(f"training process {err.error_index} ended with {how} (out of "
                           "memory, or killed?)") from None


def wait_for_processes_at_exit(trainer) -> None:
    """With ``ddp`` the first process started the others: they run the rest of the
    script too, so the caller's program ends only once they have (a shell or a job
    scheduler then sees the whole run end, files included)."""
    import atexit

    procs = list(getattr(getattr(trainer.strategy, "launcher", None), "procs", None) or [])
    if procs:
        atexit.register(lambda: [p.wait() for p in procs])


def _send_generators_by_value() -> None:
    """Let ``ddp_spawn`` send the shuffler's ``torch.Generator`` to its processes.

    torch sends a Generator's state through shared memory, which fails to
    unpickle in the spawned process ("unable to resize file"); its state as bytes
    travels fine. Registered with multiprocessing's pickler only, so nothing else
    changes, and the pickle memo keeps one generator shared by the sampler and the
    checkpoint's :class:`tsrnn.checkpoints.RandomState`.
    """
    from multiprocessing.reduction import ForkingPickler

    ForkingPickler.register(torch.Generator, _reduce_generator)


def _reduce_generator(generator: torch.Generator):
    if generator.device.type != "cpu":
        return generator.__reduce__()
    return _cpu_generator, (generator.get_state().numpy().tobytes(),)


def _cpu_generator(state: bytes) -> torch.Generator:
    generator = torch.Generator()
    generator.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))
    return generator
