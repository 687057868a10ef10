"""Forecasting across frequencies: ETTh1 (hourly, long horizon) and M4 weekly.

- **ETTh1**: as ``benchmarks/ett.py``: 7 channels, input 96, horizon 96, the
  standard 12/4/4-month protocol, MSE / MAE on the standardized scale over every
  stride-1 test window. The protocol fixes the sizes, so they are integers here.
- **M4 weekly**: the 359 series, horizon 13, one global ``Forecaster()`` with its
  defaults (``input_len`` and ``horizon`` ``"auto"``: chosen from the weekly
  frequency and the shortest series, see ``tsrnn/auto.py``), fitted once on all
  training series, forecasting the 13 weeks after each. Scored with M4's sMAPE,
  MASE (seasonality 1) and OWA (``tsrnn.metrics``), beside our own Naive2 and the
  published Naive2, Theta, ES-RNN and best weekly entries.

Each dataset's fit time is reported. ``--seeds N`` fits N times, with the seeds
of the N members of ``Forecaster(n_models=N, random_state=S)`` (``S`` is
``--first-seed``, default 0; the first member's seed is ``S`` itself), and reports
the mean and the spread (min to max) of the single fits, then the ensemble: the
median of their forecasts is exactly what ``n_models=N`` forecasts (each member
trains as the single fit with its seed does), and costs the sum of their fit times.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_suite.py --seeds 5

Reads ../shared/data/ett/ETTh1.csv and ../shared/data/m4/Weekly-{train,test}.csv
(or --data / $TSRNN_DATA_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
WEEKLY_HORIZON = 13
# Published M4 weekly figures: sMAPE, MASE, OWA (../shared/data/README.md).
M4_WEEKLY = {
    "Naive2 (published)": (9.161, 2.777, 1.000),
    "Theta (published)": (9.093, 2.637, 0.971),
    "ES-RNN, M4 winner (published)": (7.817, 2.356, 0.851),
    "best weekly entry (published)": (6.582, 2.107, 0.739),
}
ETT_PUBLISHED = {"SegRNN (paper)": 0.368, "DLinear (paper)": 0.386}


def read_m4(folder: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Training series (each its own length) and the ``[359, 13]`` test values."""
    train = pd.read_csv(folder / "Weekly-train.csv", index_col=0)
    test = pd.read_csv(folder / "Weekly-test.csv", index_col=0)
    series = [row.dropna().to_numpy(dtype=np.float64) for _, row in train.iterrows()]
    return series, test.loc[train.index].to_numpy(dtype=np.float64)


def m4_frame(series: list[np.ndarray]) -> pd.DataFrame:
    """A NeuralForecast long frame ``unique_id, ds, y``. M4 gives no dates: every
    series ends in the same week (only the weekly step matters to the model)."""
    parts = [pd.DataFrame({"unique_id": f"W{i + 1}",
                           "ds": pd.date_range(end="2017-12-31", periods=len(y), freq="W"),
                           "y": y}) for i, y in enumerate(series)]
    return pd.concat(parts, ignore_index=True)


def m4_scores(pred: np.ndarray, test: np.ndarray, series: list[np.ndarray],
              naive2_scores: tuple[float, float] | None) -> tuple[float, float, float]:
    from tsrnn.metrics import m4_mase, m4_smape, owa

    smape = m4_smape(test, pred)
    mase = m4_mase(test, pred, y_train=series, season=1)
    ref = naive2_scores or (smape, mase)
    return smape, mase, owa(smape, mase, smape_naive2=ref[0], mase_naive2=ref[1])


def run_m4(folder: Path, seed: int, params: dict) -> tuple[np.ndarray, float, dict]:
    from tsrnn import Forecaster

    series, _ = read_m4(folder)
    frame = m4_frame(series)
    model = Forecaster(random_state=seed, **params)
    started = time.perf_counter()
    model.fit(frame)
    seconds = time.perf_counter() - started
    forecast = model.predict()  # 13 rows per series, in ids_ order
    pred = forecast.pivot(index="unique_id", columns="ds", values="y")
    pred = pred.loc[[f"W{i + 1}" for i in range(len(series))]].to_numpy()
    info = {"input_len": model.input_len_, "horizon": model.horizon_,
            "epochs": model.training_summary_["epochs"]}
    return pred, seconds, info


