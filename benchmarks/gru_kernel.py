"""Kernel benchmark: nn.LSTM, nn.GRU and tsrnn's fast GRU on CPU. Prints a table; not a test.

One torch thread, one layer, batch-first. For each shape: milliseconds per
forward + backward (sum of outputs and final state as the loss, gradients for the
input and every parameter) and per forward alone (under ``torch.no_grad``). Each
time is the minimum over repeats, with the contenders interleaved round by round so
that a noisy machine slows them alike; the ratios come from the same run.

    .venv/bin/python benchmarks/gru_kernel.py [--repeats 30] [--dtype float32]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

SHAPES = ((32, 96, 1, 64), (256, 8, 64, 128), (64, 96, 8, 128))  # (B, T, I, H)


def _contenders(input_size: int, hidden: int, dtype: torch.dtype) -> dict:
    """Name -> (module, loss of one pass). Outputs and final state both feed the loss."""
    from tsrnn.nn.fast_gru import fast_gru

    torch.manual_seed(0)
    lstm = nn.LSTM(input_size, hidden, batch_first=True).to(dtype)
    gru = nn.GRU(input_size, hidden, batch_first=True).to(dtype)

    def lstm_loss(x):
        out, (h, _) = lstm(x)
        return out.sum() + h.sum()

    def gru_loss(x):
        out, h = gru(x)
        return out.sum() + h.sum()

    def fast_loss(x):
        out, h = fast_gru(gru, x)
        return out.sum() + h.sum()

    return {"nn.LSTM": (lstm, lstm_loss), "nn.GRU": (gru, gru_loss), "fast GRU": (gru, fast_loss)}


def _train_step(module: nn.Module, loss, x: torch.Tensor) -> float:
    module.zero_grad(set_to_none=True)
    x.grad = None
    started = time.perf_counter()
    loss(x).backward()
    return time.perf_counter() - started


def _forward(loss, x: torch.Tensor) -> float:
    with torch.no_grad():
        started = time.perf_counter()
        loss(x)
        return time.perf_counter() - started


def bench_shape(shape, repeats: int, dtype: torch.dtype) -> dict[str, tuple[float, float]]:
    """Name -> (fwd+bwd ms, fwd ms), minimum over interleaved repeats."""
    batch, steps, input_size, hidden = shape
    contenders = _contenders(input_size, hidden, dtype)
    x = torch.randn(batch, steps, input_size, dtype=dtype, requires_grad=True)
    best = {name: [float("inf"), float("inf")] for name in contenders}
    for round_ in range(repeats + 2):  # two warm-up rounds
        for name, (module, loss) in contenders.items():
            train, forward = _train_step(module, loss, x), _forward(loss, x)
            if round_ >= 2:
                best[name][0] = min(best[name][0], train)
                best[name][1] = min(best[name][1], forward)
    return {name: (1e3 * t, 1e3 * f) for name, (t, f) in best.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)

    print(f"torch {torch.__version__}, 1 thread, {args.dtype}, min of {args.repeats} repeats")
    header = f"{'B, T, I, H':<18}{'model':<10}{'fwd+bwd ms':>11}{'fwd ms':>9}"
    header += f"{'fwd+bwd / LSTM':>16}{'fwd+bwd / GRU':>15}{'fwd / GRU':>11}"
    print(header)
    for shape in SHAPES:
        times = bench_shape(shape, args.repeats, dtype)
        lstm, (gru, gru_forward) = times["nn.LSTM"][0], times["nn.GRU"]
        for name, (train, forward) in times.items():
            label = ", ".join(map(str, shape)) if name == "nn.LSTM" else ""
            print(
                f"{label:<18}{name:<10}{train:>11.2f}{forward:>9.2f}"
                f"{train / lstm:>16.2f}{train / gru:>15.2f}{forward / gru_forward:>11.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
