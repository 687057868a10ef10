"""The ``tsrnn`` command: forecast and score CSV files (or folders of them), train
from a config file, evaluate a saved model, and score a live feed.

This module only parses arguments, reads files, calls the estimators and writes
results; the model logic is in :class:`tsrnn.Forecaster` and
:class:`tsrnn.AnomalyDetector`. ``python -m tsrnn`` and the scripts in
``pipelines/`` run the same :func:`main`.

Exit codes: 0 success, 1 failure (bad data, a file that failed in a folder run,
...), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import difflib
import os
import shutil
import signal
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
TASKS = {"forecast": "Forecaster", "detect": "AnomalyDetector"}
CONFIG_KEYS = {"task": None, "data": {"path", "time_col", "id_col", "target"},
               "model": None, "output": {"model"}}

EXAMPLES = {
    "forecast": """\
examples:
  tsrnn forecast ETTh1.csv --time-col date --target OT --horizon 24 --cell gru \\
      --quantiles 0.1,0.5,0.9 --out forecast.csv --plot forecast.png --save-model ot.tsrnn
  tsrnn forecast ETTh1.csv --model ot.tsrnn --out forecast.csv     # no training
  tsrnn forecast sensors.csv --id-col sensor --target value --holdout --plot check.png \\
      --out check.csv       # forecast the last --horizon steps and draw the actuals
  tsrnn forecast csv-folder/ --target OT --out forecasts/   # one output per input file
  tsrnn forecast ETTh1.csv --target OT --set model=seq2seq --set segment_len=1 \
      --out forecast.csv --plot-attention attention.png  # where each step looks
""",
    "detect": """\
examples:
  tsrnn detect sensors.csv --time-col timestamp --id-col sensor --target value \\
      --out scores.csv --plot anomalies.png --save-model detector.tsrnn
  tsrnn detect sensors.csv --model detector.tsrnn --out scores.csv
  tsrnn detect sensors.csv --id-col sensor --target value --label-col is_anomaly \\
      --out scores.csv      # also prints ROC-AUC, PR-AUC, F1 against the labels
  tsrnn detect nab-folder/ --target value --window 32 --out scores/
""",
    "train": """\
examples:
  tsrnn train --config run.toml
  tsrnn train --config run.toml --set hidden_size=64 --epochs 50 --out big.tsrnn
  tsrnn train --config run.toml --resume      # continue an interrupted training

run.toml (run.yaml takes the same keys; relative paths are relative to the file):
  task = "forecast"                  # or "detect"
  [data]
  path = "ETTh1.csv"
  time_col = "date"
  target = "OT"                      # or a list; id_col = "..." for long files
  [model]                            # any Forecaster / AnomalyDetector parameter
  cell = "gru"
  input_len = 96
  horizon = 24
  quantiles = [0.1, 0.5, 0.9]
  [output]
  model = "ot.tsrnn"
""",
    "evaluate": """\
examples:
  tsrnn evaluate ETTh1.csv --model ot.tsrnn                  # backtest from 80% on
  tsrnn evaluate ETTh1.csv --model ot.tsrnn --start 2018-01-01 --out metrics.csv
  tsrnn evaluate sensors.csv --model detector.tsrnn --label-col is_anomaly
  tsrnn evaluate csv-folder/ --model ot.tsrnn --out metrics.csv   # one row per file
""",
    "stream": """\
examples:
  tail -f feed.csv | tsrnn stream --model detector.tsrnn
  tsrnn stream --model detector.tsrnn < sensors.csv > scores.csv

