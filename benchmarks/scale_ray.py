"""Ray scaling: fan-out scoring over many series, and partitioned streams on actors.

Fan-out: a small detector (one network, 16 units, window 16), fitted on 100 hourly
sensors, scores 1,000 series of 200 rows each with
``tsrnn.distributed.map_series(..., "decision_function")``: in this process
(``engine="local"``), then on a local Ray with 1 and with 2 CPUs (one worker per
CPU). Each row reports the first call (for Ray: workers starting, importing torch
and decoding the model) and the second, warm one; series/s is the warm call's.

Streams: a stateful detector (one network, 16 units, window 16) fitted on 100
sensors; 1,000 live sensors, batches of ``--stream-steps`` timestamps x 1,000
sensors through ``update_frame``: one stream, then ``PartitionedStream`` with 1, 2
and 4 Ray actors (on a Ray with 2 CPUs). Points/s over the timed batches after a
warm-up batch.

Every run checks that the engines agree: the Ray scores equal the local ones.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scale_ray.py [--series 1000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01")
COLUMNS = {"time_col": "timestamp", "id_col": "sensor", "target": "value"}


def fleet(n_series: int, n_rows: int, seed: int = 0, start=START) -> pd.DataFrame:
    """Hourly sensors: daily sines at different levels, with noise; long format."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    values = rng.uniform(0, 100, (n_series, 1)) + 10 * np.sin(
        2 * np.pi * (t[None] + rng.integers(0, 24, (n_series, 1))) / 24) \
        + rng.standard_normal((n_series, n_rows))
    return pd.DataFrame({
        "sensor": np.repeat([f"s{k}" for k in range(n_series)], n_rows),
        "timestamp": np.tile(pd.date_range(start, periods=n_rows, freq="h"), n_series),
        "value": values.ravel()})


def _timed(call):
    started = time.perf_counter()
    out = call()
    return out, time.perf_counter() - started


def fan_out(args, ray) -> list[dict]:
    from tsrnn import AnomalyDetector
    from tsrnn.distributed import map_series
    from tsrnn.distributed.engine import model_bytes

    data = fleet(args.series, args.rows)
    det = AnomalyDetector(window=16, hidden_size=16, n_models=1, max_epochs=1,
                          random_state=0).fit(data[data["sensor"].isin(
                              [f"s{k}" for k in range(100)])], **COLUMNS)
    print(f"detector: {len(model_bytes(det)):,} bytes as a model file", flush=True)
    _, first = _timed(lambda: map_series(det, data, "decision_function", engine="local",
                                         errors="collect"))
    local, warm = _timed(lambda: map_series(det, data, "decision_function", engine="local",
                                            errors="collect"))
    rows = [{"engine": "local (this process)", "first call s": first, "warm call s": warm,
             "series/s": args.series / warm, "failed": len(local.failures)}]
    for cpus in (1, 2):
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
        try:
            _, first = _timed(lambda: map_series(det, data, "decision_function",
                                                 engine="ray", errors="collect"))
            out, warm = _timed(lambda: map_series(det, data, "decision_function",
                                                  engine="ray", errors="collect"))
        finally:
            ray.shutdown()
        assert all(out.results[k].equals(v) for k, v in local.results.items())
        rows.append({"engine": f"ray, {cpus} worker{'s' * (cpus > 1)}", "first call s": first,
                     "warm call s": warm, "series/s": args.series / warm,
                     "failed": len(out.failures)})
    return rows


def streams(args, ray) -> list[dict]:
    from tsrnn import AnomalyDetector
    from tsrnn.distributed import PartitionedStream

    history = fleet(100, 300)
    det = AnomalyDetector(stateful=True, window=16, hidden_size=16, n_models=1, max_epochs=1,
                          random_state=0).fit(history, **COLUMNS)
    n_batches = args.stream_batches + 1  # the first warms up (series join, actors start)
    live = fleet(args.stream_sensors, n_batches * args.stream_steps, seed=1,
                 start=START + pd.Timedelta(hours=300))
    batches = [live[live["timestamp"].isin(stamps)] for stamps in np.array_split(
        live["timestamp"].unique(), n_batches)]
    timed_points = sum(len(b) for b in batches[1:])

    def run(stream) -> tuple[float, pd.DataFrame]:
        stream.update_frame(batches[0])
        started = time.perf_counter()
        scores = [stream.update_frame(b) for b in batches[1:]]
        return time.perf_counter() - started, pd.concat(scores)

    seconds, reference = run(det.stream())
    rows = [{"stream": "one stream, this process", "points/s": timed_points / seconds}]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        for actors in (1, 2, 4):
            parted = PartitionedStream(det, actors, engine="ray")
            seconds, scores = run(parted)
            parted.close()
            np.testing.assert_allclose(scores["score"], reference["score"], rtol=1e-5)
            rows.append({"stream": f"ray, {actors} actor{'s' * (actors > 1)}",
                         "points/s": timed_points / seconds})
    finally:
        ray.shutdown()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=200, help="rows per series")
    parser.add_argument("--stream-sensors", type=int, default=1000)
    parser.add_argument("--stream-steps", type=int, default=24,
                        help="timestamps per update_frame batch")
    parser.add_argument("--stream-batches", type=int, default=10, help="timed batches")
    args = parser.parse_args(argv)
    import ray

    # Ray's workers are new processes: they must import this checkout's tsrnn.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)
    print(f"{os.cpu_count()} CPUs on this machine; OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}", flush=True)
    table = pd.DataFrame(fan_out(args, ray))
    print(f"\nfan-out: decision_function over {args.series:,} series of {args.rows} rows")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"), flush=True)
    table = pd.DataFrame(streams(args, ray))
    print(f"\nstreams: {args.stream_sensors:,} sensors, update_frame batches of "
          f"{args.stream_steps} timestamps")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
