"""ETTh1 accuracy under the standard long-horizon protocol.

Protocol (Informer / DLinear / SegRNN): train = the first 12*30*24 rows, validation
= the next 4*30*24, test = the next 4*30*24; validation and test inputs start
``input_len`` rows early; a standard scaler fitted on train; MSE and MAE on the
standardized scale over every stride-1 test window, all horizon steps and channels.

    .venv/bin/python benchmarks/ett.py                      # the full table
    .venv/bin/python benchmarks/ett.py --cells gru --horizons 96 --set hidden_size=256
    .venv/bin/python benchmarks/ett.py --cells gru --input-len auto   # the rule's input

Reads ../shared/data/ett/ETTh1.csv (or --path / $TSRNN_DATA_DIR).
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

TRAIN, VAL, TEST = 12 * 30 * 24, 4 * 30 * 24, 4 * 30 * 24
CHANNELS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# Published MSE at input 96 (multivariate), per horizon 96/192/336/720.
ANCHORS = {
    "SegRNN (GRU)": {96: 0.368, 192: 0.408, 336: 0.444, 720: 0.446},
    "DLinear": {96: 0.386, 192: 0.437, 336: 0.481, 720: 0.519},
    "iTransformer": {96: 0.386, 192: 0.441, 336: 0.487, 720: 0.503},
    # Informer paper (Zhou et al. 2021), multivariate ETTh1: the attention LSTM row.
    "LSTMa": {24: 0.650, 48: 0.702, 168: 1.212, 336: 1.424, 720: 1.960},
}


def standardized_errors(df: pd.DataFrame, columns: list[str], input_len: int, horizon: int,
                        predict) -> tuple[float, float]:
    """MSE, MAE of ``predict(inputs [B, L, C]) -> [B, H, C]`` on the test windows,
    everything standardized with the training part's mean and std."""
    values = df[columns].to_numpy(dtype=np.float64)[: TRAIN + VAL + TEST]
    mean, std = values[:TRAIN].mean(0), values[:TRAIN].std(0)
    z = (values - mean) / std
    starts = np.arange(TRAIN + VAL - input_len, TRAIN + VAL + TEST - input_len - horizon + 1)
    idx_in = starts[:, None] + np.arange(input_len)
    idx_out = starts[:, None] + input_len + np.arange(horizon)
    pred = predict(z[idx_in])
    err = pred - z[idx_out]
    return float((err**2).mean()), float(np.abs(err).mean())