The first input line is the CSV header; it must hold the model's time column, id
column (if it has one) and target columns. Each later line gets one output line,
written as soon as the line is read: time, id, score, label (1 = anomaly), ready
(0 while a series has too little history to score). A bad line is reported on
stderr and skipped; the exit code is then 1.
""",
}


class UsageError(Exception):
    """Arguments that cannot work together (exit code 2, like argparse's)."""


# ---------------------------------------------------------------------- parsing
def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected one or more column names")
    return names


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 0.1,0.5,0.9, got {text!r}") from None


def _start(text: str) -> Any:
    """A backtest start: a row count, a fraction, or a timestamp."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def build_parser() -> argparse.ArgumentParser:
    """The ``tsrnn`` argument parser, one subcommand per command."""
    from tsrnn import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars and no progress messages")
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")

    columns = argparse.ArgumentParser(add_help=False)
    g = columns.add_argument_group("columns (for training; a saved model knows its own)")
    g.add_argument("--time-col", help="timestamp column (default: a column called "
                   "date/timestamp/time/ds/datetime, or row numbers)")
    g.add_argument("--id-col", help="column telling the series of a long file apart")
    g.add_argument("--target", type=_names, metavar="COL[,COL...]",
                   help="column(s) to forecast or score (default: every other column)")

    training = argparse.ArgumentParser(add_help=False)
    g = training.add_argument_group("training")
    g.add_argument("--config", type=Path, help="TOML or YAML file: estimator parameters in "
                   "[model], columns in [data] (see `tsrnn train --help`)")
    g.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="NAME=VALUE", help="any estimator parameter, e.g. --set "
                   "hidden_size=32 --set quantiles=[0.1,0.9]; wins over --config and flags")
    g.add_argument("--cell", choices=["rnn", "lstm", "gru"], help="recurrent cell")
    g.add_argument("--hidden-size", type=int, help="units of the recurrent layer")
    g.add_argument("--epochs", type=int, dest="max_epochs", help="training epochs at most")
    g.add_argument("--seed", type=int, dest="random_state",
                   help="random seed (default 0: the same run gives the same model)")

    parser = argparse.ArgumentParser(
        prog="tsrnn", description="Forecast and detect anomalies in CSV time series with "
        "recurrent networks.", epilog="Run `tsrnn COMMAND --help` for a command's options "
        "and examples.")
    parser.add_argument("--version", action="version", version=f"tsrnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, parents: list) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=textwrap.fill(help, 79),
                                  epilog=EXAMPLES[name],
                                  parents=parents,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(parser=sub)
        return sub

    p = command("forecast", "Forecast the steps after the end of each series of a CSV file "
                "(or of every CSV file in a folder).", [common, columns, training])
    p.add_argument("data", type=Path, help="CSV file, or a folder of CSV files")
    p.add_argument("--out", required=True, help="forecast CSV ('-': standard output); "
                   "a folder for a folder of inputs")
    p.add_argument("--model", type=Path, help="forecast with this saved model: no training")
    p.add_argument("--save-model", type=Path, help="save the trained model (a folder for "
                   "a folder of inputs)")
    p.add_argument("--plot", type=Path, help="draw history, forecast, quantile band and "
                   "actuals to this PNG (a folder for a folder of inputs)")
    p.add_argument("--plot-attention", type=Path, metavar="PNG", help="seq2seq models with "
                   "attention: draw which input steps each forecast step attends to (the "
                   "first series; a folder for a folder of inputs)")
    p.add_argument("--holdout", action="store_true", help="hold out the last horizon steps "
                   "of each series, forecast them and add <target>_actual columns")
    g = p.add_argument_group("forecaster")
    g.add_argument("--input-len", type=int, help="steps of history each forecast sees")
    g.add_argument("--horizon", type=int, help="steps to forecast")
    g.add_argument("--quantiles", type=_floats, metavar="Q[,Q...]",
                   help="forecast these quantiles, e.g. 0.1,0.5,0.9")
    p.set_defaults(run=run_forecast)

    p = command("detect", "Score every row of a CSV file (or of every CSV file in a folder) "
                "for anomalies: a score and a 0/1 label per row.", [common, columns, training])
    p.add_argument("data", type=Path, help="CSV file, or a folder of CSV files")
    p.add_argument("--out", required=True, help="scored CSV: the input rows plus score and "
                   "label ('-': standard output); a folder for a folder of inputs")
    p.add_argument("--model", type=Path, help="score with this saved detector: no training")
    p.add_argument("--save-model", type=Path, help="save the trained detector (a folder for "
                   "a folder of inputs)")
    p.add_argument("--plot", type=Path, help="draw the series with flagged regions and the "
                   "score with its threshold to this PNG (a folder for a folder of inputs)")
    p.add_argument("--label-col", help="0/1 column of known anomalies: left out of the "
                   "signals, and detection metrics are printed")
    p.add_argument("--online", action="store_true", help="score each row from the rows "
                   "before it only, as `tsrnn stream` does")
    g = p.add_argument_group("detector")
    g.add_argument("--window", type=int, help="steps per window")
    g.add_argument("--contamination", type=float, help="expected fraction of anomalies")
    g.add_argument("--threshold", choices=["quantile", "pot"], help="how the threshold is "
                   "set: from --contamination, or peaks over threshold")
    g.add_argument("--alerts", action="store_true", default=None, help="alerting scores "
                   "(anomaly likelihood, range check, cooldown: one alarm per incident) "
                   "instead of ranking scores")
    p.set_defaults(run=run_detect)

    p = command("train", "Train a forecaster or detector with every parameter from a config "
                "file, and save it.", [common, columns, training])
    p.add_argument("--task", choices=sorted(TASKS), help="what to train (default: the "
                   "config's task)")
    p.add_argument("--data", type=Path, help="training CSV (default: the config's [data] path)")
    p.add_argument("--out", type=Path, help="model file (default: the config's [output] "
                   "model)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted training "
                   "from its last finished epoch (checkpoints are kept in <out>.ckpt/)")
    p.set_defaults(run=run_train)

    p = command("evaluate", "Measure a saved model on a CSV file (or folder): backtest "
                "metrics for a forecaster, detection metrics against a label column.",
                [common])
    p.add_argument("data", type=Path, help="CSV file, or a folder of CSV files")
    p.add_argument("--model", type=Path, required=True, help="saved forecaster or detector")
    p.add_argument("--label-col", help="0/1 column of known anomalies (detectors)")
    p.add_argument("--start", type=_start, default=0.8, help="first backtest origin: a "
                   "fraction of each series (default 0.8), a row count or a timestamp")
    p.add_argument("--stride", type=int, help="steps between backtest origins (default: the "
                   "horizon)")
    p.add_argument("--online", action="store_true", help="detectors: score from the past "
                   "only")
    p.add_argument("--out", type=Path, help="also write the metrics to this CSV, one row per "
                   "input file")
    p.set_defaults(run=run_evaluate)

    p = command("stream", "Score CSV rows from standard input as they arrive: one line out "
                "per line in, flushed at once.", [common])
    p.add_argument("--model", type=Path, required=True, help="saved anomaly detector")
    p.set_defaults(run=run_stream)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``tsrnn`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (2)
        return int(exit_.code or 0)
    try:
        return args.run(args)
    except UsageError as err:
        args.parser.print_usage(sys.stderr)
        print(f"tsrnn {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`tsrnn stream ... | head`): stop quietly, and keep
        # Python from complaining when it flushes standard output at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt as err:
        if args.debug:
            raise
        hint = f": {err}" if str(err) else "; files written so far are complete, others untouched"
        print(f"tsrnn {args.command}: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if args.debug:
            raise
        hint = "" if _expected(err) else " (--debug shows the traceback)"
        print(f"tsrnn {args.command}: error: {_one_line(err)}{hint}", file=sys.stderr)
        return EXIT_FAILED


def _expected(err: BaseException) -> bool:
    """Errors with a message written for the user (bad data, a missing file, ...)."""
    return isinstance(err, ValueError | OSError | ImportError)


def _one_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    if not _expected(err) or not text:
        text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text


# ----------------------------------------------------------------------- config
def read_config(path: Path) -> dict:
    """Read a TOML or YAML run config and check its keys; relative data and model
    paths become relative to the config file's folder."""
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise ImportError("reading TOML on Python 3.10 needs tomli: pip install "
                                  "tomli (or use a YAML config)") from None
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path} is not valid TOML: {err}") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ImportError("reading YAML configs needs PyYAML: pip install pyyaml") from None
        try:
            config = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise ValueError(f"{path} is not valid YAML: {_one_line(err)}") from None
    else:
        raise ValueError(f"config {path} must end in .toml, .yaml or .yml")
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a table of keys (task, [data], [model], [output])")
    for key, value in config.items():
        if key not in CONFIG_KEYS:
            raise ValueError(f"{path}: unknown key {key!r}{_did_you_mean(key, CONFIG_KEYS)}; "
                             "expected task, [data], [model], [output]")
        allowed = CONFIG_KEYS[key]
        if key != "task" and not isinstance(value, dict):
            raise ValueError(f"{path}: {key} must be a table ([{key}])")
        for inner in value if allowed else ():
            if inner not in allowed:
                raise ValueError(f"{path}: unknown key {inner!r} in [{key}]"
                                 f"{_did_you_mean(inner, allowed)}; expected {sorted(allowed)}")
    if config.get("task") not in (None, *TASKS):
        raise ValueError(f"{path}: task must be one of {sorted(TASKS)}, got {config['task']!r}")
    for table, key in (("data", "path"), ("output", "model")):
        if key in config.get(table, {}):
            config[table][key] = path.parent / config[table][key]
    return config


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_value(raw: str) -> Any:
    lowered = raw.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw  # a bare word, e.g. --set cell=lstm


