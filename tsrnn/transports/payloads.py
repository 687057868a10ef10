"""Sensor readings out of MQTT messages: pure functions, no client library.

The payload forms a transport reads (UTF-8 JSON):

- an object with the time and the value(s)::

    {"timestamp": "2024-01-01T00:00:00", "value": 3.2}
    {"timestamp": "2024-01-01T00:00:00", "values": {"temp": 3.2, "rpm": 910}}
    {"timestamp": "2024-01-01T00:00:00", "values": [3.2, 910]}

  ``value`` for a detector of one target; ``values`` by target name, or a list in
  the detector's target order. The time may also be under the detector's own time
  column name. It is a date (ISO 8601 text) for a detector fitted on dates, an
  integer step for one fitted on integer steps; a bare number is refused for a
  date detector, since seconds, milliseconds and nanoseconds since 1970 look alike.
  ``null`` is a missing value (refused, unless the detector was fitted with
  ``fill="ffill"``). The sensor id may be in the object too (``"sensor": "s1"``,
  the key configurable).
- a bare number (``3.2``), for devices that send only the value: its time is the
  message's arrival time in UTC, floored to the detector's frequency (a date
  detector with a fixed frequency only).

The sensor id comes from one level of the topic (``topic:-1``, the last, by
default) or from a key of the object (``payload:sensor``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tsrnn.data.time_axis import read_one_time

__all__ = ["BadPayload", "Reading", "ReadingParser", "parse_sensor_source"]

EXCERPT = 200  # characters of a bad payload quoted on the error topic


class BadPayload(ValueError):
    """A message that is not a reading; the reason is written for the error topic."""


@dataclass
class Reading:
    """One sensor's point, parsed from one message."""

    topic: str
    sensor: str  # as the message names it; the score message repeats it
    series: Any  # the detector's id for it (the fitted id when the text matches one)
    time: Any  # pd.Timestamp or int, as the stream takes it
    time_text: str  # as received, for the score message
    values: list[float]
    payload: bytes = b""
    mid: int = 0
    dup: bool = False
    arrived: float = field(default=0.0)  # time.monotonic() at arrival


def parse_sensor_source(text: str) -> tuple[str, Any]:
    """``topic:N`` -> ``("topic", N)``; ``payload:KEY`` -> ``("payload", KEY)``."""
    kind, _, where = text.partition(":")
    if kind == "topic":
        try:
            return kind, int(where or -1)
        except ValueError:
            pass
    elif kind == "payload" and where:
        return kind, where
    raise ValueError(f"expected topic:N (the topic level, 0 the first, -1 the last) or "
                     f"payload:KEY (a key of the JSON payload), got {text!r}")


