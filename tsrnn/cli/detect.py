"""``tsrnn detect``: score every row of a CSV file for anomalies."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tsrnn.cli._config import _training_flags
from tsrnn.cli._engine import engine_options, for_each_file
from tsrnn.cli._options import (
    UsageError,
    at_least,
    column_options,
    common_options,
    file_arguments,
    fraction,
    training_options,
)
from tsrnn.cli._runs import (
    _fit,
    _prepare,
    _print_metrics,
    _read,
    _regular,
    _Run,
    _save_figure,
    _summary,
    _times,
    _use,
    _write_frame,
)

EXAMPLES = """\
examples (on the sample data; `tsrnn datasets list` shows it):
  tsrnn datasets export sensors sensors.csv      # 4 hourly sensors, labelled anomalies
  tsrnn detect sensors.csv --time-col timestamp --id-col sensor --target value \\
      --out scores.csv --plot anomalies.png --save-model detector.tsrnn
  tsrnn detect sensors.csv --model detector.tsrnn --out scores.csv
  tsrnn detect sensors.csv --id-col sensor --target value --label-col is_anomaly \\
      --out scores.csv      # also prints ROC-AUC, PR-AUC, F1 against the labels
  tsrnn datasets export sensors-wide sensors-wide.csv
  mkdir -p csvs && cp sensors-wide.csv csvs/     # a folder of CSV files
  tsrnn detect csvs/ --target sensor_1 --window 32 --out scores/