def _estimator_class(task: str):
    import tsrnn

    return getattr(tsrnn, TASKS[task])


def _params(args, task: str, config: dict, flags: dict[str, Any]) -> dict:
    """Estimator parameters: defaults < config [model] < flags < --set."""
    cls = _estimator_class(task)
    known = cls().get_params()
    params: dict[str, Any] = {"random_state": 0}
    for name, value in config.get("model", {}).items():
        if name not in known:
            raise ValueError(f"{args.config}: unknown {cls.__name__} parameter {name!r} in "
                             f"[model]{_did_you_mean(name, known)}")
        params[name] = value
    params.update({k: v for k, v in flags.items() if v is not None})
    for item in args.overrides:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--set takes NAME=VALUE, got {item!r}")
        if name not in known:
            raise UsageError(f"--set {name}: unknown {cls.__name__} parameter"
                             f"{_did_you_mean(name, known)}")
        params[name] = _parse_value(raw)
    return params


def _columns(args, config: dict) -> dict:
    """Column roles: config [data] < flags."""
    data = config.get("data", {})
    columns = {k: data.get(k) for k in ("time_col", "id_col", "target")}
    for key in columns:
        if getattr(args, key, None) is not None:
            columns[key] = getattr(args, key)
    return columns


def _training_flags_given(args, flags: dict) -> bool:
    return bool(args.config or args.overrides or any(v is not None for v in flags.values())
                or any(getattr(args, k) for k in ("time_col", "id_col", "target")))


