"""What every ``tsrnn`` command shares: exit codes, the usage error, argument
types, the option groups several commands take, and one-line error messages."""

from __future__ import annotations

import argparse
import re
import shlex
import textwrap
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
TASKS = {"forecast": "Forecaster", "detect": "AnomalyDetector"}


class UsageError(Exception):
    """Arguments that cannot work together (exit code 2, like argparse's)."""



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


def at_least(minimum: int):
    """An argparse type: an integer >= ``minimum`` (sizes, counts, steps), checked
    here so the error names the flag rather than the estimator parameter behind it."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    parse.__name__ = f"integer >= {minimum}"  # what argparse's own messages call it
    return parse


positive_int = at_least(1)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**32 - 1, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A share of the rows, in (0, 0.5): the detector's contamination."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 0.5, got {text!r}")
    return value


def _devices(text: str) -> Any:
    """``auto``, a number of devices (processes on CPUs), -1 for all, or GPU
    indices like 0,1."""
    if text == "auto":
        return text
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 1 and (values[0] >= 1 or values[0] == -1):
        return values[0]
    if len(values) > 1 and all(v >= 0 for v in values):
        return values
    raise argparse.ArgumentTypeError(f"expected auto, a number of devices >= 1 (-1: all) or "
                                     f"device indices like 0,1, got {text!r}")


def _start(text: str) -> Any:
    """A backtest start: a row count, a fraction, or a timestamp."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text



def common_options() -> argparse.ArgumentParser:
    """Options of every command: -q and --debug."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars and no progress messages")
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    return common


def column_options() -> argparse.ArgumentParser:
    """The column roles, for commands that train."""
    columns = argparse.ArgumentParser(add_help=False)
    g = columns.add_argument_group("columns (for training; a saved model knows its own)")
    g.add_argument("--time-col", help="timestamp column (default: a column called "
                   "date/timestamp/time/ds/datetime, or row numbers)")
    g.add_argument("--id-col", help="column telling the series of a long file apart")
    g.add_argument("--target", type=_names, metavar="COL[,COL...]",
                   help="column(s) to forecast or score (default: every other column)")
    g = columns.add_argument_group("time axis (for training; a saved model knows its own)")
    g.add_argument("--resample", action=argparse.BooleanOptionalAction, default=None,
                   help="put each series on its regular grid, filling the empty steps "
                   "(default: only files with gaps, with a warning; --no-resample refuses them)")
    g.add_argument("--fill", choices=["ffill", "interpolate"], help="how missing values and "
                   "empty steps are filled (default with resampling: interpolate)")
    g.add_argument("--freq", help="the series' frequency, e.g. 5min, h, D (default: "
                   "inferred from the timestamps)")
    return columns


def training_options() -> argparse.ArgumentParser:
    """Estimator parameters, for commands that train."""
    training = argparse.ArgumentParser(add_help=False)
    g = training.add_argument_group("training")
    g.add_argument("--config", type=Path, help="TOML or YAML file: estimator parameters in "
                   "[model], columns in [data] (see `tsrnn train --help`)")
    g.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="NAME=VALUE", help="any estimator parameter, e.g. --set "
                   "hidden_size=32 --set quantiles=[0.1,0.9]; wins over --config and flags")
    g.add_argument("--cell", choices=["rnn", "lstm", "gru"], help="recurrent cell")
    g.add_argument("--hidden-size", type=positive_int, help="units of the recurrent layer")
    g.add_argument("--epochs", type=positive_int, dest="max_epochs", help="training epochs at most")
    g.add_argument("--n-models", type=positive_int, dest="n_models",
                   help="an ensemble of this many networks from different seeds (forecasts: "
                   "their median; scores: their mean)")
    g.add_argument("--seed", type=_seed, dest="random_state",
                   help="random seed (default 0: the same run gives the same model)")
    g.add_argument("--devices", type=_devices, metavar="N", help="processes (CPUs) or GPUs "
                   "to train on, with --distributed (default: auto, one process)")
    g.add_argument("--distributed", choices=["ddp", "ddp_spawn"], help="train on --devices "
                   "processes with Lightning's DDP: ddp runs this command again in each, "
                   "ddp_spawn starts them from inside it")
    return training


def file_arguments(p: argparse.ArgumentParser, *, out: str, model: str, save_model: str,
                   plot: str) -> None:
    """The input and the output flags of a command that reads a CSV file or a folder
    of them (detect, forecast), with that command's help texts."""
    p.add_argument("data", type=Path, help="CSV file, or a folder of CSV files")
    p.add_argument("--out", required=True, help=out)
    p.add_argument("--model", type=Path, help=model)
    p.add_argument("--save-model", type=Path, help=save_model)
    p.add_argument("--plot", type=Path, help=plot)


def add_command(commands, name: str, help: str, parents: list,
                examples: str) -> argparse.ArgumentParser:
    """One subcommand, with ``examples`` as its help epilog."""
    sub = commands.add_parser(name, help=help, description=textwrap.fill(help, 79),
                              epilog=examples,
                              parents=parents,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(parser=sub)
    return sub


def _expected(err: BaseException) -> bool:
    """Errors with a message written for the user (bad data, a missing file, ...)."""
    return isinstance(err, ValueError | OSError | ImportError)


# The library's parameters that commands set with flags of their own: its messages
# say "pass fill='ffill'", the command line says "--fill ffill" (and "max_epochs=1"
# is "--epochs 1"). Only a flag the command has: `tsrnn train` sets horizon= in its
# config, so a message there keeps "horizon=".
_PARAMETERS = ("fill", "id_col", "time_col", "target", "freq", "window", "threshold",
               "contamination", "label_col", "n_models", "hidden_size", "cell", "max_epochs",
               "input_len", "horizon")


def flags_of(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The flags of ``parser``'s command that set library parameters, by parameter."""
    return {action.dest: action.option_strings[-1] for action in parser._actions
            if action.dest in _PARAMETERS and action.option_strings}


def _in_flags(text: str, flags: dict[str, str]) -> str:
    """A library message with its ``name=value`` settings written as ``flags``."""
    if not flags:
        return text
    # A value never ends in the full stop of a sentence: "with target=." names the flag.
    setting = re.compile(r"\b(" + "|".join(flags) + r")=('[^']*'|\"[^\"]*\"|[\w.+/-]*[\w+/-])?")

    def flag(match: re.Match) -> str:
        value = match.group(2)
        if value is None:
            return flags[match.group(1)]
        if value[:1] in "'\"":
            value = value[1:-1]
        if value == "auto":  # no flag takes it: it is what leaving the flag out gives
            return f"the default {flags[match.group(1)]}"
        return f"{flags[match.group(1)]} {shlex.quote(value)}"
    return setting.sub(flag, text)


def _one_line(err: BaseException, flags: dict[str, str] | None = None) -> str:
    """``err``'s first line, its settings written as ``flags`` (a command's
    :func:`flags_of`; none: as the library wrote them)."""
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    if not _expected(err) or not text:
        text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return _in_flags(text, flags or {})
