"""Tests for tsrnn/ddp.py: training on two processes (gloo, CPU) with
``distributed="ddp"`` and ``"ddp_spawn"``, against the same fit in one process.

The rule under test: with ``devices=2`` each process takes half of every batch
(``batch_size / devices`` windows) and DDP averages the two halves' gradients, so
a step is the one-process step over the same ``batch_size`` windows, with the same
learning rate (a part one window larger than the other counts for its size). What
is left is float rounding, the gradients and losses summed in another order: about
1e-7 here, checked at 1e-5 (relative on the final validation loss, absolute on the
forecasts of unit-scale data); 1e-3 for the detector's scores and the classifier's
probabilities after their own two fits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pytorch_lightning.callbacks import Callback

from tsrnn import AnomalyDetector, Forecaster, SequenceClassifier
from tsrnn.data.dataset import BatchIndices

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(input_len=24, horizon=6, hidden_size=8, max_epochs=3, batch_size=32, lr=3e-3,
                patience=None, random_state=0, accelerator="cpu", verbose=False)


def _series() -> pd.DataFrame:
    """Three series of 240 rows; each row's value tells the row (for the shards)."""
    t = np.arange(240)
    return pd.concat([pd.DataFrame({"id": f"s{k}", "t": t,
                                    "y": np.sin(2 * np.pi * t / 24 + k) + t / 240 + k})
                      for k in range(3)], ignore_index=True)


