"""NAB (Numenta Anomaly Benchmark) on the 28 labelled series in ../shared/data/nab/.

NAB's online protocol: the probationary period, the first min(15%, 750) rows of a
series, is used for training and never scored; every later score uses only the
past (``decision_function(online=True)``, the same scores the stream gives). With
``--refit-every f`` the detector also keeps learning: at every further fraction f
of the series it is refitted on all rows so far, and scores the rows up to the
next refit. The NAB score's threshold is optimised per profile over all files, as
NAB does.

Each detector is scored raw, with the anomaly likelihood, and with the likelihood
and an alarm cooldown (the detector's ``likelihood`` and ``cooldown``); the
rolling z-score baseline gets the same post-processing. Prints a per-file table
(NAB raw score, PR-AUC, VUS-PR) for tsrnn and the baseline, the totals of every
variant, and points per second for batch and streaming scoring.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nab.py [--files 5] [--score reconstruction]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nab"
PROBATION = 0.15


# Numenta HTM's raw NAB score per file (standard profile, at its threshold
# optimised over the whole 58-file corpus), from NAB's published results:
# github.com/numenta/NAB, results/numenta/numenta_standard_scores.csv.
HTM_STANDARD = {
    "art_daily_flatmiddle": 0.441,
    "art_daily_jumpsdown": 0.749,
    "art_daily_jumpsup": 0.749,
    "art_daily_no_noise": 0.000,
    "art_daily_nojump": -1.000,
    "art_daily_perfect_square_wave": 0.000,
    "art_daily_small_noise": 0.000,
    "art_flatline": 0.000,
    "art_increase_spike_density": 0.641,
    "art_load_balancer_spikes": 0.735,
    "art_noisy": 0.000,
    "ec2_cpu_utilization_24ae8d": 1.386,
    "ec2_cpu_utilization_53ea38": 1.304,
    "ec2_cpu_utilization_5f5533": 1.716,
    "ec2_cpu_utilization_77c1ca": 0.807,
    "ec2_cpu_utilization_825cc2": 0.956,
    "ec2_cpu_utilization_ac20cd": 0.876,
    "ec2_cpu_utilization_c6585a": -0.440,
    "ec2_cpu_utilization_fe7f93": -1.123,
    "ec2_disk_write_bytes_1ef3de": 0.812,
    "ec2_disk_write_bytes_c0d644": 0.501,
    "ec2_network_in_257a54": 0.855,
    "ec2_network_in_5abac7": -0.320,
    "elb_request_count_8c0756": 1.705,
    "grok_asg_anomaly": 2.090,
    "iio_us-east-1_i-a2eb1cd9_NetworkIn": -2.110,
    "rds_cpu_utilization_cc0c53": -0.142,
    "rds_cpu_utilization_e47b3b": 1.712,
}


def probation_rows(n: int) -> int:
    """NAB's probationary length: min(floor(0.15 n), 0.15 * 5000)."""
    return math.ceil(min(math.floor(PROBATION * n), PROBATION * 5000))


def rolling_zscore(values: np.ndarray, window: int = 288) -> np.ndarray:
    """|x - rolling mean| / rolling std over the previous ``window`` points (causal)."""
    s = pd.Series(values)
    past = s.shift(1).rolling(window, min_periods=10)
    z = (s - past.mean()).abs() / past.std().replace(0, np.nan)
    return z.fillna(0.0).to_numpy()


def raw_detector_scores(frame: pd.DataFrame, args) -> tuple[np.ndarray, float, object]:
    """Online raw errors of every row; the time spent; the last fitted detector."""
    from tsrnn import AnomalyDetector

    n = len(frame)
    first = probation_rows(n)
    cuts = [first]
    if args.refit_every:
        cuts += [int(n * f) for f in np.arange(args.refit_every, 1.0, args.refit_every)
                 if int(n * f) > first]
    cuts.append(n)
    raw = np.zeros(n)
    started = time.perf_counter()
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        # Some NAB files skip timestamps: score on the regular grid (gaps
        # interpolated), then read each original timestamp's score back.
        det = AnomalyDetector(args.cell, window=args.window, score=args.score,
                              max_epochs=args.epochs, random_state=0, val_size=0.2,
                              resample=True, fill="interpolate", likelihood=False)
        det.fit(frame.iloc[:a], time_col="timestamp", target="value")
        part = frame.iloc[:b]
        scores = det.decision_function(part, online=True)
        scores = scores.reindex(pd.DatetimeIndex(part["timestamp"]), method="nearest")
        lo = 0 if a == first else a
        raw[lo:b] = scores.to_numpy()[lo:b]
    return raw, time.perf_counter() - started, det


