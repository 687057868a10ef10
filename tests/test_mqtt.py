"""``tsrnn stream --mqtt`` and :mod:`tsrnn.transports.mqtt` against a real Mosquitto
broker that each test starts on a free port on 127.0.0.1 (and stops).

Without the ``mosquitto`` binary (Debian: ``apt-get install mosquitto``) or
paho-mqtt (``pip install 'tsrnn[mqtt]'``) these tests are skipped, saying which.
The detector is tiny (8 hidden units, window 8, one epoch); every wait is bounded.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mqtt_broker import INSTALL_HINT, Broker, Publisher, Recorder, mosquitto

from tsrnn import AnomalyDetector
from tsrnn.streaming import AnomalyStream

pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed: "
                    "pip install 'tsrnn[mqtt]'")

ROOT = Path(__file__).resolve().parents[1]
N = 40  # points per sensor
SENSORS = ["s0", "s1", "s2"]
HAS_STATE_FILES = hasattr(AnomalyStream, "save") and hasattr(AnomalyStream, "load")
needs_state_files = pytest.mark.skipif(not HAS_STATE_FILES, reason="needs "
                                       "AnomalyStream.save/load")


def _frame(n: int = N, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    parts = []
    for k, sensor in enumerate(SENSORS):
        t = np.arange(start, start + n)
        value = 5 * k + np.sin(t / 3) + 0.1 * rng.standard_normal(n)
        if k == 0:
            value[n // 2] += 6  # one clear anomaly, for the alert topic
        parts.append(pd.DataFrame({
            "timestamp": pd.date_range("2024-01-01", periods=start + n, freq="h")[start:]
            .astype(str), "sensor": sensor, "value": value.round(4)}))
    return pd.concat(parts).sort_values(["timestamp", "sensor"], kind="stable",
                                        ignore_index=True)


@pytest.fixture(scope="module")
def detector_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mqtt")
    det = AnomalyDetector(window=8, hidden_size=8, max_epochs=1, n_models=1, batch_size=32,
                          accelerator="cpu", random_state=0, smoothing=5)
    det.fit(_frame(120), time_col="timestamp", id_col="sensor", target="value")
    det.save(folder / "det.tsrnn")
    return folder / "det.tsrnn"


@pytest.fixture
def broker(tmp_path):
    if mosquitto() is None:
        pytest.skip(INSTALL_HINT)
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


def _expected(detector_file, feed: pd.DataFrame) -> dict:
    """``{(sensor, timestamp): score}`` of the batch scores, ``online=True``."""
    det = AnomalyDetector.load(detector_file)
    scores = det.decision_function(feed, online=True).to_numpy()
    return {(s, t): v for s, t, v in zip(feed["sensor"], feed["timestamp"], scores,
                                         strict=True)}


def _publish(publisher: Publisher, feed: pd.DataFrame) -> None:
    for row in feed.itertuples():
        publisher.send(f"plant/line1/{row.sensor}",
                       {"timestamp": row.timestamp, "value": row.value})


def _scores(recorder: Recorder, count: int, timeout: float = 60) -> list[dict]:
    return [m for _, m, _ in recorder.wait_for(count, timeout, "/scores/")]


def _check_once_each(scores: list[dict], expected: dict) -> None:
    """Every reading scored exactly once, with the batch score."""
    counts = collections.Counter((m["sensor"], m["timestamp"]) for m in scores)
    twice = [k for k, c in counts.items() if c > 1]
    assert not twice, f"scored more than once: {twice[:5]}"
    missing = set(expected) - set(counts)
    assert not missing, f"{len(missing)} reading(s) never scored, e.g. {sorted(missing)[:3]}"
    got = np.array([m["score"] for m in sorted(scores, key=lambda m: (m["timestamp"],
                                                                       m["sensor"]))])
    want = np.array([expected[k] for k in sorted(expected, key=lambda k: (k[1], k[0]))])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


class _InProcess:
    """The scorer in a thread of this process."""

    def __init__(self, detector_file, port, stream=None, scorer_class=None, **kwargs):
        from tsrnn.transports.mqtt import MqttScorer

        stream = stream or AnomalyDetector.load(detector_file).stream()
        self.scorer = (scorer_class or MqttScorer)(stream, "127.0.0.1", port, "plant/+/+",
                                 client_id="test-scorer", log=lambda text: None, **kwargs)
        self.stop = threading.Event()
        self.summary = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.scorer._connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)

    def _run(self):
        self.summary = self.scorer.run(self.stop)

    def close(self):
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


# ----------------------------------------------------------------- in process
def test_scores_equal_the_batch_online_scores(detector_file, broker):
    feed = _frame()
    recorder = Recorder(broker.port, "tsrnn/#")
    scorer = _InProcess(detector_file, broker.port)
    publisher = Publisher(broker.port)
    try:
        _publish(publisher, feed)
        scores = _scores(recorder, len(feed))
        _check_once_each(scores, _expected(detector_file, feed))
        alerts = recorder.wait_for(1, 5, "/alerts/")
        labelled = [m for m in scores if m["label"] == 1]
        assert len(alerts) == len(labelled) and labelled, "every label 1 also on the alert topic"
        assert set(scores[0]) == {"sensor", "timestamp", "score", "label", "ready", "gap"}
        assert not scores[0]["ready"] and scores[-1]["ready"]
    finally:
        publisher.close()
        scorer.close()
        recorder.close()
    assert scorer.summary.scored == len(feed) and scorer.summary.errors == 0


def test_a_malformed_payload_goes_to_the_error_topic_and_the_stream_goes_on(
        detector_file, broker):
    feed = _frame(12)
    recorder = Recorder(broker.port, "tsrnn/#")
    scorer = _InProcess(detector_file, broker.port)
    publisher = Publisher(broker.port)
    try:
        _publish(publisher, feed.iloc[:6])
        publisher.send("plant/line1/s0", b"{not json")
        publisher.send("plant/line1/s1", {"timestamp": "2024-01-01 02:00:00", "value": "hot"})
        publisher.send("plant/line1/s2", {"timestamp": "2024-01-01 02:00:00", "value": None})
        publisher.send("plant/line1/s0", b"\xff\xfe")
        _publish(publisher, feed.iloc[6:])
        scores = _scores(recorder, len(feed))
        errors = [m for _, m, _ in recorder.wait_for(4, 10, "/errors")]
    finally:
        publisher.close()
        scorer.close()
        recorder.close()
    _check_once_each(scores, _expected(detector_file, feed))
    assert len(errors) == 4, errors
    by_topic = {m["topic"]: m for m in errors if m["topic"] != "plant/line1/s0"}
    bad_json, bad_bytes = (m for m in errors if m["topic"] == "plant/line1/s0")
    assert bad_json["payload"] == "{not json" and bad_json["reason"].startswith("not JSON")
    assert bad_bytes["reason"] == "not UTF-8 (byte 1 is 0xff)"
    assert by_topic["plant/line1/s1"]["reason"] == "value is not a number: 'hot'"
    # Refused by the stream, not the parser: its own words.
    assert "column 'value' of series 's2' is missing" in by_topic["plant/line1/s2"]["reason"]
    assert by_topic["plant/line1/s2"]["payload"] == \
        '{"timestamp": "2024-01-01 02:00:00", "value": null}'


def test_a_broker_restart_mid_stream_loses_no_reading_and_scores_none_twice(
        detector_file, broker):
    feed = _frame()
    half = len(feed) // 2
    recorder = Recorder(broker.port, "tsrnn/#")
    scorer = _InProcess(detector_file, broker.port)
    publisher = Publisher(broker.port)
    try:
        _publish(publisher, feed.iloc[:half])
        time.sleep(0.2)  # some scored, some perhaps still on their way
        broker.stop()
        _publish(publisher, feed.iloc[half:half + 6])  # kept by the publisher meanwhile
        broker.start()
        _publish(publisher, feed.iloc[half + 6:])
        scores = _scores(recorder, len(feed), timeout=60)
    finally:
        publisher.close()
        scorer.close()
        recorder.close()
    _check_once_each(scores, _expected(detector_file, feed))


@needs_state_files
def test_readings_delivered_again_after_a_restart_are_not_scored_twice(
        detector_file, broker, tmp_path):
    """A scorer that stops after journaling readings but before acknowledging them
    (as a kill between the two would): the broker delivers them again, flagged,
    to the next scorer, which skips them."""
    from tsrnn.transports.mqtt import MqttScorer

    class NeverAcks(MqttScorer):
        def _connect(self):
            super()._connect()
            self._client.ack = lambda mid, qos: None

    feed = _frame(20)
    checkpoint = tmp_path / "stream.state"
    recorder = Recorder(broker.port, "tsrnn/#")
    publisher = Publisher(broker.port)
    try:
        first = _InProcess(detector_file, broker.port, scorer_class=NeverAcks,
                           checkpoint=checkpoint)
        _publish(publisher, feed.iloc[:15])  # under Mosquitto's 20 unacknowledged at most
        _scores(recorder, 15)
        first.close()
        second = _InProcess(detector_file, broker.port, stream=AnomalyStream.load(checkpoint),
                            checkpoint=checkpoint)
        _publish(publisher, feed.iloc[15:])
        scores = _scores(recorder, len(feed))
        time.sleep(0.3)  # room for a wrong second score to arrive
        scores = _scores(recorder, len(feed))
        second.close()
    finally:
        publisher.close()
        recorder.close()
    assert second.summary.redelivered == 15 and second.summary.scored == len(feed) - 15
    _check_once_each(scores, _expected(detector_file, feed))


# ------------------------------------------------------------- the command
class _Command:
    """``tsrnn stream --mqtt`` in a subprocess; ready once it has subscribed."""

    def __init__(self, detector_file, port, checkpoint, *extra):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tsrnn", "stream", "--model", str(detector_file),
             "--mqtt", f"127.0.0.1:{port}", "--topic", "plant/+/+", "--checkpoint",
             str(checkpoint), "--client-id", "test-cli", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        self.lines: list[str] = []
        subscribed = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                if "subscribed to" in line:
                    subscribed.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not subscribed.wait(60):
            self.proc.kill()
            raise AssertionError(f"tsrnn stream did not subscribe: {''.join(self.lines)}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 60) -> int:
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            self.proc.kill()
        self.reader.join(5)
        return code


@needs_state_files
def test_a_killed_stream_resumes_from_its_checkpoint(detector_file, broker, tmp_path):
    """SIGKILL mid-stream, readings published while it is dead, a restart: every
    reading scored, with the uninterrupted run's scores. Scores are at least once:
    a kill between the broker's confirmation of a batch's scores and its journal
    line republishes that batch's scores, identical."""
    feed = _frame()
    checkpoint = tmp_path / "stream.state"
    recorder = Recorder(broker.port, "tsrnn/#")
    publisher = Publisher(broker.port)
    try:
        command = _Command(detector_file, broker.port, checkpoint, "--checkpoint-every", "0.3")
        _publish(publisher, feed.iloc[:45])
        _scores(recorder, 30)
        time.sleep(0.4)  # a checkpoint, with journal lines after it
        _publish(publisher, feed.iloc[45:75])
        time.sleep(0.05)
        assert command.stop(signal.SIGKILL) == -signal.SIGKILL
        _publish(publisher, feed.iloc[75:])  # queued by the broker for the session
        for info in publisher.infos:
            info.wait_for_publish(10)
        command = _Command(detector_file, broker.port, checkpoint)
        scores = _scores(recorder, len(feed))
        assert command.stop() == 0, "".join(command.lines)
    finally:
        publisher.close()
        recorder.close()
    expected = _expected(detector_file, feed)
    by_key = collections.defaultdict(list)
    for m in scores:
        by_key[m["sensor"], m["timestamp"]].append(m)
    assert set(by_key) == set(expected), "a reading lost"
    again = {k: v for k, v in by_key.items() if len(v) > 1}
    assert all(v[0] == m for v in again.values() for m in v), "scored twice, differently"
    assert len(again) <= len(SENSORS), f"more than one batch scored again: {list(again)}"
    _check_once_each([v[0] for v in by_key.values()], expected)


