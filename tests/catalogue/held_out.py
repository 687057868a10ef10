"""Held-out cases: new cases of the catalogue's three kinds (bad inputs, model
files, faults) that the library's fixes were not made against. They judge those
fixes: a case here was written from what a user or an operator would expect,
before it was run, and was not tuned to what the code does.

They keep their suite's outcome names (clear/handled/unclear/silent,
refused/unclear/unsafe, held/lost); every id starts with ``ho-`` so that
``python -m tests.catalogue`` can count them apart (``--held-out`` runs only them).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .bad_inputs import DT, FAST, FC, GOOD_LINES, GOOD_TOML, _config
from .core import Behaviour, Case, CliResult, Error, denied_writes, folder_with_a_bad_file
from .faults import _hidden, patched
from .model_files import NAME, _limited, _write

CASES: list[Case] = []
PREFIX = "ho-"
ROOT = Path(__file__).resolve().parents[2]


def _case(suite, id, run, expect, slow=False):
    CASES.append(Case(PREFIX + id, suite, run, expect, slow=slow))


def bad(id, run, *culprit, warn_ok=False, check=None):
    _case("bad_inputs", id, run, Error(tuple(culprit), warn_ok, check))


def good(id, run, check):
    _case("bad_inputs", id, run, Behaviour(check))


def refused(id, run, *culprit):
    _case("model_files", id, run, Error(culprit or (NAME,)))


def safe(id, run, check, slow=False):
    _case("model_files", id, run, Behaviour(check), slow=slow)


def held(id, run, check, slow=False):
    _case("faults", id, run, Behaviour(check), slow=slow)


# ================================================================ bad inputs
# ----------------------------------------------------------- estimator params
def _fparam(name, value, *culprit, **also):
    bad(f"forecaster-param-{name}={value!r}",
        lambda ctx: ctx.forecaster(**also, **{name: value}).fit(ctx.wide()),
        *(culprit or (name,)))


def _dparam(name, value, *culprit, **also):
    bad(f"detector-param-{name}={value!r}",
        lambda ctx: ctx.detector(**also, **{name: value}).fit(ctx.wide()),
        *(culprit or (name,)))


def _cparam(name, value, *culprit):
    def run(ctx):
        from tsrnn import SequenceClassifier

        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((12, 10, 2)), np.arange(12) % 2
        return SequenceClassifier(**{"hidden_size": 4, "max_epochs": 1, "accelerator": "cpu",
                                     "random_state": 0, name: value}).fit(X, y)
    bad(f"classifier-param-{name}={value!r}", run, *(culprit or (name,)))


for _name, _value in [
    ("input_len", True), ("horizon", 1.0), ("quantiles", [0.5, 0.5]), ("quantiles", "0.9"),
    ("quantiles", [0.1, float("nan")]), ("segment_len", -1), ("segment_len", "big"),
    ("loss", "huber2"), ("loss", None), ("lr_scheduler", 1), ("val_size", 1.0),
    ("val_size", 10**6), ("max_epochs", 2.0), ("fill", "bfill"), ("freq", "fortnight"),
    ("freq", 0), ("resample", "yes"), ("devices", [-1]), ("precision", 15),
    ("random_state", -1), ("random_state", 1.5), ("gradient_clip", float("nan")),
    ("lr", float("inf")), ("lr", float("nan")), ("dropout", True), ("num_layers", 2.0),
    ("cell", "gru "), ("verbose", "no"), ("layer_norm", "false"),
    ("learn_initial_state", "true"), ("window_norm", 0), ("patience", 2.5),
]:
    _fparam(_name, _value)
_fparam("trainer_kwargs", {"callbacks": "x"}, "callbacks")
_fparam("trainer_kwargs", {"max_epochs": 3}, "max_epochs")
_fparam("teacher_forcing", -0.5, model="seq2seq")
_fparam("attention", "luong2", model="seq2seq")

for _name, _value in [
    ("window", 10**9), ("window", True), ("contamination", "1%"),
    ("n_models", 2.5), ("smoothing", 1.5), ("cooldown", "x"), ("calendar", "yes"),
    ("calendar", ["month"]), ("range_tolerance", "5%"), ("normalize_errors", "false"),
    ("score", None), ("threshold", None), ("likelihood_history", 0), ("fill", "bfill"),
    ("freq", "fortnight"), ("resample", "yes"), ("precision", 15),
]:
    _dparam(_name, _value)
_dparam("risk", 0, threshold="pot")
_dparam("risk", 1.0, threshold="pot")
_dparam("likelihood_window", 100, ("likelihood_window", "likelihood_history"),
        likelihood_history=10)

for _name, _value in [("tbptt_steps", -1), ("embedding_dim", 2.5), ("batch_size", 0),
                      ("num_layers", 0), ("max_epochs", 0), ("recurrent_dropout", 1.0),
                      ("bidirectional", "yes"), ("fill", "bfill"), ("output", None)]:
    _cparam(_name, _value)


# ------------------------------------------------------------------- frames
def _fit(frame_fn, est="f", **kw):
    def run(ctx):
        model = ctx.forecaster() if est == "f" else ctx.detector()
        return model.fit(frame_fn(ctx), **kw)
    return run


def _long(ctx, **kw):
    return ctx.sensors(**kw).drop(columns="is_anomaly")


LONG = dict(time_col="timestamp", id_col="sensor", target="value")

bad("fit-object-column-mixed-numbers-strings", _fit(lambda ctx: ctx.wide().assign(
    note=[1.5 if i % 3 else "ok" for i in range(80)])), "note")
bad("fit-all-none-column", _fit(lambda ctx: ctx.wide().assign(empty=[None] * 80)), "empty")
bad("fit-boolean-target", _fit(lambda ctx: ctx.wide().assign(y=lambda d: d.y > 10)), "y")
bad("fit-categorical-target", _fit(lambda ctx: ctx.wide().assign(
    y=lambda d: d.y.round().astype("category"))), "y")
bad("fit-timedelta-column", _fit(lambda ctx: ctx.wide().assign(
    lag=pd.to_timedelta(np.arange(80), unit="s"))), "lag")


def _mixed_formats(ctx):
    df = ctx.wide().reset_index(names="ts")
    df["ts"] = [t.strftime("%Y-%m-%d %H:%M:%S") if i % 2 == 0 else t.strftime("%d/%m/%Y %H:%M")
                for i, t in enumerate(df.ts)]
    return df


bad("fit-time-strings-mixed-formats", _fit(_mixed_formats, time_col="ts"), "ts")
bad("fit-long-duplicate-time-in-one-series", _fit(lambda ctx: _long(ctx).assign(
    timestamp=lambda d: d.timestamp.where(d.index != 100, d.timestamp[99])), **LONG),
    "duplicate", "s1")
bad("fit-time-col-with-nat", _fit(lambda ctx: ctx.wide().reset_index(names="ts").assign(
    ts=lambda d: d.ts.where(d.index != 30)), time_col="ts"), "ts")
bad("fit-single-row", _fit(lambda ctx: ctx.wide(n=1)), ("input_len", "rows", "short"))
bad("detector-fit-one-series-of-3-rows", _fit(lambda ctx: pd.concat([
    _long(ctx), _long(ctx, n=3).assign(sensor="tiny")]), est="d", **LONG), "tiny")
bad("fit-long-shuffled-rows", _fit(lambda ctx: _long(ctx).sample(frac=1, random_state=0),
                                   **LONG), ("order", "sorted", "increasing", "after"))


def _series_forecast(result, ctx):
    model, out = result
    assert model.target_names_ == ["y"] and list(out.columns) == ["timestamp", "y"], out
    assert np.isfinite(out["y"]).all(), out


# A pandas Series is one of the inputs issue 15 asks for: its index is the time axis.
good("fit-series-not-frame", lambda ctx: (lambda m: (m, m.predict()))(
    ctx.forecaster().fit(ctx.wide()["y"])), _series_forecast)
bad("detector-fit-array", lambda ctx: ctx.detector().fit(ctx.wide().to_numpy()), "DataFrame")
bad("score-array", lambda ctx: ctx.fitted_detector.decision_function(ctx.wide().to_numpy()),
    "DataFrame")
bad("fit-integer-time-with-gap", _fit(lambda ctx: ctx.wide().reset_index(drop=True).drop(30)),
    "gap", "resample")
bad("fit-target-listed-twice", _fit(lambda ctx: ctx.wide(), target=["y", "y"]), "y")
bad("fit-past-covariate-is-target", _fit(lambda ctx: ctx.wide().assign(t=1.0),
                                         target="y", past_covariates=["y"]), "y")
bad("fit-id-col-is-target", _fit(lambda ctx: _long(ctx), time_col="timestamp",
                                 id_col="value", target="value"), "value")
bad("score-other-frequency", lambda ctx: ctx.fitted_detector.decision_function(
    ctx.wide().set_index(pd.date_range("2024", periods=80, freq="D"))),
    ("freq", "daily", "hour", "spacing"))
bad("historical-forecasts-stride-negative",
    lambda ctx: ctx.fitted_forecaster.historical_forecasts(ctx.wide(), stride=-1), "stride")
bad("historical-forecasts-start-1.0",
    lambda ctx: ctx.fitted_forecaster.historical_forecasts(ctx.wide(), start=1.0), "start")


def _time_col_fit_index_predict(ctx):
    model = ctx.forecaster().fit(ctx.wide().reset_index(names="ts"), time_col="ts")
    return model.predict(ctx.wide())


bad("predict-time-as-index-after-time-col-fit", _time_col_fit_index_predict, "ts")


def _classifier(ctx):
    from tsrnn import SequenceClassifier

    def make():
        rng = np.random.default_rng(0)
        return SequenceClassifier(hidden_size=4, max_epochs=1, accelerator="cpu",
                                  random_state=0).fit(rng.standard_normal((12, 10, 2)),
                                                      np.arange(12) % 2)
    return ctx._once("ho-clf", make)


bad("classifier-predict-other-feature-count", lambda ctx: _classifier(ctx).predict(
    np.zeros((3, 10, 3))), ("feature", "3"))
bad("classifier-y-with-nan", lambda ctx: __import__("tsrnn").SequenceClassifier(
    hidden_size=4, max_epochs=1, accelerator="cpu").fit(
    np.zeros((12, 10, 2)), np.where(np.arange(12) == 3, np.nan, np.arange(12) % 2)), "y")


# documented behaviours
def _interleaved_long(ctx):
    df = _long(ctx).sort_values(["timestamp", "sensor"], kind="stable").reset_index(drop=True)
    return ctx.forecaster().fit(df, **LONG).predict()


def _two_series_forecast(out, ctx):
    assert len(out) == 4, out
    assert sorted(out["sensor"].unique()) == ["s0", "s1"], out
    assert np.isfinite(out["value"]).all(), out


good("fit-long-rows-sorted-by-time-not-id", _interleaved_long, _two_series_forecast)


def _extra_column(ctx):
    model = ctx.fitted_forecaster
    return model.predict(ctx.wide()), model.predict(ctx.wide().assign(extra=1.0))


def _extra_ignored(result, ctx):
    a, b = result
    pd.testing.assert_frame_equal(a, b)


good("predict-extra-unseen-column-ignored", _extra_column, _extra_ignored)


def _dst(freq, start, periods):
    def run(ctx):
        idx = pd.date_range(start, periods=periods, freq=freq, tz="Europe/Berlin")
        df = pd.DataFrame({"y": 10 + np.sin(np.arange(periods) / 3)}, index=idx)
        return df, ctx.forecaster().fit(df).predict()

    def check(result, ctx):
        df, out = result
        times = out.index if isinstance(out.index, pd.DatetimeIndex) else pd.DatetimeIndex(
            out[[c for c in out.columns if c != "y"][0]])
        assert str(times.tz) == "Europe/Berlin", f"timezone {times.tz}"
        expected = pd.date_range(df.index[-1], periods=3, freq=freq)[1:]
        assert list(times) == list(expected), f"{list(times)} != {list(expected)}"
        assert np.isfinite(out["y"]).all()
    return run, check


good("fit-hourly-across-dst-change", *_dst("h", "2024-03-28", 80))
good("fit-daily-across-dst-change", *_dst("D", "2024-02-20", 80))


def _huge_but_float32(ctx):
    df = ctx.wide() * 1e30
    return ctx.forecaster().fit(df).predict()


def _finite_and_scaled(out, ctx):
    assert np.isfinite(out["y"]).all(), out
    assert (out["y"].abs() > 1e29).all(), out


good("fit-values-1e31-fit-float32", _huge_but_float32, _finite_and_scaled)


def _batch_huge(ctx):
    return ctx.forecaster(batch_size=10**12).fit(ctx.wide()).predict()


def _two_finite(out, ctx):
    assert len(out) == 2 and np.isfinite(out["y"]).all(), out


good("forecaster-param-batch_size=10**12-takes-all-windows", _batch_huge, _two_finite)


# ------------------------------------------------------------------ streams
T0 = "2024-01-10 00:00:00"


def _one(call):
    def run(ctx):
        return call(ctx.long_detector.stream())
    return run


bad("stream-list-of-timestamps", _one(lambda s: s.update([T0, "2024-01-10 01:00:00"], [1.0],
                                                          series=["s0"])), "timestamp")
def _one_point_of_s0(result, ctx):
    assert result.series == ["s0"] and len(result.score) == 1, result


# {sensor: value} is one of the input forms issue 14 asks for.
good("stream-dict-of-values", _one(lambda s: s.update(T0, {"s0": 1.0})), _one_point_of_s0)
bad("stream-rows-fewer-than-series", _one(lambda s: s.update(T0, [[1.0], [2.0], [3.0]],
                                                            series=["s0", "s1"])),
    ("shape", "rows", "values"))
bad("stream-none-value", _one(lambda s: s.update(T0, [None], series=["s0"])), "s0")
bad("stream-nat-timestamp", _one(lambda s: s.update(pd.NaT, [1.0], series=["s0"])),
    "timestamp")
bad("stream-integer-id-for-string-series", _one(lambda s: s.update(T0, [1.0], series=[0])),
    "0")
bad("stream-overflowing-value", _one(lambda s: s.update(T0, ["1e400"], series=["s0"])),
    ("value", "s0"))


def _unfitted_stream(ctx):
    from tsrnn import AnomalyDetector
    from tsrnn.streaming import AnomalyStream

    return AnomalyStream(AnomalyDetector()).update(T0, [1.0], series=["s0"])


bad("stream-class-on-unfitted-detector", _unfitted_stream, "fit")


def _tz_detector(ctx):
    return ctx._once("ho-tzdet", lambda: ctx.detector().fit(ctx.wide().tz_localize("UTC")))


bad("stream-aware-timestamps-for-naive-detector", _one(lambda s: s.update(
    "2024-01-10 00:00:00+00:00", [1.0], series=["s0"])), ("timezone", "tz"))
bad("stream-naive-timestamps-for-aware-detector", lambda ctx: _tz_detector(ctx).stream().update(
    T0, [1.0]), ("timezone", "tz"))


def _other_zone(ctx):
    s = _tz_detector(ctx).stream()
    times = pd.date_range("2024-01-10 05:00", periods=12, freq="h", tz="Asia/Karachi")
    return [s.update(t.isoformat(), [10.0 + np.sin(k / 3)]) for k, t in enumerate(times)]


def _no_gaps(res, ctx):
    assert not any(r.gap[0] for r in res), [bool(r.gap[0]) for r in res]
    assert res[-1].ready[0], "never ready"


good("stream-other-timezone-read-in-training-one", _other_zone, _no_gaps)


def _dt64(ctx):
    det = ctx.long_detector
    a, b = det.stream(), det.stream()
    out = []
    for h in range(10):
        t = f"2024-01-10 {h:02d}:00:00"
        out.append((a.update(np.datetime64(t), [1.0 + h / 10], series=["s0"]).score,
                    b.update(t, [1.0 + h / 10], series=["s0"]).score))
    return out


def _same(out, ctx):
    for x, y in out:
        np.testing.assert_allclose(x, y)


good("stream-numpy-datetime64-timestamps", _dt64, _same)


def _series_array(ctx):
    return ctx.long_detector.stream().update(T0, [[1.0], [11.0]],
                                            series=np.array(["s0", "s1"]))


def _two_scored(r, ctx):
    assert list(r.series) == ["s0", "s1"] and len(r.score) == 2, r


good("stream-series-as-numpy-array", _series_array, _two_scored)


# ------------------------------------------------------------- command line
def cli(id, argv_fn, *culprit, stdin=None, check=None):
    bad(id, lambda ctx: ctx.cli(*argv_fn(ctx), stdin=stdin), *culprit, check=check)


def _fc(ctx, *more):
    return ["forecast", ctx.sensors_csv, *FC, "--out", ctx.tmp() / "f.csv", *more]


def _dt(ctx, *more):
    return ["detect", ctx.sensors_csv, *DT, "--out", ctx.tmp() / "s.csv", *more]


def _not_trained(res, ctx):
    assert "training" not in res.err, "it trained before failing"


cli("cli-forecast-unknown-flag", lambda ctx: _fc(ctx, "--horizn", "3"), "--horizn")
cli("cli-forecast-horizon-1.5", lambda ctx: _fc(ctx, "--horizon", "1.5"), "--horizon")
cli("cli-forecast-quantiles-duplicate", lambda ctx: _fc(ctx, "--quantiles", "0.5,0.5"),
    "quantiles")
cli("cli-forecast-fill-bfill", lambda ctx: _fc(ctx, "--fill", "bfill"), "--fill")
cli("cli-forecast-freq-fortnight", lambda ctx: _fc(ctx, "--freq", "fortnight"), "fortnight")
cli("cli-forecast-target-text-column", lambda ctx: [
    "forecast", ctx.sensors_csv, "--time-col", "timestamp", "--target", "sensor",
    "--input-len", "8", "--horizon", "2", *FAST, "--out", ctx.tmp() / "f.csv"], "sensor")
cli("cli-forecast-time-col-is-target", lambda ctx: [
    "forecast", ctx.sensors_csv, "--time-col", "value", "--id-col", "sensor", "--target",
    "value", "--input-len", "8", "--horizon", "2", *FAST, "--out", ctx.tmp() / "f.csv"],
    "value")
cli("cli-forecast-save-model-missing-folder", lambda ctx: _fc(
    ctx, "--save-model", ctx.tmp() / "no" / "m.tsrnn"), "--save-model", check=_not_trained)


def _save_into_folder(ctx):
    folder = ctx.tmp()
    return ctx.cli(*_fc(ctx, "--save-model", folder)), folder


def _saved_inside(result, ctx):
    # Documented (tsrnn/cli/_runs.py, Run.output): an option naming a folder gets
    # <folder>/<input stem>.tsrnn, as `cp file folder/` would.
    from tsrnn import Forecaster

    res, folder = result
    assert res.rc == 0, res.err[-300:]
    assert Forecaster.load(folder / "sensors.tsrnn").horizon == 2


good("cli-forecast-save-model-is-folder-saves-inside", _save_into_folder, _saved_inside)
cli("cli-forecast-plot-missing-folder", lambda ctx: _fc(
    ctx, "--plot", ctx.tmp() / "no" / "p.png"), "--plot", check=_not_trained)
cli("cli-forecast-out-under-a-file", lambda ctx: _fc(ctx)[:-1] + [ctx.sensors_csv / "f.csv"],
    "--out", check=_not_trained)
cli("cli-forecast-set-unclosed-list", lambda ctx: _fc(ctx, "--set", "quantiles=[0.1,0.9"),
    ("quantiles", "--set"))
cli("cli-forecast-set-empty-name", lambda ctx: _fc(ctx, "--set", "=4"), "--set")
cli("cli-detect-contamination-0", lambda ctx: _dt(ctx, "--contamination", "0"),
    "contamination")
cli("cli-detect-window-word", lambda ctx: _dt(ctx, "--window", "abc"), "--window")
cli("cli-detect-label-col-is-target", lambda ctx: _dt(ctx, "--label-col", "value"), "value")
cli("cli-evaluate-stride-word", lambda ctx: [
    "evaluate", ctx.sensors_csv, "--model", ctx.forecaster_file, "--stride", "abc"],
    "--stride")
cli("cli-train-task-without-data", lambda ctx: ["train", "--task", "forecast"], "--data")
cli("cli-train-out-missing-folder", lambda ctx: [
    "train", "--config", _config(ctx, GOOD_TOML), "--out", ctx.tmp() / "no" / "m.tsrnn"],
    "--out", check=_not_trained)
cli("cli-train-config-wrong-type", lambda ctx: ["train", "--config", _config(
    ctx, GOOD_TOML.replace("hidden_size = 4", 'hidden_size = "big"'))], "hidden_size")
cli("cli-train-config-data-path-number", lambda ctx: ["train", "--config", _config(
    ctx, GOOD_TOML.replace('"d.csv"', "5"))], "path")
cli("cli-train-config-yaml-list", lambda ctx: ["train", "--config", _config(
    ctx, "- task: forecast\n- data: d.csv\n", "run.yaml")], "run.yaml")
cli("cli-train-config-yaml-syntax-error", lambda ctx: ["train", "--config", _config(
    ctx, "task: [forecast\n", "run.yaml")], "run.yaml")


def _file_input(name, write, *culprit):
    def argv(ctx):
        path = ctx.tmp() / name
        write(ctx, path)
        return ["forecast", path, *FC, "--out", ctx.tmp() / "f.csv"]
    cli(f"cli-forecast-{name}", argv, *culprit)


_file_input("header-only.csv", lambda ctx, p: p.write_text("timestamp,sensor,value\n"),
            "header-only.csv", ("no rows", "empty"))
_file_input("text.parquet", lambda ctx, p: p.write_text(ctx.sensors_csv.read_text()),
            "text.parquet", "parquet")


def _works_or_names(name, write):
    """Either it reads the file right (4 forecasts), or it refuses it in one line
    that names it: what it must not do is misread it or crash."""
    def run(ctx):
        folder = ctx.tmp()
        path = folder / name
        write(ctx, path)
        out = folder / "f.csv"
        return ctx.cli("forecast", path, *FC, "--out", out), out

    def check(result, ctx):
        res, out = result
        assert "Traceback" not in res.err, res.err[-300:]
        if res.rc == 0:
            frame = pd.read_csv(out)
            assert len(frame) == 4 and frame["value"].notna().all(), frame
        else:
            lines = [ln for ln in res.err.splitlines() if ln.startswith("tsrnn forecast: error")]
            assert len(lines) == 1, res.err[-300:]
            assert name in lines[0], f"does not name {name}: {lines[0]}"
            assert "--debug" not in lines[0], lines[0]
    good(f"cli-forecast-{name}", run, check)


_works_or_names("utf16-bom.csv", lambda ctx, p: p.write_bytes(
    ctx.sensors_csv.read_text().encode("utf-16")))
_works_or_names("gzipped.csv", lambda ctx, p: p.write_bytes(
    gzip.compress(ctx.sensors_csv.read_bytes())))


def _latin1_argv(ctx):
    path = ctx.tmp() / "latin1-values.csv"
    text = ctx.sensors_csv.read_text().replace(",s1,", ",s\u00e91,")
    path.write_bytes(text.encode("latin-1"))
    ctx._cache["ho-latin1-out"] = out = path.parent / "f.csv"
    return ["forecast", path, *FC, "--out", out]


def _latin1_check(res, ctx):
    assert "Traceback" not in res.err, res.err[-300:]
    if res.rc == 0:
        out = pd.read_csv(ctx._cache["ho-latin1-out"])
        assert sorted(out["sensor"].unique()) == ["s0", "s\u00e91"], out["sensor"].unique()
    else:
        assert "latin1-values.csv" in res.err and "--debug" not in res.err, res.err[-300:]


good("cli-forecast-latin1-series-ids", lambda ctx: ctx.cli(*_latin1_argv(ctx)), _latin1_check)


# --- stream lines
def _stream(text):
    return lambda ctx: ctx.cli("stream", "--model", ctx.detector_file, stdin=text)


def _scored(n, rcs=(0,)):
    def check(res: CliResult, ctx):
        assert "Traceback" not in res.err, res.err[-300:]
        rows = res.out.splitlines()
        assert len(rows) == 1 + n, f"{len(rows) - 1} lines scored, expected {n}: {res.err[-200:]}"
        assert res.rc in rcs, f"exit {res.rc}, expected {rcs}: {res.err[-200:]}"
    return check


HEADER = "timestamp,sensor,value"
good("cli-stream-closed-mid-line", _stream(
    HEADER + "\n" + "\n".join(GOOD_LINES) + "\n2024-01-10 06:00:00,s0"), _scored(6, (1,)))
good("cli-stream-crlf-with-partial-last-line", _stream(
    HEADER + "\r\n" + "\r\n".join(GOOD_LINES) + "\r\n2024-01-10 06:0"), _scored(6, (1,)))
good("cli-stream-nul-byte-line", _stream(
    HEADER + "\n" + "\n".join(GOOD_LINES[:3] + ["2024-01-10 02:30:00,s0,1\x00.5"]
                              + GOOD_LINES[3:]) + "\n"), _scored(6, (1,)))
good("cli-stream-overflowing-value-line", _stream(
    HEADER + "\n" + "\n".join(GOOD_LINES[:3] + ["2024-01-10 02:30:00,s0,1e400"]
                              + GOOD_LINES[3:]) + "\n"), _scored(6, (1,)))
good("cli-stream-header-repeated-mid-stream", _stream(
    HEADER + "\n" + "\n".join(GOOD_LINES[:3] + [HEADER] + GOOD_LINES[3:]) + "\n"),
    _scored(6, (0, 1)))
good("cli-stream-whitespace-only-line", _stream(
    HEADER + "\n" + "\n".join(GOOD_LINES[:3] + ["   "] + GOOD_LINES[3:]) + "\n"),
    _scored(6, (0, 1)))
cli("cli-stream-only-bom", lambda ctx: ["stream", "--model", ctx.detector_file], "empty",
    stdin="\ufeff")


# ================================================================ model files
def _resum(payload):
    from tsrnn import model_checks

    payload["checksum"] = model_checks.checksum(payload)
    return payload


def _payload_of(ctx, which="f"):
    return torch.load(ctx.forecaster_file if which == "f" else ctx.detector_file,
                      weights_only=True)


def _edited(change, which="f", resum=True):
    def make(ctx):
        p = _payload_of(ctx, which)
        change(p)
        return _resum(p) if resum else p
    return make


def _loaders(id, make, loaders=("load", "read_model")):
    from .model_files import LOADERS, _detector_load

    for name in loaders:
        def run(ctx, name=name):
            load = _detector_load if name == "dload" else LOADERS[name]
            return load(_write(ctx, make))
        refused(f"{id}[{name}]", run)


_loaders("resummed-hidden-size-8", _edited(lambda p: p["params"].__setitem__("hidden_size", 8)))
_loaders("resummed-horizon-5", _edited(lambda p: p["params"].__setitem__("horizon", 5)))
_loaders("resummed-cell-lstm", _edited(lambda p: p["params"].__setitem__("cell", "lstm")))
_loaders("resummed-lr-negative", _edited(lambda p: p["params"].__setitem__("lr", -1.0)))
_loaders("resummed-hidden-size-true", _edited(
    lambda p: p["params"].__setitem__("hidden_size", True)))
_loaders("resummed-negative-scaler-spread", _edited(lambda p: p["fitted"].__setitem__(
    "scaler_spread", -p["fitted"]["scaler_spread"])))
_loaders("resummed-unknown-top-level-key", _edited(lambda p: p.__setitem__("notes", "hi")))
_loaders("resummed-unknown-fitted-key", _edited(lambda p: p["fitted"].__setitem__("x", 1)))
_loaders("resummed-float64-weight", _edited(lambda p: p["state_dict"].__setitem__(
    next(iter(p["state_dict"])), p["state_dict"][next(iter(p["state_dict"]))].double())))
_loaders("resummed-classifier-estimator", _edited(
    lambda p: p.__setitem__("estimator", "SequenceClassifier")), ("read_model",))
_loaders("resummed-format-version-3", _edited(
    lambda p: p.__setitem__("format_version", 3)))
_loaders("checksum-uppercased", _edited(
    lambda p: p.__setitem__("checksum", p["checksum"].upper()), resum=False))
_loaders("version-1-with-edited-hidden-size", _edited(
    lambda p: (p.__setitem__("format_version", 1), p.pop("checksum"),
               p["params"].__setitem__("hidden_size", 8)), resum=False))
_loaders("detector-resummed-threshold-nan", _edited(
    lambda p: p["fitted"].__setitem__("threshold", float("nan")), "d"), ("dload", "read_model"))
_loaders("detector-resummed-n-models-2", _edited(
    lambda p: p["params"].__setitem__("n_models", 2), "d"), ("dload", "read_model"))


def _huge_window_streamed(ctx):
    from tsrnn import AnomalyDetector

    path = _write(ctx, _edited(lambda p: p["params"].__setitem__("window", 10**12), "d"))
    return AnomalyDetector.load(path).stream().update(T0, [1.0], series=["s0"])


refused("detector-resummed-window-1e12-streamed[dload]", _limited(_huge_window_streamed))


def _v1_loads(ctx):
    from tsrnn import Forecaster

    def make(ctx):
        p = _payload_of(ctx)
        p["format_version"] = 1
        p.pop("checksum")
        return p
    return Forecaster.load(_write(ctx, make)).predict(), Forecaster.load(
        ctx.forecaster_file).predict()


safe("version-1-file-still-loads", _v1_loads,
     lambda r, ctx: pd.testing.assert_frame_equal(r[0], r[1]))


def _renamed_csv(ctx):
    from tsrnn.files import read_model

    path = ctx.tmp() / "model.csv"
    path.write_bytes(ctx.forecaster_file.read_bytes())
    return read_model(path)


def _is_forecaster(m, ctx):
    assert type(m).__name__ == "Forecaster", type(m)


safe("forecaster-file-named-csv-loads", _renamed_csv, _is_forecaster)


def _sparse_50mb(ctx):
    path = ctx.tmp() / NAME
    with open(path, "wb") as f:
        f.truncate(50 * 2**20)
    return path


refused("50mb-of-zeros[read_model]", _limited(
    lambda ctx: __import__("tsrnn.files").files.read_model(_sparse_50mb(ctx))))


def _50mb_zip_padding(ctx):
    data = ctx.forecaster_file.read_bytes() + b"\0" * (50 * 2**20)
    path = ctx.tmp() / NAME
    path.write_bytes(data)
    return path


refused("file-padded-with-50mb[load]", _limited(
    lambda ctx: __import__("tsrnn").Forecaster.load(_50mb_zip_padding(ctx))))


LOAD_IN_CHILD = """
import resource, sys
from tsrnn.files import read_model
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + 1_500_000_000, resource.RLIM_INFINITY))
try:
    read_model(sys.argv[1])