def run_ett(folder: Path, seed: int, params: dict) -> tuple[np.ndarray, float, int]:
    """The standardized test errors ``[windows, 96, 7]``, fit seconds and epochs."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ett import CHANNELS, fit_and_forecast

    from tsrnn.datasets import load_ett
    from tsrnn.metrics import UndefinedMetricWarning

    df = load_ett("ETTh1", path=folder / "ett", download=False)
    with warnings.catch_warnings():  # MAPE's zeros: the suite reports MSE and MAE only
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return fit_and_forecast(df, CHANNELS, "gru", 96, 96, params, seed)


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def _cached(cache: Path | None, name: str, fit):
    """``fit()``'s ``(forecasts, seconds, info)``, kept in ``cache/name.npz`` (our own
    files: read without pickle) and read from there when present."""
    if cache is None:
        return fit()
    path = cache / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return f["out"], float(f["seconds"]), json.loads(str(f["info"]))
    out, seconds, info = fit()
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, out=out, seconds=seconds, info=json.dumps(info, default=int))
    return out, seconds, info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("TSRNN_DATA_DIR", SHARED)))
    parser.add_argument("--seeds", type=int, default=1,
                        help="fits per dataset: the seeds of an n_models=N ensemble's members")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the ensemble's random_state (its first member's seed)")
    parser.add_argument("--skip", default="", help="comma-separated: ett, m4")
    parser.add_argument("--members", type=int, nargs="+", metavar="K",
                        help="fit only these members (0..N-1), e.g. one per process with "
                        "--cache, then run again without --members for the table")
    parser.add_argument("--cache", type=Path, help="keep each fit's forecasts in this folder "
                        "and reuse them (a run split over processes)")
    parser.add_argument("--set", action="append", default=[],
                        help="Forecaster parameter for every fit, e.g. --set calendar=auto")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ett import parse_sets

    params = parse_sets(args.set)
    if params:
        print(f"Forecaster parameters set: {params}", flush=True)
    skip = set(filter(None, args.skip.split(",")))
    from tsrnn.base import member_seed

    seeds = [member_seed(args.first_seed, k) for k in range(args.seeds)]
    if args.members is not None:
        seeds = [seeds[k] for k in args.members]
    tag = "".join(f"-{k}={v}" for k, v in sorted(params.items()))
    ensemble = f"median of the {len(seeds)} (n_models={len(seeds)})"
    rows = []  # (dataset, method, measures, fit seconds, note)

    if "ett" not in skip:
        errors, secs = [], []
        for seed in seeds:
            err, s, epochs = _cached(args.cache, f"ett-{seed}{tag}",
                                     lambda seed=seed: run_ett(args.data, seed, params))
            errors.append(err)
            secs.append(s)
            print(f"ETTh1 seed {seed}: MSE {(err**2).mean():.4f} MAE {np.abs(err).mean():.4f} "
                  f"fit {s:.0f} s, {epochs} epochs", flush=True)
        mse = [float((e**2).mean()) for e in errors]
        mae = [float(np.abs(e).mean()) for e in errors]
        rows.append(("ETTh1 h96", "tsrnn GRU, input 96", f"MSE {_spread(mse)}  MAE "
                     f"{_spread(mae)}", f"{np.mean(secs):.0f}", f"{len(seeds)} seed(s)"))
        if len(seeds) > 1:
            err = np.median(np.stack(errors), axis=0)  # the truth is the same for each
            rows.append(("ETTh1 h96", ensemble, f"MSE {(err**2).mean():.3f}  MAE "
                         f"{np.abs(err).mean():.3f}", f"{np.sum(secs):.0f}", ""))
        for name, value in ETT_PUBLISHED.items():
            rows.append(("ETTh1 h96", name, f"MSE {value:.3f}", "", ""))

    if "m4" not in skip:
        from tsrnn.metrics import M4_SEASONALITY, naive2

        folder = args.data / "m4"
        series, test = read_m4(folder)
        own = np.stack([naive2(y, WEEKLY_HORIZON, season=M4_SEASONALITY["weekly"])
                        for y in series])
        n2 = m4_scores(own, test, series, None)[:2]
        rows.append(("M4 weekly", "Naive2 (ours)", f"sMAPE {n2[0]:.3f}  MASE {n2[1]:.3f}  "
                     "OWA 1.000", "", ""))
        scores, preds, secs, info = [], [], [], {}
        for seed in seeds:
            pred, s, info = _cached(args.cache, f"m4-{seed}{tag}",
                                    lambda seed=seed: run_m4(folder, seed, params))
            scores.append(m4_scores(pred, test, series, n2))
            preds.append(pred)
            secs.append(s)
            print(f"M4 weekly seed {seed}: sMAPE {scores[-1][0]:.3f} MASE {scores[-1][1]:.3f} "
                  f"OWA {scores[-1][2]:.3f} fit {s:.0f} s, {info}", flush=True)
        cols = list(zip(*scores, strict=True))
        rows.append(("M4 weekly", "tsrnn Forecaster() defaults",
                     f"sMAPE {_spread(cols[0])}  MASE {_spread(cols[1])}  OWA "
                     f"{_spread(cols[2])}", f"{np.mean(secs):.0f}",
                     f"input_len={info.get('input_len')} horizon={info.get('horizon')}, "
                     f"{len(seeds)} seed(s)"))
        if len(seeds) > 1:
            sm, ma, ow = m4_scores(np.median(np.stack(preds), axis=0), test, series, n2)
            rows.append(("M4 weekly", ensemble, f"sMAPE {sm:.3f}  MASE {ma:.3f}  OWA {ow:.3f}",
                         f"{np.sum(secs):.0f}", ""))
        for name, (sm, ma, ow) in M4_WEEKLY.items():
            rows.append(("M4 weekly", name, f"sMAPE {sm:.3f}  MASE {ma:.3f}  OWA {ow:.3f}",
                         "", ""))

    print()
    print("| dataset | method | accuracy | fit s | note |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