@needs_state_files
def test_sigterm_scores_what_arrived_checkpoints_and_exits_0(detector_file, broker, tmp_path):
    feed = _frame(20)
    checkpoint = tmp_path / "stream.state"
    recorder = Recorder(broker.port, "tsrnn/#")
    publisher = Publisher(broker.port)
    try:
        command = _Command(detector_file, broker.port, checkpoint, "--checkpoint-every", "600")
        _publish(publisher, feed.iloc[:30])
        _scores(recorder, 30)
        _publish(publisher, feed.iloc[30:])
        assert command.stop(signal.SIGTERM) == 0, "".join(command.lines)
        assert "reading(s) scored" in command.lines[-1] and str(checkpoint) in command.lines[-1]
        stopped_at = len(recorder.wait_for(len(feed), 2, "/scores/"))
        # The checkpoint holds everything scored; its journal is empty.
        assert AnomalyStream.load(checkpoint).detector.window == 8
        assert len(Path(f"{checkpoint}.journal").read_text().splitlines()) == 1
        command = _Command(detector_file, broker.port, checkpoint)  # the rest, if any
        scores = _scores(recorder, len(feed))
        assert command.stop(signal.SIGINT) == 0, "".join(command.lines)
    finally:
        publisher.close()
        recorder.close()
    assert stopped_at >= 30
    _check_once_each(scores, _expected(detector_file, feed))


