"""``tsrnn tune``: search a forecaster's parameters, each trial scored by an
out-of-sample backtest, over Ray Tune (or Optuna without Ray)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from tsrnn.cli._config import _columns, _did_you_mean, read_config
from tsrnn.cli._options import EXIT_OK, UsageError, common_options
from tsrnn.cli._runs import _check_writable, _naming, _table

EXAMPLES = """\
examples (on the sample data: `tsrnn datasets export sensors sensors.csv`):
  tsrnn tune --config tune.toml --out trials.csv
  tsrnn tune --config tune.toml --engine ray --ray-address auto    # on a Ray cluster

tune.toml (tune.json takes the same keys; relative paths are relative to the file):
  task = "forecast"
  [data]
  path = "sensors.csv"
  time_col = "timestamp"
  id_col = "sensor"
  target = "value"
  [model]                            # fixed Forecaster parameters
  input_len = 48
  horizon = 12
  [space]                            # searched: a list of choices, or a range
  hidden_size = [16, 32, 64]
  lr = {low = 1e-4, high = 1e-2, log = true}
  num_layers = {low = 1, high = 3, integer = true}
  [tune]
  trials = 8                         # random draws from the space (default 8)
  metric = "mae"                     # mse, mae, rmse, mape, smape, mase
  start = 0.8                        # each series' first 80% trains, the rest is forecast
  seed = 0                           # the draws and every trial's random_state
  [output]
  model = "best.tsrnn"               # the best parameters, refitted on all the data

Each trial trains on every series' first `start` part and is scored by the rolling
backtest of the rest, never by its training loss.
"""

TUNE_KEYS = {"trials", "metric", "start", "seed"}


def add_parser(command) -> None:
    """Add ``tsrnn tune`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    p = command("tune", "Search a forecaster's parameters (the space in a config file), "
                "each trial scored by an out-of-sample backtest.", [common_options()],
                EXAMPLES)
    p.add_argument("--config", type=Path, required=True, help="TOML, YAML or JSON file: "
                   "[data], fixed [model] parameters, the [space] and [tune] settings")
    p.add_argument("--data", type=Path, help="the series (default: the config's [data] path)")
    p.add_argument("--out", type=Path, help="write every trial (parameters, score, error) "
                   "to this CSV")
    p.add_argument("--save-model", type=Path, help="refit the best parameters on all the "
                   "data and save the model here (default: the config's [output] model)")
    p.add_argument("--engine", choices=["auto", "ray", "optuna"], default="auto",
                   help="run the trials on Ray Tune (pip install 'tsrnn[ray]'), or one "
                   "after the other in this process with Optuna (pip install "
                   "'tsrnn[tune]'); auto: Ray when installed. The same trials either way")
    p.add_argument("--ray-address", metavar="ADDRESS", help="the Ray cluster to run on")
    p.set_defaults(run=run_tune)


def run_tune(args) -> int:
    """``tsrnn tune``: read the config, run the search, report and save."""
    from tsrnn import Forecaster
    from tsrnn.distributed.tuning import tune
    from tsrnn.files import read_table, write_csv

    config = read_config(args.config, more={"space": None, "tune": TUNE_KEYS})
    if config.get("task", "forecast") != "forecast":
        raise UsageError(f"{args.config}: tsrnn tune searches forecasters (its objective "
                         f"is a forecast backtest), not task {config['task']!r}")
    if "space" not in config:
        raise ValueError(f"{args.config}: no [space]: name the parameters to search")
    if args.ray_address is not None and args.engine == "optuna":
        raise UsageError("--ray-address names a Ray cluster: it needs --engine ray or auto")
    known = Forecaster().get_params()
    for name in config.get("model", {}):
        if name not in known:
            raise ValueError(f"{args.config}: unknown Forecaster parameter {name!r} in "
                             f"[model]{_did_you_mean(name, known)}")
    data_path = args.data or config.get("data", {}).get("path")
    if data_path is None:
        raise UsageError(f"no data: give --data or [data] path in {args.config}")
    save = args.save_model or config.get("output", {}).get("model")
    for flag, target in (("--out", args.out), ("--save-model", save)):
        if target is not None:
            _check_writable(flag, Path(target))
    columns = _columns(argparse.Namespace(), config)
    settings = {"trials": 8, "metric": "mae", "start": 0.8, "seed": 0, **config.get("tune", {})}
    with _naming(Path(data_path)):
        df = read_table(data_path)
    try:
        result = tune(df, config["space"], params=config.get("model", {}), columns=columns,
                      engine=args.engine, address=args.ray_address, **settings)
    except ValueError as err:  # a bad [space] or [tune]: the file is at fault
        if "every trial failed" in str(err):
            raise
        raise ValueError(f"{args.config}: {err}") from None
    metric = settings["metric"]
    rows = result.trials.to_dict("records")
    for row in rows:
        if isinstance(row[metric], float) and math.isnan(row[metric]):
            row[metric] = None
    print(_table(rows, list(result.trials.columns)))
    print(f"best {metric} {result.best_score:.4g}: "
          + ", ".join(f"{k}={v!r}" for k, v in result.best_params.items()))
    if args.out is not None:
        write_csv(result.trials, args.out)
    if save is not None:
        from tsrnn.training import fit_options

        model = Forecaster(**{**config.get("model", {}), **result.best_params,
                              "random_state": settings["seed"]})
        with fit_options(progress=False):
            model.fit(df, **columns)
        model.save(save)
        if not args.quiet:
            print(f"saved the best model, refitted on all the data, to {save}")
    return EXIT_OK
