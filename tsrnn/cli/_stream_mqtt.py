"""``tsrnn stream --mqtt``: score the readings of an MQTT topic until stopped
(the loop itself is :class:`tsrnn.transports.mqtt.MqttScorer`)."""

from __future__ import annotations

import signal
import sys
import threading

from tsrnn.cli._options import EXIT_FAILED, EXIT_OK, UsageError


def run_mqtt(args) -> int:
    """Score until SIGTERM or Ctrl+C; then score what has arrived, checkpoint, exit 0.
    A second signal stops without waiting for the broker's confirmations."""
    if args.mqtt is None:
        raise UsageError("--topic reads from an MQTT broker: give it with --mqtt HOST:PORT")
    if not args.topic:
        raise UsageError("--mqtt needs --topic, the topic pattern to subscribe to "
                         "(e.g. 'plant/+/+')")
    _check_topics(args.topic, args.out_topic)
    from tsrnn.transports.mqtt import MqttScorer, import_paho

    try:
        import_paho()
    except ImportError as err:
        raise ImportError(f"--mqtt: {err}") from None
    stream = _stream(args)
    host, port = args.mqtt
    log = (lambda text: None) if args.quiet else \
        (lambda text: print(text, file=sys.stderr, flush=True))
    scorer = MqttScorer(stream, host, port, args.topic, sensor_from=args.sensor_from,
                        out_prefix=args.out_topic, checkpoint=args.checkpoint,
                        checkpoint_every=args.checkpoint_every, client_id=args.client_id,
                        connect_timeout=args.connect_timeout, log=log)
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():  # the second one: stop waiting on the broker
            scorer.shutdown_grace = 0
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        log(f"tsrnn stream: scores of {args.topic!r} go to {args.out_topic}/scores/<sensor> "
            "(SIGTERM or Ctrl+C stops)")
        summary = scorer.run(stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    log(f"tsrnn stream: {summary.scored} reading(s) scored, {summary.errors} reported on "
        f"{args.out_topic}/errors, {summary.redelivered} delivered again and skipped"
        + (f", {summary.replayed} replayed from the journal" if summary.replayed else "")
        + ("" if args.checkpoint is None or not summary.clean
           else f"; state in {args.checkpoint}"))
    return EXIT_OK if summary.clean else EXIT_FAILED


def _stream(args):
    """The checkpoint's stream when there is one (it holds its detector), else a
    fresh one from --model."""
    from tsrnn._checks import a_or_an
    from tsrnn.files import read_model
    from tsrnn.streaming import AnomalyStream

    if args.checkpoint is not None and args.checkpoint.exists():
        return AnomalyStream.load(args.checkpoint)
    model = read_model(args.model)
    if type(model).__name__ != "AnomalyDetector":
        raise ValueError(f"{args.model} holds {a_or_an(type(model).__name__)}; stream needs an "
                         "AnomalyDetector")
    if model.roles_["time_col"] is None:
        raise ValueError(f"{args.model} was fitted without a time column; stream needs one")
    return model.stream()


def _check_topics(topic: str, prefix: str) -> None:
    """A valid pattern, and an output prefix it does not match (the scorer would
    read its own scores back)."""
    levels = topic.split("/")
    for k, level in enumerate(levels):
        if ("#" in level and (level != "#" or k != len(levels) - 1)) or \
                ("+" in level and level != "+"):
            raise UsageError(f"--topic {topic!r} is not a topic pattern: + stands for a "
                             "whole level, # for the last one")
    if not prefix or any(c in prefix for c in "+#"):
        raise UsageError(f"--out-topic {prefix!r} must be a topic without wildcards")
    from tsrnn.transports.mqtt import import_paho

    try:
        matches = import_paho().topic_matches_sub
    except ImportError:
        return
    for kind in ("scores", "alerts"):
        if matches(topic, f"{prefix.rstrip('/')}/{kind}/x"):
            raise UsageError(f"--topic {topic!r} matches the scores on --out-topic "
                             f"{prefix!r}: the scorer would read them back; choose "
                             "another --out-topic")
    if matches(topic, f"{prefix.rstrip('/')}/errors"):
        raise UsageError(f"--topic {topic!r} matches --out-topic {prefix!r}/errors: "
                         "choose another --out-topic")
