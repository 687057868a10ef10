"""Sequence classification on machine runs: SequenceClassifier against a summary baseline.

Data: ``tsrnn.datasets.make_machine_runs`` (seeded; runs of 60-240 steps, three
sensors, half of them faulty with one of three faults). Runs are split 75/25,
stratified by label. The baseline is a logistic regression on per-run summary
features of each sensor (mean, standard deviation, min, max, first, last value and
the least-squares slope), what one would try first. Reported: test accuracy, the
share of each fault kind (and of normal runs) classified right, fit seconds and
parameter count.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/machine_runs.py
    .venv/bin/python benchmarks/machine_runs.py --cells gru --runs 400
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tsrnn import SequenceClassifier
from tsrnn.datasets import FAULT_KINDS, make_machine_runs

SENSORS = ["current", "temperature", "vibration"]


def summary_features(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run (in order of first appearance): summary statistics per sensor."""
    runs = df.groupby("run", sort=False)
    t = df["step"] - runs["step"].transform("mean")
    parts = {}
    for s in SENSORS:
        g = runs[s]
        parts.update({f"{s}_mean": g.mean(), f"{s}_std": g.std(), f"{s}_min": g.min(),
                      f"{s}_max": g.max(), f"{s}_first": g.first(), f"{s}_last": g.last()})
        centred = df[s] - g.transform("mean")
        parts[f"{s}_slope"] = (centred * t).groupby(df["run"], sort=False).sum() \
            / (t * t).groupby(df["run"], sort=False).sum()
    return pd.DataFrame(parts)


def per_kind(pred: np.ndarray, truth: np.ndarray, kinds: np.ndarray) -> dict[str, float]:
    return {k: float((pred[kinds == k] == truth[kinds == k]).mean())
            for k in ("none", *FAULT_KINDS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"])
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    df = make_machine_runs(args.runs, random_state=args.seed)
    per_run = df.groupby("run", sort=False)[["label", "fault"]].first()
    train_ids, test_ids = train_test_split(per_run.index.to_numpy(), test_size=0.25,
                                           random_state=args.seed, stratify=per_run["label"])
    train = df[df["run"].isin(train_ids)]
    test = df[df["run"].isin(test_ids)]
    test_runs = per_run.loc[pd.unique(test["run"])]
    truth, kinds = test_runs["label"].to_numpy(), test_runs["fault"].to_numpy()
    counts = ", ".join(f"{k} {v}" for k, v in per_run["fault"].value_counts().items())
    print(f"{args.runs} runs ({len(df)} rows): {len(train_ids)} to train, {len(test_ids)} to "
          f"test; runs per fault: {counts}", flush=True)

    rows = []
    started = time.perf_counter()
    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    baseline.fit(summary_features(train), per_run.loc[pd.unique(train["run"]), "label"])
    pred = baseline.predict(summary_features(test))
    n_coef = baseline[-1].coef_.size + baseline[-1].intercept_.size
    rows.append(("logistic regression on summary features", float((pred == truth).mean()),
                 per_kind(pred, truth, kinds), time.perf_counter() - started, n_coef))

    columns = ["run", "step", *SENSORS, "label"]
    for cell in args.cells:
        clf = SequenceClassifier(cell=cell, hidden_size=args.hidden_size, lr=args.lr,
                                 max_epochs=args.max_epochs, patience=args.patience,
                                 random_state=args.seed, accelerator="cpu")
        started = time.perf_counter()
        clf.fit(train[columns], "label", id_col="run", time_col="step")
        seconds = time.perf_counter() - started
        pred = clf.predict(test[columns])
        params = sum(p.numel() for p in clf.net_.parameters())
        rows.append((f"SequenceClassifier(cell={cell!r}) ({clf.training_summary_['epochs']} "
                     "epochs)", float((pred == truth).mean()), per_kind(pred, truth, kinds),
                     seconds, params))
        print(f"{cell}: accuracy {rows[-1][1]:.3f}, {seconds:.0f} s", flush=True)

    print("\n| model | accuracy | normal | " + " | ".join(FAULT_KINDS)
          + " | fit seconds | parameters |")
    print("|---|---|---|" + "---|" * len(FAULT_KINDS) + "---|---|")
    for name, acc, kind_acc, seconds, params in rows:
        kinds_text = " | ".join(f"{kind_acc[k]:.2f}" for k in ("none", *FAULT_KINDS))
        print(f"| {name} | **{acc:.3f}** | {kinds_text} | {seconds:.1f} | {params:,} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