except Exception as err:
    print(type(err).__name__ + ": " + str(err).strip().splitlines()[0])
    sys.exit(3)
print("loaded")
"""


def _special_model(kind):
    def run(ctx):
        path = ctx.tmp() / NAME
        if kind == "devzero":
            path.symlink_to("/dev/zero")
        else:
            os.mkfifo(path)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-c", LOAD_IN_CHILD, str(path)], env=env,
                                  capture_output=True, text=True, timeout=30, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return None, time.perf_counter() - start
        return proc, time.perf_counter() - start

    def check(result, ctx):
        proc, took = result
        assert proc is not None, f"still loading after {took:.0f} s (hangs)"
        assert proc.returncode == 3, \
            f"exit {proc.returncode}: {proc.stdout[-200:]} {proc.stderr[-300:]}"
        line = proc.stdout.strip().splitlines()[-1]
        assert NAME in line and line.startswith(("ValueError", "DataError")), line
    return run, check


safe("symlink-to-dev-zero[read_model]", *_special_model("devzero"), slow=True)
safe("fifo-as-model-file[read_model]", *_special_model("fifo"), slow=True)


# ================================================================ faults
def _unwritable_save(ctx):
    folder = ctx.tmp() / "locked"
    folder.mkdir()
    out = ctx.tmp()
    with denied_writes(folder):
        res = ctx.cli("forecast", ctx.sensors_csv, *FC, "--out", out / "f.csv",
                      "--save-model", folder / "m.tsrnn")
    return res, out, folder


def _unwritable_save_check(result, ctx):
    res, out, folder = result
    assert res.rc != 0, "exit 0 with an unwritable --save-model"
    assert "Traceback" not in res.err, res.err[-300:]
    assert "--save-model" in res.err, res.err[-300:]
    assert "training" not in res.err, "it trained before failing"
    assert list(out.iterdir()) == [] and list(folder.iterdir()) == [], "something was written"


held("read-only-save-model-folder", _unwritable_save, _unwritable_save_check)


def _power_cut(command, exc, what="out"):
    def run(ctx):
        folder = ctx.tmp()
        out = folder / ("out.csv" if what == "out" else "m.tsrnn")
        out.write_bytes(b"an older, good result\n")

        def cut(obj, f, *a, **kw):
            f.write(b"half" if "b" in getattr(f, "mode", "") else "half")
            raise exc()

        if command == "evaluate":
            argv = ["evaluate", ctx.sensors_csv, "--model", ctx.forecaster_file, "--out", out]
        elif what == "out":
            argv = ["detect", ctx.sensors_csv, "--model", ctx.detector_file, "--out", out]
        else:
            argv = ["detect", ctx.sensors_csv, *DT, "--out", folder / "s.csv",
                    "--save-model", out]
        with patched(pd.DataFrame, "to_csv", cut) if what == "out" else \
                patched(torch, "save", cut):
            res = ctx.cli(*argv)
        return res, folder, out

    def check(result, ctx):
        res, folder, out = result
        assert res.rc != 0, "exit 0 after a failed write"
        assert "Traceback" not in res.err, res.err[-300:]
        assert out.read_bytes() == b"an older, good result\n", "the older output was lost"
        assert _hidden(folder) == [], f"temporary files left: {_hidden(folder)}"
    return run, check


held("disk-full-while-writing-detect-out",
     *_power_cut("detect", lambda: OSError(28, "No space left on device")))
held("disk-full-while-writing-evaluate-out",
     *_power_cut("evaluate", lambda: OSError(28, "No space left on device")))
held("ctrl-c-while-saving-detector", *_power_cut("detect", KeyboardInterrupt, what="model"))


def _interrupt_reading(ctx):
    folder = ctx.tmp()

    def ctrl_c(*a, **kw):
        raise KeyboardInterrupt

    with patched(pd, "read_csv", ctrl_c):
        res = ctx.cli("forecast", ctx.sensors_csv, *FC, "--out", folder / "f.csv",
                      "--save-model", folder / "m.tsrnn")
    return res, folder


def _interrupt_reading_check(result, ctx):
    res, folder = result
    assert res.rc == 130, f"exit {res.rc}: {res.err[-200:]}"
    assert "interrupted" in res.err, res.err[-200:]
    assert sorted(p.name for p in folder.iterdir()) == [], list(folder.iterdir())


held("ctrl-c-while-reading-input", _interrupt_reading, _interrupt_reading_check)


def _oom_in_training(ctx):
    from tsrnn.training import ForecastingModule

    folder = ctx.tmp()

    def oom(self, *a):
        raise MemoryError

    with patched(ForecastingModule, "_loss", oom):
        res = ctx.cli("forecast", ctx.sensors_csv, *FC, "--out", folder / "f.csv",
                      "--save-model", folder / "m.tsrnn")
    return res, folder


def _oom_check(result, ctx):
    res, folder = result
    assert res.rc == 1, f"exit {res.rc}"
    assert "Traceback" not in res.err, res.err[-300:]
    assert "memory" in res.err.lower(), f"no word of memory: {res.err[-200:]}"
    assert sorted(p.name for p in folder.iterdir()) == [], list(folder.iterdir())


held("out-of-memory-in-training", _oom_in_training, _oom_check)


def _detect_folder_bad_file(ctx):
    return folder_with_a_bad_file(ctx, "detect", ctx.detector_file, "timestamp,sensor,value\n")


def _detect_folder_check(result, ctx):
    res, outs = result
    assert res.rc == 1, f"exit {res.rc}"
    assert sorted(p.name for p in outs.iterdir()) == ["f0.csv", "f2.csv"], list(outs.iterdir())
    assert "f1.csv" in res.err + res.out, res.err[-300:]


held("detect-folder-with-header-only-file-does-the-others", _detect_folder_bad_file,
     _detect_folder_check)


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _two_detect_processes(ctx):
    folder = ctx.tmp()
    srcs = []
    for k, n in ((1, 80), (2, 90)):
        src = folder / f"in{k}.csv"
        ctx.sensors(seed=k, n=n).drop(columns="is_anomaly").to_csv(src, index=False)
        srcs.append(src)
    out = folder / "out.csv"
    procs = [subprocess.Popen([sys.executable, "-m", "tsrnn", "detect", str(src), "--model",
                               str(ctx.detector_file), "--out", str(out), "-q"],
                              env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for src in srcs]
    codes = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            p.kill()
            err = "timed out"
        codes.append((p.returncode, err[-200:]))
    expected = []
    for src in srcs:
        ctx.cli("detect", src, "--model", ctx.detector_file, "--out",
                folder / f"{src.stem}.expected", "-q")
        expected.append((folder / f"{src.stem}.expected").read_text())
    return codes, out.read_text(), expected, folder


def _two_detect_check(result, ctx):
    codes, text, expected, folder = result
    assert [c for c, _ in codes] == [0, 0], codes
    assert text in expected, "the output is not one whole writer's CSV"
    assert _hidden(folder) == [], _hidden(folder)


held("two-detect-processes-one-out", _two_detect_processes, _two_detect_check, slow=True)


SIGTERM_TRAINING = """
import pathlib, sys
from tsrnn.training import ForecastingModule
real = ForecastingModule._loss
marker = pathlib.Path(sys.argv[1])
def loss(self, *a, **k):
    marker.touch()
    return real(self, *a, **k)
