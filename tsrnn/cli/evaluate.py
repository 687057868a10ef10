"""``tsrnn evaluate``: backtest a saved forecaster, or score a saved detector
against a label column."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tsrnn.cli._options import UsageError, _start, common_options, positive_int
from tsrnn.cli._runs import (
    _check_writable,
    _for_each_file,
    _inputs,
    _print_metrics,
    _read,
    _regular,
    _Run,
    _summary,
    _use,
)
from tsrnn.cli.detect import _file_metrics, _labels, _output_columns, _scored_frame

EXAMPLES = """\
examples (s1.tsrnn and detector.tsrnn: as the forecast and detect examples make them):
  tsrnn evaluate sensors-wide.csv --model s1.tsrnn            # backtest from 80% on
  tsrnn evaluate sensors-wide.csv --model s1.tsrnn --start 2024-04-01 --out metrics.csv
  tsrnn evaluate sensors-wide.csv --model s1.tsrnn --retrain 4   # out of sample: refits
  tsrnn evaluate sensors.csv --model detector.tsrnn --label-col is_anomaly
  tsrnn evaluate csvs/ --model s1.tsrnn --out metrics.csv   # one row per file

Forecaster metrics compare forecasts and actual values in the data's own units.
MAPE and sMAPE are both in percent; MAPE leaves out the points whose actual value
is 0, where it is undefined, and a warning says how many. MASE divides the
backtest's MAE by the in-sample MAE of the one-step naive forecast (m=1: each
value predicted by the one before it), so 1 is that one-step error: over a long
horizon a forecast can beat repeating the last value and still score above 1.
"""


def add_parser(command) -> None:
    """Add ``tsrnn evaluate`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    parents = [common_options()]
    p = command("evaluate", "Measure a saved model on a CSV file (or folder): backtest "
                "metrics for a forecaster, detection metrics against a label column.",
                parents, EXAMPLES)
    p.add_argument("data", type=Path, help="CSV file, or a folder of CSV files")
    p.add_argument("--model", type=Path, required=True, help="saved forecaster or detector")
    p.add_argument("--label-col", help="0/1 column of known anomalies (detectors)")
    p.add_argument("--start", type=_start, default=0.8, help="first backtest origin: a "
                   "fraction of each series (default 0.8), a row count or a timestamp")
    p.add_argument("--stride", type=positive_int, help="steps between backtest origins "
                   "(default: the horizon)")
    p.add_argument("--retrain", nargs="?", const=True, default=False, type=_retrain,
                   metavar="K", help="forecasters: refit a copy of the model on the rows "
                   "before each origin (one full training each), or with K every K origins; "
                   "without it the saved model forecasts every origin, in-sample where it "
                   "was trained on them")
    p.add_argument("--online", action="store_true", help="detectors: score from the past "
                   "only")
    p.add_argument("--out", type=Path, help="also write the metrics to this CSV ('-': standard "
                   "output), one row per "
                   "input file")
    p.set_defaults(run=run_evaluate)


def _retrain(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer K (refit every K "
                                         f"origins), or no value to refit at each, got {text!r}")
    return k


def run_evaluate(args) -> int:
    """``tsrnn evaluate``: backtest a forecaster, or score a detector against labels."""
    from tsrnn.files import read_model

    files, folder = _inputs(args)
    to_stdout = str(args.out) == "-"
    run = _Run(args, files, folder, info=sys.stderr if to_stdout else sys.stdout)
    run.model = read_model(args.model)
    is_detector = type(run.model).__name__ == "AnomalyDetector"
    if is_detector and args.label_col is None:
        raise UsageError("evaluating a detector needs --label-col, the 0/1 column of known "
                         "anomalies")
    if not is_detector and args.label_col is not None:
        raise UsageError("--label-col is for detectors; this model is a forecaster")
    if is_detector and args.retrain:
        raise UsageError("--retrain is for forecasters; this model is a detector")
    if is_detector and args.stride is not None:
        raise UsageError("--stride is for forecasters; this model is a detector")
    if not is_detector and args.online:
        raise UsageError("--online is for detectors; this model is a forecaster")
    if args.out is not None and not to_stdout:
        if not args.out.parent.is_dir():
            raise FileNotFoundError(f"--out {args.out}: folder {args.out.parent} does not "
                                    "exist")
        _check_writable("--out", args.out)
    work = _evaluate_detector if is_detector else _evaluate_forecaster
    results = _for_each_file(run, lambda path: work(run, path), "evaluating")
    if args.out is not None:
        import pandas as pd

        from tsrnn.files import write_csv

        if to_stdout:
            pd.DataFrame(results).to_csv(sys.stdout, index=False)
        else:
            write_csv(pd.DataFrame(results), args.out)
            run.say(f"wrote {args.out}")
    if not folder:
        _print_metrics(results[0], sys.stderr if to_stdout else sys.stdout)
    columns = ["roc_auc", "pr_auc", "vus_pr", "f1"] if is_detector else ["mae", "rmse",
                                                                         "smape", "mase"]
    return _summary(run, results, ["forecasts", "rows", *columns])


def _evaluate_forecaster(run: _Run, path: Path) -> dict:
    df = _read(run, path)
    backtest = _regular(run, path, lambda extra: _use(
        run.model, extra,
        lambda m: m.historical_forecasts(df, start=run.args.start, stride=run.args.stride,
                                         retrain=run.args.retrain,
                                         season=1)))  # the label's m=1
    return {"forecasts": backtest.forecasts["origin"].nunique(), **backtest.metrics}


def _evaluate_detector(run: _Run, path: Path) -> dict:
    df = _read(run, path)
    label_col = run.args.label_col
    truth = _labels(df, label_col, path)
    signals = df.drop(columns=[label_col])
    # A file with gaps is scored on its grid, as detect scores it (with a warning).
    scores = _regular(run, path, lambda extra: _use(
        run.model, extra, lambda m: m.decision_function(signals, online=run.args.online)))
    scored = _scored_frame(df, scores, run.model, *_output_columns(df))
    metrics = _file_metrics(scored, truth, label_col, path, *_output_columns(df))
    return {"rows": int(scored[label_col].notna().sum()), **metrics}
