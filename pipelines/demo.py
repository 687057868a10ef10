"""`make demo`: the main job tsrnn can run so far, on the embedded default dataset.

Loads the synthetic multi-sensor stream that ships with tsrnn, validates it, splits
it in time, scales it on the training part, windows it, and prints what a model
would be trained on. Then it trains a GRU forecaster on
every sensor at once, forecasts the next day, and backtests it against
repeat-last-value, then trains the anomaly detector and scores it against the
dataset's labels. Forecasts, scores, plots and both models go to ``demo-output/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-len", type=int, default=168, help="steps of history (1 week)")
    parser.add_argument("--horizon", type=int, default=24, help="steps to forecast (1 day)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10, help="training epochs at most")
    parser.add_argument("--out-dir", type=Path, default=Path("demo-output"),
                        help="where the CSVs, PNGs and models go")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (these small "
                        "networks gain little from more, and lose much on busy cores)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    import torch

    torch.set_num_threads(args.threads)

    from tsrnn.data import Scaler, SeriesData, WindowDataset, chronological_split, make_loader
    from tsrnn.datasets import load_sensors
    from tsrnn.files import write_csv

    df = load_sensors()
    write_csv(df, args.out_dir / "sensors.csv")  # the input, for the command-line examples
    print(f"default dataset: {len(df):,} rows, columns {list(df.columns)}")
    data = SeriesData.from_dataframe(df, time_col="timestamp", id_col="sensor", target="value")
    print(f"{data.n_series} series {data.ids}, frequency {data.freq.freqstr}, "
          f"lengths {data.lengths.tolist()}, features {list(data.feature_names)}")

    split = chronological_split(data, args.input_len, args.horizon, val_size=0.15,
                                test_size=0.15)
    scaler = Scaler("standard").fit(data.values, data.offsets, fit_rows=split.train_end)
    scaled = scaler.transform(data.values, data.offsets)

    print(f"\nwindows of input_len={args.input_len}, horizon={args.horizon} "
          "(inputs may look back across a border, targets never cross one):")
    print(f"{'part':<6} {'windows':>8} {'from':>20} {'to (target end)':>20}  batch shapes")
    for name, starts in (("train", split.train), ("val", split.val), ("test", split.test)):
        ds = WindowDataset.from_series(data, args.input_len, args.horizon, starts=starts,
                                       values=scaled)
        first = next(iter(make_loader(ds, args.batch_size)))
        last_row = int(starts[-1]) + args.input_len + args.horizon - 1
        print(f"{name:<6} {len(ds):>8,} {str(data.times[int(starts[0])]):>20} "
              f"{str(data.times[last_row]):>20}  inputs {tuple(first.inputs.shape)} "
              f"targets {tuple(first.targets.shape)}")
    loc = scaler.loc_[:, 0].round(2).tolist()
    print(f"\nscaler fitted on the training rows only: mean per sensor {loc}")

    forecast_tour(df, args)
    detect_tour(df, args)
    print(f"\nwritten to {args.out_dir.resolve()}/:")
    for path in sorted(args.out_dir.iterdir()):
        print(f"  {path.name:<16} {path.stat().st_size / 1024:8.0f} KiB  {WHAT.get(path.name, '')}")
    out = args.out_dir
    print("\nthe same from the command line (`tsrnn COMMAND --help` for more):\n"
          f"  tsrnn evaluate {out / 'sensors.csv'} --model {out / 'forecaster.tsrnn'}\n"
          f"  tsrnn evaluate {out / 'sensors.csv'} --model {out / 'detector.tsrnn'} "
          "--label-col is_anomaly\n"
          f"  tsrnn stream --model {out / 'detector.tsrnn'} < {out / 'sensors.csv'}")
    return 0


WHAT = {
    "sensors.csv": "the bundled dataset the tour ran on",
    "forecast.csv": "next-day forecast from the backtest start, quantiles and actuals",
    "forecast.png": "that forecast drawn after its history, with the actuals",
    "backtest.csv": "every backtest forecast next to what happened",
    "forecaster.tsrnn": "the GRU forecaster (Forecaster.load, tsrnn forecast --model)",
    "scores.csv": "every row with its anomaly score and 0/1 label",
    "anomalies.png": "flagged regions, labelled anomalies, score and threshold",
    "detector.tsrnn": "the detector (AnomalyDetector.load, tsrnn stream --model)",
}


def detect_tour(df, args) -> None:
    """Train the anomaly detector on every sensor and score it against the labels."""
    import time

    from tsrnn import AnomalyDetector
    from tsrnn.metrics import pr_auc, roc_auc, vus_pr

    signals = df.drop(columns=["is_anomaly", "anomaly_kind"])
    detector = AnomalyDetector("lstm", window=24, max_epochs=args.epochs, random_state=0)
    started = time.perf_counter()
    detector.fit(signals, time_col="timestamp", id_col="sensor")
    scores = detector.decision_function(signals).to_numpy()
    labels = df["is_anomaly"].to_numpy()
    flagged = detector.predict(signals).to_numpy()
    print(f"\ntrained an LSTM autoencoder detector in {time.perf_counter() - started:.1f} s; "
          f"threshold {detector.threshold_:.3f} flags {flagged.sum()} of {len(flagged):,} rows "
          f"({labels.sum()} are labelled anomalies)")
    print(f"against the labels: ROC-AUC {roc_auc(labels, scores):.3f}, "
          f"PR-AUC {pr_auc(labels, scores):.3f} (chance {labels.mean():.3f}), "
          f"VUS-PR {vus_pr(labels, scores):.3f}")
    hits = df.loc[flagged == 1, "anomaly_kind"].replace("", "none").value_counts()
    print("flagged rows by labelled kind: " + ", ".join(f"{k} {v}" for k, v in hits.items()))

    from tsrnn.files import write_csv
    from tsrnn.plotting import plot_anomalies

    scored = df.assign(score=scores, label=flagged)
    write_csv(scored, args.out_dir / "scores.csv")
    _save(plot_anomalies(scored, target="value", time_col="timestamp", id_col="sensor",
                         threshold=detector.threshold_, truth_col="is_anomaly"),
          args.out_dir / "anomalies.png")
    detector.save(args.out_dir / "detector.tsrnn")


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from tsrnn.files import atomic_write

    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def forecast_tour(df, args) -> None:
    """Train one global GRU on every sensor, forecast, and backtest on the last 15%."""
    import time

    from tsrnn import Forecaster
    from tsrnn.metrics import forecast_metrics

    columns = dict(time_col="timestamp", id_col="sensor", target="value")
    cut = df.groupby("sensor").cumcount() < int(0.85 * df.groupby("sensor").size().min())
    model = Forecaster("gru", input_len=args.input_len, horizon=args.horizon,
                       quantiles=[0.1, 0.5, 0.9], max_epochs=args.epochs, random_state=0)
    started = time.perf_counter()
    model.fit(df[cut], **columns)
    summary = model.training_summary_
    print(f"\ntrained a GRU forecaster on {int(cut.sum()):,} rows in "
          f"{time.perf_counter() - started:.1f} s ({summary['epochs']} epochs, "
          f"best validation loss at epoch {summary['best_epoch']})")
    # The data goes on after the training part, so this forecast can be checked.
    forecast = model.predict().merge(
        df.rename(columns={"value": "value_actual"})[["sensor", "timestamp", "value_actual"]],
        on=["sensor", "timestamp"], how="left")
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_columns", 10):
        print(f"forecast of the next {args.horizon} hours (quantiles 0.1, 0.5, 0.9), first "
              f"rows:\n{forecast.head(4)}")

    backtest = model.historical_forecasts(df, start=int(cut.groupby(df['sensor']).sum().min()))
    frame = backtest.forecasts
    # Repeat-last-value over the same forecasts: the baseline an RNN must beat.
    last = df.set_index(["sensor", "timestamp"])["value"]
    naive = last.loc[list(zip(frame["sensor"], frame["origin"], strict=True))].to_numpy()
    baseline = forecast_metrics(frame["value_actual"].to_numpy(), naive)
    print(f"\nbacktest on the last 15% ({frame['origin'].nunique()} origins per sensor, "
          "original units):")
    print(f"{'':<14} {'MAE':>8} {'RMSE':>8} {'sMAPE %':>8}")
    for name, m in (("GRU", backtest.metrics), ("repeat-last", baseline)):
        print(f"{name:<14} {m['mae']:8.3f} {m['rmse']:8.3f} {m['smape']:8.2f}")
    print(f"GRU MASE {backtest.metrics['mase']:.3f} (1 = the in-sample one-step naive "
          f"MAE); MAE ratio to repeat-last {backtest.metrics['mae'] / baseline['mae']:.2f}")

    from tsrnn.files import write_csv
    from tsrnn.plotting import plot_forecast

    write_csv(forecast, args.out_dir / "forecast.csv")
    write_csv(frame, args.out_dir / "backtest.csv")
    _save(plot_forecast(forecast, df[cut], target="value", time_col="timestamp",
                        id_col="sensor", history_len=3 * args.horizon),
          args.out_dir / "forecast.png")
    model.save(args.out_dir / "forecaster.tsrnn")


if __name__ == "__main__":
    sys.exit(main())
