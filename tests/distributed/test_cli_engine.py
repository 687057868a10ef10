"""`tsrnn detect DIR --engine ray` and `tsrnn forecast DIR --engine ray` write what
the local engine writes, and `tsrnn tune` runs a search from a config file."""

import json
import socket

import numpy as np
import pandas as pd
import pytest
from conftest import sensors

from tsrnn.cli import main

FAST = ["--hidden-size", "8", "--epochs", "1", "-q"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three files of one sensor each, and one too short to score."""
    root = tmp_path_factory.mktemp("csvs")
    for sid, frame in sensors(3, 100).groupby("sensor"):
        frame.drop(columns="sensor").to_csv(root / f"{sid}.csv", index=False)
    (root / "short.csv").write_text("timestamp,value\n2024-01-01 00:00:00,1.0\n")
    return root


def _same_outputs(one, other, names) -> None:
    for name in names:
        assert (one / name).read_bytes() == (other / name).read_bytes(), name


def test_detect_on_ray_writes_what_local_writes(ray_cluster, folder, tmp_path, capsys):
    args = ["detect", str(folder), "--target", "value", "--window", "8", *FAST]
    assert main([*args, "--out", str(tmp_path / "local")]) == 1  # short.csv fails
    local = capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "ray"), "--engine", "ray"]) == 1
    on_ray = capsys.readouterr()
    _same_outputs(tmp_path / "local", tmp_path / "ray", ["s0.csv", "s1.csv", "s2.csv"])
    assert not (tmp_path / "ray" / "short.csv").exists()
    assert "4 files: 3 ok, 1 failed" in on_ray.out
    assert on_ray.out.replace("ray/", "local/") == local.out
    assert "short.csv: the series has 1 rows" in on_ray.err
    assert "Traceback" not in on_ray.err


def test_forecast_on_ray_with_a_saved_model(ray_cluster, forecaster, folder, tmp_path):
    forecaster.save(tmp_path / "model.tsrnn")
    wide = tmp_path / "wide"  # the model's id column, in every file
    wide.mkdir()
    for path in sorted(folder.glob("s[0-9].csv")):
        pd.read_csv(path).assign(sensor=path.stem).to_csv(wide / path.name, index=False)
    args = ["forecast", str(wide), "--model", str(tmp_path / "model.tsrnn"), "-q"]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--out", str(tmp_path / "ray"), "--engine", "ray"]) == 0
    _same_outputs(tmp_path / "local", tmp_path / "ray", ["s0.csv", "s1.csv", "s2.csv"])
    assert len(pd.read_csv(tmp_path / "ray" / "s1.csv")) == forecaster.horizon_


def test_engine_flags_are_checked(folder, tmp_path, capsys):
    one = ["forecast", str(folder / "s0.csv"), "--target", "value", "--out",
           str(tmp_path / "f.csv"), *FAST]
    assert main([*one, "--engine", "ray"]) == 2
    assert "--engine ray runs the files of a folder" in capsys.readouterr().err
    assert main([*one, "--ray-address", "auto"]) == 2
    assert "--ray-address names a Ray cluster: it needs --engine ray" in capsys.readouterr().err
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["forecast", str(folder), "--target", "value", "--out", str(tmp_path / "f"),
                 *FAST, "--engine", "ray", "--ray-address", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"tsrnn forecast: error: --ray-address 127.0.0.1:{port}: nothing answers "
                   f"there (Connection refused)")


# ------------------------------------------------------------------- tune
TUNE = """
task = "forecast"
[data]
path = "sensors.csv"
time_col = "timestamp"
id_col = "sensor"
target = "value"
[model]
input_len = 12
horizon = 4
max_epochs = 1
[space]
hidden_size = [4, 8]
lr = {low = 1e-3, high = 1e-2, log = true}
[tune]
trials = 2
seed = 3
[output]
model = "best.tsrnn"
"""


@pytest.fixture
def tune_dir(tmp_path):
    sensors(2, 80).to_csv(tmp_path / "sensors.csv", index=False)
    (tmp_path / "tune.toml").write_text(TUNE)
    return tmp_path


def test_tune_from_a_config_file(tune_dir, capsys):
    pytest.importorskip("optuna")
    from tsrnn import Forecaster

    out = tune_dir / "trials.csv"
    assert main(["tune", "--config", str(tune_dir / "tune.toml"), "--engine", "optuna",
                 "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    trials = pd.read_csv(out)
    assert list(trials["trial"]) == [0, 1]
    assert trials["mae"].notna().all() and trials["hidden_size"].isin([4, 8]).all()
    assert trials["lr"].between(1e-3, 1e-2).all()
    best = trials.loc[trials["mae"].idxmin()]
    assert f"best mae {best['mae']:.4g}" in printed
    model = Forecaster.load(tune_dir / "best.tsrnn")
    assert model.hidden_size == best["hidden_size"] and model.random_state == 3


@pytest.mark.parametrize(("change", "message"), [
    ({"space": {"hidden_size": []}}, "space: hidden_size: give 1 to 1000 choices"),
    ({"space": {"hiden_size": [4]}}, "space: hiden_size: not a Forecaster parameter"),
    ({"space": {"lr": {"low": 0, "high": 1, "log": True}}}, "a log range needs low > 0"),
    ({"tune": {"trials": 10**9}}, "trials must be an integer from 1 to 10000"),
    ({"tune": {"metric": "loss"}}, "metric must be one of"),
    ({"tune": {"epochs": 3}}, "unknown key 'epochs' in [tune]"),
    ({"task": "detect"}, "tsrnn tune searches forecasters"),
    ({"space": None}, "no [space]"),
])
def test_tune_refuses_a_bad_config(tune_dir, capsys, change, message):
    config = {"task": "forecast", "data": {"path": "sensors.csv", "time_col": "timestamp",
                                           "id_col": "sensor", "target": "value"},
              "model": {"input_len": 12, "horizon": 4, "max_epochs": 1},
              "space": {"hidden_size": [4, 8]}, **change}
    config = {k: v for k, v in config.items() if v is not None}
    path = tune_dir / "tune.json"
    path.write_text(json.dumps(config))
    assert main(["tune", "--config", str(path), "--engine", "optuna", "-q"]) in (1, 2)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_training_config_takes_no_space(tune_dir, capsys):
    assert main(["train", "--config", str(tune_dir / "tune.toml"), "-q"]) == 1
    assert "unknown key 'space'" in capsys.readouterr().err


@pytest.mark.slow
def test_tune_on_ray_runs_the_same_trials(ray_cluster, tune_dir):
    pytest.importorskip("optuna")
    config = str(tune_dir / "tune.toml")
    for engine in ("optuna", "ray"):
        assert main(["tune", "--config", config, "--engine", engine, "--out",
                     str(tune_dir / f"{engine}.csv"), "-q"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tune_dir / "ray.csv"),
                                  pd.read_csv(tune_dir / "optuna.csv"))
    assert np.isfinite(pd.read_csv(tune_dir / "ray.csv")["mae"]).all()


def test_the_config_in_tune_help_is_valid(tmp_path, capsys):
    from tsrnn import Forecaster
    from tsrnn.cli._config import read_config
    from tsrnn.cli.tune import TUNE_KEYS
    from tsrnn.distributed.tuning import check_space

    assert main(["tune", "--help"]) == 0
    text = capsys.readouterr().out
    block = text.split("\ntune.toml (", 1)[1].split("\n", 1)[1].split("\n\n", 1)[0]
    path = tmp_path / "tune.toml"
    path.write_text("\n".join(line[2:] for line in block.splitlines()) + "\n")
    config = read_config(path, more={"space": None, "tune": TUNE_KEYS})
    space = check_space(config["space"], set(Forecaster().get_params()))
    assert set(space) == {"hidden_size", "lr", "num_layers"}
    assert set(config["tune"]) == TUNE_KEYS and config["model"]["horizon"] == 12
