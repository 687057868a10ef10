"""Hyperparameter search for a :class:`~tsrnn.Forecaster`, scored by an
out-of-sample backtest, with its trials run by Ray Tune or, without Ray, by Optuna
in this process (:func:`tune`)."""

from __future__ import annotations

import math
import tempfile
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tsrnn.distributed.engine import RAY_HINT, _attempt, ray_session

__all__ = ["TuneResult", "check_space", "draw_trials", "tune"]

METRICS = ("mse", "mae", "rmse", "mape", "smape", "mase")
MAX_TRIALS = 10_000
MAX_CHOICES = 1_000


class TuneResult(NamedTuple):
    """What :func:`tune` returns.

    Attributes
    ----------
    best_params
        The parameters of the trial with the lowest backtest error (the search
        space's only; the fixed ones are not repeated).
    best_score
        Its backtest error (the chosen metric).
    trials
        One row per trial, in the order drawn: ``trial``, each searched parameter,
        the metric (NaN for a failed trial) and ``error`` (why it failed; empty
        when it did not).
    """

    best_params: dict
    best_score: float
    trials: pd.DataFrame


def check_space(space: Any, known: set, where: str = "space") -> dict:
    """The search space, checked: parameter name -> a list of choices (numbers,
    strings, booleans, None), or a range ``{low, high}`` with optional ``log`` and
    ``integer`` (true/false). It may come from an untrusted file: names must be
    estimator parameters, and sizes and values are bounded."""
    if not isinstance(space, dict) or not space:
        raise ValueError(f"{where} must be a table of parameter = choices or range, "
                         f"got {space!r}")
    out = {}
    for name, spec in space.items():
        at = f"{where}: {name}"
        if name not in known:
            raise ValueError(f"{at}: not a Forecaster parameter")
        if name == "random_state":
            raise ValueError(f"{at}: the seed is the search's own (seed=), not searched")
        if isinstance(spec, list):
            if not 1 <= len(spec) <= MAX_CHOICES:
                raise ValueError(f"{at}: give 1 to {MAX_CHOICES} choices, got {len(spec)}")
            for value in spec:
                if value is not None and not isinstance(value, bool | int | float | str):
                    raise ValueError(f"{at}: a choice must be a number, a string, a boolean "
                                     f"or none, got {value!r}")
            out[name] = {"choices": list(spec)}
            continue
        if not isinstance(spec, dict) or set(spec) - {"low", "high", "log", "integer"} \
                or not {"low", "high"} <= set(spec):
            raise ValueError(f"{at}: expected a list of choices or {{low, high}} with "
                             f"optional log and integer, got {spec!r}")
        low, high = spec["low"], spec["high"]
        log, integer = spec.get("log", False), spec.get("integer", False)
        for key, flag in (("log", log), ("integer", integer)):
            if not isinstance(flag, bool):
                raise ValueError(f"{at}: {key} must be true or false, got {flag!r}")
        for key, value in (("low", low), ("high", high)):
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise ValueError(f"{at}: {key} must be a finite number, got {value!r}")
        if integer and not (float(low).is_integer() and float(high).is_integer()):
            raise ValueError(f"{at}: an integer range needs whole low and high")
        if not low < high:
            raise ValueError(f"{at}: low must be below high, got {low} and {high}")
        if log and low <= 0:
            raise ValueError(f"{at}: a log range needs low > 0, got {low}")
        out[name] = {"low": low, "high": high, "log": log, "integer": integer}
    return out


