"""``tsrnn stream``: score CSV rows from standard input as they arrive."""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import select
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, TextIO

from tsrnn.cli._options import EXIT_FAILED, EXIT_OK, _one_line, common_options

EXAMPLES = """\
examples (detector.tsrnn as `tsrnn detect --help` makes it, on the sample data):
  tsrnn stream --model detector.tsrnn < sensors.csv > scores.csv
  tail -f feed.csv | tsrnn stream --model detector.tsrnn    # runs until Ctrl+C
  tsrnn stream --model detector.tsrnn --mqtt localhost:1883 --topic 'plant/+/+' \
      --checkpoint stream.state    # runs until Ctrl+C; needs pip install 'tsrnn[mqtt]'

The first input line is the CSV header; it must hold the model's time column, id
column (if it has one) and target columns, and its separator is found as files'
are (comma, semicolon with decimal commas, tab or |). Each later line gets one output line,
written as soon as the line is read: time, id, score, label (1 = anomaly), ready
(0 while a series has too little history to score). A bad line (not UTF-8, not
CSV, another number of fields than the header, a value that is not a number) is
reported on stderr with its line number and skipped; the exit code is then 1.

With --mqtt it subscribes to --topic instead and publishes, as JSON,
<out-topic>/scores/<sensor> for every reading ({"sensor", "timestamp", "score",
"label", "ready", "gap"}), the same on <out-topic>/alerts/<sensor> when label is 1,
and {"topic", "payload", "reason"} on <out-topic>/errors for a message it skips.
A payload is {"timestamp": "2024-01-01T00:00:00", "value": 3.2}, or "values" by
target name, or a bare number timed by its arrival. QoS 1 and a persistent
session: no reading is lost while the scorer or the broker restarts. With
--checkpoint, a killed scorer resumes where it stopped; SIGTERM or Ctrl+C scores
what has arrived, checkpoints and exits 0.
"""


