"""Bad inputs, as a new user would give them: estimator parameters, frames, stream
points and command lines. Each expects a clear error naming the culprit, or the
documented correct behaviour."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from .core import Behaviour, Case, CliResult, Error, denied_writes

SUITE = "bad_inputs"
CASES: list[Case] = []


def add(id: str, run, *culprit, warn_ok=False, check=None) -> None:
    CASES.append(Case(id, SUITE, run, Error(tuple(culprit), warn_ok, check)))


def good(id: str, run, check) -> None:
    CASES.append(Case(id, SUITE, run, Behaviour(check)))


# ----------------------------------------------------------- estimator params
def _fparam(name, value, *culprit, **also):
    add(f"forecaster-param-{name}={value!r}",
        lambda ctx: ctx.forecaster(**also, **{name: value}).fit(ctx.wide()),
        *(culprit or (name,)))


def _dparam(name, value, *culprit, **also):
    add(f"detector-param-{name}={value!r}",
        lambda ctx: ctx.detector(**also, **{name: value}).fit(ctx.wide()),
        *(culprit or (name,)))


def _seqs(ctx, n=12):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 10, 2)), np.arange(n) % 2


def _cparam(name, value, *culprit):
    def run(ctx):
        from tsrnn import SequenceClassifier

        X, y = _seqs(ctx)
        return SequenceClassifier(**{"hidden_size": 4, "max_epochs": 1, "accelerator": "cpu",
                                     "random_state": 0, name: value}).fit(X, y)
    add(f"classifier-param-{name}={value!r}", run, *(culprit or (name,)))


for _name, _value in [
    ("lr", -1), ("lr", "fast"), ("lr", 0), ("gradient_clip", -1.0), ("patience", -1),
    ("max_epochs", 0), ("batch_size", 0), ("hidden_size", 0), ("hidden_size", -3),
    ("hidden_size", 2.5), ("hidden_size", "big"), ("num_layers", 0), ("dropout", 1.5),
    ("dropout", -0.1), ("input_len", 0), ("horizon", 0), ("horizon", -2), ("cell", "foo"),
    ("cell", "LSTM"), ("precision", "bogus"), ("random_state", "abc"),
    ("quantiles", [0.5, 1.5]), ("quantiles", [0.9, 0.1]),
    ("quantiles", []), ("loss", "l3"), ("strategy", "sideways"), ("segment_len", 0),
    ("segment_len", 100), ("window_norm", "median"), ("scaler", "zscore"),
    ("val_size", 1.5), ("val_size", -0.1), ("lr_scheduler", "step"), ("fill", "zero"),
    ("model", "transformer"), ("attention", "cosine"),
    ("nonlinearity", "sigmoid"), ("bidirectional", "no"), ("channel_independent", "yes"),
    ("recurrent_dropout", 1.0), ("devices", 0), ("devices", "many"),
]:
    _fparam(_name, _value)

_fparam("trainer_kwargs", {"max_epoch": 3}, "max_epoch", "max_epochs")
_fparam("trainer_kwargs", "x")
_fparam("teacher_forcing", 2.0, model="seq2seq")
_fparam("accelerator", "gpu")
_fparam("accelerator", "quantum")
# The parameters this catalogue did not know yet: ensembles, calendar inputs, DDP.
for _name, _value in [("n_models", 0), ("n_models", 2.5), ("calendar", "moon"),
                      ("distributed", "horovod"), ("distributed", "ddp")]:
    _fparam(_name, _value)

for _name, _value in [
    ("contamination", 2), ("contamination", 0), ("contamination", -0.1), ("window", 1),
    ("window", 0), ("window", "long"), ("score", "magic"), ("threshold", "otsu"),
    ("n_models", 0), ("smoothing", -1), ("cooldown", -5),
    ("likelihood_window", 0), ("likelihood_history", 1), ("range_tolerance", -1),
    ("alerts", "yes"), ("calendar", "weekday-ish"), ("scaler", "zscore"), ("lr", -1),
    ("patience", -1), ("dropout", 1.5), ("max_epochs", 0), ("hidden_size", 0),
    ("cell", "foo"), ("val_size", 2.0), ("gradient_clip", -1.0),
]:
    _dparam(_name, _value)
_dparam("risk", 0.5, threshold="pot")
_dparam("distributed", "dp")
_dparam("distributed", "ddp_spawn", "stateful", stateful=True, devices=2)
_dparam("trainer_kwargs", {"max_epoch": 3}, "max_epoch", "max_epochs")

for _name, _value in [("lr", -1), ("hidden_size", 0), ("output", "all"), ("tbptt_steps", 0),
                      ("cell", "foo"), ("scaler", "zscore"), ("val_size", 1.5),
                      ("embedding_dim", 0), ("dropout", 1.5), ("distributed", "fsdp")]:
    _cparam(_name, _value)


# ------------------------------------------------------------------- frames
def _fit(frame_fn, *culprit, est="f", warn_ok=False, **kw):
    def run(ctx):
        model = ctx.forecaster() if est == "f" else ctx.detector()
        return model.fit(frame_fn(ctx), **kw)
    return run


def _wide_with(values, index=None):
    return lambda ctx: pd.DataFrame({"y": values}, index=index if index is not None else
                                    pd.date_range("2024-01-01", periods=len(values), freq="h"))


def _series(n=80):
    return 10 + np.sin(np.arange(n) / 3)


add("fit-empty-frame", _fit(lambda ctx: pd.DataFrame()), ("empty", "no rows"))
add("fit-empty-rows", _fit(lambda ctx: ctx.wide().iloc[:0]), ("empty", "no rows"))
add("fit-not-a-frame-array", lambda ctx: ctx.forecaster().fit(_series()), "DataFrame")
add("fit-none", lambda ctx: ctx.forecaster().fit(None), "DataFrame")
add("fit-missing-target", _fit(lambda ctx: ctx.wide(), target="nope"), "nope")
add("fit-missing-time-col", _fit(lambda ctx: ctx.wide(), time_col="when"), "when")
add("fit-missing-id-col", _fit(lambda ctx: ctx.wide(), id_col="sensor"), "sensor")
add("fit-duplicate-columns",
    _fit(lambda ctx: pd.concat([ctx.wide(), ctx.wide()], axis=1)), "y", "more than once")
add("fit-multiindex-rows",
    _fit(lambda ctx: ctx.wide().set_index(
        pd.MultiIndex.from_arrays([["a"] * 80, pd.date_range("2024", periods=80, freq="h")]))),
    ("MultiIndex", "index", "id_col"))
add("fit-multiindex-columns",
    _fit(lambda ctx: pd.DataFrame(ctx.wide().to_numpy(), index=ctx.wide().index,
                                  columns=pd.MultiIndex.from_tuples([("a", "y")]))),
    ("MultiIndex", "column"))
add("fit-all-nan-target", _fit(_wide_with(np.full(80, np.nan))), "y")
add("fit-one-nan", _fit(_wide_with(np.where(np.arange(80) == 40, np.nan, _series()))), "y")
add("fit-inf-value", _fit(_wide_with(np.where(np.arange(80) == 40, np.inf, _series()))),
    "y", "infinite")
add("fit-beyond-float32", _fit(_wide_with(np.where(np.arange(80) == 40, 1e39, _series()))),
    "y", "float32")
add("fit-huge-int64-daily", _fit(_wide_with(
    (2**62 + (np.arange(80) % 24) * 1000).astype(np.int64))), "y",
    ("float32", "precision", "large"), warn_ok=True)
add("fit-strings-in-target", _fit(_wide_with(np.where(np.arange(80) == 7, "n/a",
                                                       _series().astype(str)).astype(object))),
    "y")
add("fit-unsorted-times", _fit(lambda ctx: ctx.wide().iloc[::-1]),
    ("order", "sorted", "increasing", "after"))
add("fit-duplicate-times", _fit(lambda ctx: ctx.wide().set_index(
    ctx.wide().index.where(np.arange(80) != 11, ctx.wide().index[10]))), ("duplicate",))
add("fit-too-few-rows", _fit(lambda ctx: ctx.wide(n=6)), ("input_len", "rows", "short"))
add("detector-fit-too-few-rows", _fit(lambda ctx: ctx.wide(n=6), est="d"),
    ("window", "rows", "short"))
add("fit-gap-in-regular-series", _fit(lambda ctx: ctx.wide().drop(ctx.wide().index[30])),
    "gap", "resample")
add("fit-mixed-frequencies", _fit(lambda ctx: pd.concat([
    ctx.wide(n=40), ctx.wide(n=40).set_index(pd.date_range("2024-01-03", periods=40,
                                                           freq="15min"))])),
    ("freq", "spacing", "gap", "irregular"))
add("fit-target-is-time-col", _fit(lambda ctx: ctx.wide().reset_index(names="ts"),
                                   time_col="ts", target="ts"), "ts")
add("fit-past-covariate-missing", _fit(lambda ctx: ctx.wide(), past_covariates=["temp"]),
    "temp")
add("fit-future-covariate-is-target", _fit(lambda ctx: ctx.wide(), future_covariates=["y"]),
    "y")
add("fit-target-as-int-label", _fit(lambda ctx: ctx.wide(), target=0), "0")
add("fit-unparseable-time-col", _fit(lambda ctx: ctx.wide().reset_index(drop=True).assign(
    ts=["not a date"] * 80), time_col="ts"), "ts")
add("fit-mixed-tz-times", _fit(lambda ctx: ctx.wide().reset_index(names="ts").assign(
    ts=lambda d: [str(t) + ("+02:00" if i % 2 else "") for i, t in enumerate(d.ts)]),
    time_col="ts"), "ts", ("timezone", "tz"))
add("fit-id-col-with-nan", _fit(lambda ctx: ctx.sensors().drop(columns="is_anomaly").assign(
    sensor=lambda d: d.sensor.where(d.index != 5)), time_col="timestamp", id_col="sensor",
    target="value"), "sensor")
add("fit-one-series-too-short", _fit(lambda ctx: pd.concat([
    ctx.sensors().drop(columns="is_anomaly"),
    ctx.sensors(n=5).drop(columns="is_anomaly").assign(sensor="tiny")]),
    time_col="timestamp", id_col="sensor", target="value"), "tiny")
add("detector-fit-strings", _fit(_wide_with(np.array(["a"] * 80, dtype=object)), est="d"),
    "y")
add("detector-fit-all-nan", _fit(_wide_with(np.full(80, np.nan)), est="d"), "y")
add("detector-fit-missing-target", _fit(lambda ctx: ctx.wide(), est="d", target="nope"),
    "nope")


def _tz_fit_naive_predict(ctx):
    df = ctx.wide()
    model = ctx.forecaster().fit(df.tz_localize("UTC"))
    return model.predict(df)


def _tz_fit_naive_score(ctx):
    df = ctx.wide()
    model = ctx.detector().fit(df.tz_localize("UTC"))
    return model.decision_function(df)


add("predict-tz-naive-after-tz-aware-fit", _tz_fit_naive_predict, ("timezone", "tz"))
add("score-tz-naive-after-tz-aware-fit", _tz_fit_naive_score, ("timezone", "tz"))
add("predict-integer-times-for-datetime-model",
    lambda ctx: ctx.fitted_forecaster.predict(ctx.wide().reset_index(drop=True)),
    ("time", "datetime", "index"))
add("predict-missing-column",
    lambda ctx: ctx.fitted_forecaster.predict(ctx.wide().rename(columns={"y": "Y"})), "y")
add("predict-too-short",
    lambda ctx: ctx.fitted_forecaster.predict(ctx.wide().iloc[:3]), ("input_len", "rows"))
add("predict-strings", lambda ctx: ctx.fitted_forecaster.predict(
    ctx.wide().astype(str)), "y")
add("predict-nan-in-context", lambda ctx: ctx.fitted_forecaster.predict(
    ctx.wide().assign(y=lambda d: d.y.where(np.arange(80) != 78))), "y")
add("predict-other-frequency", lambda ctx: ctx.fitted_forecaster.predict(
    ctx.wide().set_index(pd.date_range("2024", periods=80, freq="D"))),
    ("freq", "daily", "hour", "spacing"))
add("predict-not-a-frame", lambda ctx: ctx.fitted_forecaster.predict(_series()), "DataFrame")
add("predict-before-fit", lambda ctx: ctx.forecaster().predict(ctx.wide()), "fit")
add("score-before-fit", lambda ctx: ctx.detector().decision_function(ctx.wide()), "fit")
add("stream-before-fit", lambda ctx: ctx.detector().stream(), "fit")
add("score-missing-column", lambda ctx: ctx.fitted_detector.decision_function(
    ctx.wide().rename(columns={"y": "Y"})), "y")
add("score-inf", lambda ctx: ctx.fitted_detector.decision_function(
    ctx.wide().assign(y=lambda d: d.y.where(np.arange(80) != 5, np.inf))), "y")
add("score-too-short", lambda ctx: ctx.fitted_detector.decision_function(ctx.wide().iloc[:3]),
    ("window", "rows"))
add("score-after-bad-set-params", lambda ctx: ctx.fitted_detector.__class__.load(
    ctx.detector_file).set_params(smoothing=-1).decision_function(
    ctx.sensors().drop(columns="is_anomaly")), "smoothing")
add("historical-forecasts-start-1.5", lambda ctx: ctx.fitted_forecaster.historical_forecasts(
    ctx.wide(), start=1.5), "start")
add("historical-forecasts-stride-0", lambda ctx: ctx.fitted_forecaster.historical_forecasts(
    ctx.wide(), stride=0), "stride")
add("historical-forecasts-start-after-end",
    lambda ctx: ctx.fitted_forecaster.historical_forecasts(ctx.wide(), start="2030-01-01"),
    "start")
add("save-to-missing-folder", lambda ctx: ctx.fitted_forecaster.save(
    ctx.tmp() / "no" / "such" / "m.tsrnn"), "no")
add("load-missing-file", lambda ctx: ctx.fitted_forecaster.__class__.load(
    ctx.tmp() / "missing.tsrnn"), "missing.tsrnn")
add("read-model-folder", lambda ctx: __import__("tsrnn.files").files.read_model(ctx.tmp()),
    "case-")
add("classifier-one-class", lambda ctx: __import__("tsrnn").SequenceClassifier(
    hidden_size=4, max_epochs=1, accelerator="cpu").fit(_seqs(ctx)[0], np.zeros(12)),
    "class")
add("classifier-y-wrong-length", lambda ctx: __import__("tsrnn").SequenceClassifier(
    hidden_size=4, max_epochs=1, accelerator="cpu").fit(_seqs(ctx)[0], np.arange(5) % 2),
    "y")
add("classifier-4d-X", lambda ctx: __import__("tsrnn").SequenceClassifier(
    hidden_size=4, max_epochs=1, accelerator="cpu").fit(_seqs(ctx)[0][..., None],
                                                        np.arange(12) % 2), "3-D")
add("classifier-nan-X", lambda ctx: __import__("tsrnn").SequenceClassifier(
    hidden_size=4, max_epochs=1, accelerator="cpu").fit(
    np.where(_seqs(ctx)[0] > 2, np.nan, _seqs(ctx)[0]), np.arange(12) % 2),
    ("missing", "nan"))


# ------------------------------------------------------------------ streams
# Every case for the windowed stream and, as "stateful-stream-...", for the
# stateful one (a detector fitted with stateful=True): the two share their rules.
def _stream(ctx, stateful: bool):
    return (ctx.stateful_detector if stateful else ctx.long_detector).stream()


def _feed(*points, stateful: bool = False):
    """Points (timestamp, value, series) into a fresh stream of the two sensors."""
    def run(ctx):
        s = _stream(ctx, stateful)
        out = None
        for t, v, sid in points:
            out = s.update(t, v, series=sid)
        return out
    return run


def _joins_warming_up(result, ctx):
    # A sensor unseen at fit joins (issue 14): scaled by its own first points, so
    # it is not ready, and scores 0, until it has enough of them.
    assert result.series == ["s9"] and not result.ready[0] and result.score[0] == 0, result


def _one_series_scored(result, ctx):
    assert result.series == ["s0"] and len(result.score) == 1, result


T0 = "2024-01-10 00:00:00"
for _prefix, _stateful in (("", False), ("stateful-", True)):
    def _f(*points, _stateful=_stateful):
        return _feed(*points, stateful=_stateful)

    def _name(case: str, _prefix=_prefix) -> str:
        return f"{_prefix}stream-{case}"

    add(_name("value-abc"), _f((T0, ["abc"], ["s0"])), ("value", "number"))
    add(_name("timestamp-not-a-date"), _f(("not a date", [1.0], ["s0"])),
        ("timestamp", "not a date"))
    add(_name("integer-epoch-fresh"), _f((1704844800, [1.0], ["s0"])),
        ("timestamp", "1704844800"))
    add(_name("integer-epoch-after-datetimes"),
        _f((T0, [1.0], ["s0"]), (1704848400, [1.0], ["s0"])), ("timestamp", "1704848400"))
    add(_name("duplicate-series-in-one-call"), _f((T0, [[1.0], [2.0]], ["s0", "s0"])),
        "s0", ("twice", "duplicate", "more than once"))
    add(_name("nan-value"), _f((T0, [float("nan")], ["s0"])), "value", "s0")
    good(_name("unknown-series"), _f((T0, [1.0], ["s9"])), _joins_warming_up)
    add(_name("out-of-order"), _f((T0, [1.0], ["s0"]), ("2024-01-09 23:00:00", [1.0], ["s0"])),
        "not after")
    add(_name("wrong-shape"), _f((T0, [1.0, 2.0, 3.0], ["s0"])), ("shape", "values"))
    add(_name("no-series-for-one-row"), _f((T0, [1.0], None)), "series")
    add(_name("tz-after-naive"),
        _f((T0, [1.0], ["s0"]), ("2024-01-10 01:00:00+00:00", [1.0], ["s0"])), "timezone")
    add(_name("none-timestamp"), _f((None, [1.0], ["s0"])), "timestamp")
    good(_name("series-as-string"), _f((T0, [1.0], "s0")), _one_series_scored)


# ------------------------------------------------------------- command line
def _csv(ctx, frame: pd.DataFrame, name="d.csv", **kw) -> Path:
    path = ctx.tmp() / name
    frame.to_csv(path, index=False, **kw)
    return path


FAST = ["--hidden-size", "4", "--epochs", "1", "--set", "batch_size=16", "--set",
        "accelerator='cpu'", "-q"]
COLS = ["--time-col", "timestamp", "--id-col", "sensor", "--target", "value"]
FC = [*COLS, "--input-len", "8", "--horizon", "2", *FAST]
DT = [*COLS, "--window", "8", "--set", "n_models=1", *FAST]


def cli(id, argv_fn, *culprit, stdin=None, check=None):
    add(id, lambda ctx: ctx.cli(*argv_fn(ctx), stdin=stdin), *culprit, check=check)


def cli_ok(id, argv_fn, check, stdin=None):
    good(id, lambda ctx: ctx.cli(*argv_fn(ctx), stdin=stdin), check)


def _fc(ctx, *more):
    return ["forecast", ctx.sensors_csv, *FC, "--out", ctx.tmp() / "f.csv", *more]


def _dt(ctx, *more):
    return ["detect", ctx.sensors_csv, *DT, "--out", ctx.tmp() / "s.csv", *more]


# The flags this catalogue did not know yet: DDP, engines, ensembles.
cli("cli-forecast-distributed-horovod", lambda ctx: _fc(ctx, "--distributed", "horovod"),
    "--distributed")
cli("cli-forecast-devices-zero", lambda ctx: _fc(ctx, "--devices", "0"), "--devices")
cli("cli-detect-engine-spark", lambda ctx: _dt(ctx, "--engine", "spark"), "--engine")
cli("cli-detect-engine-ray-one-file", lambda ctx: _dt(ctx, "--engine", "ray"), "--engine")
cli("cli-forecast-ray-address-without-ray", lambda ctx: _fc(ctx, "--ray-address", "auto"),
    "--ray-address")

cli("cli-forecast-missing-file", lambda ctx: ["forecast", ctx.tmp() / "nope.csv", "--out",
                                              ctx.tmp() / "f.csv"], "nope.csv")
cli("cli-forecast-folder-without-csv", lambda ctx: ["forecast", ctx.tmp(), "--out",
                                                    ctx.tmp() / "f.csv"], ".csv", "case-")
cli("cli-forecast-model-is-folder", lambda ctx: ["forecast", ctx.sensors_csv, "--model",
                                                 ctx.tmp(), "--out", ctx.tmp() / "f.csv"],
    "case-", ("folder", "directory"))
cli("cli-forecast-model-missing", lambda ctx: ["forecast", ctx.sensors_csv, "--model",
                                               ctx.tmp() / "m.tsrnn", "--out",
                                               ctx.tmp() / "f.csv"], "m.tsrnn")
cli("cli-forecast-model-is-csv", lambda ctx: ["forecast", ctx.sensors_csv, "--model",
                                              ctx.sensors_csv, "--out", ctx.tmp() / "f.csv"],
    "sensors.csv")
cli("cli-forecast-with-detector-model", lambda ctx: [
    "forecast", ctx.sensors_csv, "--model", ctx.detector_file, "--out", ctx.tmp() / "f.csv"],
    "detector.tsrnn", "Forecaster")
cli("cli-detect-with-forecaster-model", lambda ctx: [
    "detect", ctx.sensors_csv, "--model", ctx.forecaster_file, "--out", ctx.tmp() / "s.csv"],
    "forecaster.tsrnn", "AnomalyDetector")
cli("cli-forecast-out-missing-folder", lambda ctx: _fc(ctx)[:-1] + [ctx.tmp() / "x" / "f.csv"],
    "--out")
cli("cli-forecast-out-is-input", lambda ctx: _fc(ctx)[:-1] + [ctx.sensors_csv], "--out",
    "sensors.csv")
cli("cli-forecast-save-model-is-input", lambda ctx: _fc(ctx, "--save-model", ctx.sensors_csv),
    "--save-model")
cli("cli-forecast-horizon-0", lambda ctx: _fc(ctx, "--horizon", "0"), "--horizon")
cli("cli-forecast-horizon-negative", lambda ctx: _fc(ctx, "--horizon", "-1"), "--horizon")
cli("cli-forecast-horizon-word", lambda ctx: _fc(ctx, "--horizon", "ten"), "--horizon")
cli("cli-forecast-input-len-0", lambda ctx: _fc(ctx, "--input-len", "0"), "--input-len")
cli("cli-forecast-hidden-size-0", lambda ctx: _fc(ctx, "--hidden-size", "0"), "--hidden-size")
cli("cli-forecast-epochs-0", lambda ctx: _fc(ctx, "--epochs", "0"), "--epochs")
cli("cli-forecast-n-models-0", lambda ctx: _fc(ctx, "--n-models", "0"), "--n-models")
cli("cli-forecast-seed-negative", lambda ctx: _fc(ctx, "--seed", "-1"), "--seed")
cli("cli-detect-window-0", lambda ctx: _dt(ctx, "--window", "0"), "--window")
cli("cli-forecast-quantiles-1.5", lambda ctx: _fc(ctx, "--quantiles", "0.5,1.5"), "quantiles")
cli("cli-forecast-quantiles-words", lambda ctx: _fc(ctx, "--quantiles", "low,high"),
    "--quantiles")
cli("cli-forecast-cell-foo", lambda ctx: _fc(ctx, "--cell", "foo"), "--cell")
cli("cli-forecast-set-lr-negative", lambda ctx: _fc(ctx, "--set", "lr=-1"),
    ("lr", "learning rate"))
cli("cli-forecast-set-unknown", lambda ctx: _fc(ctx, "--set", "hiden_size=8"), "hiden_size",
    "hidden_size")
cli("cli-forecast-set-no-equals", lambda ctx: _fc(ctx, "--set", "lr"), "--set")
cli("cli-forecast-set-cell-foo", lambda ctx: _fc(ctx, "--set", "cell=foo"), "cell")
cli("cli-forecast-set-trainer-kwargs-typo", lambda ctx: _fc(
    ctx, "--set", "trainer_kwargs={'max_epoch': 3}"), "max_epoch")
cli("cli-forecast-set-accelerator-gpu", lambda ctx: _fc(ctx, "--set", "accelerator=gpu"),
    ("accelerator", "gpu"))
cli("cli-forecast-missing-target", lambda ctx: [
    "forecast", ctx.sensors_csv, "--id-col", "sensor", "--target", "valu", "--out",
    ctx.tmp() / "f.csv"], "valu")
cli("cli-forecast-missing-id-col", lambda ctx: [
    "forecast", ctx.sensors_csv, "--id-col", "sensr", "--target", "value", "--out",
    ctx.tmp() / "f.csv"], "sensr")
cli("cli-forecast-missing-time-col", lambda ctx: [
    "forecast", ctx.sensors_csv, "--time-col", "when", "--target", "value", "--out",
    ctx.tmp() / "f.csv"], "when")
cli("cli-forecast-model-with-training-flags", lambda ctx: [
    "forecast", ctx.sensors_csv, "--model", ctx.forecaster_file, "--cell", "lstm", "--out",
    ctx.tmp() / "f.csv"], "--model")
cli("cli-forecast-folder-out-is-file", lambda ctx: [
    "forecast", ctx.sensors_csv.parent, *FC, "--out", ctx.sensors_csv], "--out")
cli("cli-forecast-out-dash-for-folder", lambda ctx: [
    "forecast", ctx.sensors_csv.parent, *FC, "--out", "-"], "--out")
cli("cli-forecast-plot-attention-rnn", lambda ctx: [
    "forecast", ctx.sensors_csv, "--model", ctx.forecaster_file, "--out", ctx.tmp() / "f.csv",
    "--plot-attention", ctx.tmp() / "a.png"], ("attention", "seq2seq"))
cli("cli-no-command", lambda ctx: [], ("command", "required"))
cli("cli-unknown-command", lambda ctx: ["predict"], "predict")
cli("cli-forecast-without-out", lambda ctx: ["forecast", ctx.sensors_csv], "--out")


def _dup_ot(ctx):
    rows = "date,OT,OT\n" + "".join(f"2024-01-01 {h:02d}:00:00,{h},{2 * h}\n" for h in range(24))
    rows += "".join(f"2024-01-02 {h:02d}:00:00,{h},{2 * h}\n" for h in range(24))
    path = ctx.tmp() / "dup.csv"
    path.write_text(rows)
    return ["forecast", path, "--target", "OT", "--input-len", "8", "--horizon", "2", *FAST,
            "--out", ctx.tmp() / "f.csv"]


cli("cli-forecast-duplicate-OT-columns", _dup_ot, "OT", ("twice", "more than once",
                                                          "duplicate"))


def _ragged(ctx):
    text = ctx.sensors_csv.read_text().splitlines()
    text[20] += ",999"
    path = ctx.tmp() / "ragged.csv"
    path.write_text("\n".join(text) + "\n")
    return ["forecast", path, *FC, "--out", ctx.tmp() / "f.csv"]


cli("cli-forecast-row-with-extra-field", _ragged, "ragged.csv", ("line 21", "row 21",
                                                                  "line 22"))


def _sep_ok(sep):
    def argv(ctx):
        path = _csv(ctx, ctx.sensors(spike=False).drop(columns="is_anomaly"), sep=sep)
        ctx._cache["sep_out"] = out = path.parent / "f.csv"
        return ["forecast", path, *FC, "--out", out]

    def check(res: CliResult, ctx):
        assert res.rc == 0, res.err.strip()[-300:]
        out = pd.read_csv(ctx._cache["sep_out"])
        assert len(out) == 4 and out.notna().all().all(), out
    return argv, check


cli_ok("cli-forecast-semicolon-csv", *_sep_ok(";"))
cli_ok("cli-forecast-tab-csv", *_sep_ok("\t"))


def _stdout_argv(ctx):
    return ["forecast", ctx.sensors_csv, "--model", ctx.forecaster_file, "--out", "-"]


def _stdout_check(res, ctx):
    assert res.rc == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].startswith("sensor,timestamp,value") and len(lines) == 5, res.out[:300]


cli_ok("cli-forecast-out-dash-to-stdout", _stdout_argv, _stdout_check)


def _special_out(kind):
    def argv(ctx):
        folder = ctx.tmp()
        path = folder / "out"
        if kind == "fifo":
            os.mkfifo(path)
            # A reader, so that opening the FIFO for writing does not block.
            ctx._cache["fifo_fd"] = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        else:
            (folder / "real.csv").write_text("old\n")
            path.symlink_to(folder / "real.csv")
        ctx._cache["special"] = path
        return ["forecast", ctx.sensors_csv, "--model", ctx.forecaster_file, "--out", path]

    def check(res, ctx):
        path = ctx._cache["special"]
        fd = ctx._cache.pop("fifo_fd", None)
        if fd is not None:
            os.close(fd)
        assert res.rc == 0, res.err.strip()[-300:]
        if kind == "fifo":
            assert stat.S_ISFIFO(os.lstat(path).st_mode), "the FIFO was replaced by a file"
        else:
            assert path.is_symlink(), "the symlink was replaced by a file"
            assert path.read_text().startswith("sensor,"), "the link's target was not written"
    return argv, check


cli_ok("cli-forecast-out-fifo", *_special_out("fifo"))
cli_ok("cli-forecast-out-symlink", *_special_out("symlink"))


def _unwritable_out(ctx):
    """A folder the user cannot write to. As root every folder is writable, so the
    permission check is what a non-root user meets: creating a file there fails."""
    folder = ctx.tmp() / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with denied_writes(folder):
            return ctx.cli("forecast", ctx.sensors_csv, *FC, "--out", folder / "f.csv")
    finally:
        folder.chmod(0o755)


def _not_trained(res, ctx):
    assert "training" not in res.err, "it trained before failing"


add("cli-forecast-out-unwritable-folder", _unwritable_out, "--out",
    check=_not_trained)


# --- detect
cli("cli-detect-window-1", lambda ctx: _dt(ctx, "--window", "1"), "--window")
cli("cli-detect-contamination-2", lambda ctx: _dt(ctx, "--contamination", "2"),
    "--contamination")
cli("cli-detect-threshold-otsu", lambda ctx: _dt(ctx, "--threshold", "otsu"), "--threshold")
cli("cli-detect-label-col-missing", lambda ctx: _dt(ctx, "--label-col", "truth"), "truth")
cli("cli-detect-model-with-save-model", lambda ctx: [
    "detect", ctx.sensors_csv, "--model", ctx.detector_file, "--out", ctx.tmp() / "s.csv",
    "--save-model", ctx.tmp() / "m.tsrnn"], "--save-model")


def _nab_gap(ctx):
    n = 300
    t = pd.date_range("2024-01-01", periods=n, freq="5min")
    value = 10 + np.sin(np.arange(n) / 10)
    frame = pd.DataFrame({"timestamp": t.astype(str), "value": value.round(4)}).drop(index=150)
    path = _csv(ctx, frame, "nab.csv")
    ctx._cache["nab_out"] = out = path.parent / "s.csv"
    return ["detect", path, "--target", "value", "--window", "8", "--set", "n_models=1",
            *FAST[:-1], "--out", out]


def _nab_check(res, ctx):
    assert res.rc == 0, res.err.strip()[-300:]
    assert "resampl" in res.err.lower(), "no note that the series was resampled"
    out = pd.read_csv(ctx._cache["nab_out"])
    assert len(out) >= 299 and out["score"].notna().sum() >= 299


cli_ok("cli-detect-nab-one-missing-step", _nab_gap, _nab_check)


def _label_kept(ctx):
    frame = ctx.sensors().rename(columns={"is_anomaly": "label"})
    path = _csv(ctx, frame, "labelled.csv")
    ctx._cache["label_out"] = out = path.parent / "s.csv"
    ctx._cache["label_in"] = frame["label"].to_numpy()
    return ["detect", path, *DT, "--label-col", "label", "--out", out]


def _label_check(res, ctx):
    assert res.rc == 0, res.err.strip()[-300:]
    out = pd.read_csv(ctx._cache["label_out"])
    assert "label" in out
    np.testing.assert_array_equal(out["label"], ctx._cache["label_in"],
                                  err_msg="the input label column was overwritten")
    added = [c for c in out.columns if c not in ("timestamp", "sensor", "value", "label")]
    assert len(added) == 2, f"expected a score and a prediction column, got {added}"


cli_ok("cli-detect-label-col-label-not-overwritten", _label_kept, _label_check)


def _labels_of(values):
    def argv(ctx):
        frame = ctx.sensors().assign(is_anomaly=values(len(ctx.sensors())))
        path = _csv(ctx, frame, "lab.csv")
        return ["evaluate", path, "--model", ctx.detector_file, "--label-col", "is_anomaly"]
    return argv


cli("cli-evaluate-label-col-empty", _labels_of(lambda n: [np.nan] * n), "is_anomaly")
cli("cli-evaluate-label-col-yes-no",
    _labels_of(lambda n: np.where(np.arange(n) % 50 == 0, "yes", "no")), "is_anomaly")
cli("cli-evaluate-label-col-2s", _labels_of(lambda n: np.arange(n) % 3), "is_anomaly")
cli("cli-evaluate-detector-without-label-col", lambda ctx: [
    "evaluate", ctx.sensors_csv, "--model", ctx.detector_file], "--label-col")
cli("cli-evaluate-forecaster-with-label-col", lambda ctx: [
    "evaluate", ctx.sensors_csv, "--model", ctx.forecaster_file, "--label-col", "is_anomaly"],
    "--label-col")
cli("cli-evaluate-start-1.5", lambda ctx: [
    "evaluate", ctx.sensors_csv, "--model", ctx.forecaster_file, "--start", "1.5"], "start")
cli("cli-evaluate-start-not-a-date", lambda ctx: [
    "evaluate", ctx.sensors_csv, "--model", ctx.forecaster_file, "--start", "soon"],
    "start", "soon")
cli("cli-evaluate-stride-0", lambda ctx: [
    "evaluate", ctx.sensors_csv, "--model", ctx.forecaster_file, "--stride", "0"], "--stride")
cli("cli-evaluate-stride-negative", lambda ctx: [
    "evaluate", ctx.sensors_csv, "--model", ctx.forecaster_file, "--stride", "-2"], "--stride")
cli("cli-evaluate-out-missing-folder", lambda ctx: [
    "evaluate", ctx.sensors_csv, "--model", ctx.forecaster_file, "--out",
    ctx.tmp() / "x" / "m.csv"], "--out")
cli("cli-evaluate-without-model", lambda ctx: ["evaluate", ctx.sensors_csv], "--model")


# --- train
def _config(ctx, text, name="run.toml"):
    folder = ctx.tmp()
    (folder / "d.csv").write_text(ctx.sensors_csv.read_text())
    path = folder / name
    path.write_text(text)
    return path


GOOD_TOML = ('task = "forecast"\n[data]\npath = "d.csv"\ntime_col = "timestamp"\n'
             'id_col = "sensor"\ntarget = "value"\n[model]\ninput_len = 8\nhorizon = 2\n'
             'hidden_size = 4\nmax_epochs = 1\n[output]\nmodel = "m.tsrnn"\n')

cli("cli-train-nothing", lambda ctx: ["train"], ("task", "--config"))
cli("cli-train-config-missing", lambda ctx: ["train", "--config", ctx.tmp() / "run.toml"],
    "run.toml")
cli("cli-train-config-bad-toml", lambda ctx: ["train", "--config", _config(
    ctx, "task = forecast\n")], "run.toml", "TOML")
cli("cli-train-config-unknown-key", lambda ctx: ["train", "--config", _config(
    ctx, GOOD_TOML.replace("[output]", "[outputs]"))], "outputs")
cli("cli-train-config-unknown-param", lambda ctx: ["train", "--config", _config(
    ctx, GOOD_TOML.replace("hidden_size", "hiden_size"))], "hiden_size")
cli("cli-train-config-bad-task", lambda ctx: ["train", "--config", _config(
    ctx, GOOD_TOML.replace('"forecast"', '"classify"'))], "classify")
cli("cli-train-config-ini", lambda ctx: ["train", "--config", _config(ctx, GOOD_TOML,
                                                                       "run.ini")], "run.ini")
cli("cli-train-config-bad-param-value", lambda ctx: ["train", "--config", _config(
    ctx, GOOD_TOML.replace("horizon = 2", "horizon = 0"))], "horizon")
cli("cli-train-config-data-missing", lambda ctx: ["train", "--config", _config(
    ctx, GOOD_TOML.replace('"d.csv"', '"nope.csv"'))], "nope.csv")
cli("cli-train-out-is-data", lambda ctx: ["train", "--config", _config(ctx, GOOD_TOML),
                                          "--out", ctx.sensors_csv, "--data", ctx.sensors_csv],
    "sensors.csv")
cli("cli-train-config-target-missing", lambda ctx: ["train", "--config", _config(
    ctx, GOOD_TOML.replace('target = "value"', 'target = "valu"'))], "valu")


# --- stream
def _stream_cli(lines, header="timestamp,sensor,value"):
    return lambda ctx: ctx.cli("stream", "--model", ctx.detector_file,
                               stdin="\n".join([header, *lines]) + "\n")


GOOD_LINES = [f"2024-01-10 {h:02d}:00:00,s0,{1.0 + h / 10}" for h in range(6)]


def _skips(line_no, n_good, *words):
    def check(res: CliResult, ctx):
        assert res.rc == 1, f"exit {res.rc}: a bad line should make it 1"
        assert "Traceback" not in res.err, res.err[-300:]
        rows = res.out.splitlines()
        assert len(rows) == 1 + n_good, f"{len(rows) - 1} lines scored, expected {n_good}"
        skipped = [ln for ln in res.err.splitlines() if "skipped" in ln]
        assert len(skipped) == 1, res.err[-300:]
        assert f"line {line_no}" in skipped[0], skipped[0]
        for w in words:
            assert w.lower() in skipped[0].lower(), f"{skipped[0]!r} lacks {w!r}"
    return check


def _with_bad(bad):
    return GOOD_LINES[:3] + [bad] + GOOD_LINES[3:]


good("cli-stream-200kb-field", _stream_cli(_with_bad("2024-01-10 02:30:00,s0," + "9" * 200_000)),
     _skips(5, 6))
good("cli-stream-wrong-field-count", _stream_cli(_with_bad("2024-01-10 02:30:00,s0")),
     _skips(5, 6, "fields"))
good("cli-stream-too-many-fields", _stream_cli(_with_bad("2024-01-10 02:30:00,s0,1.0,7")),
     _skips(5, 6, "fields"))
good("cli-stream-value-abc", _stream_cli(_with_bad("2024-01-10 02:30:00,s0,abc")),
     _skips(5, 6, "value"))
def _joins(res: CliResult, ctx):
    assert res.rc == 0, res.err[-300:]
    rows = res.out.splitlines()
    assert len(rows) == 1 + 7 and rows[4].startswith("2024-01-10 02:30:00,s9,0,0,0"), rows


good("cli-stream-unknown-series", _stream_cli(_with_bad("2024-01-10 02:30:00,s9,1.0")), _joins)
good("cli-stream-out-of-order", _stream_cli(_with_bad("2024-01-10 01:00:00,s0,1.0")),
     _skips(5, 6, "not after"))
good("cli-stream-bad-timestamp", _stream_cli(_with_bad("yesterday,s0,1.0")),
     _skips(5, 6, "yesterday"))


def _invalid_utf8(ctx):
    import io
    import sys

    from tsrnn.cli import main

    raw = ("timestamp,sensor,value\n" + "\n".join(GOOD_LINES[:3]) + "\n").encode()
    raw += b"2024-01-10 02:30:00,s0,1\xff5\n" + ("\n".join(GOOD_LINES[3:]) + "\n").encode()
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")
    try:
        out, err = io.StringIO(), io.StringIO()
        import contextlib

        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["stream", "--model", str(ctx.detector_file)])
    finally:
        sys.stdin = old
    return CliResult(rc, out.getvalue(), err.getvalue())


good("cli-stream-invalid-utf8-byte", _invalid_utf8, _skips(5, 6))
cli("cli-stream-empty-input", lambda ctx: ["stream", "--model", ctx.detector_file], "empty",
    stdin="")
cli("cli-stream-header-lacks-column", lambda ctx: ["stream", "--model", ctx.detector_file],
    "value", stdin="timestamp,sensor,val\n")
cli("cli-stream-forecaster-model", lambda ctx: ["stream", "--model", ctx.forecaster_file],
    "forecaster.tsrnn", stdin="timestamp,sensor,value\n")
cli("cli-stream-model-missing", lambda ctx: ["stream", "--model", ctx.tmp() / "m.tsrnn"],
    "m.tsrnn", stdin="timestamp,sensor,value\n")