ForecastingModule._loss = loss
from tsrnn.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _sigterm_training(ctx):
    folder = ctx.tmp()
    marker = ctx.tmp() / "training"
    argv = ["forecast", str(ctx.sensors_csv), *map(str, FC), "--epochs", "100000", "--set",
            "patience=None", "--out", str(folder / "f.csv"), "--save-model",
            str(folder / "m.tsrnn")]
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_TRAINING, str(marker), *argv],
                            env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
            hung = False
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            hung = True
    finally:
        if proc.poll() is None:
            proc.kill()
    left = sorted(p.name for p in folder.iterdir())
    after = ctx.cli("forecast", ctx.sensors_csv, "--model", ctx.forecaster_file, "--out",
                    folder / "f.csv", "-q")
    return marker.exists(), proc.returncode, hung, err, left, after, folder


def _sigterm_check(result, ctx):
    started, rc, hung, err, left, after, folder = result
    assert started, "training never started"
    assert not hung, "still running 60 s after SIGTERM"
    assert rc != 0, "exit 0 after SIGTERM"
    assert "Traceback" not in err, err[-300:]
    assert left == [], f"left behind after SIGTERM: {left}"
    assert after.rc == 0, after.err[-200:]
    assert _hidden(folder) == [], f"stale temporaries after the next run: {_hidden(folder)}"


