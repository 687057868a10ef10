"""Every example in the ``tsrnn`` commands' ``--help`` runs as written, in order, in
a fresh folder: the sample data is exported by the examples themselves.

Training is shrunk (one epoch, 8 hidden units, one network) so that the examples
run in seconds: what is tested is that each command line works, not the models.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shlex

import pytest
from cli_lines import run_command

from tsrnn.cli import _config, _runs, main, train

ORDER = ["datasets", "forecast", "detect", "train", "evaluate", "stream", "export"]
TINY = {"max_epochs": 1, "hidden_size": 8, "n_models": 1, "batch_size": 256}
ENDLESS = "runs until Ctrl+C"  # a live feed: shown, not run


def _help(command: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([command, "--help"]) == 0
    return out.getvalue()


def _examples(text: str) -> list[str]:
    """The example command lines of a help text, continuations joined."""
    body = text.split("\nexamples", 1)[1].split("\n", 1)[1]
    lines, current = [], ""
    for raw in body.splitlines():
        if not raw.startswith("  ") or not raw.strip():
            break  # the examples end at the first line that is not one
        current = f"{current} {raw.strip()}" if current else raw.strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        lines.append(current)
        current = ""
    assert not current, f"a continuation with nothing after it: {current!r}"
    return lines


def _config_file(text: str) -> tuple[str, str] | None:
    """The sample config shown under ``run.toml (...)``, as a file name and text."""
    if "\nrun.toml (" not in text:
        return None
    block = text.split("\nrun.toml (", 1)[1].split("\n", 1)[1]
    return "run.toml", "\n".join(line[2:] for line in block.splitlines()) + "\n"


def _tiny(params_fn):
    def params(args, task, config, flags):
        chosen = params_fn(args, task, config, flags)
        known = _config._estimator_class(task)().get_params()
        return {**chosen, **{k: v for k, v in TINY.items() if k in known}}

    return params


def test_the_examples_are_parsed_whole():
    """The parser itself: one entry per command line, continuations joined."""
    lines = _examples(_help("forecast"))
    assert lines[0] == "tsrnn datasets export sensors-wide sensors-wide.csv    # 4 hourly sensors"
    assert all("\\" not in line for line in lines)
    assert any(line.startswith("tsrnn forecast sensors-wide.csv --target sensor_1 --set "
                               "model=seq2seq --set segment_len=1 --out") for line in lines)


def test_every_help_example_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(_runs, "_params", _tiny(_runs._params))
    monkeypatch.setattr(train, "_params", _tiny(train._params))
    ran, shown = [], []
    for command in ORDER:
        text = _help(command)
        config = _config_file(text)
        if config is not None:
            (tmp_path / config[0]).write_text(config[1])
        for line in _examples(text):
            if command == "export" and importlib.util.find_spec("onnx") is None:
                continue  # the onnx extra is not installed (tests/test_onnx.py says so)
            if ENDLESS in line:
                shown.append(line)
                continue
            run_command(line, f"tsrnn {command} --help")
            ran.append(line)
    assert [line.split()[1] for line in ran].count("evaluate") == 5
    assert len(ran) >= 24 and len(shown) == 2  # tail -f, and --mqtt (tests/test_mqtt.py)
    for made in ("sensors.csv", "sensors-wide.csv", "s1.tsrnn", "detector.tsrnn",
                 "forecast.png", "anomalies.png", "attention.png", "metrics.csv",
                 "scores.csv", "forecasts/sensors-wide.csv", "scores/sensors-wide.csv",
                 "big.tsrnn", "s1.onnx", "detector.onnx.json"):
        if made.endswith((".onnx", ".json")) and importlib.util.find_spec("onnx") is None:
            continue
        assert (tmp_path / made).is_file(), f"no example made {made}"
    streamed = (tmp_path / "scores.csv").read_text().splitlines()
    assert streamed[0] == "timestamp,sensor,score,label,ready" and len(streamed) == 11_521


@pytest.mark.parametrize("command", ORDER)
def test_help_examples_name_only_files_the_examples_make(command):
    """No example needs a file a new user does not have: every input is the sample
    data, a file an earlier example wrote, or the config shown in the help."""
    made = {"run.toml"}
    for name in ORDER:
        for line in _examples(_help(name)):
            words = shlex.split(line, comments=True)
            made.update(w for w in words if w.endswith((".csv", ".tsrnn", ".png")))
    inputs = {w for line in _examples(_help(command))
              for w in shlex.split(line, comments=True)[2:3] if w.endswith(".csv")}
    assert inputs <= made | {"feed.csv"}