def _fit(model, df, columns: dict, *, progress: bool, checkpoint_dir=None, resume=False):
    """Train ``model`` on ``df``; Lightning is imported here, by the first fit."""
    from tsrnn.training import fit_options

    try:
        with fit_options(checkpoint_dir=checkpoint_dir, resume=resume, progress=progress):
            model.fit(df, **columns)
    except SystemExit:
        # Lightning answers Ctrl+C by calling sys.exit(1) after its own clean-up, and
        # leaves Ctrl+C ignored: give it back its usual meaning.
        with contextlib.suppress(ValueError):  # only the main thread may set it
            signal.signal(signal.SIGINT, signal.default_int_handler)
        hint = ""
        if checkpoint_dir is not None:
            hint = (f"the last finished epoch is kept in {checkpoint_dir}; run the same "
                    "command with --resume to continue from it")
        raise KeyboardInterrupt(hint) from None
    return model


# ------------------------------------------------------------------ file runs
@dataclass
class _Run:
    """What every file of one command run shares."""

    args: argparse.Namespace
    files: list[Path]
    folder: bool
    info: TextIO = field(default_factory=lambda: sys.stdout)
    model: Any = None  # a loaded model (--model), shared by every file
    params: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)

    def say(self, message: str) -> None:
        if not self.args.quiet:
            print(message, file=sys.stderr, flush=True)

    def output(self, option, path: Path, suffix: str) -> Path | None:
        """Where ``path``'s output goes: ``option`` itself for one file, or
        ``<option>/<stem><suffix>`` for a folder run (or when it names a folder)."""
        if option is None or str(option) == "-":
            return None
        option = Path(option)
        if self.folder or option.is_dir():
            return option / f"{path.stem}{suffix}"
        return option