def scoring_speed(det, frame: pd.DataFrame) -> tuple[float, float]:
    """Points per second: batch ``decision_function`` and the stream, one point a call."""
    det.set_params(likelihood=True, cooldown=0)
    started = time.perf_counter()
    det.decision_function(frame, online=True)
    batch = len(frame) / (time.perf_counter() - started)
    grid = frame.set_index("timestamp")["value"].resample(det.freq_).mean().interpolate()
    stream = det.stream()
    started = time.perf_counter()
    for t, v in grid.items():
        stream.update(t, [v])
    return batch, len(grid) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=SHARED)
    parser.add_argument("--files", type=int, default=None, help="only the first N files")
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--score", default="forecast")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--cooldown", type=int, default=100,
                        help="steps of alarm cooldown for the '+ cooldown' variants")
    parser.add_argument("--refit-every", type=float, default=0.0,
                        help="keep learning: refit at every such fraction of a series")
    args = parser.parse_args(argv)

    from tsrnn.datasets import load_nab, load_nab_labels, nab_files
    from tsrnn.likelihood import post_process  # the detector's own post-processing
    from tsrnn.metrics import nab_benchmark, pr_auc, vus_pr, windows_to_labels

    names = nab_files(args.path)[: args.files]
    windows = load_nab_labels(names, path=args.path)
    variants = {"raw": (False, 0), "likelihood": (True, 0),
                "likelihood + cooldown": (True, args.cooldown)}
    runs: dict[str, dict] = {}
    rows = []
    seconds, speeds = 0.0, []
    for name in names:
        frame = load_nab(name, path=args.path)
        # Two AWS files repeat a timestamp 11 times (a clock change); NAB's scorer
        # needs increasing timestamps, so keep the first row of each.
        frame = frame[~frame["timestamp"].duplicated()].reset_index(drop=True)
        times = pd.DatetimeIndex(frame["timestamp"])
        labels = windows_to_labels(times, windows[name])
        scored = slice(probation_rows(len(frame)), None)
        ours, took, det = raw_detector_scores(frame, args)
        seconds += took
        if len(speeds) < 3:  # three files are plenty for a rate
            speeds.append(scoring_speed(det, frame))
        base = rolling_zscore(frame["value"].to_numpy())
        row = {"file": name}
        for who, raw in (("tsrnn", ours), ("z-score", base)):
            for variant, (likelihood, cooldown) in variants.items():
                s = post_process(raw, likelihood=likelihood, cooldown=cooldown)
                runs.setdefault(f"{who} {variant}", {})[name] = (times, s, windows[name])
                if variant == "likelihood" and labels[scored].any():
                    row[f"{who} PR-AUC"] = pr_auc(labels[scored], s[scored])
                    row[f"{who} VUS-PR"] = vus_pr(labels[scored], s[scored])
        rows.append(row)
        print(f"{name}: {took:.1f} s", flush=True)

    main_run = "likelihood + cooldown"
    table = pd.DataFrame(rows).set_index("file")
    totals = []
    for key, series in runs.items():
        result = {p: nab_benchmark(series, profile=p)
                  for p in ("standard", "reward_low_FP", "reward_low_FN")}
        totals.append({"detector": key, **{f"NAB {p}": r["score"] for p, r in result.items()}})
        if key.endswith(main_run):
            who = key.split()[0]
            for name, value in result["standard"]["per_series"].items():
                table.loc[name, f"{who} NAB raw"] = value
    for name in table.index:
        table.loc[name, "HTM NAB raw"] = HTM_STANDARD.get(Path(name).stem, np.nan)
    columns = [f"{who} {m}" for who in ("tsrnn", "z-score")
               for m in ("NAB raw", "PR-AUC", "VUS-PR")] + ["HTM NAB raw"]
    table = table.reindex(columns=columns)
    table.index = [name.split("/")[-1][:38] for name in table.index]
    table.loc["MEAN"] = table.mean()
    print(f"\nPer file: NAB raw score of '{main_run}' (standard profile; perfect = "
          "number of windows), PR-AUC and VUS-PR of the likelihood scores (scored rows):")
    print(table.to_string(float_format="{:.3f}".format))
    print("\nNAB score, threshold optimised over all files (0: never fires, 100: perfect):")
    print(pd.DataFrame(totals).set_index("detector").to_string(float_format="{:.1f}".format))
    htm = [HTM_STANDARD[Path(n).stem] for n in names if Path(n).stem in HTM_STANDARD]
    if len(htm) == len(names):
        n_windows = sum(len(windows[n]) for n in names)
        print(f"Numenta HTM on these files (NAB's published per-file scores): "
              f"{100 * (sum(htm) + n_windows) / (2 * n_windows):.1f}")
    print("Anchors on the full corpus (58 files; these are 28 of them): Numenta HTM 70.1, "
          "CAD OSE 69.9, windowed Gaussian 39.6, best online LSTM about 51.")
    n_points = sum(len(r[0]) for r in runs[f"tsrnn {main_run}"].values())
    batch, stream = np.mean(speeds, axis=0)
    print(f"training + scoring, all runs: {n_points / seconds:,.0f} points/s; scoring only: "
          f"batch {batch:,.0f} points/s, stream {stream:,.0f} points/s (one point a call)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