held("sigterm-during-training", _sigterm_training, _sigterm_check, slow=True)


def _stream_sigterm(ctx):
    proc = subprocess.Popen([sys.executable, "-m", "tsrnn", "stream", "--model",
                             str(ctx.detector_file)], env=_env(), cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, proc.kill)
    guard.start()
    got = []
    try:
        proc.stdin.write(HEADER + "\n")
        for h in range(8):
            proc.stdin.write(f"2024-01-10 {h:02d}:00:00,s0,{1.0 + h / 10}\n")
        proc.stdin.flush()
        while len(got) < 9:
            line = proc.stdout.readline()
            if not line:
                break
            got.append(line)
        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait(timeout=30)
    finally:
        guard.cancel()
        proc.kill()
    return got, rest, err, proc.returncode


def _stream_sigterm_check(result, ctx):
    got, rest, err, rc = result
    assert len(got) == 9, f"{len(got)} lines before SIGTERM, expected 9"
    assert rest == "", f"output after SIGTERM: {rest!r}"
    assert rc != 0, "exit 0 after SIGTERM"
    assert "Traceback" not in err, err[-300:]


held("stream-sigterm-keeps-lines-written", _stream_sigterm, _stream_sigterm_check, slow=True)


def _stdout_closed(ctx):
    proc = subprocess.run(
        f"{sys.executable} -m tsrnn detect '{ctx.sensors_csv}' --model '{ctx.detector_file}' "
        "--out - -q | head -n 2", shell=True, capture_output=True, text=True, timeout=180,
        cwd=ROOT, env=_env())
    return proc


