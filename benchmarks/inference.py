"""Inference speed on CPU, one thread: torch eager beside onnxruntime (the graphs
of ``tsrnn.export.onnx``) for the forecaster and the stateful detector's step.

- Forecaster (shipped defaults: GRU, 128 units, input_len 96, horizon 24, one
  target; trained for one epoch, which does not change the speed): one call on
  a batch of B series, from raw values to the forecast in original units, at
  B = 1, 64 and 1,024. torch runs ``ForecastGraph``, the exported module itself.
- Stateful detector (shipped defaults: 3 LSTM networks of 64 units, one target,
  a daily calendar): one stream step for B series, at B = 1 and 1,000, for torch
  (``StepGraph``), onnxruntime, and the numpy cells that ``StatefulStream`` runs
  (``tsrnn.stateful_cells.Cells``: the baseline to beat).

p50/p99 latency of one call, and throughput in series (rows) per second.

    .venv/bin/python benchmarks/inference.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402


def _time(call, repeat: int) -> np.ndarray:
    for _ in range(3):
        call()
    out = np.empty(repeat)
    for i in range(repeat):
        start = time.perf_counter()
        call()
        out[i] = time.perf_counter() - start
    return out


def _row(model: str, engine: str, batch: int, seconds: np.ndarray) -> dict:
    return {"model": model, "engine": engine, "batch": batch,
            "p50 ms": 1e3 * np.percentile(seconds, 50), "p99 ms": 1e3 * np.percentile(seconds, 99),
            "rows/s": batch / np.median(seconds)}


def _data(n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    return pd.DataFrame({"value": 10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)},
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


def forecaster_rows(folder: str, repeat: int) -> list[dict]:
    from tsrnn import Forecaster
    from tsrnn.export.onnx import ForecastGraph, _exportable, export_onnx, load_onnx

    model = Forecaster(max_epochs=1, random_state=0, accelerator="cpu").fit(_data())
    path = os.path.join(folder, "f.onnx")
    export_onnx(model, path)
    session = load_onnx(path, threads=1)
    graph = ForecastGraph(_exportable(model.net_), 1, 0).eval()
    rows, rng = [], np.random.default_rng(1)
    for batch in (1, 64, 1024):
        feeds = dict(values=(10 + rng.standard_normal((batch, 96, 1))).astype(np.float32),
                     loc=np.full((batch, 1), 10, np.float32),
                     spread=np.ones((batch, 1), np.float32))
        args = [torch.from_numpy(v) for v in feeds.values()]
        n = max(5, repeat // (1 + batch // 64))

        def eager(args=args):
            with torch.inference_mode():
                graph(*args)

        rows.append(_row("forecaster", "torch eager", batch, _time(eager, n)))
        rows.append(_row("forecaster", "onnxruntime", batch,
                         _time(lambda feeds=feeds: session.session.run(None, feeds), n)))
    return rows


def step_rows(folder: str, repeat: int) -> list[dict]:
    from tsrnn import AnomalyDetector
    from tsrnn.export.onnx import StepGraph, _exportable, export_onnx, load_onnx
    from tsrnn.stateful_cells import Cells

    det = AnomalyDetector(stateful=True, max_epochs=1, random_state=0,
                          accelerator="cpu").fit(_data())
    path = os.path.join(folder, "s.onnx")
    meta = export_onnx(det, path)
    session = load_onnx(path, threads=1)
    graph = StepGraph(_exportable(det.net_), 1, bool(det.calendar_)).eval()
    cells = Cells(det.net_, 1)
    rows, rng = [], np.random.default_rng(1)
    for batch in (1, 1000):
        feeds = {k: rng.standard_normal([batch if s == "batch" else s for s in shape])
                 .astype(np.float32) for k, shape in meta["inputs"].items()}
        feeds["spread"] = np.abs(feeds["spread"]) + 0.5
        args = [torch.from_numpy(v) for v in feeds.values()]
        x = np.hstack([feeds["values"], feeds["calendar"]]) if det.calendar_ else feeds["values"]
        n = repeat * 5 if batch == 1 else repeat

        def eager(args=args):
            with torch.inference_mode():
                graph(*args)

        rows.append(_row("stateful step", "torch eager", batch, _time(eager, n)))
        rows.append(_row("stateful step", "numpy cells (stream)", batch,
                         _time(lambda x=x, f=feeds: cells.step(x, f["h"], f.get("c")), n)))
        rows.append(_row("stateful step", "onnxruntime", batch,
                         _time(lambda feeds=feeds: session.session.run(None, feeds), n)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per row")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        rows = forecaster_rows(folder, args.repeat) + step_rows(folder, args.repeat)
    table = pd.DataFrame(rows)
    print(f"torch {torch.__version__}, one thread")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}" if v < 100
                          else f"{v:,.0f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