def draw_trials(space: dict, trials: int, seed: int) -> list[dict]:
    """``trials`` random draws from a checked ``space``: the same seed, the same
    draws, whichever engine then runs them."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(trials):
        params = {}
        for name, spec in space.items():
            if "choices" in spec:
                params[name] = spec["choices"][int(rng.integers(len(spec["choices"])))]
                continue
            low, high = spec["low"], spec["high"]
            if spec["integer"]:
                if spec["log"]:
                    value = math.exp(rng.uniform(math.log(low), math.log(high + 1)))
                    params[name] = min(int(value), int(high))
                else:
                    params[name] = int(rng.integers(int(low), int(high) + 1))
            elif spec["log"]:
                params[name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
            else:
                params[name] = float(rng.uniform(low, high))
        out.append(params)
    return out


def tune(df: pd.DataFrame, space: dict, *, params: dict | None = None,
         columns: dict | None = None, trials: int = 8, metric: str = "mae",
         start: float = 0.8, seed: int = 0, engine: str = "auto",
         address: str | None = None) -> TuneResult:
    """Search a :class:`~tsrnn.Forecaster`'s parameters by random search, each trial
    scored by an out-of-sample backtest, never by its training loss.

    Each trial fits ``Forecaster(**params, **drawn, random_state=seed)`` on every
    series' rows before its ``start`` fraction, then forecasts the rest
    (:meth:`~tsrnn.Forecaster.historical_forecasts` from ``start``: rolling
    origins, one horizon apart, none of whose values the model saw) and scores
    those forecasts by ``metric``.

    Parameters
    ----------
    df
        The series (a frame :meth:`~tsrnn.Forecaster.fit` takes).
    space
        Parameter -> a list of choices, or ``{"low": ..., "high": ..., "log":
        bool, "integer": bool}`` (see :func:`check_space`).
    params
        Fixed Forecaster parameters for every trial.
    columns
        ``fit``'s column roles (``time_col``, ``id_col``, ``target``, ...).
    trials
        Draws from the space (:func:`draw_trials`, from ``seed``).
    metric
        The backtest error to minimise: ``mse``, ``mae``, ``rmse``, ``mape``,
        ``smape`` or ``mase``.
    start
        Fraction of each series that trains; the rest is forecast.
    seed
        Draws the trials, and is every trial's ``random_state``.
    engine
        ``"ray"``: Ray Tune runs the trials in parallel, on this machine or the
        cluster at ``address`` (``pip install 'tsrnn[ray]'``); ``"optuna"``: an
        Optuna study runs them one after the other in this process
        (``pip install 'tsrnn[tune]'``); ``"auto"``: Ray when it is installed, else
        Optuna. Both run the same draws and give the same scores.
    address
        With Ray: the cluster's address, as :func:`~tsrnn.distributed.map_series`.

    Returns
    -------
    TuneResult
        The best parameters and score, and every trial. A failed trial (bad
        parameters, a series too short) is kept with its reason; if every trial
        fails, a ``ValueError`` gives the first reason.
    """
    from tsrnn import Forecaster

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise ValueError(f"trials must be an integer from 1 to {MAX_TRIALS}, got {trials!r}")
    if isinstance(start, bool) or not isinstance(start, float) or not 0 < start < 1:
        raise ValueError(f"start must be a fraction between 0 and 1, got {start!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    known = set(Forecaster().get_params())
    space = check_space(space, known)
    fixed = dict(params or {})
    unknown = sorted(set(fixed) - known)
    if unknown:
        raise ValueError(f"params: {unknown[0]!r} is not a Forecaster parameter")
    engine = _engine(engine, address)
    drawn = draw_trials(space, trials, seed)
    shared = {"df": df, "params": fixed, "columns": dict(columns or {}), "metric": metric,
              "start": start, "seed": seed, "drawn": drawn}
    run = _run_ray if engine == "ray" else _run_optuna
    outcomes = run(shared, address)
    rows = []
    for k, (config, (ok, value)) in enumerate(zip(drawn, outcomes, strict=True)):
        rows.append({"trial": k, **config, metric: value if ok else math.nan,
                     "error": "" if ok else value})
    table = pd.DataFrame(rows)
    if table[metric].isna().all():
        raise ValueError(f"every trial failed; the first: {rows[0]['error']}")
    best = int(table[metric].idxmin())
    return TuneResult(drawn[best], float(table[metric].iloc[best]), table)


def _engine(engine: str, address: str | None) -> str:
    from tsrnn.distributed.engine import installed, resolve_engine

    engine = resolve_engine(engine, address, alone="optuna")
    if engine == "optuna" and not installed("optuna"):
        raise ImportError("searching without Ray needs Optuna: pip install 'tsrnn[tune]' "
                          f"(or Ray: {RAY_HINT})")
    return engine


# ------------------------------------------------------------------ a trial
def _score(shared: dict, drawn: dict) -> float:
    """One trial: fit on every series' head, backtest on the rest."""
    from tsrnn import Forecaster
    from tsrnn.backtest import InSampleBacktestWarning
    from tsrnn.training import fit_options

    model = Forecaster(**{**shared["params"], **drawn, "random_state": shared["seed"]})
    df, columns, start = shared["df"], shared["columns"], shared["start"]
    with warnings.catch_warnings():
        # The objective must be out of sample: a forecast of a value the model
        # trained on is a bug here, not a warning.
        warnings.simplefilter("error", InSampleBacktestWarning)
        with fit_options(progress=False):
            model.fit(_heads(df, columns.get("id_col"), start), **columns)
        return float(model.historical_forecasts(df, start=start).metrics[shared["metric"]])


