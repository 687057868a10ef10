"""Inference speed on CPU, one thread: torch eager, ``torch.compile`` and
onnxruntime (the graphs of ``tsrnn.export.onnx``) for the forecaster, and the
stateful detector's step.

- Forecaster (shipped defaults: GRU, 128 units; input_len 96, horizon 24, one
  target; trained for one epoch, which does not change the speed): one call on
  a batch of B series, from raw values to the forecast in original units, at
  B = 1, 64 and 1,024. torch runs ``ForecastGraph``, the exported module itself,
  eager and through ``torch.compile`` (inductor; a row says so when it fails,
  e.g. without a C++ compiler); ``predict()`` is the whole estimator call, a
  long DataFrame of B series in and the forecast frame out.
- Stateful detector (shipped defaults: 3 LSTM networks of 64 units, one target,
  a daily calendar): one stream step for B series, at B = 1 and 1,000, for torch
  (``StepGraph``), onnxruntime, and the numpy cells that ``StatefulStream`` runs
  (``tsrnn.stateful_cells.Cells``: the baseline to beat).

p50/p99 latency of one call, throughput in series (rows) per second, and the
largest difference from torch eager's output.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/inference.py [--repeat 200] [--no-compile]
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


def _row(model: str, engine: str, batch: int, seconds: np.ndarray, diff: float = np.nan,
         note: str = "") -> dict:
    return {"model": model, "engine": engine, "batch": batch,
            "p50 ms": 1e3 * np.percentile(seconds, 50), "p99 ms": 1e3 * np.percentile(seconds, 99),
            "rows/s": batch / np.median(seconds), "max |diff|": diff, "note": note}


def _failed(model: str, engine: str, batch: int, err: Exception) -> dict:
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:80]
    return _row(model, engine, batch, np.array([np.nan]), note=f"failed: {first}")


def _diff(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def _data(n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    return pd.DataFrame({"value": 10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)},
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


def _long_frame(batch: int, length: int, values: np.ndarray) -> pd.DataFrame:
    """``batch`` series of ``length`` rows each, as a long frame."""
    times = pd.date_range("2024-01-01", periods=length, freq="h")
    return pd.DataFrame({"series": np.repeat([f"s{i}" for i in range(batch)], length),
                         "timestamp": np.tile(times, batch), "value": values.reshape(-1)})


def forecaster_rows(folder: str, repeat: int, compile_: bool) -> list[dict]:
    from tsrnn import Forecaster
    from tsrnn.export.onnx import ForecastGraph, _exportable, load_onnx

    length = 96
    model = Forecaster(input_len=length, horizon=24, max_epochs=1, random_state=0,
                       accelerator="cpu", verbose=False).fit(
        _data().reset_index(names="timestamp").assign(series="s0"),
        time_col="timestamp", id_col="series")
    path = os.path.join(folder, "f.onnx")
    model.to_onnx(path)
    session = load_onnx(path, threads=1)
    graph = ForecastGraph(_exportable(model.net_), 1, 0).eval()
    compiled, compile_error = None, None
    if compile_:
        try:
            compiled = torch.compile(graph)
        except Exception as err:  # reported in the table, not raised
            compile_error = err
    rows, rng = [], np.random.default_rng(1)
    for batch in (1, 64, 1024):
        feeds = dict(values=(10 + rng.standard_normal((batch, length, 1))).astype(np.float32),
                     loc=np.full((batch, 1), 10, np.float32),
                     spread=np.ones((batch, 1), np.float32))
        args = [torch.from_numpy(v) for v in feeds.values()]
        n = max(5, repeat // (1 + batch // 64))

        def eager(args=args, net=graph):
            with torch.inference_mode():
                return net(*args)

        reference = eager().numpy()
        rows.append(_row("forecaster", "torch eager", batch, _time(eager, n), 0.0))
        if compile_ and compile_error is None:
            try:
                start = time.perf_counter()
                out = eager(net=compiled).numpy()  # compiles for this shape
                took = time.perf_counter() - start
                rows.append(_row("forecaster", "torch.compile", batch,
                                 _time(lambda a=args: eager(a, compiled), n),
                                 _diff(out, reference), f"first call {took:.1f} s"))
            except Exception as err:  # inductor needs a C++ compiler, among others
                compile_error = err
        if compile_error is not None:
            rows.append(_failed("forecaster", "torch.compile", batch, compile_error))
        rows.append(_row("forecaster", "onnxruntime", batch,
                         _time(lambda feeds=feeds: session.session.run(None, feeds), n),
                         _diff(session.run(**feeds)["forecast"], reference)))
        frame = _long_frame(batch, length, feeds["values"])
        rows.append(_row("forecaster", "predict() (pandas)", batch,
                         _time(lambda f=frame: model.predict(f), max(3, n // 4)),
                         note="new series: scaled by their own rows"))
    return rows


def step_rows(folder: str, repeat: int) -> list[dict]:
    from tsrnn import AnomalyDetector
    from tsrnn.export.onnx import StepGraph, _exportable, load_onnx
    from tsrnn.stateful_cells import Cells

    det = AnomalyDetector(stateful=True, max_epochs=1, random_state=0,
                          accelerator="cpu", verbose=False).fit(_data())
    path = os.path.join(folder, "s.onnx")
    meta = det.to_onnx(path)
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
    parser.add_argument("--no-compile", action="store_true",
                        help="leave out torch.compile (its first call takes a minute)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        rows = (forecaster_rows(folder, args.repeat, not args.no_compile)
                + step_rows(folder, args.repeat))
    table = pd.DataFrame(rows)
    import onnxruntime

    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, one thread, "
          f"{time.strftime('%Y-%m-%d')}")
    print(table.to_string(index=False, na_rep="-", float_format=lambda v: (
        f"{v:.1e}" if 0 < v < 1e-3 else f"{v:,.3f}" if v < 100 else f"{v:,.0f}")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
