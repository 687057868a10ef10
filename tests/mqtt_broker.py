"""A Mosquitto broker of its own on a free port on 127.0.0.1, for the MQTT tests
and ``benchmarks/stream_mqtt.py``; and a paho client that records what it gets.

Persistence is on (in the broker's folder), so persistent sessions and their
queued messages survive :meth:`Broker.restart`, as on a real deployment.
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

INSTALL_HINT = "the mosquitto binary is not installed (Debian: apt-get install mosquitto)"


def mosquitto() -> str | None:
    """The broker's binary, or None."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_delay(client) -> None:
    """No Nagle delay (paho leaves it on): some 40 ms per small message otherwise."""
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Broker:
    """``mosquitto`` listening on 127.0.0.1 only, started and stopped by its owner."""

    def __init__(self, folder: Path, extra: str = ""):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = self.folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {self.folder}/\n"
            f"log_dest file {self.folder / 'mosquitto.log'}\nset_tcp_nodelay true\n"
            # As root it would switch to a `mosquitto` user who cannot write here.
            f"user {getpass.getuser()}\n{extra}")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> Broker:
        self.process = subprocess.Popen([mosquitto(), "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.process.stderr.read()!r}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port} in {timeout} s")

    def stop(self) -> None:
        """A clean stop: the broker saves its sessions and queued messages."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Recorder:
    """A persistent QoS 1 subscriber that keeps ``(topic, JSON payload, dup)``."""

    def __init__(self, port: int, topic: str, client_id: str = "test-recorder"):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict, bool]] = []
        self.lock = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False)
        self.client.reconnect_delay_set(1, 2)
        subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: (no_delay(c), c.subscribe(topic, qos=1))
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=15)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the recorder did not subscribe within 10 s")

    def _on_message(self, client, userdata, message):
        with self.lock:
            self.messages.append((message.topic, json.loads(message.payload),
                                  bool(message.dup)))
            self.lock.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0, topic_part: str = "") -> list:
        """The messages whose topic holds ``topic_part``, once there are ``count``
        (or the timeout has passed)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                got = [m for m in self.messages if topic_part in m[0]]
                if len(got) >= count or time.monotonic() >= deadline:
                    return got
                self.lock.wait(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """A persistent QoS 1 publisher: paho keeps what it could not send yet and
    sends it after a reconnection."""

    def __init__(self, port: int, client_id: str = "test-publisher"):
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = lambda c, u, f, rc, p: no_delay(c)
        self.client.connect("127.0.0.1", port, keepalive=15)
        self.client.loop_start()
        self.infos = []

    def send(self, topic: str, payload) -> None:
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        self.infos.append(self.client.publish(topic, body, qos=1))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