def _heads(df: pd.DataFrame, id_col, start: float) -> pd.DataFrame:
    """Each series' rows before its first backtest origin: the first
    ``floor(rows * start)``, as :meth:`~tsrnn.Forecaster.historical_forecasts`
    counts a fraction ``start``."""
    if id_col is None:
        return df.iloc[:int(np.floor(len(df) * start))]
    if id_col not in df:
        from tsrnn.data import DataError

        raise DataError(f"id column {id_col!r} not found; columns are {list(df.columns)}")
    sizes = df.groupby(id_col, sort=False)[id_col].transform("size").to_numpy()
    return df[df.groupby(id_col, sort=False).cumcount().to_numpy()
              < np.floor(sizes * start)]


def _run_optuna(shared: dict, address) -> list:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials are in the table
    study = optuna.create_study(direction="minimize")
    outcomes = []

    def objective(trial) -> float:
        # Every trial is enqueued, so each suggestion returns the drawn value.
        drawn = {name: _suggest(trial, name, value)
                 for name, value in shared["drawn"][trial.number].items()}
        outcomes.append(_attempt(_score, shared, drawn))
        ok, value = outcomes[-1]
        return value if ok else math.nan  # NaN: Optuna marks the trial failed

    for drawn in shared["drawn"]:
        study.enqueue_trial(drawn)
    study.optimize(objective, n_trials=len(shared["drawn"]), catch=())
    return outcomes


def _suggest(trial, name: str, value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return trial.suggest_categorical(name, [value])
    if isinstance(value, int):
        return trial.suggest_int(name, value, value)
    return trial.suggest_float(name, value, value)


def _run_ray(shared: dict, address) -> list:
    import os

    # Ray Tune's newer console output ignores verbose=0; the older one keeps quiet.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with ray_session(address):
        from ray import tune as ray_tune

        trainable = ray_tune.with_parameters(_ray_trial, shared=shared)
        with tempfile.TemporaryDirectory(prefix="tsrnn-tune-") as storage:
            tuner = ray_tune.Tuner(
                trainable,
                param_space={"trial": ray_tune.grid_search(list(range(len(shared["drawn"]))))},
                run_config=ray_tune.RunConfig(storage_path=storage, name="tsrnn", verbose=0))
            grid = tuner.fit()
            found = {}
            for result in grid:
                if result.error is not None:  # the trial's process died
                    from tsrnn.distributed.engine import ray_reason

                    found[result.config["trial"]] = (False, ray_reason(result.error))
                else:
                    m = result.metrics
                    found[m["trial"]] = (True, m["score"]) if m["ok"] else (False, m["error"])
    return [found.get(k, (False, "Ray Tune returned no result for it"))
            for k in range(len(shared["drawn"]))]


def _ray_trial(config: dict, shared: dict) -> None:
    from ray import tune as ray_tune

    k = config["trial"]
    ok, value = _attempt(_score, shared, shared["drawn"][k])
    ray_tune.report({"trial": k, "ok": ok, "score": value if ok else math.nan,
                     "error": "" if ok else value})