def _inputs(args) -> tuple[list[Path], bool]:
    data: Path = args.data
    if data.is_dir():
        files = sorted(p for p in data.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
        if not files:
            raise FileNotFoundError(f"no .csv files in folder {data}")
        return files, True
    if not data.exists():
        raise FileNotFoundError(f"{data}: no such file")
    return [data], False


def _check_destinations(run: _Run, options: dict[str, tuple[Any, str]]) -> None:
    """Fail before any training when an output cannot be written where asked, or would
    overwrite an input. ``options``: flag -> (its value, the suffix of its files)."""
    inputs = {p.resolve() for p in run.files}
    for flag, (option, suffix) in options.items():
        if option is None or str(option) == "-":
            continue
        option = Path(option)
        if run.folder:
            if option.exists() and not option.is_dir():
                raise UsageError(f"{flag} {option}: with a folder of inputs, give a folder")
            option.mkdir(parents=True, exist_ok=True)
        for path in run.files:
            target = run.output(option, path, suffix)
            if not target.parent.is_dir():
                raise FileNotFoundError(f"{flag} {option}: folder {target.parent} does not "
                                        "exist")
            if target.resolve() in inputs:
                raise UsageError(f"{flag} {option} would overwrite the input file {path}")


@contextlib.contextmanager
def _naming(path: Path):
    """Errors about the data (a ValueError, as DataError is) name the file at fault."""
    try:
        yield
    except (ValueError, OSError) as err:
        text = _one_line(err)
        if str(path) not in text:
            err.args = (f"{path}: {text}",)
        raise


def _for_each_file(run: _Run, work: Callable[[Path], dict], what: str) -> list[dict]:
    """Run ``work`` on every input file. One file: errors propagate (one line,
    naming the file). A folder: a failing file is reported and skipped."""
    if not run.folder:
        path = run.files[0]
        with _naming(path):
            return [{"file": path.name, "result": "ok", **work(path)}]
    from tqdm import tqdm

    results = []
    bar = tqdm(run.files, desc=what, unit="file", disable=run.args.quiet, file=sys.stderr,
               dynamic_ncols=True)
    for path in bar:
        bar.set_postfix_str(path.name)
        try:
            results.append({"file": path.name, "result": "ok", **work(path)})
        except Exception as err:
            if run.args.debug:
                traceback.print_exc()
            bar.write(f"{path}: {_one_line(err)}", file=sys.stderr)
            results.append({"file": path.name, "result": "FAILED", "detail": _one_line(err)})
    bar.close()
    return results


def _summary(run: _Run, results: list[dict], columns: list[str]) -> int:
    """Print the per-file table of a folder run; exit code 1 if any file failed."""
    failed = sum(r["result"] != "ok" for r in results)
    if run.folder:
        print(_table(results, ["file", "result", *columns, "detail"]), file=run.info)
        print(f"{len(results)} files: {len(results) - failed} ok, {failed} failed",
              file=run.info, flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def _table(rows: list[dict], columns: list[str]) -> str:
    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    columns = [c for c in columns if any(c in r for r in rows)]
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
              for row in cells]
    return "\n".join(lines)


def _write_frame(run: _Run, frame, option, path: Path, suffix: str) -> str:
    from tsrnn.files import write_csv

    if str(option) == "-":
        frame.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
        return "standard output"
    out = run.output(option, path, suffix)
    write_csv(frame, out)
    return str(out)


def _save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from tsrnn.files import atomic_write

    try:
        with atomic_write(path, "wb") as f:
            fig.savefig(f, format=path.suffix.lstrip(".").lower() or "png", dpi=110,
                        bbox_inches="tight")
    finally:
        plt.close(fig)  # a folder run draws many figures


def _prepare(args, task: str, flags: dict) -> _Run:
    """Inputs, the shared model or training settings, and output checks."""
    files, folder = _inputs(args)
    run = _Run(args, files, folder, info=sys.stderr if str(args.out) == "-" else sys.stdout)
    if str(args.out) == "-" and folder:
        raise UsageError("--out - (standard output) takes one input file, not a folder")
    if args.model is not None:
        if _training_flags_given(args, flags):
            raise UsageError("--model uses a saved model as it was trained: training options "
                             "(--config, --set, --cell, --alerts, columns, ...) are set when "
                             "a model is trained")
        if args.save_model is not None:
            raise UsageError("--save-model saves a model trained here; with --model nothing "
                             "is trained")
        from tsrnn.files import read_model

        run.model = read_model(args.model)
        if type(run.model).__name__ != TASKS[task]:
            raise ValueError(f"{args.model} holds a {type(run.model).__name__}; "
                             f"`tsrnn {task}` needs a {TASKS[task]}")
    else:
        config = read_config(args.config) if args.config else {}
        if config.get("task", task) != task:
            raise UsageError(f"{args.config} is a {config['task']} config, not {task}")
        run.params = _params(args, task, config, flags)
        run.columns = _columns(args, config)
    _check_destinations(run, {
        "--out": (args.out, ".csv"), "--plot": (args.plot, ".png"),
        "--plot-attention": (getattr(args, "plot_attention", None), ".attention.png"),
        "--save-model": (args.save_model, ".tsrnn")})
    return run


# ----------------------------------------------------------------- forecast
def _training_flags(args, **more) -> dict:
    """The estimator parameters the shared training options (--cell, --hidden-size,
    --epochs, --seed) set, plus a command's own."""
    return {"cell": args.cell, "hidden_size": args.hidden_size,
            "max_epochs": args.max_epochs, "random_state": args.random_state, **more}


def run_forecast(args) -> int:
    """``tsrnn forecast``: train (or load) a forecaster and forecast each file."""
    flags = _training_flags(args, input_len=args.input_len, horizon=args.horizon,
                            quantiles=args.quantiles)
    run = _prepare(args, "forecast", flags)
    results = _for_each_file(run, lambda path: _forecast_file(run, path), "forecasting")
    for r in results:
        if r["result"] == "ok" and not run.folder:
            run.say(f"wrote {r['detail']} ({r['rows']} rows)")
    return _summary(run, results, ["rows"])


def _forecast_file(run: _Run, path: Path) -> dict:
    from tsrnn import Forecaster
    from tsrnn.files import read_csv

    args = run.args
    df = read_csv(path)
    model = run.model
    history, held = df, None
    if args.holdout:
        id_col = model.roles_["id_col"] if model else run.columns["id_col"]
        horizon = model.horizon if model else Forecaster(**run.params).horizon
        history, held = _split_last(df, id_col, horizon)
    if model is None:
        run.say(f"training a forecaster on {path} ({len(history):,} rows)")
        model = _fit(Forecaster(**run.params), history, run.columns,
                     progress=not (args.quiet or run.folder))
    forecast = model.predict(history)
    if held is not None:
        forecast = _with_actuals(forecast, held, model)
    written = _write_frame(run, forecast, args.out, path, ".csv")
    if args.plot is not None:
        from tsrnn.plotting import plot_forecast

        roles = model.roles_
        fig = plot_forecast(forecast, _history_frame(history, model),
                            target=model.target_names_[0],
                            time_col=roles["time_col"] or "timestamp", id_col=roles["id_col"],
                            history_len=3 * model.horizon)
        _save_figure(fig, run.output(args.plot, path, ".png"))
    if args.plot_attention is not None:
        if model.model != "seq2seq" or model.attention is None:
            raise ValueError("--plot-attention needs a seq2seq model with attention "
                             "(--set model=seq2seq)")
        from tsrnn.plotting import plot_attention

        _save_figure(plot_attention(model, history),
                     run.output(args.plot_attention, path, ".attention.png"))
    if args.save_model is not None:
        model.save(run.output(args.save_model, path, ".tsrnn"))
    return {"rows": len(forecast), "detail": written}


def _split_last(df, id_col, n: int):
    """``df`` without the last ``n`` rows of each series, and those rows."""
    if id_col is None:
        return df.iloc[:-n], df.iloc[-n:]
    if id_col not in df:
        from tsrnn.data import DataError

        raise DataError(f"id column {id_col!r} not found; columns are {list(df.columns)}")
    last = df.groupby(id_col, sort=False).cumcount(ascending=False) < n
    return df[~last], df[last]


def _times(frame, time_col):
    """``frame``'s time axis (its index when there is no time column), parsed as the
    estimators parse it: integers stay integers, anything else becomes timestamps."""
    import pandas as pd

    values = frame.index.to_series() if time_col is None else frame[time_col]
    if not pd.api.types.is_integer_dtype(values.dtype):
        values = pd.to_datetime(values, format="mixed")
    return values.to_numpy()


def _with_actuals(forecast, held, model):
    """The forecast with ``<target>_actual`` columns from the held-out rows."""
    roles = model.roles_
    time_name = roles["time_col"] or "timestamp"
    keys = [k for k in (roles["id_col"], time_name) if k is not None]
    actual = held[[c for c in (roles["id_col"],) if c is not None] + model.target_names_].copy()
    actual[time_name] = _times(held, roles["time_col"])
    actual = actual.rename(columns={t: f"{t}_actual" for t in model.target_names_})
    return forecast.merge(actual, on=keys, how="left")


def _history_frame(df, model):
    """The observed rows, with the forecast's column names and parsed timestamps."""
    import pandas as pd

    roles = model.roles_
    frame = pd.DataFrame({t: df[t].to_numpy() for t in model.target_names_})
    if roles["id_col"] is not None:
        frame.insert(0, roles["id_col"], df[roles["id_col"]].to_numpy())
    frame.insert(0, roles["time_col"] or "timestamp", _times(df, roles["time_col"]))
    return frame


# ------------------------------------------------------------------- detect
def run_detect(args) -> int:
    """``tsrnn detect``: train (or load) a detector and score every row of each file."""
    flags = _training_flags(args, window=args.window, contamination=args.contamination,
                            threshold=args.threshold, alerts=args.alerts)
    run = _prepare(args, "detect", flags)
    results = _for_each_file(run, lambda path: _detect_file(run, path), "scoring")
    if not run.folder and results[0]["result"] == "ok":
        r = results[0]
        run.say(f"wrote {r['detail']} ({r['rows']} rows, {r['flagged']} flagged)")
        if "pr_auc" in r:
            _print_metrics(r, run.info)
    return _summary(run, results, ["rows", "flagged", "roc_auc", "pr_auc", "f1"])


def _labels(df, label_col, path: Path):
    from tsrnn.data import DataError

    if label_col not in df:
        raise DataError(f"label column {label_col!r} not in {path}; columns are "
                        f"{list(df.columns)}")
    return df[label_col].to_numpy()


def _detect_file(run: _Run, path: Path) -> dict:
    from tsrnn import AnomalyDetector
    from tsrnn.files import read_csv

    args = run.args
    df = read_csv(path)
    truth = None if args.label_col is None else _labels(df, args.label_col, path)
    signals = df if args.label_col is None else df.drop(columns=[args.label_col])
    model = run.model
    if model is None:
        run.say(f"training an anomaly detector on {path} ({len(df):,} rows)")
        model = _fit(AnomalyDetector(**run.params), signals, run.columns,
                     progress=not (args.quiet or run.folder))
    scores = model.decision_function(signals, online=args.online)
    scored = _scored_frame(df, scores, model)
    written = _write_frame(run, scored, args.out, path, ".csv")
    if args.plot is not None:
        from tsrnn.plotting import plot_anomalies

        roles = model.roles_
        fig = plot_anomalies(scored, target=model.target_names_[0], time_col=roles["time_col"],
                             id_col=roles["id_col"], threshold=model.threshold_,
                             truth_col=args.label_col)
        _save_figure(fig, run.output(args.plot, path, ".png"))
    if args.save_model is not None:
        model.save(run.output(args.save_model, path, ".tsrnn"))
    result = {"rows": len(scored), "flagged": int(scored["label"].sum()), "detail": written}
    if truth is not None and len(truth) == len(scored):
        result.update(_detection_metrics(truth, scored["score"].to_numpy(),
                                         scored["label"].to_numpy()))
    return result


def _scored_frame(df, scores, model):
    """The input rows plus ``score`` and ``label`` (1 = anomaly)."""
    import pandas as pd

    threshold, roles = model.threshold_, model.roles_
    labels = (scores > threshold).astype("int64")
    if scores.index.equals(df.index):
        out = df.copy()
        out["score"], out["label"] = scores.to_numpy(), labels.to_numpy()
        return out
    # resample=True scores the regular grid, not the file's rows: one row per grid
    # step, with the file's first row inside that step, or empty where the grid filled
    # a gap.
    time_col = roles["time_col"] or "timestamp"
    keys = [k for k in (roles["id_col"], time_col) if k is not None]
    grid = scores.to_frame("score").assign(label=labels).reset_index()
    grid.columns = keys + ["score", "label"]
    times = _times(df, roles["time_col"])
    if isinstance(model.freq_, pd.offsets.BaseOffset):
        # Calendar frequencies (month starts, ...) have no floor: keep exact times.
        with contextlib.suppress(ValueError, TypeError):
            times = pd.DatetimeIndex(times).floor(model.freq_)  # the step each row is in
    rows = df.assign(**{time_col: times})
    rows = rows.drop_duplicates(subset=keys).drop(columns=["score", "label"], errors="ignore")
    out = grid.merge(rows, on=keys, how="left")
    return out[[*rows.columns, "score", "label"]]


def _detection_metrics(truth, scores, flagged) -> dict[str, float]:
    """Threshold-free ranking metrics, and precision/recall/F1 of the 0/1 labels."""
    import numpy as np

    from tsrnn.metrics import best_f1, pr_auc, roc_auc, vus_pr

    truth = np.asarray(truth)
    hits = int(((flagged == 1) & (truth == 1)).sum())
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(int(truth.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"roc_auc": roc_auc(truth, scores), "pr_auc": pr_auc(truth, scores),
            "vus_pr": vus_pr(truth, scores), "best_f1": best_f1(truth, scores)[0],
            "precision": precision, "recall": recall, "f1": f1,
            "labelled_share": float(truth.mean())}


METRIC_NAMES = {
    "mse": "MSE", "mae": "MAE", "rmse": "RMSE",
    "mape": "MAPE (a fraction: 0.1 is 10%)", "smape": "sMAPE (percent)",
    "mase": "MASE (below 1 beats repeating the last value)",
    "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC",
    "labelled_share": "share of labelled anomalies (PR-AUC by chance)",
    "vus_pr": "VUS-PR", "best_f1": "F1 at the best threshold",
    "precision": "precision of the 0/1 labels", "recall": "recall of the 0/1 labels",
    "f1": "F1 of the 0/1 labels",
}


def _print_metrics(result: dict, stream: TextIO) -> None:
    for key, name in METRIC_NAMES.items():
        if key in result:
            print(f"{name:<48} {result[key]:.4f}", file=stream)
    stream.flush()


# -------------------------------------------------------------------- train
def run_train(args) -> int:
    """``tsrnn train``: fit one estimator from a config file and save it atomically.

    Every epoch's training state goes to ``<model>.ckpt/last.ckpt``; ``--resume``
    starts from it, and a finished training removes it.
    """
    config = read_config(args.config) if args.config else {}
    task = args.task or config.get("task")
    if task is None:
        raise UsageError("say what to train: task = \"forecast\" or \"detect\" in the config, "
                         "or --task")
    params = _params(args, task, config, _training_flags(args))
    columns = _columns(args, config)
    data = args.data or config.get("data", {}).get("path")
    out = args.out or config.get("output", {}).get("model")
    if data is None:
        raise UsageError("no training data: [data] path in the config, or --data")
    if out is None:
        raise UsageError("no model file to write: [output] model in the config, or --out")
    data, out = Path(data), Path(out)
    if out.resolve() == data.resolve():
        raise UsageError(f"the model file {out} would overwrite the training data")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder {out.parent} for the model file does not exist")

    from tsrnn.files import read_csv

    df = read_csv(data)
    model = _estimator_class(task)(**params)
    checkpoints = out.with_name(out.name + ".ckpt")
    last = checkpoints / "last.ckpt"
    # An ensemble's networks keep theirs in member-0/, member-1/, ...: the newest
    # one is the network the run was training.
    found = [p for p in (last, *sorted(checkpoints.glob("member-*/last.ckpt"))) if p.exists()]
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    if args.resume and found:
        say(f"resuming from {found[-1]} (epochs done: {_epochs_done(found[-1])})")
    elif args.resume:
        say(f"nothing to resume at {last}: training from the start")
    elif found:
        say(f"starting over: {found[-1]} from an interrupted run will be replaced "
            "(--resume continues it instead)")
    say(f"training a {type(model).__name__} on {data} ({len(df):,} rows)")
    try:
        with _naming(data):
            _fit(model, df, columns, progress=not args.quiet, checkpoint_dir=checkpoints,
                 resume=args.resume)
    except RuntimeError as err:
        if args.resume and found and "state_dict" in str(err):
            raise ValueError(f"{found[-1]} holds a network of another shape than these "
                             "settings give; delete it, or run without --resume") from err
        raise
    model.save(out)
    shutil.rmtree(checkpoints, ignore_errors=True)  # the model file now holds the result
    summary = model.training_summary_
    best = summary.get("best_epoch")
    print(f"saved {out}: {summary['epochs']} epochs"
          + ("" if best is None or best < 0 else
             f", best validation loss {summary['best_val_loss']:.4g} at epoch {best}"),
          flush=True)
    return EXIT_OK


def _epochs_done(checkpoint: Path) -> int | str:
    import torch

    try:
        return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["epoch"]) + 1
    except Exception:  # only for the message; a bad file fails properly in the fit
        return "?"


# ----------------------------------------------------------------- evaluate
def run_evaluate(args) -> int:
    """``tsrnn evaluate``: backtest a forecaster, or score a detector against labels."""
    from tsrnn.files import read_model

    files, folder = _inputs(args)
    run = _Run(args, files, folder)
    run.model = read_model(args.model)
    is_detector = type(run.model).__name__ == "AnomalyDetector"
    if is_detector and args.label_col is None:
        raise UsageError("evaluating a detector needs --label-col, the 0/1 column of known "
                         "anomalies")
    if not is_detector and args.label_col is not None:
        raise UsageError("--label-col is for detectors; this model is a forecaster")
    if args.out is not None and not args.out.parent.is_dir():
        raise FileNotFoundError(f"--out {args.out}: folder {args.out.parent} does not exist")
    work = _evaluate_detector if is_detector else _evaluate_forecaster
    results = _for_each_file(run, lambda path: work(run, path), "evaluating")
    if args.out is not None:
        import pandas as pd

        from tsrnn.files import write_csv

        write_csv(pd.DataFrame(results), args.out)
        run.say(f"wrote {args.out}")
    if not folder:
        _print_metrics(results[0], sys.stdout)
    columns = ["roc_auc", "pr_auc", "vus_pr", "f1"] if is_detector else ["mae", "rmse",
                                                                         "smape", "mase"]
    return _summary(run, results, ["forecasts", "rows", *columns])


def _evaluate_forecaster(run: _Run, path: Path) -> dict:
    from tsrnn.files import read_csv

    backtest = run.model.historical_forecasts(read_csv(path), start=run.args.start,
                                              stride=run.args.stride)
    return {"forecasts": backtest.forecasts["origin"].nunique(), **backtest.metrics}


def _evaluate_detector(run: _Run, path: Path) -> dict:
    from tsrnn.files import read_csv

    df = read_csv(path)
    truth = _labels(df, run.args.label_col, path)
    scores = run.model.decision_function(df.drop(columns=[run.args.label_col]),
                                         online=run.args.online)
    if len(scores) != len(truth):
        raise ValueError(f"{path}: the model resamples the series, so scores no longer "
                         "line up with the label column's rows")
    scores = scores.to_numpy()
    flagged = (scores > run.model.threshold_).astype("int64")
    return {"rows": len(scores), **_detection_metrics(truth, scores, flagged)}


# ------------------------------------------------------------------- stream
def run_stream(args, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """``tsrnn stream``: one score line out per CSV line in, flushed at once."""
    from tsrnn.data import DataError
    from tsrnn.files import read_model

    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    model = read_model(args.model)
    if type(model).__name__ != "AnomalyDetector":
        raise ValueError(f"{args.model} holds a {type(model).__name__}; stream needs an "
                         "AnomalyDetector")
    roles = model.roles_
    time_col, id_col, targets = roles["time_col"], roles["id_col"], model.target_names_
    reader = csv.reader(stdin)
    header = next(reader, None)
    if header is None:
        raise DataError("standard input is empty: expected a CSV header line first")
    header = [h.strip() for h in header]
    needed = [c for c in (time_col, id_col, *targets) if c is not None]
    missing = [c for c in needed if c not in header]
    if time_col is None:
        raise ValueError(f"{args.model} was fitted without a time column; stream needs one")
    if missing:
        raise DataError(f"the header line lacks column(s) {missing}; it has {header}")
    at = {c: header.index(c) for c in needed}
    known = {str(sid): sid for sid in model.ids_}  # CSV fields are text
    integer_time = not hasattr(model.freq_, "freqstr") and model.freq_ is not None
    stream = model.stream()
    writer = csv.writer(stdout, lineterminator="\n")
    writer.writerow([c for c in (time_col, id_col) if c is not None]
                    + ["score", "label", "ready"])
    stdout.flush()
    bad = 0
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            stamp = row[at[time_col]].strip()
            sid = known.get(row[at[id_col]].strip(), row[at[id_col]].strip()) if id_col \
                else None
            values = []
            for c in targets:
                try:
                    values.append(float(row[at[c]]))
                except ValueError:
                    raise DataError(f"column {c!r} is not a number: {row[at[c]]!r}") from None
            result = stream.update(int(stamp) if integer_time else stamp, values,
                                   series=None if id_col is None else [sid])
        except (ValueError, IndexError) as err:  # DataError is a ValueError
            reason = f"expected {len(header)} fields, got {len(row)}" \
                if isinstance(err, IndexError) else _one_line(err)
            print(f"tsrnn stream: line {line} skipped: {reason}", file=sys.stderr, flush=True)
            bad += 1
            continue
        writer.writerow([stamp] + ([row[at[id_col]].strip()] if id_col else [])
                        + [f"{result.score[0]:.6g}", int(result.label[0]),
                           int(result.ready[0])])
        stdout.flush()
    return EXIT_FAILED if bad else EXIT_OK
