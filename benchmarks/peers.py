"""Training speed of tsrnn beside Darts and NeuralForecast, in one run. Prints a table.

The setting: univariate ETTh1 OT (the 12-month train part), input 96, horizon 96,
hidden 64, one recurrent layer, 32 windows a batch, float32, one torch thread, CPU.
Each row reports seconds per 100 optimizer steps for an LSTM and a GRU:

- tsrnn ``Forecaster`` with its default segments (``segment_len="auto"``: 24 here)
  and stepping through every timestep (``segment_len=1``);
- Darts ``BlockRNNModel`` with RevIN (``use_reversible_instance_norm=True``);
- NeuralForecast ``LSTM`` / ``GRU`` (``windows_batch_size=32``; its ``batch_size`` counts
  series, and there is one);
- the simple baseline: a linear map from the 96 inputs to the 96 outputs, relative to
  the last input (NLinear), trained through tsrnn's own Lightning module and Trainer
  set-up on the same batches. It has no cell, so it is measured once per column: the
  floor that the data loader, the optimizer and Lightning put under every row.

Each library keeps its own head, loss and window normalisation (tsrnn: linear head,
MAE, last-value; Darts: linear head, MSE, RevIN; NeuralForecast: its default MLP
decoder, MAE, robust scaler); everything the settings above name is matched.

How it is timed: every configuration is fitted through the library's public ``fit``
for N and for N + span optimizer steps (20 and 220 by default); the difference of the
two times, scaled to 100 steps, is the cost of training, and the fixed cost (building
datasets, starting the Trainer) cancels out. The clock is this process's CPU time
(``--clock cpu``): with one torch thread it equals the elapsed time on an idle
machine, and on a shared one it does not count the time other jobs hold the core;
``--clock wall`` times elapsed seconds instead. A 5-step fit first warms
imports and the allocator. The configurations take turns, ``--repeats`` rounds, and
each length counts its fastest fit: on a shared machine the fastest run is the one
least disturbed, and taking turns spreads any burst of load over every library.
Compare the ratios (the ``x`` columns, against tsrnn's default segments), not the
absolute seconds.

Darts and NeuralForecast come with the ``bench`` extra (``pip install -e ".[bench]"``);
a peer that is not installed is skipped with a message. tsrnn itself never imports
them.

    python benchmarks/peers.py [--repeats 5] [--steps 20] [--span 200]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TRAIN = 12 * 30 * 24
INPUT, HORIZON, HIDDEN, BATCH = 96, 96, 64, 32
QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False,
             enable_checkpointing=False, accelerator="cpu", devices=1)


def _uni():
    from tsrnn.datasets import load_ett

    df = load_ett("ETTh1", path=SHARED / "ett", download=False)
    return df.iloc[:TRAIN][["date", "OT"]].reset_index(drop=True)


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def _timed(fit: Callable[[int], object], steps: int, clock: str) -> float:
    now = CLOCKS[clock]
    started = now()
    fit(steps)
    return now() - started


# --- tsrnn ---------------------------------------------------------------------------

def tsrnn_fit(df, cell: str, segment_len) -> Callable[[int], object]:
    from tsrnn import Forecaster

    def fit(steps: int):
        model = Forecaster(cell, INPUT, HORIZON, hidden_size=HIDDEN, num_layers=1,
                           batch_size=BATCH, segment_len=segment_len, val_size=0,
                           max_epochs=1, random_state=0,
                           trainer_kwargs={"limit_train_batches": steps})
        return model.fit(df, time_col="date", target="OT")

    return fit


class LastLinear(nn.Module):
    """NLinear: one linear map over time, applied to the inputs minus the last one."""

    def __init__(self, input_len: int, horizon: int):
        super().__init__()
        self.proj = nn.Linear(input_len, horizon)

    def forward(self, inputs, future=None, targets=None):
        last = inputs[:, -1:, :]  # [B, 1, F]
        out = self.proj((inputs - last).transpose(1, 2))  # [B, F, H]
        return (out.transpose(1, 2) + last)[..., None]  # [B, H, F, 1]


def linear_fit(df) -> Callable[[int], object]:
    from tsrnn.data import Scaler, SeriesData, WindowDataset, chronological_split, make_loader
    from tsrnn.training import ForecastingModule, fit_module

    data = SeriesData.from_dataframe(df, time_col="date", target="OT")
    split = chronological_split(data, INPUT, HORIZON, val_size=0, test_size=0)
    scaled = Scaler("standard").fit(data.values, data.offsets).transform(data.values,
                                                                         data.offsets)
    ds = WindowDataset.from_series(data, INPUT, HORIZON, starts=split.train, values=scaled)

    def fit(steps: int):
        torch.manual_seed(0)
        module = ForecastingModule(LastLinear(INPUT, HORIZON), loss="mae")
        return fit_module(module, make_loader(ds, BATCH, shuffle=True, seed=0),
                          max_epochs=1, patience=None, gradient_clip=1.0,
                          accelerator="cpu", devices=1,
                          trainer_kwargs={"limit_train_batches": steps})

    return fit


# --- peers (imported only here, and only when installed) ----------------------------

def darts_fit(df, cell: str, work_dir: str) -> Callable[[int], object]:
    import numpy as np
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    series = TimeSeries.from_dataframe(df, time_col="date", value_cols="OT")
    series = series.astype(np.float32)  # Darts trains in the series' dtype

    def fit(steps: int):
        model = BlockRNNModel(
            input_chunk_length=INPUT, output_chunk_length=HORIZON, model=cell.upper(),
            hidden_dim=HIDDEN, n_rnn_layers=1, batch_size=BATCH, n_epochs=1,
            use_reversible_instance_norm=True, random_state=0, work_dir=work_dir,
            pl_trainer_kwargs={**QUIET, "limit_train_batches": steps},
        )
        return model.fit(series, verbose=False)

    return fit


def neuralforecast_fit(df, cell: str) -> Callable[[int], object]:
    from neuralforecast import NeuralForecast
    from neuralforecast.models import GRU, LSTM

    frame = df.rename(columns={"date": "ds", "OT": "y"}).assign(unique_id="OT")
    frame["y"] = frame["y"].astype("float32")
    model_cls = {"lstm": LSTM, "gru": GRU}[cell]

    def fit(steps: int):
        model = model_cls(
            h=HORIZON, input_size=INPUT, encoder_n_layers=1, encoder_hidden_size=HIDDEN,
            batch_size=1, windows_batch_size=BATCH, max_steps=steps,
            val_check_steps=10**6,  # no validation pass inside the timed steps
            random_seed=0, **QUIET,
        )
        return NeuralForecast(models=[model], freq="h").fit(frame, val_size=0)

    return fit


def _available(name: str) -> bool:
    try:
        __import__(name)
    except ImportError as err:
        print(f"skipping {name}: not installed ({err}); install tsrnn[bench], "
              f'e.g. pip install -e ".[bench]"')
        return False
    return True


def _quiet_logs() -> None:
    """Silence the libraries' per-fit banners ("GPU available", "Seed set to 0")."""
    warnings.filterwarnings("ignore")
    prefixes = ("pytorch_lightning", "lightning", "darts", "neuralforecast")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(prefixes):
            logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="rounds over every configuration; the fastest fit counts")
    parser.add_argument("--steps", type=int, default=20,
                        help="N: each round fits N and N + span steps")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu",
                        help="cpu: this process's CPU time (steadier on a shared machine); "
                             "wall: elapsed time")
    parser.add_argument("--span", type=int, default=200,
                        help="the steps timed; N + span must fit in one epoch (265 batches)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    _quiet_logs()
    df = _uni()
    work_dir = tempfile.mkdtemp(prefix="tsrnn-peers-")  # Darts writes its logs here

    rows: dict[str, dict[str, Callable[[int], object]]] = {
        "tsrnn, default segments (24)": {c: tsrnn_fit(df, c, "auto") for c in ("lstm", "gru")},
        "tsrnn, step-wise (segment_len=1)": {c: tsrnn_fit(df, c, 1) for c in ("lstm", "gru")},
    }
    if _available("darts"):
        rows["Darts BlockRNNModel + RevIN"] = {c: darts_fit(df, c, work_dir)
                                               for c in ("lstm", "gru")}
    if _available("neuralforecast"):
        rows["NeuralForecast LSTM / GRU"] = {c: neuralforecast_fit(df, c)
                                             for c in ("lstm", "gru")}
    linear = linear_fit(df)
    rows["baseline: linear map (NLinear)"] = {"lstm": linear, "gru": linear}

    versions = [f"{name} {sys.modules[name].__version__}" for name in
                ("torch", "pytorch_lightning", "darts", "neuralforecast") if name in sys.modules]
    print(", ".join(versions) + f"; {torch.get_num_threads()} torch thread")

    _quiet_logs()  # again: the peers' imports above made their loggers
    for fits in rows.values():  # warm-up: imports, allocator, first-call paths
        for fit in fits.values():
            fit(5)
    short: dict[tuple[str, str], list[float]] = {}
    long: dict[tuple[str, str], list[float]] = {}
    started = time.perf_counter()
    for _ in range(args.repeats):
        for name, fits in rows.items():
            for cell, fit in fits.items():
                key = (name, cell)
                short.setdefault(key, []).append(_timed(fit, args.steps, args.clock))
                long.setdefault(key, []).append(_timed(fit, args.steps + args.span, args.clock))

    per_100 = {key: 100 * (min(long[key]) - min(short[key])) / args.span for key in long}
    ref = next(iter(rows))
    print(f"\n{args.clock.upper()} seconds per 100 optimizer steps: univariate ETTh1 OT, "
          f"input {INPUT}, horizon {HORIZON},\nhidden {HIDDEN}, one layer, batch {BATCH}, "
          f"one torch thread. "
          f"From the fastest of {args.repeats} fits\nof {args.steps + args.span} steps "
          f"minus the fastest of {args.repeats} of {args.steps}, scaled to 100 steps.\n"
          f"x: against the first row. spread: (slowest - fastest) / fastest of the long fits.")
    print(f"{'':<34} {'LSTM':>7} {'x':>6} {'GRU':>7} {'x':>6} {'spread':>7}")
    for name in rows:
        cells, spread = [], 0.0
        for cell in ("lstm", "gru"):
            sec, runs = per_100[(name, cell)], long[(name, cell)]
            cells.append(f"{sec:7.3f} {sec / per_100[(ref, cell)]:6.2f}")
            spread = max(spread, (max(runs) - min(runs)) / min(runs))
        print(f"{name:<34} " + " ".join(cells) + f" {spread:7.0%}")
    print(f"\ntimed part {time.perf_counter() - started:.0f} s; "
          f"{torch.get_num_threads()} torch thread at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