def add_parser(command) -> None:
    """Add ``tsrnn stream`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    parents = [common_options()]
    p = command("stream", "Score CSV rows from standard input as they arrive: one line out "
                "per line in, flushed at once.", parents, EXAMPLES)
    p.add_argument("--model", type=Path, required=True, help="saved anomaly detector")
    g = p.add_argument_group("MQTT (instead of standard input)")
    g.add_argument("--mqtt", type=_host_port, metavar="HOST:PORT",
                   help="the broker to read readings from and publish scores to")
    g.add_argument("--topic", help="topic pattern to subscribe to, e.g. 'plant/+/+'")
    g.add_argument("--sensor-from", type=_sensor_from, default=("topic", -1),
                   metavar="topic:N|payload:KEY", help="where the sensor id is: topic "
                   "level N (0 the first, -1 the last: the default) or a payload key")
    g.add_argument("--out-topic", default="tsrnn", metavar="PREFIX",
                   help="scores go to PREFIX/scores/<sensor>, alerts to "
                   "PREFIX/alerts/<sensor>, errors to PREFIX/errors (default: tsrnn)")
    g.add_argument("--checkpoint", type=Path, metavar="PATH", help="stream state file: "
                   "resumed from when it exists (it holds its detector), written every "
                   "--checkpoint-every seconds and at a stop")
    g.add_argument("--checkpoint-every", type=_seconds, default=10.0, metavar="SECONDS",
                   help="seconds between checkpoints (default 10)")
    g.add_argument("--client-id", help="MQTT client id of the persistent session "
                   "(default: one fixed per --topic and --out-topic)")
    g.add_argument("--connect-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                   help="how long to keep trying to reach the broker at start (default 10)")
    p.set_defaults(run=run_stream)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:1883
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT like localhost:1883, got "
                                         f"{text!r}")
    return host, int(port)


def _sensor_from(text: str) -> tuple:
    from tsrnn.transports.payloads import parse_sensor_source

    try:
        return parse_sensor_source(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got "
                                         f"{text!r}")
    return value


def run_stream(args, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """``tsrnn stream``: one score line out per CSV line in, flushed at once."""
    if args.mqtt is not None or args.topic is not None:
        from tsrnn.cli._stream_mqtt import run_mqtt

        return run_mqtt(args)
    from tsrnn._checks import a_or_an
    from tsrnn.data import DataError
    from tsrnn.files import read_model

    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    model = read_model(args.model)
    if type(model).__name__ != "AnomalyDetector":
        raise ValueError(f"{args.model} holds {a_or_an(type(model).__name__)}; stream needs an "
                         "AnomalyDetector")
    roles = model.roles_
    time_col, id_col, targets = roles["time_col"], roles["id_col"], model.target_names_
    lines = _lines(stdin)
    first = next(lines, None)
    if first is None:
        raise DataError("standard input is empty: expected a CSV header line first")
    _, text, reason = first
    if text is None:
        raise DataError(f"line 1, the CSV header, is unreadable: {reason}")
    from tsrnn.files import _sniff

    sep = _sniff(text.encode())[0]  # the separator, chosen as for files
    try:
        header = [h.strip() for h in _fields(text, sep)]
    except csv.Error as err:
        raise DataError(f"line 1, the CSV header, is unreadable: {err}") from None
    if not any(header):
        raise DataError("line 1 is empty: expected the CSV header line first")
    needed = [c for c in (time_col, id_col, *targets) if c is not None]
    missing = [c for c in needed if c not in header]
    if time_col is None:
        raise ValueError(f"{args.model} was fitted without a time column; stream needs one")
    if missing:
        raise DataError(f"the header line lacks column(s) {missing}; it has {header}")
    twice = sorted({c for c in needed if header.count(c) > 1})
    if twice:  # which of the two would be the value?
        raise DataError(f"the header line names column(s) {twice} more than once: {header}")
    at = {c: header.index(c) for c in needed}
    stream = model.stream()
    parse = _point_parser(model, at, decimal_comma=sep == ";")
    writer = csv.writer(stdout, lineterminator="\n")
    writer.writerow([c for c in (time_col, id_col) if c is not None]
                    + ["score", "label", "ready"])
    stdout.flush()
    bad = 0
    pending: list[_Point] = []  # the lines of one timestamp, scored in one update

    def skip(line: int, reason: str) -> None:
        nonlocal bad
        print(f"tsrnn stream: line {line} skipped: {reason}", file=sys.stderr, flush=True)
        bad += 1

    def flush() -> None:
        for point, result in _score(stream, pending, skip):
            writer.writerow([point.stamp] + ([point.id_text] if id_col else [])
                            + [f"{result[0]:.6g}", int(result[1]), int(result[2])])
        pending.clear()
        stdout.flush()

    try:
        for line, text, reason in lines:
            if text is None:  # undecodable: reported, and the stream goes on
                skip(line, reason)
                continue
            try:
                row = _fields(text, sep)
            except csv.Error as err:
                skip(line, f"not a CSV line: {err}")
                continue
            if not row:
                continue
            if len(row) != len(header):  # a shifted line would put values under wrong names
                skip(line, f"expected {len(header)} fields, got {len(row)}")
                continue
            try:
                point = parse(line, row)
            except ValueError as err:  # DataError is a ValueError
                skip(line, _one_line(err))
                continue
            if pending and (point.stamp != pending[0].stamp
                            or any(p.sid == point.sid for p in pending)):
                flush()
            pending.append(point)
            if not _more_waiting(stdin):  # a live feed: answer now, never hold a line back
                flush()
    except KeyboardInterrupt:
        flush()  # the lines read so far are answered: nothing read is lost
        raise
    flush()
    return EXIT_FAILED if bad else EXIT_OK


class _Point(NamedTuple):
    line: int
    stamp: str
    id_text: str
    sid: object
    values: list


def _point_parser(model, at: dict, decimal_comma: bool = False):
    """``parse(line number, fields) -> _Point`` for the model's columns; a series id
    is the fitted id it spells (CSV fields are text), or, for a new sensor, the text
    (an integer where the fitted ids are integers). With ``decimal_comma`` (a
    semicolon-separated feed, as Excel writes one), ``1,5`` is 1.5."""
    import numpy as np

    from tsrnn.data import DataError

    roles = model.roles_
    time_col, id_col, targets = roles["time_col"], roles["id_col"], model.target_names_
    known = {str(sid): sid for sid in model.ids_}
    integer_ids = bool(model.ids_) and all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) for s in model.ids_)
    integer_time = not hasattr(model.freq_, "freqstr") and model.freq_ is not None

    def parse(line: int, row: list[str]) -> _Point:
        stamp = row[at[time_col]].strip()
        text = row[at[id_col]].strip() if id_col else ""
        sid = known.get(text, text) if id_col else None
        if id_col and integer_ids and sid == text and text.lstrip("-").isdigit():
            sid = int(text)
        values = []
        for c in targets:
            try:
                field = row[at[c]]
                values.append(float(field.replace(",", ".") if decimal_comma else field))
            except ValueError:
                raise DataError(f"column {c!r} is not a number: {row[at[c]]!r}") from None
        if integer_time and not stamp.lstrip("-").isdigit():
            raise DataError(f"time {stamp!r} is not an integer step, as the model's times "
                            "are")
        return _Point(line, stamp, text, sid, values)

    return parse


def _score(stream, points: list[_Point], skip) -> list[tuple[_Point, tuple]]:
    """Score the points of one timestamp in one update; when the stream refuses
    that (it refuses a call whole, changing nothing), point by point, so that only
    the bad lines are skipped."""
    import pandas as pd

    if not points:
        return []
    integer = points[0].stamp.lstrip("-").isdigit() and not isinstance(
        stream.detector.freq_, pd.offsets.BaseOffset)
    stamp = int(points[0].stamp) if integer else points[0].stamp
    sids = None if points[0].sid is None else [p.sid for p in points]
    try:
        result = stream.update(stamp, [p.values for p in points], series=sids)
    except ValueError as err:  # DataError is a ValueError
        if len(points) == 1:
            skip(points[0].line, _one_line(err))
            return []
        return [scored for p in points for scored in _score(stream, [p], skip)]
    return [(p, (result.score[k], result.label[k], result.ready[k]))
            for k, p in enumerate(points)]


def _more_waiting(stdin) -> bool:
    """Whether more input can be read at once (then the lines of one timestamp are
    gathered into one update); for a live feed that has paused, no: every line read
    is answered before waiting for the next."""
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return True  # an in-memory text: all of it is there
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False


MAX_LINE = 1 << 20  # characters: a longer line is reported and skipped, never buffered


def _lines(stdin: TextIO) -> Iterator[tuple[int, str | None, str | None]]:
    """``(line number, text, None)`` for each input line, or ``(line number, None,
    reason)`` for one that is too long or not UTF-8: one bad line must never end
    the stream (strict decoding of a text stdin would stop at the first bad byte;
    the csv module's field limit would stop at the first long field)."""
    source = getattr(stdin, "buffer", stdin)  # bytes where there are bytes, to decode per line
    # A long field in a column the model does not read is no reason to drop the line.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE))
    for number in itertools.count(1):
        raw = source.readline(MAX_LINE + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE and not raw.endswith(b"\n" if isinstance(raw, bytes) else "\n"):
            _skip_rest_of_line(source)
            yield number, None, f"longer than {MAX_LINE:,} characters"
            continue
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                yield number, None, f"not UTF-8 text (byte {err.start + 1} is {raw[err.start]:#x})"
                continue
        elif number == 1:
            raw = raw.removeprefix("\ufeff")
        yield number, raw, None


def _fields(text: str, sep: str) -> list[str]:
    """A line's fields (``csv.Error`` if it is not a CSV line)."""
    return next(csv.reader([text], delimiter=sep, strict=True), [])



def _skip_rest_of_line(source) -> None:
    while True:
        chunk = source.readline(MAX_LINE)
        if not chunk or chunk[-1:] in (b"\n", "\n"):
            return
