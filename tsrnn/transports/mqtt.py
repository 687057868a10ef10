"""Score sensor readings from an MQTT broker and publish the scores back.

:class:`MqttScorer` subscribes to a topic pattern, reads each message as a
reading (the payload forms are in :mod:`tsrnn.transports.payloads`), scores it
with an :class:`~tsrnn.AnomalyStream` and publishes, as JSON,

- ``<prefix>/scores/<sensor>``: ``{"sensor", "timestamp", "score", "label", "ready", "gap"}``
  for every reading (``label`` 1 = anomaly, ``ready`` false while the series warms up);
- ``<prefix>/alerts/<sensor>``: the same message again when ``label`` is 1;
- ``<prefix>/errors``: ``{"topic", "payload", "reason"}`` for a message that is not
  a reading or that the stream refuses; it is skipped and the stream goes on.

Delivery: QoS 1 both ways and a persistent session (a fixed client id, clean
session off), so the broker keeps the subscription and queues readings while the
scorer is away or the connection is down; paho reconnects by itself. A message is
acknowledged only once its score (or error) is acknowledged by the broker and its
reading is in the journal (:mod:`tsrnn.transports.journal`), so neither a broker
restart nor a killed scorer loses a reading. A reading the broker delivers again
(at or before its series' last scored time, flagged as a redelivery) is
acknowledged and skipped, not scored twice.

Readings of one timestamp that arrive together are scored in one ``update``
call; nothing waits for more to come.

``paho-mqtt`` is imported here only: ``pip install 'tsrnn[mqtt]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tsrnn.data import DataError
from tsrnn.transports.journal import Journal
from tsrnn.transports.payloads import BadPayload, Reading, ReadingParser, excerpt

__all__ = ["MqttScorer", "ScorerSummary", "import_paho", "default_client_id"]

MAX_BATCH = 5_000  # messages taken off the queue at once: bounds one step's latency
PUBACK_WAIT = 0.05  # seconds between looks at the stop flag while waiting on the broker


def import_paho():
    """``paho.mqtt.client``, or an ImportError that says how to get it."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise ImportError("MQTT needs paho-mqtt 2: pip install 'tsrnn[mqtt]'") from None
    if not hasattr(mqtt, "CallbackAPIVersion"):
        raise ImportError("MQTT needs paho-mqtt 2 or later (found an older one): "
                          "pip install 'tsrnn[mqtt]'")
    return mqtt


def default_client_id(topic: str, prefix: str) -> str:
    """A fixed client id per subscription and output prefix: a persistent session is
    found again by its id, so a restarted scorer gets the readings queued for it."""
    digest = hashlib.sha1(f"{topic}\0{prefix}".encode()).hexdigest()[:12]
    return f"tsrnn-stream-{digest}"


@dataclass
class ScorerSummary:
    """What a run did."""

    scored: int = 0
    errors: int = 0  # reported on the error topic
    redelivered: int = 0  # already scored before a restart or reconnection: skipped
    replayed: int = 0  # readings of the journal replayed into the stream at start
    clean: bool = True  # False: stopped with scores the broker had not confirmed