Files with gaps in their time axis are resampled onto their regular grid, the
empty steps interpolated, with a warning; --no-resample refuses them instead.
An input column named score or label is never overwritten: the outputs are then
called anomaly_score and predicted_label.
"""


def add_parser(command) -> None:
    """Add ``tsrnn detect`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    parents = [common_options(), column_options(), training_options(), engine_options()]
    p = command("detect", "Score every row of a CSV file (or of every CSV file in a folder) "
                "for anomalies: a score and a 0/1 label per row.", parents, EXAMPLES)
    file_arguments(
        p, out="scored CSV: the input rows plus score and label ('-': standard output); "
        "a folder for a folder of inputs",
        model="score with this saved detector: no training",
        save_model="save the trained detector (a folder for a folder of inputs)",
        plot="draw the series with flagged regions and the score with its threshold to "
        "this PNG (a folder for a folder of inputs)")
    p.add_argument("--label-col", help="0/1 column of known anomalies: left out of the "
                   "signals, and detection metrics are printed")
    p.add_argument("--online", action="store_true", help="score each row from the rows "
                   "before it only, as `tsrnn stream` does")
    g = p.add_argument_group("detector")
    g.add_argument("--window", type=at_least(2), help="steps per window")
    g.add_argument("--contamination", type=fraction, help="expected fraction of anomalies")
    g.add_argument("--threshold", choices=["quantile", "pot"], help="how the threshold is "
                   "set: from --contamination, or peaks over threshold")
    g.add_argument("--alerts", action="store_true", default=None, help="alerting scores "
                   "(anomaly likelihood, range check, cooldown: one alarm per incident) "
                   "instead of ranking scores")
    p.set_defaults(run=run_detect)


def run_detect(args) -> int:
    """``tsrnn detect``: train (or load) a detector and score every row of each file."""
    if args.threshold == "pot" and args.contamination is not None:
        raise UsageError("--contamination sets the quantile threshold; --threshold pot fits "
                         "the scores' tail instead and would ignore it: give one of the two")
    flags = _training_flags(args, window=args.window, contamination=args.contamination,
                            threshold=args.threshold, alerts=args.alerts)
    run = _prepare(args, "detect", flags)
    _check_label_col(run)
    results = for_each_file(run, _detect_file, "scoring")
    if not run.folder and results[0]["result"] == "ok":
        r = results[0]
        run.say(f"wrote {r['detail']} ({r['rows']} rows, {r['flagged']} flagged)")
        if "pr_auc" in r:
            _print_metrics(r, run.info)
    return _summary(run, results, ["rows", "flagged", "roc_auc", "pr_auc", "f1"])


def _check_label_col(run: _Run) -> None:
    """The label column is left out of the signals: one that is also the time, id
    or a target column would be missing from them, and the library would say only
    that (a column 'is not in the DataFrame')."""
    label_col = run.args.label_col
    if label_col is None:
        return
    roles = run.model.roles_ if run.model is not None else run.columns
    for key, flag in (("time_col", "--time-col"), ("id_col", "--id-col"), ("target", "--target")):
        named = roles.get(key)
        if label_col in (named if isinstance(named, list) else [named]):
            where = f"the model's {key}" if run.model is not None else flag
            raise UsageError(f"--label-col {label_col} is also {where}: the labels are left "
                             "out of the signals, so name another column")


def _labels(df, label_col, path: Path):
    """The 0/1 truth column; anything else (an empty cell, ``yes``) is named, with
    its row, rather than turned into a label silently."""
    import numpy as np
    import pandas as pd

    from tsrnn.data import DataError

    if label_col not in df:
        raise DataError(f"label column {label_col!r} not in {path}; columns are "
                        f"{list(df.columns)}")
    column = df[label_col]
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy().astype(np.int64)
    numbers = pd.to_numeric(column, errors="coerce")
    bad = ~numbers.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        value = column.iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        shown = "is empty" if pd.isna(value) else f"holds {value!r}"
        raise DataError(f"--label-col {label_col!r} must hold 0 or 1 in every row; data row "
                        f"{row + 1} (line {row + 2}) {shown}")
    return numbers.to_numpy().astype(np.int64)


def _output_columns(df) -> tuple[str, str]:
    """Names for the score and the 0/1 prediction: ``score`` and ``label``, unless
    the input has such columns (``label`` is a usual name for the truth), which an
    output must never overwrite."""
    def free(*names: str) -> str:
        for name in names:
            if name not in df.columns:
                return name
        k = 2
        while f"{names[-1]}_{k}" in df.columns:
            k += 1
        return f"{names[-1]}_{k}"

    return free("score", "anomaly_score", "tsrnn_score"), free("label", "predicted_label",
                                                               "tsrnn_label")


def _detect_file(run: _Run, path: Path) -> dict:
    from tsrnn import AnomalyDetector
    args = run.args
    df = _read(run, path)
    truth = None if args.label_col is None else _labels(df, args.label_col, path)
    if truth is not None and len(set(truth.tolist())) < 2:
        # Scores are still worth having; metrics against one class are undefined.
        run.warn(path, f"--label-col {args.label_col!r} holds "
                       f"{'no anomaly (no 1)' if truth.max(initial=0) == 0 else 'no 0'}: "
                       "no detection metrics")
        truth = None
    signals = df if args.label_col is None else df.drop(columns=[args.label_col])
    model = run.model
    if model is None:
        run.say(f"training an anomaly detector on {path} ({len(df):,} rows)")
        model = _regular(run, path, lambda extra: _fit(
            AnomalyDetector(**{**run.params, **extra}), signals, run.columns,
            progress=not (args.quiet or run.folder)))
    scores = _regular(run, path, lambda extra: _use(
        model, extra, lambda m: m.decision_function(signals, online=args.online)))
    score_col, label_col = _output_columns(df)
    if (score_col, label_col) != ("score", "label") and not run.folder:
        run.say(f"the input has a column named {'score' if score_col != 'score' else 'label'}"
                f": the outputs are {score_col!r} and {label_col!r}")
    scored = _scored_frame(df, scores, model, score_col, label_col)
    written = _write_frame(run, scored, args.out, path, ".csv")
    if args.plot is not None:
        from tsrnn.plotting import plot_anomalies

        roles = model.roles_
        fig = plot_anomalies(scored, target=model.target_names_[0], time_col=roles["time_col"],
                             id_col=roles["id_col"], threshold=model.threshold_,
                             score_col=score_col, label_col=label_col,
                             truth_col=args.label_col)
        _save_figure(fig, run.output(args.plot, path, ".png"))
    if args.save_model is not None:
        model.save(run.output(args.save_model, path, ".tsrnn"))
    result = {"rows": len(scored), "flagged": int(scored[label_col].sum()), "detail": written}
    if truth is not None:
        result.update(_file_metrics(scored, truth, args.label_col, path, score_col, label_col))
    return result


def _file_metrics(scored, truth, truth_col, path: Path, score_col: str = "score",
                  label_col: str = "label") -> dict[str, float]:
    """:func:`_detection_metrics` over the file's rows of ``scored`` (a
    :func:`_scored_frame`). Resampled, the scored rows are the grid's: the file's
    rows are those that carry its labels, the filled steps carry none."""
    rows = scored[truth_col].notna().to_numpy()
    if len(truth) != len(scored):
        truth = _labels(scored[rows], truth_col, path)
    return _detection_metrics(truth, scored[score_col].to_numpy()[rows],
                              scored[label_col].to_numpy()[rows])


def _scored_frame(df, scores, model, score_col: str = "score", label_col: str = "label"):
    """The input rows plus the score and the 0/1 label (1 = anomaly), in new columns
    (see :func:`_output_columns`)."""
    import pandas as pd

    threshold, roles = model.threshold_, model.roles_
    labels = (scores > threshold).astype("int64")
    if scores.index.equals(df.index):
        out = df.copy()
        out[score_col], out[label_col] = scores.to_numpy(), labels.to_numpy()
        return out
    # resample=True scores the regular grid, not the file's rows: one row per grid
    # step, with the file's first row inside that step, or empty where the grid filled
    # a gap.
    time_col = roles["time_col"] or "timestamp"
    keys = [k for k in (roles["id_col"], time_col) if k is not None]
    grid = scores.to_frame(score_col).assign(**{label_col: labels}).reset_index()
    grid.columns = keys + [score_col, label_col]
    times = _times(df, model)
    if isinstance(model.freq_, pd.offsets.BaseOffset):
        # Calendar frequencies (month starts, ...) have no floor: keep exact times.
        with contextlib.suppress(ValueError, TypeError):
            times = pd.DatetimeIndex(times).floor(model.freq_)  # the step each row is in
    rows = df.assign(**{time_col: times})
    rows = rows.drop_duplicates(subset=keys)
    out = grid.merge(rows, on=keys, how="left")
    return out[[*rows.columns, score_col, label_col]]


def _detection_metrics(truth, scores, flagged) -> dict[str, float]:
    """Threshold-free ranking metrics, and precision/recall/F1 of the 0/1 labels."""
    import numpy as np

    from tsrnn.metrics import best_f1, pr_auc, roc_auc, vus_pr

    truth = np.asarray(truth)
    scores = np.asarray(scores, dtype=np.float64)
    infinite = np.isposinf(scores)
    if infinite.any():
        # A value beyond float32's reach scores inf (the metrics refuse it): they
        # compare ranks only, so the next number above every finite score stands in.
        finite = scores[~infinite]
        top = np.nextafter(finite.max(), np.inf) if finite.size else 0.0
        scores = np.where(infinite, top, scores)
    hits = int(((flagged == 1) & (truth == 1)).sum())
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(int(truth.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"roc_auc": roc_auc(truth, scores), "pr_auc": pr_auc(truth, scores),
            "vus_pr": vus_pr(truth, scores), "best_f1": best_f1(truth, scores)[0],
            "precision": precision, "recall": recall, "f1": f1,
            "labelled_share": float(truth.mean())}
