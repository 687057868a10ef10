"""Scaling: training on one process against two with Lightning's DDP. Prints a
table; not a test.

DDP section: the Forecaster on ETTh1 (7 channels, the first 12 months; input 96,
horizon 24, hidden 128, batch 256, 3 epochs, no early stopping, seed 0), on the
CPU with the gloo backend, one torch thread per process:

- ``one process``: ``distributed=None``, the ordinary fit;
- ``ddp x1``: ``distributed="ddp", devices=1``, the same fit through DDP;
- ``ddp x2``: ``distributed="ddp", devices=2``: each process takes 128 windows of
  every batch of 256, so the global batch and the learning rate stay those of one
  process, and so should the validation loss.

Time per epoch is the median of the epochs' wall times inside the Trainer (the
processes' start-up excluded, shown apart), then the median over ``--repeats``
runs of each configuration, taken in turn; compare ratios within one run, this
machine is noisy. The validation loss is the first run's (every run gives it).
Each configuration runs in a fresh Python process (``scale.py --run NAME``):
Lightning's ``ddp`` runs that command again for the second process.

A section is a function ``name(args) -> list[dict]`` in :data:`SECTIONS`, with
its rows printed as one table; ``--sections ddp`` runs only that one.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scale.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TRAIN = 12 * 30 * 24
SETTINGS = dict(input_len=96, horizon=24, hidden_size=128, batch_size=256, val_size=0.1,
                patience=None, random_state=0, accelerator="cpu", verbose=False)
DDP_RUNS = {"one process": {}, "ddp x1": {"distributed": "ddp", "devices": 1},
            "ddp x2": {"distributed": "ddp", "devices": 2}}


def _epoch_timer():
    from pytorch_lightning.callbacks import Callback

    class EpochTimer(Callback):
        """Wall seconds of each training epoch, validation included."""

        def __init__(self):
            self.seconds: list[float] = []

        def on_train_epoch_start(self, trainer, pl_module):
            self.started = time.perf_counter()

        def on_validation_epoch_end(self, trainer, pl_module):
            if not trainer.sanity_checking:
                self.seconds.append(time.perf_counter() - self.started)

    return EpochTimer()


def fit_once(name: str, epochs: int, out: Path) -> None:
    """One configuration of :data:`DDP_RUNS`, in this process (and, for ``ddp``, the
    ones Lightning starts); the first process writes its figures to ``out``."""
    import torch

    from tsrnn import Forecaster
    from tsrnn.datasets import load_ett
    from tsrnn.files import is_main_process

    torch.set_num_threads(1)
    df = load_ett("ETTh1", path=SHARED / "ett", download=False).iloc[:TRAIN]
    timer = _epoch_timer()
    model = Forecaster(**SETTINGS, **DDP_RUNS[name], max_epochs=epochs,
                       trainer_kwargs={"callbacks": [timer]})
    started = time.perf_counter()
    model.fit(df, time_col="date")
    total = time.perf_counter() - started
    if is_main_process():
        out.write_text(json.dumps({"seconds": timer.seconds, "total": total,
                                   "val_loss": model.training_summary_["best_val_loss"]}))


def _run_once(name: str, epochs: int) -> dict:
    """One configuration in a fresh process: its epoch times and validation loss,
    and its wall time in all."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--run", name, "--epochs", str(epochs),
                   "--out", str(out)]
        started = time.perf_counter()
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.perf_counter() - started
        return {**json.loads(out.read_text()), "wall": wall}


def ddp(args) -> list[dict]:
    """DDP one process against two: time per epoch and final validation loss."""
    # Round robin over the configurations, so that a busy spell of the machine
    # falls on all of them alike; each figure is the median over the repeats.
    results: dict[str, list[dict]] = {name: [] for name in DDP_RUNS}
    for _ in range(args.repeats):
        for name in DDP_RUNS:
            results[name].append(_run_once(name, args.epochs))
    rows = []
    for name, runs in results.items():
        epochs = [statistics.median(r["seconds"]) for r in runs]
        devices = DDP_RUNS[name].get("devices", 1)
        rows.append({"run": name, "processes": devices,
                     "batch per process": SETTINGS["batch_size"] // devices,
                     "s/epoch": statistics.median(epochs),
                     "s/epoch range": f"{min(epochs):.3g}-{max(epochs):.3g}",
                     "start-up s": statistics.median(r["wall"] - sum(r["seconds"])
                                                     for r in runs),
                     "final val loss": f"{runs[0]['val_loss']:.6f}"})
    base = rows[0]["s/epoch"]
    for row in rows:
        row["speed-up"] = base / row["s/epoch"]
    return rows


SECTIONS = {"ddp": ddp}


def _table(rows: list[dict]) -> str:
    columns = list(rows[0])
    cells = [[f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in columns]
             for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS),
                        default=list(SECTIONS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each configuration (the median is shown)")
    parser.add_argument("--run", choices=list(DDP_RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run is not None:  # one configuration, in its own process
        fit_once(args.run, args.epochs, args.out)
        return 0
    for name in args.sections:
        print(f"\n{name}: {SECTIONS[name].__doc__}")
        print(_table(SECTIONS[name](args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