# ---------------------------------------------------------- usage errors
def test_bad_flags_are_one_line_errors_naming_the_flag(detector_file, capsys):
    from tsrnn.cli import main

    model = ["--model", str(detector_file)]
    assert main(["stream", *model, "--mqtt", "localhost", "--topic", "a/+"]) == 2
    assert "--mqtt: expected HOST:PORT like localhost:1883, got 'localhost'" in \
        capsys.readouterr().err
    assert main(["stream", *model, "--mqtt", "localhost:1883"]) == 2
    assert "--mqtt needs --topic" in capsys.readouterr().err
    assert main(["stream", *model, "--mqtt", "localhost:1883", "--topic", "#"]) == 2
    assert "matches the scores on --out-topic 'tsrnn'" in capsys.readouterr().err
    assert main(["stream", *model, "--mqtt", "h:1", "--topic", "a/b#"]) == 2
    assert "is not a topic pattern" in capsys.readouterr().err
    assert main(["stream", *model, "--mqtt", "h:1", "--topic", "a", "--sensor-from",
                 "level:2"]) == 2
    assert "--sensor-from: expected topic:N" in capsys.readouterr().err
    assert main(["stream", *model, "--mqtt", "h:1", "--topic", "a", "--checkpoint-every",
                 "0"]) == 2
    assert "--checkpoint-every: expected a positive number" in capsys.readouterr().err