class MqttScorer:
    """Score the readings of an MQTT topic with an :class:`~tsrnn.AnomalyStream`.

    Parameters
    ----------
    stream
        The stream to score with (its detector gives the payloads' shape).
    host, port
        The broker.
    topic
        Topic pattern to subscribe to, e.g. ``plant/+/+``.
    sensor_from
        ``("topic", level)`` (0 the first level, -1 the last) or ``("payload", key)``.
    out_prefix
        Scores go to ``<out_prefix>/scores/<sensor>``, alerts to
        ``<out_prefix>/alerts/<sensor>``, errors to ``<out_prefix>/errors``.
    checkpoint
        State file: loaded at start when it exists (with its journal), written every
        ``checkpoint_every`` seconds and at a clean stop. None: no restart state.
    client_id
        MQTT client id of the persistent session (default: from topic and prefix).
    connect_timeout
        Seconds to keep trying the first connection.
    shutdown_grace
        Seconds a stop waits for the broker to confirm the last scores; past it the
        run ends unclean (those readings stay unacknowledged, to be scored again).
    log
        Called with progress lines (connection lost, restored...); default stderr.
    """

    def __init__(self, stream, host: str, port: int, topic: str, *,
                 sensor_from: tuple = ("topic", -1), out_prefix: str = "tsrnn",
                 checkpoint=None, checkpoint_every: float = 10.0,
                 client_id: str | None = None, connect_timeout: float = 10.0,
                 shutdown_grace: float = 10.0, log: Callable[[str], None] | None = None):
        self.stream = stream
        self.host, self.port, self.topic = host, port, topic
        self.out_prefix = out_prefix.rstrip("/")
        self.parser = ReadingParser(stream.detector, sensor_from)
        self.journal = None if checkpoint is None else Journal(checkpoint)
        self.checkpoint_every = checkpoint_every
        self.client_id = client_id or default_client_id(topic, self.out_prefix)
        self.connect_timeout = connect_timeout
        self.shutdown_grace = shutdown_grace
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.summary = ScorerSummary()
        self.last: dict[str, str] = {}  # series -> its last scored time, as text
        self._last_time: dict[str, object] = {}  # the same, parsed
        self._inbox: queue.Queue = queue.Queue()
        self._acked = set()  # mids of our publications the broker confirmed
        self._acked_lock = threading.Condition()
        self._connected = threading.Event()
        self._refused = None
        self._client = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ running
    def run(self, stop: threading.Event) -> ScorerSummary:
        """Score until ``stop`` is set, then score what was received, checkpoint and
        disconnect. Raises ``ConnectionError`` if the broker cannot be reached."""
        self._stop = stop
        self._restore()
        self._connect()
        try:
            next_checkpoint = time.monotonic() + self.checkpoint_every
            while not stop.is_set():
                batch = self._take(timeout=0.1)
                if batch and not self._handle(batch):
                    break
                if self.journal is not None and time.monotonic() >= next_checkpoint:
                    self._checkpoint()
                    next_checkpoint = time.monotonic() + self.checkpoint_every
            else:  # asked to stop: what has arrived is scored, the rest stays queued
                batch = self._take(timeout=0)
                if batch:
                    self._handle(batch)
            if self.summary.clean and self.journal is not None:
                self._checkpoint()
        finally:
            self._client.disconnect()
            self._client.loop_stop()
            if self.journal is not None:
                self.journal.close()
        return self.summary

    def _restore(self) -> None:
        """Replay the journal of the checkpoint into the stream (the caller loaded
        the checkpoint itself), then start a fresh one."""
        if self.journal is None:
            return
        last, batches = self.journal.read()
        self.last = dict(last)
        self._last_time = {s: self.parser.time_of(t) for s, t in last.items()}
        for entry in batches:
            stamp = self.parser.time_of(entry["time"])
            readings = [Reading("", key, self.parser.series_of(key), stamp, entry["time"],
                                values)
                        for key, values in zip(entry["series"], entry["values"], strict=True)]
            fresh = [r for r in readings if not self._stale(r)]
            if fresh:
                self._update(fresh)  # a journal older than its checkpoint: none fresh
                self._remember(fresh)
                self.summary.replayed += len(fresh)
        self._checkpoint()

    def _connect(self) -> None:
        mqtt = import_paho()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
        client.max_inflight_messages_set(100)
        client.reconnect_delay_set(1, 4)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        self._client = client
        where = f"--mqtt {self.host}:{self.port}"
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                client.connect(self.host, self.port, keepalive=15)
                break
            except OSError as err:  # refused, unreachable, unknown host, timed out
                if time.monotonic() >= deadline:
                    raise ConnectionError(f"{where}: no broker answered within "
                                          f"{self.connect_timeout:g} s ({err})") from None
                time.sleep(0.2)
        client.loop_start()
        left = max(deadline - time.monotonic(), 2.0)
        if not self._connected.wait(left) or self._refused:
            client.loop_stop()
            reason = self._refused or f"no answer to the connection within {left:.0f} s"
            raise ConnectionError(f"{where}: the broker refused the connection: {reason}")

    # ---------------------------------------------- paho callbacks (its thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._connected.set()
            client.disconnect()
            return
        _no_delay(client)
        # Again on every connection: a broker without persistence forgot it.
        client.subscribe(self.topic, qos=1)
        if self._connected.is_set():
            self.log(f"tsrnn stream: connection to {self.host}:{self.port} restored")
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if any(code.is_failure for code in reason_codes):
            self.log(f"tsrnn stream: the broker refused the subscription to {self.topic!r}: "
                     f"{reason_codes[0]}")
        else:
            self.log(f"tsrnn stream: subscribed to {self.topic!r} on {self.host}:{self.port}")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if reason_code != 0:
            self.log(f"tsrnn stream: connection to {self.host}:{self.port} lost "
                     f"({reason_code}); reconnecting")

    def _on_message(self, client, userdata, message):
        self._inbox.put((message.topic, message.payload, message.mid, bool(message.dup),
                         time.monotonic()))

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._acked_lock:
            self._acked.add(mid)
            self._acked_lock.notify_all()

    # ------------------------------------------------------------------ scoring
    def _take(self, timeout: float) -> list:
        """What has arrived, up to MAX_BATCH messages; waits ``timeout`` for the first."""
        try:
            batch = [self._inbox.get(timeout=timeout) if timeout else
                     self._inbox.get_nowait()]
        except queue.Empty:
            return []
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _handle(self, messages: list) -> bool:
        """Score ``messages`` and acknowledge them; False if stopped before the broker
        confirmed the scores (the messages then stay unacknowledged)."""
        mids, readings, sent = [], [], []
        for topic, payload, mid, dup, arrived in messages:
            mids.append(mid)
            try:
                reading = self.parser.parse(topic, payload)
            except BadPayload as err:
                sent.append(self._error(topic, payload, str(err)))
                continue
            reading.payload, reading.mid, reading.dup, reading.arrived = \
                payload, mid, dup, arrived
            readings.append(reading)
        scored = []
        for group in _groups(readings):
            fresh = []
            for r in group:
                if not self._stale(r):
                    fresh.append(r)
                elif r.dup:  # delivered again after a reconnection or a restart
                    self.summary.redelivered += 1
                else:
                    sent.append(self._error(r.topic, r.payload, f"time {r.time_text} is not after "
                                            f"sensor {r.sensor!r}'s last scored one "
                                            f"({self.last[str(r.series)]}): out of order "
                                            "or duplicate"))
            done, refused = self._score(fresh)
            for r, reason in refused:
                sent.append(self._error(r.topic, r.payload, reason))
            for r, result in done:
                sent.extend(self._publish_score(r, *result))
            scored.extend(r for r, _ in done)
            self._remember([r for r, _ in done])
        if not self._confirmed(sent):
            self.summary.clean = False
            return False
        if self.journal is not None:
            for group in _groups(scored):
                self.journal.append(group[0].time_text, [str(r.series) for r in group],
                                    [r.values for r in group])
        for mid in mids:
            self._client.ack(mid, 1)
        self.summary.scored += len(scored)
        return True

    def _score(self, readings: list[Reading]) -> tuple[list, list]:
        """``([(reading, (score, label, ready, gap))], [(reading, reason)])``: one update
        for the group; if the stream refuses it, one per reading, to find the bad ones
        (a refused update changes nothing)."""
        if not readings:
            return [], []
        try:
            return list(zip(readings, self._update(readings), strict=True)), []
        except (DataError, ValueError) as err:
            if len(readings) == 1:
                return [], [(readings[0], str(err).strip().splitlines()[0])]
        done, refused = [], []
        for r in readings:
            d, f = self._score([r])
            done += d
            refused += f
        return done, refused

    def _update(self, readings: list[Reading]) -> list[tuple]:
        result = self.stream.update(readings[0].time, [r.values for r in readings],
                                    series=[r.series for r in readings])
        return list(zip(result.score.tolist(), result.label.tolist(), result.ready.tolist(),
                        result.gap.tolist(), strict=True))

    def _stale(self, r: Reading) -> bool:
        last = self._last_time.get(str(r.series))
        try:
            return last is not None and r.time <= last
        except TypeError:  # with and without a timezone: the stream says so
            return False

    def _remember(self, readings: list[Reading]) -> None:
        for r in readings:
            self.last[str(r.series)] = r.time_text
            self._last_time[str(r.series)] = r.time

    def _checkpoint(self) -> None:
        self.journal.checkpoint(self.stream, self.last)

    # --------------------------------------------------------------- publishing
    def _publish_score(self, r: Reading, score, label, ready, gap) -> list:
        body = json.dumps({"sensor": r.sensor, "timestamp": r.time_text,
                           "score": score if math.isfinite(score) else None,
                           "label": int(label), "ready": bool(ready), "gap": bool(gap)})
        infos = [self._client.publish(f"{self.out_prefix}/scores/{r.sensor}", body, qos=1)]
        if label:
            infos.append(self._client.publish(f"{self.out_prefix}/alerts/{r.sensor}", body,
                                              qos=1))
        return infos

    def _error(self, topic: str, payload: bytes, reason: str):
        self.summary.errors += 1
        body = json.dumps({"topic": topic, "payload": excerpt(payload), "reason": reason})
        return self._client.publish(f"{self.out_prefix}/errors", body, qos=1)

    def _confirmed(self, infos: list) -> bool:
        """Wait until the broker confirmed every publication (while the connection is
        down, paho keeps them and sends them again on reconnection); once a stop is
        asked, for ``shutdown_grace`` seconds at most."""
        pending = {info.mid for info in infos}
        stop_seen = None
        with self._acked_lock:
            while True:
                pending -= self._acked
                if not pending:
                    self._acked -= {info.mid for info in infos}
                    return True
                if self._stop.is_set():
                    stop_seen = stop_seen or time.monotonic()
                    if time.monotonic() >= stop_seen + self.shutdown_grace:
                        self.log(f"tsrnn stream: the broker did not confirm {len(pending)} "
                                 "score message(s); their readings stay unacknowledged, "
                                 "to be scored on the next start")
                        return False
                self._acked_lock.wait(PUBACK_WAIT)


def _no_delay(client) -> None:
    """Send small packets at once: with Nagle's algorithm, a score or an
    acknowledgement can wait some 40 ms for the peer's delayed ACK."""
    sock = client.socket()
    if hasattr(sock, "setsockopt"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _groups(readings: list[Reading]) -> list[list[Reading]]:
    """Consecutive readings of one time and distinct series, in arrival order: one
    ``update`` call each. Each series' readings keep their order."""
    groups: list[list[Reading]] = []
    seen: set = set()
    for r in readings:
        key = str(r.series)
        if groups and r.time == groups[-1][0].time and key not in seen:
            groups[-1].append(r)
        else:
            groups.append([r])
            seen = set()
        seen.add(key)
    return groups