class ReadingParser:
    """Parse messages into :class:`Reading` s for ``detector``.

    Parameters
    ----------
    detector
        The fitted :class:`~tsrnn.AnomalyDetector` whose targets and time axis the
        payloads must fit.
    sensor_from
        ``("topic", level)`` or ``("payload", key)``: where the sensor id is.
    """

    def __init__(self, detector, sensor_from: tuple[str, Any] = ("topic", -1)):
        self.sensor_from = sensor_from
        self.targets = list(detector.target_names_)
        self.time_keys = ["timestamp"]
        time_col = detector.roles_["time_col"]
        if time_col is not None and time_col != "timestamp":
            self.time_keys.append(time_col)
        freq = detector.freq_
        self.integer_time = freq is not None and not hasattr(freq, "freqstr")
        self.freq = freq
        self.time_zone = detector.time_zone_
        self.dayfirst = detector.dayfirst_  # text that reads either way: as at fit
        self.has_ids = detector.roles_["id_col"] is not None
        self.known = {str(sid): sid for sid in detector.ids_}  # topics and JSON are text
        self.integer_ids = all(isinstance(sid, int | np.integer) and not isinstance(sid, bool)
                               for sid in detector.ids_)
        self.single = None if self.has_ids else detector.ids_[0]

    def parse(self, topic: str, payload: bytes, now: pd.Timestamp | None = None) -> Reading:
        """The reading in one message; raises :class:`BadPayload` with the reason."""
        try:
            data = json.loads(payload.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise BadPayload(f"not UTF-8 (byte {err.start + 1} is "
                             f"{payload[err.start]:#x})") from None
        except ValueError as err:
            raise BadPayload(f"not JSON: {err}") from None
        if isinstance(data, bool) or not isinstance(data, dict | int | float):
            raise BadPayload(f"expected a JSON object or a number, got "
                             f"{type(data).__name__}")
        if isinstance(data, dict):
            time_text, stamp = self._time(data)
            values = self._values(data)
        else:
            time_text, stamp = self._arrival(now)
            values = [self._number(data, "the payload")]
            if len(self.targets) != 1:
                raise BadPayload(f"a bare number fits a detector of one target; this one "
                                 f"has {len(self.targets)} ({self.targets}): send "
                                 '{"timestamp": ..., "values": {...}}')
        sensor = self._sensor(topic, data)
        return Reading(topic, sensor, self.series_of(sensor), stamp, time_text, values)

    def series_of(self, sensor: str):
        """The detector's series id for a sensor id (the one series of a detector
        fitted without an id column). Topics and JSON keys are text: a new sensor
        ``"8"`` of a detector fitted on integer ids is the id 8."""
        if not self.has_ids:
            return self.single
        if sensor in self.known:
            return self.known[sensor]
        if self.integer_ids and sensor.lstrip("-").isdigit():
            return int(sensor)
        return sensor

    # ------------------------------------------------------------------ parts
    def _sensor(self, topic: str, data) -> str:
        kind, where = self.sensor_from
        if kind == "topic":
            levels = topic.split("/")
            try:
                sensor = levels[where]
            except IndexError:
                raise BadPayload(f"topic {topic!r} has no level {where} (--sensor-from "
                                 f"topic:{where})") from None
        else:
            if not isinstance(data, dict) or where not in data:
                raise BadPayload(f"no {where!r} key for the sensor id (--sensor-from "
                                 f"payload:{where})")
            sensor = data[where]
            if not isinstance(sensor, str | int) or isinstance(sensor, bool):
                raise BadPayload(f"sensor id {where!r} must be text or an integer, got "
                                 f"{sensor!r}")
            sensor = str(sensor)
        if not sensor:
            raise BadPayload("the sensor id is empty")
        if any(c in sensor for c in "+#\0"):
            raise BadPayload(f"sensor id {sensor!r} holds an MQTT wildcard (+ or #) or a NUL")
        return sensor

    def time_of(self, text: str):
        """The stream's time for a time as :class:`Reading` ``.time_text`` holds it."""
        return int(text) if self.integer_time else read_one_time(text, self.dayfirst)

    def _time(self, data: dict) -> tuple[str, Any]:
        key = next((k for k in self.time_keys if k in data), None)
        if key is None:
            raise BadPayload(f"no time: expected a {self.time_keys[0]!r} key")
        raw = data[key]
        if self.integer_time:
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise BadPayload(f"time {raw!r} must be an integer step, as the detector's "
                                 "times are")
            return str(raw), raw
        if not isinstance(raw, str):
            raise BadPayload(f"time {raw!r} must be a date as text (ISO 8601): numbers "
                             "since 1970 are ambiguous (seconds, milliseconds, ...)")
        try:
            stamp = read_one_time(raw, self.dayfirst)
        except (ValueError, TypeError):
            stamp = None
        if stamp is None or stamp is pd.NaT:
            raise BadPayload(f"time {raw!r} is not a date")
        return raw, stamp

    def _arrival(self, now: pd.Timestamp | None) -> tuple[str, pd.Timestamp]:
        if self.integer_time or self.freq is None:
            raise BadPayload("a bare number has no time, and this detector's times are "
                             "integer steps: send {\"timestamp\": STEP, \"value\": X}")
        now = pd.Timestamp.now(tz="UTC") if now is None else now
        try:
            stamp = now.floor(self.freq)
        except ValueError:
            raise BadPayload(f"a bare number takes its arrival time, which cannot be put on "
                             f"the detector's {self.freq.freqstr!r} grid: send a "
                             "timestamp") from None
        if self.time_zone is None:
            stamp = stamp.tz_localize(None)  # a naive fit: its times are read as UTC
        return stamp.isoformat(), stamp

    def _values(self, data: dict) -> list[float]:
        if "values" in data:
            given = data["values"]
            if isinstance(given, dict):
                missing = [t for t in self.targets if t not in given]
                if missing:
                    raise BadPayload(f"values lack target(s) {missing}")
                return [self._number(given[t], f"value of {t!r}") for t in self.targets]
            if isinstance(given, list):
                if len(given) != len(self.targets):
                    raise BadPayload(f"values has {len(given)} numbers; the detector has "
                                     f"{len(self.targets)} targets ({self.targets})")
                return [self._number(v, f"value of {t!r}")
                        for v, t in zip(given, self.targets, strict=True)]
            raise BadPayload("values must be an object by target name or a list")
        if "value" in data:
            if len(self.targets) != 1:
                raise BadPayload(f"one 'value' for a detector of {len(self.targets)} "
                                 f"targets ({self.targets}): send 'values'")
            return [self._number(data["value"], "value")]
        raise BadPayload("no value: expected a 'value' or 'values' key")

    @staticmethod
    def _number(value, what: str) -> float:
        if value is None:  # missing: the stream refuses it, or carries the last value
            return math.nan  # forward for a detector fitted with fill="ffill"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadPayload(f"{what} is not a number: {value!r}")
        return float(value)


def excerpt(payload: bytes) -> str:
    """The start of a payload, as text, for an error message."""
    text = payload[:EXCERPT * 4].decode("utf-8", errors="replace")
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."