# ------------------------------------------------------------------ the shards
@pytest.mark.parametrize("n,batch_size,world", [(100, 32, 2), (65, 64, 2), (97, 10, 3),
                                                (5, 4, 3)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_each_process_takes_its_own_part_of_every_batch(n, batch_size, world, shuffle):
    one = list(BatchIndices(n, batch_size, shuffle=shuffle, seed=7))
    parts = []
    for rank in range(world):
        sampler = BatchIndices(n, batch_size, shuffle=shuffle, seed=7)
        sampler.rank, sampler.world = rank, world
        parts.append(list(sampler))
        assert len(parts[-1]) == len(sampler)
    if shuffle:  # training: every process takes the same number of steps
        assert {len(p) for p in parts} == {len(one)}
    for k, batch in enumerate(one):
        taken = [p[k] for p in parts if k < len(p)]
        if len(batch) >= world:  # the parts are the batch, cut in order, none shared
            assert np.array_equal(np.concatenate(taken), batch)
        elif shuffle:  # an empty part repeats the batch's last window
            assert set(np.concatenate(taken).tolist()) == set(batch.tolist())
        else:
            assert np.array_equal(np.concatenate(taken), batch)


# ------------------------------------------------------------------ the checks
@pytest.mark.parametrize("bad", ["dp", "DDP", "fsdp", 2, True])
def test_a_bad_distributed_names_it(bad):
    with pytest.raises(ValueError, match="^distributed must be None, 'ddp' or 'ddp_spawn'"):
        Forecaster(**SETTINGS, distributed=bad).fit(_series(), id_col="id", time_col="t")


def test_distributed_and_a_trainer_strategy_are_refused_together():
    model = Forecaster(**SETTINGS, distributed="ddp_spawn", trainer_kwargs={"strategy": "ddp"})
    with pytest.raises(ValueError, match="distributed='ddp_spawn' and trainer_kwargs"):
        model.fit(_series(), id_col="id", time_col="t")


def test_ddp_on_cpus_needs_a_number_of_devices():
    with pytest.raises(ValueError, match="devices='auto' is one process on CPUs: set devices"):
        Forecaster(**SETTINGS, distributed="ddp").fit(_series(), id_col="id", time_col="t")


def test_a_notebook_gets_a_clear_error(monkeypatch):
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)
    for value in ("ddp", "ddp_spawn"):
        with pytest.raises(ValueError, match="notebook or an interactive session.*script"):
            Forecaster(**SETTINGS, devices=2, distributed=value).fit(
                _series(), id_col="id", time_col="t")


def test_ddp_without_a_script_to_run_again_points_to_ddp_spawn(monkeypatch):
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    monkeypatch.setattr(sys, "argv", ["-c"])
    with pytest.raises(ValueError, match="no script file or module.*'ddp_spawn'"):
        Forecaster(**SETTINGS, devices=2, distributed="ddp").fit(
            _series(), id_col="id", time_col="t")


def test_what_ddp_cannot_train_is_refused():
    with pytest.raises(ValueError, match="distributed='ddp' does not train stateful=True"):
        AnomalyDetector(window=8, stateful=True, devices=2, distributed="ddp").fit(
            _series().drop(columns="id"), time_col="t")
    X = np.random.default_rng(0).normal(size=(8, 5, 1)).astype(np.float32)
    with pytest.raises(ValueError, match="distributed='ddp_spawn' does not train with "
                                         "tbptt_steps"):
        SequenceClassifier(tbptt_steps=2, devices=2, distributed="ddp_spawn").fit(
            X, [0, 1] * 4)


# ------------------------------------------------------------- two processes
def test_ddp_spawn_matches_one_process_and_returns_the_model(tmp_path, monkeypatch):
    """ddp_spawn trains in two spawned processes; the weights, the training
    summary and the forecasts come back to this process, and no file is left."""
    monkeypatch.chdir(tmp_path)
    df = _series()
    one = Forecaster(**SETTINGS).fit(df, id_col="id", time_col="t")
    two = Forecaster(**SETTINGS, devices=2, distributed="ddp_spawn").fit(
        df, id_col="id", time_col="t")
    assert two.training_summary_["epochs"] == one.training_summary_["epochs"] == 3
    assert two.training_summary_["best_epoch"] == one.training_summary_["best_epoch"]
    assert two.training_summary_["best_val_loss"] == pytest.approx(
        one.training_summary_["best_val_loss"], rel=1e-5)
    np.testing.assert_allclose(two.predict()["y"], one.predict()["y"], atol=1e-5)
    assert not any(tmp_path.iterdir())



class _PowerCut(Callback):
    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("power cut")


@pytest.mark.slow
def test_ddp_spawn_resumes_where_it_stopped(tmp_path):
    """A training killed after its second epoch, in a spawned process, is one line
    naming that process; resumed from the first process's checkpoint it ends with
    the uninterrupted training's weights."""
    from tsrnn.training import fit_options

    df = _series()
    ddp = dict(devices=2, distributed="ddp_spawn")
    whole = Forecaster(**SETTINGS, **ddp).fit(df, id_col="id", time_col="t")
    with fit_options(checkpoint_dir=tmp_path), pytest.raises(
            RuntimeError, match=r"^training process [01] failed: RuntimeError: power cut$"):
        Forecaster(**SETTINGS, **ddp, trainer_kwargs={"callbacks": [_PowerCut()]}).fit(
            df, id_col="id", time_col="t")
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    with fit_options(checkpoint_dir=tmp_path, resume=True):
        resumed = Forecaster(**SETTINGS, **ddp).fit(df, id_col="id", time_col="t")
    assert resumed.training_summary_ == whole.training_summary_
    np.testing.assert_array_equal(resumed.predict()["y"], whole.predict()["y"])


SCRIPT = '''\
"""Three fits with distributed="ddp" in one script, as Lightning runs it: once per
process. Every process writes what the test reads under names with its rank."""
import json, os, sys
from pathlib import Path

import numpy as np
sys.path.insert(0, {tests!r})
from test_ddp import SETTINGS, Record, _classes, _series, _sensors
from tsrnn import AnomalyDetector, Forecaster, SequenceClassifier
from tsrnn.training import fit_options

out = Path({out!r})
rank = int(os.environ.get("LOCAL_RANK", "0"))  # set for the other process only


record = Record()
ddp = dict(devices=2, distributed="ddp")
with fit_options(checkpoint_dir=out / f"ckpt-{{rank}}"):
    forecaster = Forecaster(**SETTINGS, **ddp, log_dir=str(out / f"logs-{{rank}}"),
                            trainer_kwargs={{"callbacks": [record]}}).fit(
        _series(), id_col="id", time_col="t")
forecaster.set_params(trainer_kwargs=None).save(out / f"model-{{rank}}.tsrnn")
detector = AnomalyDetector(window=16, hidden_size=8, max_epochs=2, n_models=2,
                           random_state=0, accelerator="cpu", verbose=False,
                           **ddp).fit(_sensors(), time_col="t")
X, y = _classes()
classifier = SequenceClassifier(hidden_size=8, max_epochs=2, random_state=0,
                                accelerator="cpu", verbose=False, **ddp).fit(X, y)
(out / f"rank-{{rank}}.json").write_text(json.dumps({{
    "backend": record.backend, "seen": record.seen,
    "summary": forecaster.training_summary_,
    "forecast": forecaster.predict()["y"].tolist(),
    "scores": detector.decision_scores_.tolist(),
    "proba": classifier.predict_proba(X).tolist()}}))
'''


class Record(Callback):
    """The first input value of every window a process trains on, by epoch (each
    window's is its own: the series rise), and the process group's backend."""

    def __init__(self):
        self.seen: dict[int, list[float]] = {}
        self.backend = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        import torch.distributed as dist

        if dist.is_initialized():
            self.backend = dist.get_backend()
        self.seen.setdefault(trainer.current_epoch, []).extend(batch.inputs[:, 0, 0].tolist())


def _sensors() -> pd.DataFrame:
    t = np.arange(300)
    return pd.DataFrame({"t": t, "a": np.sin(t / 5), "b": np.cos(t / 7)})


def _classes():
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    X = (rng.normal(size=(40, 12, 2)) + y[:, None, None]).astype(np.float32)
    return X, y


def _run(command: list[str], cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(cwd)]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # The first process returns once the other one has finished its script too.


@pytest.mark.slow
@pytest.mark.parametrize("how", ["script", "module"])
def test_ddp_from_a_script_matches_one_process(tmp_path, how):
    """``python job.py`` and ``python -m jobs.train``: Lightning runs the program
    again for the second process; rank 0 is the caller and ends with the model."""
    out = tmp_path / "out"
    out.mkdir()
    code = SCRIPT.format(tests=str(ROOT / "tests"), out=str(out))
    if how == "script":
        (tmp_path / "job.py").write_text(code)
        _run([sys.executable, "job.py"], tmp_path)
    else:
        (tmp_path / "jobs").mkdir()
        (tmp_path / "jobs" / "__init__.py").write_text("")
        (tmp_path / "jobs" / "train.py").write_text(code)
        _run([sys.executable, "-m", "jobs.train"], tmp_path)

    ranks = [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]
    # Only rank 0 wrote tsrnn's files: the model file, the logs, the checkpoints.
    assert (out / "model-0.tsrnn").is_file() and not (out / "model-1.tsrnn").exists()
    assert any((out / "logs-0").rglob("metrics.csv")) and not (out / "logs-1").exists()
    assert (out / "ckpt-0" / "last.ckpt").is_file() and not (out / "ckpt-1").exists()
    assert Forecaster.load(out / "model-0.tsrnn").predict()["y"].tolist() == ranks[0]["forecast"]

    # Each process trained on its own half of the windows, together on the windows
    # one process trains on, every epoch.
    assert ranks[0]["backend"] == "gloo"
    record = Record()
    one = Forecaster(**SETTINGS, trainer_kwargs={"callbacks": [record]}).fit(
        _series(), id_col="id", time_col="t")
    for epoch, windows in record.seen.items():
        a, b = ranks[0]["seen"][str(epoch)], ranks[1]["seen"][str(epoch)]
        assert not set(a) & set(b)
        assert abs(len(a) - len(b)) <= 1
        assert sorted(a + b) == sorted(windows)

    # The same model as one process with the same global batch, in either process.
    for result in ranks:
        assert result["summary"]["best_val_loss"] == pytest.approx(
            one.training_summary_["best_val_loss"], rel=1e-5)
        np.testing.assert_allclose(result["forecast"], one.predict()["y"], atol=1e-5)
    detector = AnomalyDetector(window=16, hidden_size=8, max_epochs=2, n_models=2,
                               random_state=0, accelerator="cpu", verbose=False).fit(
        _sensors(), time_col="t")
    np.testing.assert_allclose(ranks[0]["scores"], detector.decision_scores_, rtol=1e-3,
                               atol=1e-3)
    X, y = _classes()
    classifier = SequenceClassifier(hidden_size=8, max_epochs=2, random_state=0,
                                    accelerator="cpu", verbose=False).fit(X, y)
    np.testing.assert_allclose(ranks[0]["proba"], classifier.predict_proba(X), atol=1e-3)


# ------------------------------------------------------------------ the CLI
def test_cli_names_a_bad_devices_and_ddp_over_a_folder(tmp_path, capsys):
    from tsrnn.cli import main

    _series().to_csv(tmp_path / "a.csv", index=False)
    assert main(["train", "--task", "forecast", "--data", str(tmp_path / "a.csv"), "--out",
                 str(tmp_path / "m.tsrnn"), "--devices", "two"]) == 2
    assert "argument --devices: expected auto, a number of devices" in capsys.readouterr().err
    assert main(["forecast", str(tmp_path), "--id-col", "id", "--time-col", "t",
                 "--devices", "2", "--distributed", "ddp", "--out", str(tmp_path / "out")]) == 2
    assert "for a folder use --distributed ddp_spawn" in capsys.readouterr().err
    assert not (tmp_path / "m.tsrnn").exists()


@pytest.mark.slow
def test_cli_trains_on_two_processes_like_one(tmp_path):
    """``python -m tsrnn train --devices 2 --distributed ddp``: Lightning runs the
    command again for the second process, which ends after training; the first
    writes the model and says so, once."""
    from tsrnn.cli import main

    _series().to_csv(tmp_path / "a.csv", index=False)
    args = ["train", "--task", "forecast", "--data", "a.csv", "--id-col", "id", "--time-col",
            "t", "--hidden-size", "8", "--epochs", "3", "--set", "input_len=24", "--set",
            "horizon=6", "--set", "batch_size=32", "--set", "patience=None", "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "tsrnn", *args, "--out", "two.tsrnn",
                           "--devices", "2", "--distributed", "ddp"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("saved two.tsrnn") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "two.tsrnn"]
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        assert main([*args, "--out", "one.tsrnn"]) == 0
    finally:
        os.chdir(cwd)
    np.testing.assert_allclose(Forecaster.load(tmp_path / "two.tsrnn").predict()["y"],
                               Forecaster.load(tmp_path / "one.tsrnn").predict()["y"],
                               atol=1e-5)
