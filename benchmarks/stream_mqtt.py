"""Load figure of ``tsrnn stream --mqtt``: N sensors publishing at a fixed total
rate through a local Mosquitto (127.0.0.1 only), for a bounded time per rate.
Prints a table; not a test.

For each rate: the sensors publish one reading each per tick (QoS 1), as a fleet
on one clock does; ``tsrnn stream --mqtt`` runs as its own process, as deployed;
this process records every score message. Per rate:

- end-to-end latency, publish to score message received, p50 and p99;
- points lost: readings published whose score never came (must be 0);
- sustained: every score came, p99 under 1 s, and the publisher kept the rate.

The highest sustained rate is the last line. The broker is started here, on a free
port, with ``set_tcp_nodelay true``, ``max_inflight_messages`` (default 1000;
Mosquitto's own default is 20, which caps how many readings the scorer can batch)
and no limit on its queue.

    .venv/bin/python benchmarks/stream_mqtt.py                 # about 2 minutes
    .venv/bin/python benchmarks/stream_mqtt.py --sensors 100 --rates 500,2000 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mqtt_broker import Broker, Publisher, mosquitto, no_delay  # noqa: E402


def _detector(path: Path, sensors: int, window: int) -> None:
    from tsrnn import AnomalyDetector

    n = 4 * window
    t = np.arange(n)
    frame = pd.concat([pd.DataFrame({
        "timestamp": pd.date_range("2020-01-01", periods=n, freq="min"),
        "sensor": f"s{k}", "value": np.sin(t / 5 + k) + 0.05 * np.random.default_rng(k)
        .standard_normal(n)}) for k in range(sensors)])
    det = AnomalyDetector(window=window, hidden_size=16, max_epochs=1, n_models=1,
                          accelerator="cpu", random_state=0)
    det.fit(frame, time_col="timestamp", id_col="sensor", target="value")
    det.save(path)


class _Scores:
    """Arrival time of each score message, by (sensor, timestamp)."""

    def __init__(self, port: int):
        import paho.mqtt.client as mqtt

        self.arrived: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-scores",
                                  clean_session=False)
        ready = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not ready.wait(10):
            raise RuntimeError("could not subscribe to the scores")

    @staticmethod
    def _on_connect(client, userdata, flags, reason_code, properties):
        no_delay(client)
        client.subscribe("bench/scores/#", qos=1)

    def _on_message(self, client, userdata, message):
        now = time.perf_counter()
        m = json.loads(message.payload)
        with self.lock:
            self.arrived.setdefault((m["sensor"], m["timestamp"]), now)

    def count(self) -> int:
        with self.lock:
            return len(self.arrived)


def _run_rate(publisher, scores, sensors: int, rate: float, seconds: float, tick0: int,
              start: pd.Timestamp) -> tuple[dict, int]:
    """Publish at ``rate`` readings/s for ``seconds``; the row of the table."""
    ticks = max(1, int(rate * seconds / sensors))
    period = sensors / rate
    sent: dict[tuple[str, str], float] = {}
    rng = np.random.default_rng(tick0)
    began = time.perf_counter()
    for k in range(ticks):
        due = began + k * period
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        stamp = (start + pd.Timedelta(minutes=tick0 + k)).isoformat()
        values = np.sin((tick0 + k) / 5 + np.arange(sensors)) + 0.05 * rng.standard_normal(
            sensors)
        for s in range(sensors):
            sent[f"s{s}", stamp] = time.perf_counter()
            publisher.send(f"bench/plant/s{s}", {"timestamp": stamp, "value": float(values[s])})
    took = time.perf_counter() - began
    deadline = time.perf_counter() + 15  # the drain after the last reading, bounded
    while time.perf_counter() < deadline and not all(k in scores.arrived for k in sent):
        time.sleep(0.05)
    with scores.lock:
        latency = np.array([scores.arrived[k] - t for k, t in sent.items()
                            if k in scores.arrived])
    lost = len(sent) - len(latency)
    achieved = len(sent) / took
    p50, p99 = (np.percentile(latency, [50, 99]) * 1e3) if len(latency) else (np.nan,) * 2
    row = {"rate": rate, "achieved": achieved, "points": len(sent), "p50_ms": p50,
           "p99_ms": p99, "lost": lost,
           "sustained": lost == 0 and p99 < 1000 and achieved >= 0.95 * rate}
    return row, ticks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--rates", default="200,500,1000,2000,4000",
                        help="total readings per second, comma-separated, lowest first")
    parser.add_argument("--seconds", type=float, default=20.0, help="per rate")
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--broker-inflight", type=int, default=1000,
                        help="Mosquitto's max_inflight_messages (its default is 20)")
    parser.add_argument("--no-checkpoint", action="store_true",
                        help="run the scorer without --checkpoint (no journal either)")
    args = parser.parse_args(argv)
    if mosquitto() is None:
        print("mosquitto is not installed (Debian: apt-get install mosquitto)")
        return 1
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _detector(tmp / "det.tsrnn", args.sensors, args.window)
        broker = Broker(tmp / "broker", extra=f"max_inflight_messages {args.broker_inflight}\n"
                        "max_queued_messages 0\n").start()
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        scorer = subprocess.Popen(
            [sys.executable, "-m", "tsrnn", "stream", "--model", str(tmp / "det.tsrnn"),
             "--mqtt", f"127.0.0.1:{broker.port}", "--topic", "bench/plant/+",
             "--out-topic", "bench", "-q",
             *([] if args.no_checkpoint else ["--checkpoint", str(tmp / "stream.state")])],
            cwd=ROOT, env=env)
        scores = _Scores(broker.port)
        publisher = Publisher(broker.port, client_id="bench-publisher")
        rows, tick = [], 0
        try:
            time.sleep(3)  # the scorer loads torch and subscribes
            start = pd.Timestamp("2020-01-01") + pd.Timedelta(minutes=4 * args.window)
            for rate in rates:
                if scorer.poll() is not None:
                    raise RuntimeError(f"tsrnn stream exited with code {scorer.returncode}")
                row, ticks = _run_rate(publisher, scores, args.sensors, rate, args.seconds,
                                       tick, start)
                tick += ticks
                rows.append(row)
                print(f"  {rate:>7.0f}/s: p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} "
                      f"ms, lost {row['lost']}", flush=True)
                if not row["sustained"]:
                    break
        finally:
            publisher.close()
            scorer.terminate()
            code = scorer.wait(60)
            broker.stop()
    print(f"\ntsrnn stream --mqtt, {args.sensors} sensors, window {args.window}, "
          f"{args.seconds:g} s per rate, "
          f"{'no checkpoint' if args.no_checkpoint else 'checkpoint every 10 s'}, "
          f"broker max_inflight_messages {args.broker_inflight}, "
          f"one torch thread, 127.0.0.1 (exit code at SIGTERM: {code})\n")
    print("| readings/s asked | achieved | points | p50 latency | p99 latency | lost | "
          "sustained |")
    print("|---:|---:|---:|---:|---:|---:|:---|")
    for r in rows:
        print(f"| {r['rate']:,.0f} | {r['achieved']:,.0f} | {r['points']:,} | "
              f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['lost']} | "
              f"{'yes' if r['sustained'] else 'no'} |")
    best = max((r["rate"] for r in rows if r["sustained"]), default=None)
    print(f"\nhighest sustained rate: {best:,.0f} readings/s" if best else
          "\nno rate was sustained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
