"""The payload forms of tsrnn/transports/payloads.py: pure parsing, no broker."""

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from tsrnn.transports.payloads import BadPayload, ReadingParser, excerpt, parse_sensor_source

HOUR = pd.offsets.Hour()


def _detector(targets=("value",), id_col="sensor", freq=HOUR, tz=None, dayfirst=None):
    return SimpleNamespace(target_names_=list(targets), freq_=freq, time_zone_=tz,
                           dayfirst_=dayfirst,
                           roles_={"time_col": "date", "id_col": id_col},
                           ids_=["s0", 7] if id_col else [None])


def _parse(payload, topic="plant/a/s0", detector=None, sensor_from=("topic", -1), **kw):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return ReadingParser(detector or _detector(), sensor_from).parse(topic, body, **kw)


def test_text_that_reads_either_way_is_read_as_the_training_text_was():
    # Read on its own, "05/02/2024 00:00" is 2 May; a detector fitted on day-first
    # text (dayfirst_ True) reads it as 5 February, as its batch and streams do.
    body = {"date": "05/02/2024 00:00", "value": 1.0}
    assert _parse(body).time == pd.Timestamp("2024-05-02")
    assert _parse(body, detector=_detector(dayfirst=True)).time == pd.Timestamp("2024-02-05")
    iso = {"date": "2024-01-05 00:00", "value": 1.0}  # pandas' day-first: 1 May
    assert _parse(iso, detector=_detector(dayfirst=True)).time == pd.Timestamp("2024-01-05")


def test_an_object_with_a_value_or_values():
    r = _parse({"timestamp": "2024-01-01T03:00:00", "value": 2})
    assert (r.sensor, r.series, r.time, r.time_text, r.values) == (
        "s0", "s0", pd.Timestamp("2024-01-01 03:00"), "2024-01-01T03:00:00", [2.0])
    two = _detector(targets=("t", "p"))
    assert _parse({"date": "2024-01-01", "values": {"p": 1, "t": 2.5}}, detector=two
                  ).values == [2.5, 1.0]  # by name; the time under the model's time column
    assert _parse({"timestamp": "2024-01-01", "values": [1, 2]}, detector=two).values == [1, 2]


def test_the_sensor_from_a_topic_level_or_a_payload_key():
    assert _parse({"timestamp": "2024-01-01", "value": 1}, sensor_from=("topic", 1)
                  ).sensor == "a"
    r = _parse({"timestamp": "2024-01-01", "value": 1, "id": 7}, sensor_from=("payload", "id"))
    assert (r.sensor, r.series) == ("7", 7)  # the fitted id, not its text
    numbered = _detector()
    numbered.ids_ = [3, 7]
    assert _parse({"timestamp": "2024-01-01", "value": 1}, topic="plant/a/8",
                  detector=numbered).series == 8  # a new sensor, of the fitted ids' kind
    wide = _detector(id_col=None)
    assert _parse({"timestamp": "2024-01-01", "value": 1}, detector=wide).series is None


def test_a_bare_number_takes_its_arrival_time_on_the_detector_grid():
    now = pd.Timestamp("2024-05-01 10:42:13", tz="UTC")
    r = _parse(b"3.5", now=now)
    assert (r.time, r.values) == (pd.Timestamp("2024-05-01 10:00"), [3.5])
    aware = _detector(tz="Europe/Paris")
    assert _parse(b"3.5", detector=aware, now=now).time == pd.Timestamp("2024-05-01 10:00",
                                                                         tz="UTC")


def test_integer_steps():
    steps = _detector(freq=1)
    assert _parse({"timestamp": 41, "value": 1}, detector=steps).time == 41
    with pytest.raises(BadPayload, match="must be an integer step"):
        _parse({"timestamp": "41", "value": 1}, detector=steps)
    with pytest.raises(BadPayload, match="bare number has no time"):
        _parse(b"1.0", detector=steps)


def test_null_is_a_missing_value_for_the_stream_to_judge():
    import math

    assert math.isnan(_parse({"timestamp": "2024-01-01", "value": None}).values[0])


@pytest.mark.parametrize(("payload", "topic", "reason"), [
    (b"{oops", "plant/a/s0", "not JSON"),
    (b"\xff", "plant/a/s0", "not UTF-8 (byte 1 is 0xff)"),
    (b'"text"', "plant/a/s0", "expected a JSON object or a number, got str"),
    (b"true", "plant/a/s0", "expected a JSON object or a number, got bool"),
    ({"value": 1}, "plant/a/s0", "no time"),
    ({"timestamp": 1704067200, "value": 1}, "plant/a/s0", "numbers since 1970 are ambiguous"),
    ({"timestamp": "yesterday-ish", "value": 1}, "plant/a/s0", "is not a date"),
    ({"timestamp": "2024-01-01"}, "plant/a/s0", "no value"),
    ({"timestamp": "2024-01-01", "value": "1"}, "plant/a/s0", "value is not a number"),
    ({"timestamp": "2024-01-01", "value": True}, "plant/a/s0", "value is not a number"),
    ({"timestamp": "2024-01-01", "values": [1, 2]}, "plant/a/s0", "values has 2 numbers"),
    ({"timestamp": "2024-01-01", "values": {"x": 1}}, "plant/a/s0", "lack target"),
])
def test_what_is_not_a_reading_says_why(payload, topic, reason):
    with pytest.raises(BadPayload, match=reason.replace("(", r"\(").replace(")", r"\)")):
        _parse(payload, topic)


def test_a_sensor_id_must_be_usable_in_a_topic():
    with pytest.raises(BadPayload, match="wildcard"):
        _parse({"timestamp": "2024-01-01", "value": 1, "sensor": "a+b"},
               sensor_from=("payload", "sensor"))
    with pytest.raises(BadPayload, match="no 'sensor' key"):
        _parse({"timestamp": "2024-01-01", "value": 1}, sensor_from=("payload", "sensor"))
    with pytest.raises(BadPayload, match="has no level 5"):
        _parse({"timestamp": "2024-01-01", "value": 1}, sensor_from=("topic", 5))


def test_sensor_sources_and_excerpts():
    assert parse_sensor_source("topic:2") == ("topic", 2)
    assert parse_sensor_source("topic") == ("topic", -1)
    assert parse_sensor_source("payload:id") == ("payload", "id")
    for bad in ("payload", "topic:x", "level:1"):
        with pytest.raises(ValueError, match="expected topic:N"):
            parse_sensor_source(bad)
    assert excerpt(b"x" * 500) == "x" * 200 + "..."
    assert excerpt(b"ab\xffc") == "ab\ufffdc"