def repeat_last(x: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(x[:, -1:, :], horizon, axis=1)


def seasonal_naive(x: np.ndarray, horizon: int, season: int = 24) -> np.ndarray:
    reps = int(np.ceil(horizon / season))
    return np.tile(x[:, -season:, :], (1, reps, 1))[:, :horizon]


def fit_and_score(df, columns, cell, input_len, horizon, params, seed):
    """Fit a Forecaster on train (+ validation for early stopping); score on test."""
    model, err, seconds = fitted_errors(df, columns, cell, input_len, horizon, params, seed)
    return (float((err**2).mean()), float(np.abs(err).mean()), seconds,
            model.training_summary_["epochs"], model.input_len_)


def fit_and_forecast(df, columns, cell, input_len, horizon, params, seed):
    """The test windows' forecasts ``[windows, horizon, channels]`` standardized with
    the training part's statistics, minus the truth; the fit seconds and epochs."""
    model, err, seconds = fitted_errors(df, columns, cell, input_len, horizon, params, seed)
    return err, seconds, model.training_summary_["epochs"]


def fitted_errors(df, columns, cell, input_len, horizon, params, seed):
    """The fitted Forecaster (its ``input_len_`` is what ``"auto"`` chose), the
    standardized test errors of :func:`fit_and_forecast` and the fit seconds."""
    from tsrnn import Forecaster
    from tsrnn.metrics import UndefinedMetricWarning

    model = Forecaster(cell, input_len=input_len, horizon=horizon, val_size=VAL,
                       random_state=seed, **params)
    started = time.perf_counter()
    model.fit(df.iloc[: TRAIN + VAL], time_col="date", target=columns)
    seconds = time.perf_counter() - started
    with warnings.catch_warnings():  # MAPE's zeros: the protocol scores MSE and MAE only
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        backtest = model.historical_forecasts(df.iloc[: TRAIN + VAL + TEST],
                                              start=TRAIN + VAL, stride=1)
    pred = backtest.forecasts[columns].to_numpy().reshape(-1, horizon, len(columns))
    actual = backtest.forecasts[[f"{c}_actual" for c in columns]].to_numpy()
    actual = actual.reshape(-1, horizon, len(columns))
    # Standardize with the train statistics, as the protocol scores.
    std = df[columns].to_numpy(dtype=np.float64)[:TRAIN].std(0)
    err = (pred - actual) / std
    n_windows = TEST - horizon + 1
    assert pred.shape[0] == n_windows, (pred.shape, n_windows)
    return model, err, seconds


def parse_sets(items: list[str]) -> dict:
    """``--set NAME=VALUE`` options as Forecaster parameters (a bare word: a string)."""
    params = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            params[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            params[key] = raw
    return params


def input_length(raw: str) -> int | str:
    """``--input-len``: a positive integer or ``auto``."""
    if raw == "auto":
        return raw
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {raw!r}")
    return int(raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--horizons", default="96,192,336,720")
    parser.add_argument("--input-len", type=input_length, default=96,
                        help="an integer, or 'auto': the rule of tsrnn.auto picks it")
    parser.add_argument("--univariate", action="store_true", help="OT only, horizons 24,96")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[],
                        help="Forecaster parameter, e.g. --set hidden_size=256")
    args = parser.parse_args(argv)

    from tsrnn.datasets import load_ett

    df = load_ett("ETTh1", path=args.path or (SHARED / "ett"), download=False)
    columns = ["OT"] if args.univariate else CHANNELS
    horizons = [int(h) for h in args.horizons.split(",")]
    if args.univariate and args.horizons == parser.get_default("horizons"):
        horizons = [24, 96]
    params = parse_sets(args.set)
    L = args.input_len
    # The baselines read only the last day of each input window, so any input of a
    # day or more scores them the same; "auto" scores them with one day.
    baseline_len = 24 if L == "auto" else L

    kind = "univariate OT" if args.univariate else "multivariate (7 channels)"
    print(f"ETTh1 {kind}, input_len={L}, params={params or 'defaults'}, seed={args.seed}")
    print(f"{'model':<22} {'horizon':>7} {'MSE':>8} {'MAE':>8} {'fit s':>7} {'epochs':>6} "
          f"{'input':>6}")
    for h in horizons:
        for name, fn in (("repeat-last", repeat_last), ("seasonal naive 24h", seasonal_naive)):
            mse, mae = standardized_errors(df, columns, baseline_len, h,
                                           lambda x, fn=fn, h=h: fn(x, h))
            print(f"{name:<22} {h:>7} {mse:8.4f} {mae:8.4f}")
        scores = {}
        for cell in args.cells.split(","):
            mse, mae, sec, ep, chosen = fit_and_score(df, columns, cell, L, h, params,
                                                      args.seed)
            scores[cell] = (mse, mae)
            print(f"{'tsrnn ' + cell:<22} {h:>7} {mse:8.4f} {mae:8.4f} {sec:7.1f} {ep:>6} "
                  f"{chosen:>6}", flush=True)
        best = min(scores, key=lambda c: scores[c][0])
        print(f"{'best: tsrnn ' + best:<22} {h:>7} {scores[best][0]:8.4f} {scores[best][1]:8.4f}")
        if not args.univariate:
            anchors = "  ".join(f"{k} {v[h]:.3f}" for k, v in ANCHORS.items() if h in v)
            print(f"{'published':<22} {h:>7}  {anchors}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
