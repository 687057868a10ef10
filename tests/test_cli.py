"""Tests for the tsrnn command (tsrnn/cli/): every command end to end on temporary CSV files.

Models are tiny (a few epochs, 8 hidden units, short windows); the ones several
tests share are trained once per module.
"""

import os
import selectors
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsrnn import AnomalyDetector, Forecaster, InSampleBacktestWarning
from tsrnn.callbacks import LastCheckpoint
from tsrnn.cli import main

FAST = ["--hidden-size", "8", "--epochs", "2", "--set", "batch_size=32",
        "--set", "accelerator='cpu'", "-q"]
FORECAST = ["--id-col", "sensor", "--target", "value", "--input-len", "16", "--horizon", "4",
            *FAST]
DETECT = ["--id-col", "sensor", "--target", "value", "--window", "8", *FAST]
ROOT = Path(__file__).resolve().parents[1]


def _sensors(n: int = 150, seed: int = 0, spike: int | None = 100) -> pd.DataFrame:
    """Two hourly sensors, long format, with a labelled spike in the first."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(2):
        value = 10 * k + np.sin(np.arange(n) / 4) + 0.1 * rng.standard_normal(n)
        label = np.zeros(n, dtype=int)
        if spike is not None and k == 0:
            value[spike] += 8
            label[spike] = 1
        parts.append(pd.DataFrame({
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
            "sensor": f"s{k}", "value": value.round(4), "is_anomaly": label}))
    return pd.concat(parts, ignore_index=True)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A sensors CSV, and a forecaster and a detector trained on it by the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    data = _write(_sensors(), folder / "sensors.csv")
    assert main(["forecast", str(data), *FORECAST, "--quantiles", "0.1,0.5,0.9",
                 "--out", str(folder / "forecast.csv"),
                 "--save-model", str(folder / "forecaster.tsrnn")]) == 0
    assert main(["detect", str(data), *DETECT, "--label-col", "is_anomaly",
                 "--out", str(folder / "scores.csv"),
                 "--save-model", str(folder / "detector.tsrnn")]) == 0
    return folder


# ----------------------------------------------------------------- forecast
def test_forecast_writes_horizon_rows_per_series_with_quantiles(files):
    out = pd.read_csv(files / "forecast.csv")
    assert list(out.columns) == ["sensor", "timestamp", "value_q0.1", "value_q0.5",
                                 "value_q0.9"]
    assert out.groupby("sensor").size().to_dict() == {"s0": 4, "s1": 4}
    assert out["timestamp"].iloc[0] == "2024-01-07 06:00:00"  # the step after the end
    assert (out["value_q0.1"] <= out["value_q0.9"]).all()


def test_forecast_with_a_saved_model_matches_the_trained_one(files, tmp_path):
    assert main(["forecast", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", str(tmp_path / "again.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again.csv"),
                                  pd.read_csv(files / "forecast.csv"))


def test_forecast_holdout_adds_the_actuals_and_draws_them(files, tmp_path):
    out, png = tmp_path / "holdout.csv", tmp_path / "holdout.png"
    assert main(["forecast", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--holdout", "--out", str(out),
                 "--plot", str(png)]) == 0
    frame = pd.read_csv(out)
    truth = _sensors().groupby("sensor").tail(4)
    np.testing.assert_allclose(frame["value_actual"], truth["value"])
    assert png.read_bytes().startswith(b"\x89PNG")


def test_forecast_holdout_of_local_times_across_dst_draws_them(tmp_path):
    # Times with two UTC offsets (Berlin, March 31st 2024) were pandas' "Mixed timezones
    # detected" error once the forecast was written, with no plot.
    frame = _sensors(spike=None)
    utc = pd.to_datetime(frame["timestamp"]).dt.tz_localize("UTC") + pd.Timedelta("87D")
    frame["timestamp"] = utc.dt.tz_convert("Europe/Berlin").astype(str)
    data = _write(frame, tmp_path / "local.csv")
    out, png = tmp_path / "holdout.csv", tmp_path / "holdout.png"
    assert main(["forecast", str(data), *FORECAST, "--holdout", "--out", str(out),
                 "--plot", str(png)]) == 0
    np.testing.assert_allclose(pd.read_csv(out)["value_actual"],
                               frame.groupby("sensor").tail(4)["value"])
    assert png.read_bytes().startswith(b"\x89PNG")


def test_forecast_holdout_refuses_a_series_it_would_hold_out_whole(files, tmp_path, capsys):
    # A series of at most --horizon rows left the history entirely: the forecast
    # went on without it, exit code 0, not a word.
    frame = pd.concat([_sensors(), pd.DataFrame({
        "timestamp": ["2024-01-01 00:00:00"], "sensor": "new", "value": 1.0, "is_anomaly": 0})])
    data = _write(frame, tmp_path / "with_a_short_one.csv")
    assert main(["forecast", str(data), "--model", str(files / "forecaster.tsrnn"),
                 "--holdout", "--out", str(tmp_path / "f.csv")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"tsrnn forecast: error: {data}: series 'new' has 1 rows: --holdout holds out the "
        "last 4 of each series, and leaves it no history to forecast from")
    assert not (tmp_path / "f.csv").exists()


def test_forecast_writes_the_ids_as_the_file_has_them(tmp_path):
    # "007" and "07" came out as 7 and 7: one series, the input's ids lost.
    frame = _sensors(spike=None)
    frame["sensor"] = frame["sensor"].map({"s0": "007", "s1": "07"})
    data = _write(frame, tmp_path / "ids.csv")
    out = tmp_path / "f.csv"
    assert main(["forecast", str(data), *FORECAST, "--out", str(out)]) == 0
    assert pd.read_csv(out, dtype={"sensor": str}).groupby("sensor").size().to_dict() == {
        "007": 4, "07": 4}


@pytest.mark.parametrize(("outputs", "message"), [
    (["--out", "x.tsrnn", "--save-model", "x.tsrnn"], "--save-model {0}/x.tsrnn and --out "
     "both write {0}/x.tsrnn"),
    (["--out", "f.csv", "--plot", "f.csv"], "--plot {0}/f.csv and --out both write {0}/f.csv"),
    (["--out", "f.csv", "--plot", "f.txt"], "--plot {0}/f.txt: .txt is not an image format "
     "(use one of "),
])
def test_outputs_that_would_clash_or_fail_are_refused_before_training(tmp_path, capsys,
                                                                      outputs, message):
    # The model replaced the forecast, exit code 0; or the forecast was written, then
    # matplotlib's "Format 'txt' is not supported" came, naming the input file.
    data = _write(_sensors(), tmp_path / "d.csv")
    args = [a if a.startswith("--") else str(tmp_path / a) for a in outputs]
    assert main(["forecast", str(data), *FORECAST, *args]) == 2
    assert message.format(tmp_path) in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]  # nothing written


def test_forecast_to_standard_output(files, capsys):
    assert main(["forecast", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", "-"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == \
        "sensor,timestamp,value_q0.1,value_q0.5,value_q0.9"


def test_forecast_plot_and_saved_model(tmp_path):
    data = _write(_sensors(spike=None), tmp_path / "d.csv")
    args = ["forecast", str(data), *FORECAST, "--out", str(tmp_path / "f.csv"),
            "--plot", str(tmp_path / "f.png"), "--save-model", str(tmp_path / "m.tsrnn"),
            "--cell", "lstm", "--n-models", "2"]
    assert main(args) == 0
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    model = Forecaster.load(tmp_path / "m.tsrnn")
    assert (model.cell, model.hidden_size, model.horizon, model.n_models) == ("lstm", 8, 4, 2)
    assert len(model.training_summary_["members"]) == 2


def test_forecast_draws_seq2seq_attention(tmp_path):
    data = _write(_sensors(spike=None), tmp_path / "d.csv")
    assert main(["forecast", str(data), *FORECAST, "--set", "model=seq2seq",
                 "--out", str(tmp_path / "f.csv"), "--plot-attention",
                 str(tmp_path / "attention.png")]) == 0
    assert (tmp_path / "attention.png").read_bytes().startswith(b"\x89PNG")


def test_attention_plot_needs_a_seq2seq_model(files, tmp_path, capsys):
    assert main(["forecast", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", str(tmp_path / "f.csv"),
                 "--plot-attention", str(tmp_path / "a.png")]) == 1
    assert "needs a seq2seq model" in capsys.readouterr().err


# ------------------------------------------------------------------- detect
def test_detect_scores_every_input_row(files):
    scored = pd.read_csv(files / "scores.csv")
    original = pd.read_csv(files / "sensors.csv")
    pd.testing.assert_frame_equal(scored[original.columns], original)
    assert set(scored["label"].unique()) <= {0, 1}
    assert scored["score"].ge(0).all()
    # The spike is the most anomalous row of its sensor.
    s0 = scored[scored["sensor"] == "s0"]
    assert s0.loc[s0["score"].idxmax(), "is_anomaly"] == 1


def test_detect_prints_detection_metrics_for_a_label_column(files, tmp_path, capsys):
    assert main(["detect", str(files / "sensors.csv"), "--model", str(files / "detector.tsrnn"),
                 "--label-col", "is_anomaly", "--out", str(tmp_path / "s.csv"),
                 "--plot", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    assert "ROC-AUC" in out and "PR-AUC" in out
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "s.csv"),
                                  pd.read_csv(files / "scores.csv"))


def test_detect_metrics_of_a_resampled_file_are_over_its_own_rows(files, tmp_path, capsys):
    # The scores of the grid outnumber the labels: the metrics were left out
    # without a word.
    frame = _sensors().drop(index=[40, 41, 190])  # gaps in both sensors
    data = _write(frame, tmp_path / "gaps.csv")
    assert main(["detect", str(data), "--model", str(files / "detector.tsrnn"),
                 "--label-col", "is_anomaly", "--out", str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out
    assert "ROC-AUC" in out
    share = float(out.split("(PR-AUC by chance)")[1].split()[0])
    assert share == pytest.approx(1 / len(frame), abs=1e-4)


def test_evaluate_measures_a_detector_on_a_file_with_gaps_as_detect_does(files, tmp_path,
                                                                        capsys):
    # It failed with the library's "Pass resample=True (with fill=)", which no flag
    # of evaluate sets; detect resamples such a file.
    data = _write(_sensors().drop(index=[40, 41, 190]), tmp_path / "gaps.csv")
    model = str(files / "detector.tsrnn")
    printed = []
    for command in (["detect", "--out", str(tmp_path / "s.csv")],
                    ["evaluate", "--out", str(tmp_path / "e.csv")]):
        assert main([command[0], str(data), "--model", model, "--label-col", "is_anomaly",
                     *command[1:]]) == 0
        captured = capsys.readouterr()
        assert f"{command[0]}: warning: {data}: resampled onto a regular grid" in captured.err
        printed.append(captured.out[captured.out.index("ROC-AUC"):])
    assert printed[0] == printed[1]
    assert "--no-resample" not in captured.err  # evaluate has no such flag
    assert pd.read_csv(tmp_path / "e.csv")["rows"].tolist() == [297]


@pytest.mark.parametrize(("label", "flags", "named"), [
    ("is_anomaly", ["--target", "value,is_anomaly", "--id-col", "sensor", *FAST], "--target"),
    ("is_anomaly", ["--target", "value", "--id-col", "is_anomaly", *FAST], "--id-col"),
    ("value", ["--model", "detector.tsrnn"], "the model's target")])
def test_detect_refuses_a_label_column_that_is_also_a_signal(files, tmp_path, capsys, label,
                                                             flags, named):
    # The labels are dropped from the signals: it failed with "column 'is_anomaly'
    # is not in the DataFrame", after reading the file (and, for --id-col, training).
    flags = [str(files / f) if f.endswith(".tsrnn") else f for f in flags]
    assert main(["detect", str(files / "sensors.csv"), "--label-col", label, *flags,
                 "--out", str(tmp_path / "s.csv")]) == 2
    assert f"error: --label-col {label} is also {named}: " in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_detect_refuses_contamination_with_a_pot_threshold(files, tmp_path, capsys):
    # --threshold pot fits the scores' tail: --contamination was accepted and ignored.
    assert main(["detect", str(files / "sensors.csv"), "--threshold", "pot",
                 "--contamination", "0.2", "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "error: --contamination sets the quantile threshold; --threshold pot" in err
    assert not (tmp_path / "s.csv").exists()


def test_detect_metrics_rank_an_infinite_score_first(files, tmp_path, capsys):
    # A fault code of 3.4e38 scores inf: the metrics refused it ("scores contains NaN
    # or inf") after the scores were written, with exit code 1.
    frame = _sensors()
    frame.loc[100, "value"] = 3.4e38  # the labelled spike
    data = _write(frame, tmp_path / "fault.csv")
    assert main(["detect", str(data), "--model", str(files / "detector.tsrnn"),
                 "--label-col", "is_anomaly", "--out", str(tmp_path / "s.csv")]) == 0
    assert np.isinf(pd.read_csv(tmp_path / "s.csv")["score"][100])
    out = capsys.readouterr().out
    assert "ROC-AUC" in out and "recall of the 0/1 labels                         1.0000" in out


@pytest.mark.parametrize("label", [0, 1])
def test_detect_scores_a_file_whose_labels_hold_one_class_without_metrics(files, tmp_path,
                                                                         capsys, label):
    # The metrics are undefined: detect wrote the scores, then failed with exit code 1.
    data = _write(_sensors(spike=None).assign(is_anomaly=label), tmp_path / "one.csv")
    assert main(["detect", str(data), "--model", str(files / "detector.tsrnn"),
                 "--label-col", "is_anomaly", "--out", str(tmp_path / "s.csv")]) == 0
    captured = capsys.readouterr()
    assert "ROC-AUC" not in captured.out
    assert (f"warning: {data}: --label-col 'is_anomaly' holds "
            f"{'no anomaly (no 1)' if label == 0 else 'no 0'}: no detection metrics"
            in captured.err)
    assert len(pd.read_csv(tmp_path / "s.csv")) == 300


def test_detect_with_resampling_writes_one_row_per_grid_step(tmp_path):
    frame = _sensors(spike=None).query("sensor == 's0'").drop(columns=["sensor"])
    frame = frame.drop(index=[40, 41])  # a two-hour gap
    data = _write(frame, tmp_path / "gap.csv")
    assert main(["detect", str(data), "--target", "value", "--window", "8", *FAST,
                 "--set", "resample=true", "--set", "fill='interpolate'",
                 "--out", str(tmp_path / "s.csv"), "--plot", str(tmp_path / "s.png")]) == 0
    scored = pd.read_csv(tmp_path / "s.csv")
    assert len(scored) == len(frame) + 2
    assert scored["value"].isna().sum() == 2  # the steps the file does not have
    assert scored["score"].notna().all()


def test_detect_refuses_a_forecaster_model(files, tmp_path, capsys):
    code = main(["detect", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", str(tmp_path / "s.csv")])
    assert code == 1
    assert "holds a Forecaster; `tsrnn detect` needs an AnomalyDetector" in capsys.readouterr().err


def test_forecast_refuses_a_detector_model(files, tmp_path, capsys):
    code = main(["forecast", str(files / "sensors.csv"), "--model",
                 str(files / "detector.tsrnn"), "--out", str(tmp_path / "f.csv")])
    assert code == 1
    assert "holds an AnomalyDetector; `tsrnn forecast` needs a Forecaster" in (
        capsys.readouterr().err)


# -------------------------------------------------------------- folder mode
def test_folder_mode_skips_a_bad_file_and_reports_it(files, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    _write(_sensors(seed=1), inputs / "a.csv")
    _write(_sensors(seed=2), inputs / "c.csv")
    (inputs / "b.csv").write_text("timestamp,sensor,value\n2024-01-01,s0,1.0\n"
                                  "2024-01-01 01:00,s0,oops\n")
    (inputs / "d.csv").write_text("timestamp,sensor,value\n")
    (inputs / "notes.txt").write_text("not a CSV: ignored")
    code = main(["detect", str(inputs), "--model", str(files / "detector.tsrnn"),
                 "--out", str(tmp_path / "out"), "--plot", str(tmp_path / "plots")])
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.csv", "c.csv"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["a.png", "c.png"]
    captured = capsys.readouterr()
    bad = next(line for line in captured.out.splitlines() if line.startswith("b.csv"))
    assert "FAILED" in bad and "'value'" in bad
    assert "4 files: 2 ok, 2 failed" in captured.out
    # A message that names its file already is not prefixed with it again.
    empty = inputs / "d.csv"
    assert f"{empty} has a header but no rows" in captured.err
    assert f"{empty}: {empty}" not in captured.err


def test_folder_mode_trains_one_model_per_file(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for seed in (1, 2):
        _write(_sensors(seed=seed), inputs / f"plant{seed}.csv")
    assert main(["forecast", str(inputs), *FORECAST, "--out", str(tmp_path / "out"),
                 "--save-model", str(tmp_path / "models")]) == 0
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == \
        ["plant1.tsrnn", "plant2.tsrnn"]
    assert "2 files: 2 ok, 0 failed" in capsys.readouterr().out


def test_folder_mode_needs_an_output_folder(files, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    _write(_sensors(), tmp_path / "in" / "a.csv")
    (tmp_path / "taken.csv").write_text("x")
    code = main(["forecast", str(tmp_path / "in"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", str(tmp_path / "taken.csv")])
    assert code == 2
    assert "give a folder" in capsys.readouterr().err


def test_outputs_never_overwrite_an_input(files, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    data = _write(_sensors(), inputs / "a.csv")
    for source, out in ((data, inputs), (inputs, inputs), (data, data)):
        code = main(["forecast", str(source), "--model", str(files / "forecaster.tsrnn"),
                     "--out", str(out)])
        assert code == 2
        assert "would overwrite the input file" in capsys.readouterr().err
    assert data.read_text() == _sensors().to_csv(index=False)


# -------------------------------------------------------------------- train
def test_train_from_toml_with_command_line_overrides(tmp_path, capsys):
    _write(_sensors(), tmp_path / "sensors.csv")
    (tmp_path / "run.toml").write_text('''
task = "forecast"
[data]
path = "sensors.csv"          # relative to this file
id_col = "sensor"
target = "value"
[model]
cell = "rnn"
input_len = 16
horizon = 4
hidden_size = 16
max_epochs = 2
batch_size = 32
accelerator = "cpu"
[output]
model = "ot.tsrnn"
''')
    assert main(["train", "--config", str(tmp_path / "run.toml"), "--set", "hidden_size=8",
                 "--set", "quantiles=[0.2,0.8]", "-q"]) == 0
    model = Forecaster.load(tmp_path / "ot.tsrnn")
    assert (model.cell, model.hidden_size, model.quantiles) == ("rnn", 8, [0.2, 0.8])
    assert "saved" in capsys.readouterr().out
    assert not (tmp_path / "ot.tsrnn.ckpt").exists()  # checkpoints go once the model is saved


def test_train_a_detector_from_yaml(tmp_path, capsys):
    pytest.importorskip("yaml")
    _write(_sensors(), tmp_path / "sensors.csv")
    (tmp_path / "run.yaml").write_text(
        "task: detect\n"
        "data: {path: sensors.csv, id_col: sensor, target: value}\n"
        "model: {window: 8, hidden_size: 8, max_epochs: 1, accelerator: cpu}\n")
    assert main(["train", "--config", str(tmp_path / "run.yaml"), "--out",
                 str(tmp_path / "det.tsrnn")]) == 0
    assert AnomalyDetector.load(tmp_path / "det.tsrnn").window == 8
    assert "training an AnomalyDetector on " in capsys.readouterr().err  # not "a Anomaly..."


@pytest.mark.parametrize("config, message", [
    ('task = "forecast"\n[model]\nhiden_size = 8\n', "did you mean 'hidden_size'"),
    ('task = "forecast"\n[modle]\ncell = "gru"\n', "unknown key 'modle'"),
    ('task = "predict"\n', "task must be one of"),
    ('task = "forecast"\n[model\n', "not valid TOML"),
])
def test_train_config_errors_are_one_clear_line(tmp_path, capsys, config, message):
    (tmp_path / "run.toml").write_text(config)
    assert main(["train", "--config", str(tmp_path / "run.toml")]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("name, config, message", [
    ("run.yaml", "task: forecast\nmodel:\n  cell: gru\n   hidden_size: 8\n",
     "run.yaml is not valid YAML at line 4, column 15: mapping values are not allowed here"),
    ("run.yaml", "task: forecast\nmodel: {cell: gru\n",
     "run.yaml is not valid YAML at line 3, column 1: expected ',' or '}', but got"),
    ("run.toml", 'task = "forecast"\n\n[model]\ncell = gru\n', "(at line 4, column 8)"),
])
def test_a_config_syntax_error_names_its_line(tmp_path, capsys, name, config, message):
    if name.endswith(".yaml"):
        pytest.importorskip("yaml")
    (tmp_path / name).write_text(config)
    assert main(["train", "--config", str(tmp_path / name)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_forecast_reads_a_config_and_flags_win(tmp_path):
    data = _write(_sensors(spike=None), tmp_path / "d.csv")
    (tmp_path / "run.toml").write_text('[data]\nid_col = "sensor"\ntarget = "value"\n'
                                       '[model]\ninput_len = 16\nhorizon = 6\n'
                                       'hidden_size = 8\ncell = "rnn"\n')
    assert main(["forecast", str(data), "--config", str(tmp_path / "run.toml"), *FAST,
                 "--horizon", "3", "--out", str(tmp_path / "f.csv"),
                 "--save-model", str(tmp_path / "m.tsrnn")]) == 0
    model = Forecaster.load(tmp_path / "m.tsrnn")
    assert (model.cell, model.input_len, model.horizon) == ("rnn", 16, 3)
    assert len(pd.read_csv(tmp_path / "f.csv")) == 2 * 3


def test_a_config_for_another_task_is_refused(tmp_path, capsys):
    data = _write(_sensors(), tmp_path / "d.csv")
    (tmp_path / "run.toml").write_text('task = "detect"\n')
    assert main(["forecast", str(data), "--config", str(tmp_path / "run.toml"),
                 "--out", str(tmp_path / "f.csv")]) == 2
    assert "is a detect config" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["forecast", "detect", "train", "evaluate", "stream",
                                     "export"])
def test_pipeline_scripts_are_the_same_commands(command, capsys):
    import importlib

    script = importlib.import_module(f"pipelines.{command}")
    assert script.main(["--help"]) == 0
    assert f"usage: tsrnn {command}" in capsys.readouterr().out


def test_unknown_set_parameter_is_a_usage_error(tmp_path, capsys):
    _write(_sensors(), tmp_path / "d.csv")
    code = main(["forecast", str(tmp_path / "d.csv"), "--out", str(tmp_path / "f.csv"),
                 "--set", "hidden=3"])
    assert code == 2
    assert "unknown Forecaster parameter" in capsys.readouterr().err


# ------------------------------------------------------------------ evaluate
def test_evaluate_backtests_a_forecaster(files, tmp_path, capsys):
    out = tmp_path / "metrics.csv"
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", str(out)]) == 0
    assert "MASE" in capsys.readouterr().out
    metrics = pd.read_csv(out)
    assert metrics.loc[0, "file"] == "sensors.csv" and metrics.loc[0, "mae"] > 0


def test_evaluate_labels_say_the_units_and_the_mase_scale(files, capsys):
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn")]) == 0
    out = capsys.readouterr().out
    assert "MAPE (percent; actual values of 0 left out)" in out
    assert "sMAPE (percent, 0 to 200)" in out
    assert "MASE (1 = in-sample one-step naive MAE, m=1)" in out
    assert "fraction" not in out and "repeating the last value" not in out


def test_evaluate_mase_is_the_one_step_naive_scale_its_label_names(files, tmp_path):
    # The label says m=1: the CLI's MASE must be the backtest's MASE with season 1.
    out = tmp_path / "metrics.csv"
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", str(out), "-q"]) == 0
    model = Forecaster.load(files / "forecaster.tsrnn")
    with pytest.warns(InSampleBacktestWarning):  # as `evaluate` without --retrain
        backtest = model.historical_forecasts(pd.read_csv(files / "sensors.csv"), start=0.8,
                                              season=1)
    row = pd.read_csv(out).iloc[0]
    assert row["mase"] == pytest.approx(backtest.metrics["mase"], rel=1e-9)
    assert row["mape"] == pytest.approx(backtest.metrics["mape"], rel=1e-9)
    # MAPE in percent: about the size of sMAPE, not a hundredth of it.
    assert 0.2 < row["mape"] / row["smape"] < 5


def test_evaluate_with_zeros_in_the_truth_warns_and_leaves_them_out(files, tmp_path, capsys):
    frame = _sensors()
    frame.loc[(frame["sensor"] == "s1") & (frame.index % 150 >= 130), "value"] = 0.0
    path = _write(frame, tmp_path / "zeros.csv")
    out = tmp_path / "metrics.csv"
    assert main(["evaluate", str(path), "--model", str(files / "forecaster.tsrnn"),
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"tsrnn evaluate: warning: {path}: MAPE is undefined where the actual value is 0: " \
        in err and "points left out" in err
    row = pd.read_csv(out).iloc[0]
    assert 0 < row["mape"] < 1000  # not 1e13: the zeros are left out
    assert np.isfinite(row["smape"]) and np.isfinite(row["mase"])


def test_evaluate_warns_of_an_in_sample_backtest(files, capsys):
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn")]) == 0
    err = capsys.readouterr().err
    assert "backtest origins forecast values the model was trained on" in err
    assert "--retrain" in err and "retrain=True" not in err


def test_evaluate_retrain_refits_out_of_sample(files, tmp_path, capsys):
    out = tmp_path / "metrics.csv"
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--retrain", "4", "--out", str(out)]) == 0
    assert "trained on" not in capsys.readouterr().err
    metrics = pd.read_csv(out)
    assert metrics.loc[0, "forecasts"] == 7 and metrics.loc[0, "mae"] > 0


@pytest.mark.parametrize("value", ["0", "x", "-2"])
def test_evaluate_bad_retrain_names_the_flag(files, capsys, value):
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), f"--retrain={value}"]) == 2
    assert "--retrain" in capsys.readouterr().err


def test_evaluate_retrain_is_for_forecasters(files, capsys):
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "detector.tsrnn"), "--label-col", "is_anomaly",
                 "--retrain"]) == 2
    assert "--retrain is for forecasters" in capsys.readouterr().err


@pytest.mark.parametrize(("model", "flag", "message"), [
    ("forecaster", ["--online"], "--online is for detectors; this model is a forecaster"),
    ("detector", ["--label-col", "is_anomaly", "--stride", "3"],
     "--stride is for forecasters; this model is a detector")])
def test_evaluate_refuses_the_other_kind_of_models_flag(files, capsys, model, flag, message):
    # Both were accepted and did nothing.
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / f"{model}.tsrnn"), *flag]) == 2
    assert message in capsys.readouterr().err


def test_evaluate_a_detector_against_labels(files, capsys):
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "detector.tsrnn"), "--label-col", "is_anomaly"]) == 0
    assert "PR-AUC" in capsys.readouterr().out


def test_evaluate_a_detector_needs_labels(files, capsys):
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "detector.tsrnn")]) == 2
    assert "--label-col" in capsys.readouterr().err


# ------------------------------------------------------------------- stream
def _stream_process(model: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tsrnn", "stream", "--model", str(model)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def test_stream_through_a_pipe_matches_online_scores(files):
    df = pd.read_csv(files / "sensors.csv").drop(columns=["is_anomaly"])
    feed = df.sort_values("timestamp", kind="stable").iloc[:60]
    proc = _stream_process(files / "detector.tsrnn")
    out, err = proc.communicate(feed.to_csv(index=False), timeout=120)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "timestamp,sensor,score,label,ready"
    assert len(lines) == 1 + len(feed)
    streamed = pd.read_csv(pd.io.common.StringIO(out))
    online = AnomalyDetector.load(files / "detector.tsrnn").decision_function(
        feed, online=True)
    np.testing.assert_allclose(streamed["score"], online.to_numpy(), rtol=1e-4, atol=1e-6)


def test_stream_answers_each_line_before_the_next_arrives(files):
    """One line in, one line out, while the input stays open: nothing is held back in
    a buffer. (The wait only guards against a hang; it is not what is tested.)"""
    rows = pd.read_csv(files / "sensors.csv").drop(columns=["is_anomaly"]).iloc[:3]
    proc = _stream_process(files / "detector.tsrnn")
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)

    def send(line: str) -> str:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        assert selector.select(timeout=120), f"no answer to {line!r}"
        return proc.stdout.readline()

    try:
        assert send("timestamp,sensor,value") == "timestamp,sensor,score,label,ready\n"
        for row in rows.itertuples():
            answer = send(f"{row.timestamp},{row.sensor},{row.value}")
            assert answer.startswith(f"{row.timestamp},{row.sensor},")
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()


def test_stream_reports_a_bad_line_and_goes_on(files, capsys, monkeypatch):
    import io

    feed = ("timestamp,sensor,value\n2024-01-01 00:00:00,s0,1.0\n"
            "2024-01-01 01:00:00,s0,abc\n2024-01-01 00:00:00,s0,1.0\n"
            "2024-01-01 02:00:00,s0,1.5\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(feed))
    assert main(["stream", "--model", str(files / "detector.tsrnn")]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3  # header and the two good lines
    assert "line 3 skipped: column 'value' is not a number" in captured.err
    assert "line 4 skipped" in captured.err and "not after its last one" in captured.err


def test_stream_reads_a_semicolon_feed_as_files_are_read(files, capsys, monkeypatch):
    import io

    comma = ("timestamp,sensor,value\n2024-01-01 00:00:00,s0,1.5\n"
             "2024-01-01 01:00:00,s0,2.25\n")
    semicolon = ("timestamp;sensor;value\n2024-01-01 00:00:00;s0;1,5\n"
                 "2024-01-01 01:00:00;s0;2,25\n")  # decimal commas, as Excel writes
    outs = []
    for feed in (comma, semicolon):
        monkeypatch.setattr(sys, "stdin", io.StringIO(feed))
        assert main(["stream", "--model", str(files / "detector.tsrnn")]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and len(outs[0].splitlines()) == 3


def test_stream_refuses_a_header_naming_a_needed_column_twice(files, capsys, monkeypatch):
    import io

    feed = "timestamp,sensor,value,value\n2024-01-01 00:00:00,s0,1.0,2.0\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(feed))
    assert main(["stream", "--model", str(files / "detector.tsrnn")]) == 1
    captured = capsys.readouterr()
    assert "the header line names column(s) ['value'] more than once" in captured.err
    assert captured.out == ""


def test_stream_skips_undecodable_and_oversized_lines_and_loses_nothing_else(files):
    """A stream must never stop for one bad line: an invalid UTF-8 byte, a 200 KB
    field (past the csv module's default limit), a line of 2 MB with no number in
    it, a line of the wrong shape. Each is reported with its line number; every
    other reading is scored."""
    rows = pd.read_csv(files / "sensors.csv").drop(columns=["is_anomaly"])
    good = [f"{r.timestamp},{r.sensor},{r.value}".encode() for r in rows.iloc[:12].itertuples()]
    feed = [b"timestamp,sensor,value,note"]
    feed += [g + b",ok" for g in good[:3]]
    feed += [good[3] + b",caf\xe9"]                       # Latin-1, not UTF-8: line 5
    feed += [g + b",ok" for g in good[4:6]]
    feed += [good[6] + b"," + b"x" * 200_000]             # a 200 KB note: still scored
    feed += [b"2024-01-01 00:00:00,s0," + b"9" * 2_000_000]  # 2 MB: line 9
    feed += [b"2024-01-01,s0"]                             # too few fields: line 10
    feed += [g + b",ok" for g in good[7:]]
    proc = subprocess.Popen(  # bytes in, under a UTF-8 locale (strict decoding there)
        [sys.executable, "-m", "tsrnn", "stream", "--model", str(files / "detector.tsrnn")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "LC_ALL": "C.UTF-8"})
    out, err = proc.communicate(b"\n".join(feed) + b"\n", timeout=120)
    err = err.decode()
    assert proc.returncode == 1  # some lines were skipped
    scored = out.decode().splitlines()
    assert scored[0] == "timestamp,sensor,score,label,ready"
    assert len(scored) == 1 + len(good) - 1  # every good line but the undecodable one
    assert "line 5 skipped: not UTF-8 text" in err
    assert "line 9 skipped: longer than 1,048,576 characters" in err
    assert "line 10 skipped: expected 4 fields, got 2" in err
    assert "Traceback" not in err and "line 8" not in err


# ------------------------------------------------------- errors and safety
def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["forecast", str(tmp_path / "missing.csv"), "--out",
                 str(tmp_path / "f.csv")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"tsrnn forecast: error: {tmp_path / 'missing.csv'}: no such file"


def test_bad_data_names_the_file_and_the_column(tmp_path, capsys):
    data = _write(_sensors(), tmp_path / "d.csv")
    assert main(["forecast", str(data), *FORECAST[:2], "--target", "valu", "--out",
                 str(tmp_path / "f.csv")]) == 1
    err = capsys.readouterr().err
    assert str(data) in err and "'valu'" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["forecast", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "f.csv"),
              "--debug"])


def test_help_of_every_command_shows_an_example(capsys):
    for command in ("forecast", "detect", "train", "evaluate", "stream", "export", "datasets"):
        assert main([command, "--help"]) == 0
        assert f"tsrnn {command}" in capsys.readouterr().out.split("\nexamples")[1]


def test_an_interrupted_write_keeps_the_older_output(files, tmp_path, monkeypatch, capsys):
    out = tmp_path / "forecast.csv"
    out.write_text("an older, good forecast\n")

    def power_cut(frame, f, **kwargs):
        f.write("sensor,timestamp,val")  # half a header, then the run dies
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", power_cut)
    code = main(["forecast", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", str(out)])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert out.read_text() == "an older, good forecast\n"
    assert os.listdir(tmp_path) == ["forecast.csv"]  # no temporary file left behind


def test_resume_continues_an_interrupted_training(tmp_path, monkeypatch, capsys):
    _write(_sensors(), tmp_path / "d.csv")
    model = tmp_path / "m.tsrnn"
    model.write_bytes(b"an older, good model")
    train = ["train", "--task", "forecast", "--data", str(tmp_path / "d.csv"), "--out",
             str(model), "--id-col", "sensor", "--target", "value", *FAST[:-1], "--epochs", "4",
             "--set", "input_len=16", "--set", "horizon=4", "--set", "patience=None"]
    save = LastCheckpoint.on_train_epoch_end

    def ctrl_c_after_epoch_two(self, trainer, pl_module):
        save(self, trainer, pl_module)
        if trainer.current_epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(LastCheckpoint, "on_train_epoch_end", ctrl_c_after_epoch_two)
    assert main(train) == 130
    assert "--resume" in capsys.readouterr().err
    assert model.read_bytes() == b"an older, good model"
    assert (tmp_path / "m.tsrnn.ckpt" / "last.ckpt").exists()

    monkeypatch.setattr(LastCheckpoint, "on_train_epoch_end", save)
    assert main([*train, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "resuming from" in err and "(epochs done: 2)" in err
    assert Forecaster.load(model).training_summary_["epochs"] == 4
    assert not (tmp_path / "m.tsrnn.ckpt").exists()


def test_detect_alerts_trains_a_detector_for_alerting(files, tmp_path):
    from tsrnn import AnomalyDetector

    out, model = tmp_path / "alerts.csv", tmp_path / "alerts.tsrnn"
    assert main(["detect", str(files / "sensors.csv"), "--id-col", "sensor", "--target",
                 "value", "--window", "8", "--alerts", "--out", str(out), "--save-model",
                 str(model), *FAST]) == 0
    det = AnomalyDetector.load(model)
    assert det.alerts is True
    # With the cooldown most steps score 0: an incident keeps only its onset (ranking
    # scores are positive on every scored step).
    scores = pd.read_csv(out)["score"]
    assert (scores == 0).mean() > 0.5


def test_detect_alerts_with_a_saved_model_is_refused(files, tmp_path, capsys):
    assert main(["detect", str(files / "sensors.csv"), "--model",
                 str(files / "detector.tsrnn"), "--alerts", "--out",
                 str(tmp_path / "x.csv")]) == 2
    assert "--model" in capsys.readouterr().err


# ------------------------------------------------- outputs that are not files
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_out_to_a_fifo_writes_through_and_keeps_the_fifo(files, tmp_path):
    import stat
    import threading

    fifo = tmp_path / "scores.pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    assert main(["detect", str(files / "sensors.csv"), "--model",
                 str(files / "detector.tsrnn"), "--out", str(fifo), "-q"]) == 0
    reader.join(timeout=30)
    assert got and got[0].startswith("timestamp,sensor,value,is_anomaly,score,label")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_out_through_a_symlink_replaces_the_target_and_keeps_the_link(files, tmp_path):
    target = tmp_path / "runs" / "forecast.csv"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    assert main(["forecast", str(files / "sensors.csv"), "--model",
                 str(files / "forecaster.tsrnn"), "--out", str(link), "-q"]) == 0
    assert link.is_symlink() and target.read_text().startswith("sensor,timestamp")


def test_evaluate_writes_metrics_to_standard_output(files, capsys):
    assert main(["evaluate", str(files / "sensors.csv"), "--model",
                 str(files / "detector.tsrnn"), "--label-col", "is_anomaly", "--out", "-"]) == 0
    captured = capsys.readouterr()
    table = pd.read_csv(pd.io.common.StringIO(captured.out))
    assert list(table["file"]) == ["sensors.csv"] and "pr_auc" in table
    assert "PR-AUC" in captured.err  # the readable report goes to stderr, out of the CSV


def test_an_unwritable_destination_fails_before_training(files, tmp_path, monkeypatch,
                                                         capsys):
    import tempfile

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # root ignores chmod: simulate
    trained = []
    monkeypatch.setattr(Forecaster, "fit", lambda self, *a, **k: trained.append(1))
    assert main(["forecast", str(files / "sensors.csv"), *FORECAST,
                 "--out", str(tmp_path / "f.csv")]) == 1
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'f.csv'}: cannot write in folder {tmp_path}" in err
    assert trained == [] and ".tmp" not in err


# ------------------------------------------------------------- truth columns
def test_detect_never_overwrites_an_input_column_named_label(files, tmp_path, capsys):
    truth = _sensors().rename(columns={"is_anomaly": "label"})
    data = _write(truth.assign(score=7.0), tmp_path / "labelled.csv")
    out = tmp_path / "scores.csv"
    assert main(["detect", str(data), "--model", str(files / "detector.tsrnn"),
                 "--label-col", "label", "--out", str(out)]) == 0
    scored = pd.read_csv(out)
    np.testing.assert_array_equal(scored["label"], truth["label"])  # the truth, intact
    assert (scored["score"] == 7.0).all()
    assert {"anomaly_score", "predicted_label"} <= set(scored.columns)
    assert set(scored["predicted_label"]) <= {0, 1}
    assert "'anomaly_score' and 'predicted_label'" in capsys.readouterr().err


@pytest.mark.parametrize(("cell", "shown"), [("", "is empty"), ("yes", "holds 'yes'"),
                                             ("2", "holds 2")])
def test_a_label_column_that_is_not_zero_or_one_is_named_with_its_row(files, tmp_path, capsys,
                                                                     cell, shown):
    frame = _sensors().astype({"is_anomaly": object})
    frame.loc[5, "is_anomaly"] = cell
    data = _write(frame, tmp_path / "d.csv")
    assert main(["evaluate", str(data), "--model", str(files / "detector.tsrnn"),
                 "--label-col", "is_anomaly"]) == 1
    err = capsys.readouterr().err.strip()
    assert "--label-col 'is_anomaly' must hold 0 or 1 in every row; data row 6 (line 7)" in err
    assert shown in err and "\n" not in err


# ---------------------------------------------------------------- input files
def test_a_header_with_two_ot_columns_is_refused(tmp_path, capsys):
    data = tmp_path / "twice.csv"
    data.write_text("date,OT,OT\n" + "".join(f"2024-01-01 {h:02d}:00,{h},{-h}\n"
                                             for h in range(24)))
    assert main(["forecast", str(data), "--target", "OT", "--out",
                 str(tmp_path / "f.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"tsrnn forecast: error: {data}: column 'OT' appears twice in the header "
                   "(columns 2 and 3); rename one")


def test_semicolon_files_with_decimal_commas_score_like_the_comma_file(files, tmp_path):
    frame = pd.read_csv(files / "sensors.csv")
    semicolons = tmp_path / "sensors-eu.csv"
    semicolons.write_text(frame.to_csv(index=False, sep=";", decimal=","))
    outs = []
    for k, data in enumerate((files / "sensors.csv", semicolons)):
        out = tmp_path / f"scores{k}.csv"
        assert main(["detect", str(data), "--model", str(files / "detector.tsrnn"),
                     "--label-col", "is_anomaly", "--out", str(out), "-q"]) == 0
        outs.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(outs[0], outs[1])


# ------------------------------------------------------------ gappy sensor files
def test_a_saved_model_reads_later_day_first_text_as_its_training_text(tmp_path):
    # The training file passes the 12th: day-first is the only reading. A later
    # file of 1 to 5 February reads either way; month-first would be 2 January
    # to 2 May, and the forecast would start in May.
    times = pd.date_range("2024-01-01", periods=960, freq="h")  # to 9 February
    y = np.sin(np.arange(960) / 4)
    written = times.strftime("%d/%m/%Y %H:%M")
    pd.DataFrame({"time": written[:400], "y": y[:400]}).to_csv(tmp_path / "jan.csv",
                                                               index=False)
    later = (times >= "2024-02-01") & (times < "2024-02-05")
    pd.DataFrame({"time": written[later], "y": y[later]}).to_csv(tmp_path / "feb.csv",
                                                                 index=False)
    model = tmp_path / "f.tsrnn"
    assert main(["forecast", str(tmp_path / "jan.csv"), "--input-len", "16", "--horizon",
                 "4", *FAST, "--out", str(tmp_path / "a.csv"), "--save-model",
                 str(model)]) == 0
    assert main(["forecast", str(tmp_path / "feb.csv"), "--model", str(model), "-q",
                 "--out", str(tmp_path / "b.csv")]) == 0
    first = pd.Timestamp(pd.read_csv(tmp_path / "b.csv")["time"].iloc[0])
    assert first == pd.Timestamp("2024-02-05 00:00")


def _gappy(tmp_path) -> Path:
    """A NAB-like file: one value every 5 minutes, one step missing."""
    n = 200
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2024-01-01", periods=n, freq="5min").astype(str),
        "value": np.sin(np.arange(n) / 6).round(4)})
    return _write(frame.drop(index=120), tmp_path / "gappy.csv")


def test_a_file_with_a_gap_is_resampled_with_a_warning(tmp_path, capsys):
    data = _gappy(tmp_path)
    out = tmp_path / "scores.csv"
    assert main(["detect", str(data), "--target", "value", "--window", "8", *FAST,
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"tsrnn detect: warning: {data}: resampled onto a regular grid, empty steps " \
           "filled by interpolate" in err
    assert "a gap from 2024-01-01 09:55:00 to 2024-01-01 10:05:00" in err
    scored = pd.read_csv(out)
    assert len(scored) == 200  # every step of the grid, the missing one included
    assert scored["value"].isna().sum() == 1 and scored["score"].notna().all()


def test_no_resample_refuses_a_gap_naming_the_flags(tmp_path, capsys):
    data = _gappy(tmp_path)
    assert main(["detect", str(data), "--target", "value", "--window", "8", *FAST,
                 "--no-resample", "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert "a gap from 2024-01-01 09:55:00 to 2024-01-01 10:05:00" in err
    assert "Use --resample (with --fill ffill or interpolate)" in err
    assert "resample=True" not in err and "\n" not in err


def test_a_missing_value_names_the_fill_flag(tmp_path, capsys):
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=120, freq="h"),
                          "value": np.sin(np.arange(120) / 4)})
    frame.loc[50, "value"] = np.nan
    frame.to_csv(tmp_path / "nan.csv", index=False)
    assert main(["detect", str(tmp_path / "nan.csv"), "--window", "8", *FAST,
                 "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert "--fill ffill or --fill interpolate" in err
    assert "fill=" not in err and "\n" not in err


def test_a_library_warning_is_one_line_naming_the_file(tmp_path, capsys):
    # Python printed it as "<tsrnn>/cli/_runs.py:30: AutoSizeWarning: ..." with the
    # source line "model.fit(df, **columns)" under it.
    data = _write(_sensors(n=120), tmp_path / "short.csv")
    assert main(["forecast", str(data), "--id-col", "sensor", "--target", "value", *FAST,
                 "--out", str(tmp_path / "f.csv")]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"tsrnn forecast: warning: {data}: the shortest series (120 "
                               "rows) is too short for the default --input-len with a "
                               "validation part of --horizon 48 rows")
    assert lines[0].endswith("no validation and no early stopping (all --epochs 2)")


@pytest.mark.parametrize("command, advice", [
    ("forecast", "Pass integers: a shorter --horizon N, or --input-len N"),
    # train has no --horizon: its config's [model] sets it
    ("train", "Pass integers: a shorter horizon=N, or input_len=N"),
])
def test_a_message_names_only_the_flags_the_command_has(tmp_path, capsys, command, advice):
    data = _write(_sensors(n=30, spike=None), tmp_path / "short.csv")
    columns = ["--id-col", "sensor", "--target", "value", *FAST]
    if command == "train":
        args = ["train", "--task", "forecast", "--data", str(data), "--out",
                str(tmp_path / "f.tsrnn"), *columns]
    else:
        args = ["forecast", str(data), "--out", str(tmp_path / "f.csv"), *columns]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith(advice) and "\n" not in err


def test_a_setting_at_the_end_of_a_sentence_is_the_flag_alone(tmp_path, capsys):
    # "name the target columns with target=." came out as "--target ." (a value '.').
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=60, freq="h"),
                          "value": np.sin(np.arange(60) / 4), "site": "north"})
    frame.to_csv(tmp_path / "site.csv", index=False)
    assert main(["forecast", str(tmp_path / "site.csv"), *FAST,
                 "--out", str(tmp_path / "f.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("If it identifies series, pass --id-col site. Otherwise drop it, or "
                        "name the target columns with --target.")


def test_resample_fill_and_freq_flags_reach_the_model(tmp_path, capsys):
    data = _gappy(tmp_path)
    model = tmp_path / "d.tsrnn"
    assert main(["detect", str(data), "--target", "value", "--window", "8", *FAST,
                 "--resample", "--fill", "ffill", "--freq", "5min", "--out",
                 str(tmp_path / "s.csv"), "--save-model", str(model)]) == 0
    assert "warning" not in capsys.readouterr().err  # asked for: nothing to warn about
    params = AnomalyDetector.load(model).get_params()
    assert (params["resample"], params["fill"], params["freq"]) == (True, "ffill", "5min")
    assert main(["detect", str(data), "--target", "value", "--freq", "fortnightly",
                 "--out", str(tmp_path / "s.csv"), *FAST]) == 1
    # the flag, as the user typed it, not the library's parameter
    assert "--freq fortnightly is not a pandas frequency such as '5min' or 'h'" in \
        capsys.readouterr().err


def test_folder_summary_notes_the_resampled_file(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _gappy(folder)
    regular = pd.read_csv(folder / "gappy.csv").iloc[:100]  # before the gap
    regular.to_csv(folder / "regular.csv", index=False)
    assert main(["detect", str(folder), "--target", "value", "--window", "8", *FAST,
                 "--out", str(tmp_path / "out")]) == 0
    table = capsys.readouterr().out
    rows = {line.split()[0]: line for line in table.splitlines()[1:3]}
    assert "resampled onto a regular grid" in rows["gappy.csv"]
    assert "resampled" not in rows["regular.csv"] and " ok " in rows["regular.csv"]


# ------------------------------------------------------------------ datasets
def test_datasets_list_and_export(tmp_path, capsys):
    assert main(["datasets", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("sensors ") and "sensors-wide" in listed
    assert main(["datasets", "export", "sensors-wide", "-"]) == 0
    wide = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(wide.columns) == ["timestamp", "sensor_1", "sensor_2", "sensor_3", "sensor_4"]
    assert len(wide) == 2880
    out = tmp_path / "s.csv"
    assert main(["datasets", "export", "sensors", str(out), "-q"]) == 0
    assert len(pd.read_csv(out)) == 11_520


@pytest.mark.parametrize(("argv", "message"), [
    (["datasets", "export", "nope", "x.csv"], "no dataset 'nope'; choose from"),
    (["datasets", "export", "sensors"], "export needs a dataset name and an output file"),
    (["datasets", "list", "sensors"], "list takes no dataset name"),
])
def test_datasets_usage_errors(tmp_path, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_stream_scores_the_lines_of_one_timestamp_in_one_update(files, monkeypatch, capsys):
    import io

    from tsrnn.streaming import AnomalyStream

    calls = []
    update = AnomalyStream.update
    monkeypatch.setattr(AnomalyStream, "update",
                        lambda self, t, v, series=None: calls.append(len(v))
                        or update(self, t, v, series=series))
    df = pd.read_csv(files / "sensors.csv").drop(columns=["is_anomaly"])
    feed = df.sort_values(["timestamp", "sensor"], kind="stable").iloc[:40]  # 20 times, 2 each
    lines = feed.to_csv(index=False).splitlines()
    lines.insert(8, "2024-01-01 03:00:00,s1,abc")  # a bad line inside a timestamp's group
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["stream", "--model", str(files / "detector.tsrnn")]) == 1
    captured = capsys.readouterr()
    assert "line 9 skipped: column 'value' is not a number: 'abc'" in captured.err
    streamed = pd.read_csv(io.StringIO(captured.out))
    assert len(streamed) == 40 and calls.count(2) == 20  # one update per timestamp
    online = AnomalyDetector.load(files / "detector.tsrnn").decision_function(
        feed, online=True)
    np.testing.assert_allclose(streamed["score"], online.to_numpy(), rtol=1e-4, atol=1e-6)
