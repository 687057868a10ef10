"""NAB (Numenta Anomaly Benchmark) on the 28 labelled series in ../shared/data/nab/.

NAB's online protocol: the probationary period, the first min(15%, 750) rows of a
series, is used for training and never scored; every later score uses only the
past (``decision_function(online=True)``, the same scores the stream gives). With
``--refit-every f`` the detector also keeps learning: at every further fraction f
of the series it is refitted on all rows so far, and scores the rows up to the
next refit. The NAB score's threshold is optimised per profile over all files, as
NAB does.

Each detector is scored raw, then with the detector's post-processing added a step
at a time: the anomaly likelihood, the range check, and an alarm cooldown (its
``alerts=True`` with ``cooldown=0``, ``range_tolerance``, then ``cooldown``); the
rolling z-score baseline gets the same post-processing. ``--calendar none`` drops
the calendar inputs. Prints a per-file table (NAB raw score, PR-AUC, VUS-PR) for tsrnn and the
baseline, the totals of every variant beside Numenta HTM's on the same files,
and points per second for batch and streaming scoring.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nab.py [--files 5] [--score reconstruction]
        [--calendar none] [--seed 1] [--likelihood-average squared]
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


# Numenta HTM's raw NAB score per file (standard, reward_low_FP, reward_low_FN; each
# at its threshold optimised over the whole 58-file corpus), from NAB's published
# results: github.com/numenta/NAB, results/numenta/numenta_*_scores.csv.
HTM = {
    "art_daily_flatmiddle": (0.441, 0.243, 0.441),
    "art_daily_jumpsdown": (0.749, 0.639, 0.749),
    "art_daily_jumpsup": (0.749, 0.639, 0.749),
    "art_daily_no_noise": (0.000, 0.000, 0.000),
    "art_daily_nojump": (-1.000, -1.000, -2.000),
    "art_daily_perfect_square_wave": (0.000, 0.000, 0.000),
    "art_daily_small_noise": (0.000, 0.000, 0.000),
    "art_flatline": (0.000, 0.000, 0.000),
    "art_increase_spike_density": (0.641, 0.421, 0.641),
    "art_load_balancer_spikes": (0.735, 0.515, 0.735),
    "art_noisy": (0.000, 0.000, 0.000),
    "ec2_cpu_utilization_24ae8d": (1.386, 1.056, 1.386),
    "ec2_cpu_utilization_53ea38": (1.304, 0.981, 1.304),
    "ec2_cpu_utilization_5f5533": (1.716, 1.716, 1.716),
    "ec2_cpu_utilization_77c1ca": (0.807, 0.629, 0.807),
    "ec2_cpu_utilization_825cc2": (0.956, 0.956, 0.956),
    "ec2_cpu_utilization_ac20cd": (0.876, 0.876, 0.876),
    "ec2_cpu_utilization_c6585a": (-0.440, -0.880, -0.440),
    "ec2_cpu_utilization_fe7f93": (-1.123, -1.123, -3.123),
    "ec2_disk_write_bytes_1ef3de": (0.812, 0.890, 0.812),
    "ec2_disk_write_bytes_c0d644": (0.501, 0.422, -0.403),
    "ec2_network_in_257a54": (0.855, 0.855, 0.855),
    "ec2_network_in_5abac7": (-0.320, -0.540, -1.320),
    "elb_request_count_8c0756": (1.705, 1.705, 1.705),
    "grok_asg_anomaly": (2.090, 1.480, 2.090),
    "iio_us-east-1_i-a2eb1cd9_NetworkIn": (-2.110, -2.220, -4.110),
    "rds_cpu_utilization_cc0c53": (-0.142, -0.142, -1.142),
    "rds_cpu_utilization_e47b3b": (1.712, 1.712, 1.712),
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


def detector_scores(frame: pd.DataFrame, args, variants: dict
                    ) -> tuple[dict[str, np.ndarray], float, object]:
    """Online scores of every row under each variant's post-processing (a dict of
    detector parameters); the time spent; the last fitted detector."""
    from tsrnn import AnomalyDetector

    n = len(frame)
    first = probation_rows(n)
    cuts = [first]
    if args.refit_every:
        cuts += [int(n * f) for f in np.arange(args.refit_every, 1.0, args.refit_every)
                 if int(n * f) > first]
    cuts.append(n)
    out = {name: np.zeros(n) for name in variants}
    started = time.perf_counter()
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        # Some NAB files skip timestamps: score on the regular grid (gaps
        # interpolated), then read each original timestamp's score back.
        det = AnomalyDetector(args.cell, window=args.window, score=args.score,
                              calendar=None if args.calendar == "none" else args.calendar,
                              max_epochs=args.epochs, random_state=args.seed, val_size=0.2,
                              likelihood_average=args.likelihood_average,
                              resample=True, fill="interpolate")
        det.fit(frame.iloc[:a], time_col="timestamp", target="value")
        part = frame.iloc[:b]
        lo = 0 if a == first else a
        for name, params in variants.items():
            scores = det.set_params(**params).decision_function(part, online=True)
            scores = scores.reindex(pd.DatetimeIndex(part["timestamp"]), method="nearest")
            out[name][lo:b] = scores.to_numpy()[lo:b]
    return out, time.perf_counter() - started, det


def scoring_speed(det, frame: pd.DataFrame) -> tuple[float, float]:
    """Points per second: batch ``decision_function`` and the stream, one point a call."""
    det.set_params(alerts=True, range_tolerance=0.05, cooldown=0).fit_threshold(frame)
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
    parser.add_argument("--calendar", default="auto", help="'auto', 'none', 'day' or 'week'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--likelihood-average", default=None,
                        help="the likelihood's short-term average, 'absolute' or 'squared' "
                        "(default: the detector's), for tsrnn and the baseline")
    parser.add_argument("--cooldown", type=int, default=100,
                        help="steps of alarm cooldown for the '+ cooldown' variants")
    parser.add_argument("--refit-every", type=float, default=0.0,
                        help="keep learning: refit at every such fraction of a series")
    args = parser.parse_args(argv)

    from tsrnn import AnomalyDetector
    from tsrnn.datasets import load_nab, load_nab_labels, nab_files
    from tsrnn.likelihood import post_process, range_breaches  # the detector's own
    from tsrnn.metrics import NAB_PROFILES, nab_benchmark, pr_auc, vus_pr, windows_to_labels

    names = nab_files(args.path)[: args.files]
    windows = load_nab_labels(names, path=args.path)
    tolerance = 0.05  # the detector's default range_tolerance, and HTM's
    if args.likelihood_average is None:
        args.likelihood_average = AnomalyDetector().likelihood_average
    average = args.likelihood_average  # the baseline's post-processing is the detector's
    variants = {  # likelihood, range_tolerance, cooldown
        "raw": (False, None, 0), "likelihood": (True, None, 0),
        "likelihood + range": (True, tolerance, 0),
        "likelihood + range + cooldown": (True, tolerance, args.cooldown)}
    params = {name: dict(alerts=lik, range_tolerance=tol, cooldown=cool)
              for name, (lik, tol, cool) in variants.items()}
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
        ours, took, det = detector_scores(frame, args, params)
        seconds += took
        if len(speeds) < 3:  # three files are plenty for a rate
            speeds.append(scoring_speed(det, frame))
        base = rolling_zscore(frame["value"].to_numpy())
        row = {"file": name}
        for variant, (likelihood, tol, cooldown) in variants.items():
            breaches = None if tol is None else range_breaches(frame["value"].to_numpy(), tol)
            z = post_process(base, likelihood=likelihood, cooldown=cooldown, breaches=breaches,
                             average=average)
            for who, s in (("tsrnn", ours[variant]), ("z-score", z)):
                runs.setdefault(f"{who} {variant}", {})[name] = (times, s, windows[name])
                if variant == "likelihood + range" and labels[scored].any():
                    row[f"{who} PR-AUC"] = pr_auc(labels[scored], s[scored])
                    row[f"{who} VUS-PR"] = vus_pr(labels[scored], s[scored])
        rows.append(row)
        print(f"{name}: {took:.1f} s", flush=True)

    main_run = "likelihood + range + cooldown"
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
        table.loc[name, "HTM NAB raw"] = HTM.get(Path(name).stem, (np.nan,))[0]
    columns = [f"{who} {m}" for who in ("tsrnn", "z-score")
               for m in ("NAB raw", "PR-AUC", "VUS-PR")] + ["HTM NAB raw"]
    table = table.reindex(columns=columns)
    table.index = [name.split("/")[-1][:38] for name in table.index]
    table.loc["MEAN"] = table.mean()
    print(f"\nPer file: NAB raw score of '{main_run}' (standard profile; perfect = "
          "number of windows), PR-AUC and VUS-PR of the likelihood + range scores (scored rows):")
    print(table.to_string(float_format="{:.3f}".format))
    print("\nNAB score, threshold optimised over all files (0: never fires, 100: perfect):")
    print(pd.DataFrame(totals).set_index("detector").to_string(float_format="{:.1f}".format))
    if all(Path(n).stem in HTM for n in names):
        n_windows = sum(len(windows[n]) for n in names)
        scores = []
        for k, profile in enumerate(("standard", "reward_low_FP", "reward_low_FN")):
            raw = sum(HTM[Path(n).stem][k] for n in names)
            null = -NAB_PROFILES[profile]["fn"] * n_windows  # as nab_benchmark normalises
            scores.append(f"{100 * (raw - null) / (n_windows - null):.1f}")
        print("Numenta HTM on these files (NAB's published per-file scores), standard / "
              f"low FP / low FN: {' / '.join(scores)}")
    print("Anchors on the full corpus (58 files; these are 28 of them): Numenta HTM 70.1, "
          "CAD OSE 69.9, windowed Gaussian 39.6, best online LSTM about 51.")
    n_points = sum(len(r[0]) for r in runs[f"tsrnn {main_run}"].values())
    batch, stream = np.mean(speeds, axis=0)
    print(f"training + scoring, all runs: {n_points / seconds:,.0f} points/s; scoring only: "
          f"batch {batch:,.0f} points/s, stream {stream:,.0f} points/s (one point a call)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
