"""Streaming speed: the windowed `AnomalyStream` beside the stateful `StatefulStream`.

One torch thread. For each mode, a detector with the shipped defaults (3
networks, 64 units, window 32; trained for one epoch, which does not change the
speed) is fitted on 1,000 hourly sensors, then:

- 1 series, one point per call: points/s, and p50/p99 latency of one ``update``;
- 1,000 series per call: points/s, and p50/p99 latency of one ``update``;
- memory per series: what the stream holds once 1,000 series are warm
  (``tracemalloc``: numpy arrays and Python objects, not torch's weights);
- batch ``decision_function(online=True)`` on one series of 20,000 points.

Timed calls start after the warm-up, when every point is scored.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stream.py [--series 1000] [--points 3000]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stream.py --mqtt [its options]

``--mqtt`` runs ``benchmarks/stream_mqtt.py`` (N sensors through a local Mosquitto:
latency, points lost, the highest sustained rate) with the other options.

Detection quality of the two modes: ``benchmarks/detection.py --tsrnn
stateful:stateful=True``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

MODES = {
    "windowed reconstruction (default)": {},
    "windowed reconstruction, no drift correction": {"drift_window": None},
    "windowed forecast": {"score": "forecast"},
    "stateful": {"stateful": True},
    "stateful, n_models=1": {"stateful": True, "n_models": 1},
}
START = pd.Timestamp("2024-01-01")


def fleet(n_series: int, n_rows: int, seed: int = 0) -> pd.DataFrame:
    """Hourly sensors: daily sines at different levels, with noise; long format."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    level = rng.uniform(0, 100, n_series)[:, None]
    values = level + 10 * np.sin(2 * np.pi * (t[None] + rng.integers(0, 24, (n_series, 1)))
                                 / 24) + rng.standard_normal((n_series, n_rows))
    return pd.DataFrame({
        "sensor": np.repeat([f"s{k}" for k in range(n_series)], n_rows),
        "timestamp": np.tile(pd.date_range(START, periods=n_rows, freq="h"), n_series),
        "value": values.ravel(),
    })


def latencies(stream, stamps, values, series) -> np.ndarray:
    out = np.empty(len(stamps))
    for k, (t, v) in enumerate(zip(stamps, values, strict=True)):
        started = time.perf_counter()
        stream.update(t, v, series=series)
        out[k] = time.perf_counter() - started
    return out


def measure(det, n_series: int, points: int, warm: int, fleet_calls: int) -> dict:
    rng = np.random.default_rng(1)
    ids = det.ids_[:n_series]
    stamps = pd.date_range(START, periods=warm + max(points, fleet_calls), freq="h")
    # One series, one point per call.
    one = det.stream()
    series_values = 50 + 10 * np.sin(np.arange(len(stamps)) / 24 * 2 * np.pi)
    latencies(one, stamps[:warm], series_values[:warm, None, None], [ids[0]])
    lat1 = latencies(one, stamps[warm:warm + points],
                     series_values[warm:warm + points, None, None], [ids[0]])
    # Every series in each call; memory once they are warm.
    block = 50 + rng.standard_normal((len(stamps), n_series, 1))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    many = det.stream()
    latencies(many, stamps[:warm], block[:warm], ids)
    memory = (tracemalloc.get_traced_memory()[0] - before) / n_series
    tracemalloc.stop()
    lat_n = latencies(many, stamps[warm:warm + fleet_calls],
                      block[warm:warm + fleet_calls], ids)
    return {
        "1 series: points/s": 1 / lat1.mean(),
        "p50 µs": 1e6 * np.median(lat1), "p99 µs": 1e6 * np.quantile(lat1, 0.99),
        f"{n_series} series: points/s": n_series / lat_n.mean(),
        "p50 ms": 1e3 * np.median(lat_n), "p99 ms": 1e3 * np.quantile(lat_n, 0.99),
        "memory/series KB": memory / 1024,
    }


def batch_speed(det, n_points: int) -> float:
    one = fleet(1, n_points, seed=2)
    one = one[one["sensor"] == "s0"].assign(sensor=det.ids_[0])
    started = time.perf_counter()
    det.decision_function(one, online=True)
    return n_points / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    if "--mqtt" in argv:  # the load figure through a local broker: its own script
        import runpy
        from pathlib import Path

        sys.argv = [str(Path(__file__).with_name("stream_mqtt.py")),
                    *[a for a in argv if a != "--mqtt"]]
        runpy.run_path(sys.argv[0], run_name="__main__")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=3000,
                        help="timed single-series calls")
    parser.add_argument("--fleet-calls", type=int, default=None,
                        help="timed calls of every series (default: 30 windowed, 200 stateful)")
    parser.add_argument("--batch-points", type=int, default=20000)
    parser.add_argument("--modes", default=None,
                        help="a subset of the modes, separated by ';' (names hold commas)")
    args = parser.parse_args(argv)

    import torch

    from tsrnn import AnomalyDetector

    torch.set_num_threads(1)
    train = fleet(args.series, 48)
    rows = {}
    names = list(MODES) if args.modes is None else args.modes.split(";")
    unknown = [name for name in names if name not in MODES]
    if unknown:
        parser.error(f"--modes: unknown {unknown[0]!r}; the modes, separated by ';': "
                     + "; ".join(MODES))
    modes = {name: MODES[name] for name in names}
    for name, params in modes.items():
        det = AnomalyDetector(max_epochs=1, accelerator="cpu", random_state=0, **params)
        started = time.perf_counter()
        det.fit(train, time_col="timestamp", id_col="sensor", target="value")
        fit_s = time.perf_counter() - started
        calls = args.fleet_calls or (200 if det.stateful else 30)
        points = args.points if det.stateful else max(args.points // 5, 200)
        # timed once every point is scored, and the drift correction has its
        # reference (it divides from then on)
        drift = det._drift_window
        warm = det.window + 2 + (0 if drift is None else drift // 4)
        row = measure(det, args.series, points, warm, calls)
        row["batch points/s"] = batch_speed(det, args.batch_points)
        row["fit s"] = fit_s
        rows[name] = row
        print(f"{name}: done", flush=True)
    table = pd.DataFrame(rows).T
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(float_format=lambda v: f"{v:,.0f}" if abs(v) >= 100
                              else f"{v:.2f}"))
    print(f"one torch thread; {args.series} hourly sensors; defaults: n_models=3, "
          "hidden_size=64, window=32, smoothing=50, alerts=False")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
