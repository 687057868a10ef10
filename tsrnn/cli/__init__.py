"""The ``tsrnn`` command: forecast and score CSV files (or folders of them), train
from a config file, evaluate a saved model, score a live feed, and export the
sample data to try them on.

This module only parses arguments, reads files, calls the estimators and writes
results; the model logic is in :class:`tsrnn.Forecaster` and
:class:`tsrnn.AnomalyDetector`. ``python -m tsrnn`` and the scripts in
``pipelines/`` run the same :func:`main`.

Exit codes: 0 success, 1 failure (bad data, a file that failed in a folder run,
...), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence

from tsrnn.cli import datasets, detect, evaluate, export, forecast, stream, train, tune
from tsrnn.cli._options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    _expected,
    _one_line,
    add_command,
    flags_of,
)

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``tsrnn`` argument parser, one subcommand per command."""
    from tsrnn import __version__

    parser = argparse.ArgumentParser(
        prog="tsrnn", description="Forecast and detect anomalies in CSV time series with "
        "recurrent networks.", epilog="Run `tsrnn COMMAND --help` for a command's options "
        "and examples.")
    parser.add_argument("--version", action="version", version=f"tsrnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = functools.partial(add_command, commands)
    for module in (forecast, detect, train, tune, evaluate, stream, export, datasets):
        module.add_parser(command)
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
        print(f"tsrnn {args.command}: error: {_one_line(err, flags_of(args.parser))}{hint}",
              file=sys.stderr)
        return EXIT_FAILED
