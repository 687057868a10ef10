"""``tsrnn train``: fit one estimator from a config file, with checkpoints to resume."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tsrnn._checks import a_or_an
from tsrnn.cli._config import _columns, _estimator_class, _params, _training_flags, read_config
from tsrnn.cli._options import (
    EXIT_OK,
    TASKS,
    UsageError,
    column_options,
    common_options,
    training_options,
)
from tsrnn.cli._runs import _check_writable, _fit, _naming, _regular, _Run

EXAMPLES = """\
examples (on the sample data: `tsrnn datasets export sensors-wide sensors-wide.csv`):
  tsrnn train --config run.toml
  tsrnn train --config run.toml --set hidden_size=64 --epochs 50 --out big.tsrnn
  tsrnn train --config run.toml --resume      # continue an interrupted training

run.toml (run.yaml takes the same keys; relative paths are relative to the file):
  task = "forecast"                  # or "detect"
  [data]
  path = "sensors-wide.csv"
  time_col = "timestamp"
  target = "sensor_1"                # or a list; id_col = "..." for long files
  [model]                            # any Forecaster / AnomalyDetector parameter
  cell = "gru"
  input_len = 96
  horizon = 24
  quantiles = [0.1, 0.5, 0.9]
  [output]
  model = "s1.tsrnn"
"""


def add_parser(command) -> None:
    """Add ``tsrnn train`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    parents = [common_options(), column_options(), training_options()]
    p = command("train", "Train a forecaster or detector with every parameter from a config "
                "file, and save it.", parents, EXAMPLES)
    p.add_argument("--task", choices=sorted(TASKS), help="what to train (default: the "
                   "config's task)")
    p.add_argument("--data", type=Path, help="training CSV (default: the config's [data] path)")
    p.add_argument("--out", type=Path, help="model file (default: the config's [output] "
                   "model)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted training "
                   "from its last finished epoch (checkpoints are kept in <out>.ckpt/)")
    p.set_defaults(run=run_train)


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
    out_flag = "--out" if args.out else f"{args.config} [output] model"
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out_flag} {out}: folder {out.parent} does not exist")
    _check_writable(out_flag, out)

    from tsrnn.files import read_table

    df = read_table(data, text_cols=[] if columns["id_col"] is None else [columns["id_col"]])
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
    say(f"training {a_or_an(type(model).__name__)} on {data} ({len(df):,} rows)")
    try:
        with _naming(data):
            run = _Run(args, [data], False, params=params)
            model = _regular(run, data, lambda extra: _fit(
                model.set_params(**extra), df, columns, progress=not args.quiet,
                checkpoint_dir=checkpoints, resume=args.resume))
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
