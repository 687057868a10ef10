"""Elman RNN, LSTM and GRU on a long-memory task: where each stops learning, and at what cost.

The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): each step carries
a random value in [0, 1) and a marker. Two steps are marked, the first step of the
sequence (exactly ``L`` steps before the end) and one step drawn at random in the last
half; the answer is the sum of the two marked values. Predicting the mean (1.0) scores
MSE 1/6 = 0.167; getting the first value wrong but the second right scores 1/12 = 0.083;
anything clearly below 0.083 has carried the first value over ``L`` steps.

Every cell gets the same fixed budget: hidden size, batch size, learning rate and the
number of epochs over one training set of the same size. Reported per cell and ``L``:
test MSE after the budget, seconds per training epoch, and the parameter count (encoder
plus the linear head).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cells.py               # the full sweep
    .venv/bin/python benchmarks/cells.py --lengths 10 50 --epochs 2      # a quick look

Writes a table to stdout, the numbers to ``--json`` and a plot to ``--plot``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tsrnn.base import seed_everything
from tsrnn.nn import RecurrentEncoder

ROOT = Path(__file__).resolve().parents[1]
MEAN_MSE = 1 / 6  # predicting the mean, 1.0
HALF_MSE = 1 / 12  # knowing only the second marked value


def adding_problem(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``n`` sequences ``[n, length, 2]`` (value, marker) and their answers ``[n]``."""
    values = rng.random((n, length)).astype(np.float32)  # [N, L]
    markers = np.zeros((n, length), dtype=np.float32)  # [N, L]
    second = length - 1 - rng.integers(0, max(1, length // 2), size=n)  # in the last half
    markers[:, 0] = 1.0
    markers[np.arange(n), second] = 1.0
    answer = values[:, 0] + values[np.arange(n), second]  # [N]
    return np.stack([values, markers], axis=-1), answer.astype(np.float32)


class Regressor(nn.Module):
    def __init__(self, cell: str, hidden_size: int):
        super().__init__()
        self.encoder = RecurrentEncoder(2, hidden_size, cell)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(x)  # [B, L, H]
        return self.head(self.encoder.summary(out))[:, 0]  # [B]


def run(cell: str, length: int, args, device: torch.device) -> dict:
    seed_everything(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train, y_train = adding_problem(args.train_size, length, rng)
    x_test, y_test = adding_problem(args.test_size, length, rng)
    x_train, y_train = torch.from_numpy(x_train).to(device), torch.from_numpy(y_train).to(device)
    x_test, y_test = torch.from_numpy(x_test).to(device), torch.from_numpy(y_test).to(device)
    model = Regressor(cell, args.hidden_size).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(args.seed)
    epoch_seconds, curve = [], []
    for _ in range(args.epochs):
        model.train()
        started = time.perf_counter()
        for idx in torch.randperm(len(x_train), generator=order).split(args.batch_size):
            idx = idx.to(device)
            loss = nn.functional.mse_loss(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_seconds.append(time.perf_counter() - started)
        curve.append(evaluate(model, x_test, y_test))
    return {
        "cell": cell, "L": length, "mse": curve[-1], "curve": curve,
        "seconds_per_epoch": float(np.median(epoch_seconds)),
        "params": sum(p.numel() for p in model.parameters()),
    }


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    pred = torch.cat([model(part) for part in x.split(500)])
    return float(nn.functional.mse_loss(pred, y))


def table(results: list[dict], cells: list[str], lengths: list[int]) -> str:
    by = {(r["cell"], r["L"]): r for r in results}
    head = "| cell | params | " + " | ".join(f"L={n}" for n in lengths) + " |"
    lines = [head, "|" + "---|" * (len(lengths) + 2)]
    for cell in cells:
        mse = " | ".join(f"{by[cell, n]['mse']:.4f}" for n in lengths)
        lines.append(f"| {cell} MSE | {by[cell, lengths[0]]['params']:,} | {mse} |")
    for cell in cells:
        sec = " | ".join(f"{by[cell, n]['seconds_per_epoch']:.2f}" for n in lengths)
        lines.append(f"| {cell} s/epoch | | {sec} |")
    return "\n".join(lines)


def plot(results: list[dict], cells: list[str], lengths: list[int], path: Path,
         title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {(r["cell"], r["L"]): r for r in results}
    colors = {"rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for cell in cells:
        params = by[cell, lengths[0]]["params"]
        label = f"{cell} ({params:,} params)"
        ax1.plot(lengths, [by[cell, n]["mse"] for n in lengths], "o-", color=colors.get(cell),
                 label=label)
        ax2.plot(lengths, [by[cell, n]["seconds_per_epoch"] for n in lengths], "o-",
                 color=colors.get(cell), label=cell)
    ax1.axhline(MEAN_MSE, color="grey", ls="--", lw=1)
    ax1.text(lengths[0], MEAN_MSE * 1.04, "predict the mean", color="grey", fontsize=8)
    ax1.axhline(HALF_MSE, color="grey", ls=":", lw=1)
    ax1.text(lengths[0], HALF_MSE * 1.04, "second value only", color="grey", fontsize=8)
    ax1.set(xscale="log", xlabel="L: steps between the first marked value and the end",
            ylabel="test MSE after the budget (lower is better)", ylim=(0, 0.2),
            title="Accuracy: who remembers L steps back")
    ax2.set(xscale="log", yscale="log", xlabel="L (sequence length)",
            ylabel="seconds per training epoch", title="Cost: training time per epoch")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.set_xticks(lengths, [str(n) for n in lengths])
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[10, 50, 100, 300, 1000])
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train-size", type=int, default=6400)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG plot here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    results = []
    for length in args.lengths:
        for cell in args.cells:
            r = run(cell, length, args, device)
            results.append(r)
            print(f"L={length:5d} {cell:4s} mse={r['mse']:.4f} "
                  f"s/epoch={r['seconds_per_epoch']:.2f} params={r['params']}", flush=True)
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU, {torch.get_num_threads()} thread(s)")
    budget = (f"adding problem; hidden {args.hidden_size}, batch {args.batch_size}, "
              f"Adam lr {args.lr}, {args.epochs} epochs x {args.train_size} sequences; {where}")
    print(f"\n{budget}\n")
    print(table(results, args.cells, args.lengths))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"budget": budget, "results": results}, indent=1))
    if args.plot is not None:
        plot(results, args.cells, args.lengths, args.plot, budget)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