def _stdout_closed_check(proc, ctx):
    assert len(proc.stdout.splitlines()) == 2, proc.stdout[-300:]
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr, proc.stderr[-300:]


held("detect-to-stdout-reader-goes-away", _stdout_closed, _stdout_closed_check, slow=True)


def _interrupted_api_save(ctx):
    from tsrnn import AnomalyDetector

    folder = ctx.tmp()
    path = folder / "m.tsrnn"
    AnomalyDetector.load(ctx.detector_file).save(path)
    before = path.read_bytes()

    def cut(obj, f, *a, **kw):
        f.write(b"half")
        raise KeyboardInterrupt

    with contextlib.suppress(KeyboardInterrupt), patched(torch, "save", cut):
        ctx.long_detector.save(path)
    return before, path, folder


def _api_save_check(result, ctx):
    before, path, folder = result
    assert path.read_bytes() == before, "the older model file was lost"
    assert _hidden(folder) == [], f"temporary files left: {_hidden(folder)}"


held("ctrl-c-in-api-save-keeps-older", _interrupted_api_save, _api_save_check)


def _read_only_source_predict(ctx):
    """A read-only input file (an operator's shared data) is only read."""
    folder = ctx.tmp()
    src = folder / "d.csv"
    src.write_text(ctx.sensors_csv.read_text())
    src.chmod(0o444)
    res = ctx.cli("forecast", src, "--model", ctx.forecaster_file, "--out", folder / "f.csv")
    return res, src


def _ro_check(result, ctx):
    res, src = result
    assert res.rc == 0, res.err[-300:]
    assert src.read_text() == ctx.sensors_csv.read_text()


held("read-only-input-is-only-read", _read_only_source_predict, _ro_check)