def test_an_unreachable_broker_is_an_error_after_a_bounded_wait(detector_file, capsys):
    from mqtt_broker import free_port

    from tsrnn.cli import main

    port = free_port()  # nothing listens there
    started = time.monotonic()
    assert main(["stream", "--model", str(detector_file), "--mqtt", f"127.0.0.1:{port}",
                 "--topic", "plant/+/+", "--connect-timeout", "0.5", "-q"]) == 1
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tsrnn stream: error: --mqtt 127.0.0.1:{port}: no broker "
                          "answered within 0.5 s"), err
    assert len(err.splitlines()) == 1


def test_without_paho_the_error_names_the_extra(detector_file, capsys, monkeypatch):
    from tsrnn.cli import main

    monkeypatch.setitem(sys.modules, "paho.mqtt.client", None)  # import fails
    assert main(["stream", "--model", str(detector_file), "--mqtt", "127.0.0.1:1",
                 "--topic", "plant/+/+"]) == 1
    assert capsys.readouterr().err.strip() == ("tsrnn stream: error: --mqtt: MQTT needs "
                                               "paho-mqtt 2: pip install 'tsrnn[mqtt]'")


def test_the_detector_and_the_stream_never_import_paho():
    code = ("import tsrnn, tsrnn.detector, tsrnn.streaming, tsrnn.cli, sys; "
            "print(any(m.startswith('paho') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True, timeout=120).stdout
    assert out.strip() == "False"
