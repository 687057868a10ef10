"""Tests for tsrnn/training.py's run settings: checkpoints and resuming.

Trainer behaviour common to every estimator (early stopping, best weights) is
checked through the estimators in their own test files.
"""

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pytorch_lightning.callbacks import Callback

from tsrnn import AnomalyDetector, Forecaster
from tsrnn.callbacks import BestWeights
from tsrnn.training import fit_options


def _frame(n: int = 160) -> pd.DataFrame:
    return pd.DataFrame({"y": np.sin(np.arange(n) / 4)},
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


class _Epochs(Callback):
    """Records the epochs that ran, and fails at the end of ``fail_at``."""

    def __init__(self, fail_at: int | None = None):
        self.started: list[int] = []
        self.fail_at = fail_at

    def on_train_epoch_start(self, trainer, pl_module):
        self.started.append(trainer.current_epoch)

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == self.fail_at:
            raise RuntimeError("power cut")


def _model(callback) -> Forecaster:
    return Forecaster(input_len=16, horizon=4, hidden_size=8, max_epochs=4, patience=None,
                      accelerator="cpu", random_state=0,
                      trainer_kwargs={"callbacks": [callback]})


def test_resume_runs_only_the_epochs_left(tmp_path):
    crash = _Epochs(fail_at=2)
    with pytest.raises(RuntimeError, match="power cut"), fit_options(checkpoint_dir=tmp_path):
        _model(crash).fit(_frame())
    # The checkpoint callback runs after the failing one: epochs 0 and 1 are saved.
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == 1

    rest = _Epochs()
    model = _model(rest)
    with fit_options(checkpoint_dir=tmp_path, resume=True):
        model.fit(_frame())
    assert rest.started == [2, 3]
    assert model.training_summary_["epochs"] == 4


def test_without_resume_training_starts_over(tmp_path):
    with fit_options(checkpoint_dir=tmp_path):
        _model(_Epochs()).fit(_frame())
    again = _Epochs()
    with fit_options(checkpoint_dir=tmp_path):
        _model(again).fit(_frame())
    assert again.started == [0, 1, 2, 3]


def test_best_weights_survive_a_checkpoint():
    best = BestWeights()
    best.best_score, best.best_epoch, best.best_state = 0.5, 3, {"w": torch.ones(2)}
    restored = BestWeights()
    restored.load_state_dict(best.state_dict())
    assert (restored.best_score, restored.best_epoch) == (0.5, 3)
    assert torch.equal(restored.best_state["w"], torch.ones(2))


def test_each_member_of_an_ensemble_resumes_from_its_own_checkpoint(tmp_path):
    def detector(callback):
        return AnomalyDetector(window=8, hidden_size=8, max_epochs=3, patience=None,
                               n_models=2, accelerator="cpu", random_state=0,
                               trainer_kwargs={"callbacks": [callback]})

    # Member 0 finishes; member 1 fails after its second epoch (epoch 1).
    crash = _Epochs(fail_at=1)
    crash.on_train_epoch_end = lambda trainer, pl_module: (
        _Epochs.on_train_epoch_end(crash, trainer, pl_module)
        if len(crash.started) > 3 else None)
    with pytest.raises(RuntimeError, match="power cut"), fit_options(checkpoint_dir=tmp_path):
        detector(crash).fit(_frame())
    assert torch.load(tmp_path / "member-0" / "last.ckpt", weights_only=True)["epoch"] == 2
    assert torch.load(tmp_path / "member-1" / "last.ckpt", weights_only=True)["epoch"] == 0
    assert not (tmp_path / "last.ckpt").exists()
    # Member 0 finished: its final weights are kept, so resuming does not train it
    # again (which would restart its early stopping).
    done = torch.load(tmp_path / "member-0" / "finished.pt", weights_only=True)
    assert not (tmp_path / "member-1" / "finished.pt").exists()

    rest = _Epochs()
    with fit_options(checkpoint_dir=tmp_path, resume=True):
        resumed = detector(rest).fit(_frame())
    assert rest.started == [1, 2]  # member 0 is done; member 1 goes on from epoch 1
    assert [m["epochs"] for m in resumed.training_summary_["members"]] == [3, 3]
    for name, value in resumed.net_.members[0].state_dict().items():
        torch.testing.assert_close(value, done["state_dict"][name])
    # The random state is in the checkpoint: exactly the uninterrupted fit.
    whole = detector(_Epochs()).fit(_frame())
    for name, value in whole.net_.state_dict().items():
        torch.testing.assert_close(resumed.net_.state_dict()[name], value, rtol=0, atol=0)


def test_a_forecaster_ensemble_keeps_and_resumes_each_member(tmp_path):
    def forecaster(callback):
        return Forecaster(input_len=16, horizon=4, hidden_size=8, max_epochs=2, n_models=2,
                          accelerator="cpu", random_state=0,
                          trainer_kwargs={"callbacks": [callback]})

    with fit_options(checkpoint_dir=tmp_path):
        first = forecaster(_Epochs()).fit(_frame())
    assert (tmp_path / "member-0" / "finished.pt").exists()
    assert (tmp_path / "member-1" / "finished.pt").exists()
    again = _Epochs()
    with fit_options(checkpoint_dir=tmp_path, resume=True):
        resumed = forecaster(again).fit(_frame())
    assert again.started == []  # both members were done: nothing trains again
    pd.testing.assert_frame_equal(resumed.predict(), first.predict())


def test_a_resumed_fit_equals_the_uninterrupted_one(tmp_path):
    # Shuffling and dropout both draw random numbers: a resumed fit must continue
    # with the draws the uninterrupted one made, not start them over.
    def model(callback=None) -> Forecaster:
        return Forecaster(input_len=16, horizon=4, hidden_size=8, num_layers=2, dropout=0.3,
                          max_epochs=5, patience=None, batch_size=16, accelerator="cpu",
                          random_state=0,
                          trainer_kwargs={"callbacks": [callback]} if callback else None)

    whole = model().fit(_frame())
    with pytest.raises(RuntimeError, match="power cut"), fit_options(checkpoint_dir=tmp_path):
        model(_Epochs(fail_at=2)).fit(_frame())
    with fit_options(checkpoint_dir=tmp_path, resume=True):
        resumed = model().fit(_frame())
    assert resumed.training_summary_ == whole.training_summary_
    for name, value in whole.net_.state_dict().items():
        torch.testing.assert_close(resumed.net_.state_dict()[name], value, rtol=0, atol=0)


def _ensemble(callback=None) -> AnomalyDetector:
    return AnomalyDetector(window=8, hidden_size=8, max_epochs=2, patience=None, n_models=2,
                           accelerator="cpu", random_state=0,
                           trainer_kwargs={"callbacks": [callback]} if callback else None)


def _checkpoint_of(tmp_path, name: str) -> Path:
    """Where a resumed fit reads ``name``: a forecaster's last.ckpt, or the first
    member's finished.pt in an ensemble, written by a real, interrupted fit."""
    if name == "last.ckpt":
        with pytest.raises(RuntimeError), fit_options(checkpoint_dir=tmp_path):
            _model(_Epochs(fail_at=1)).fit(_frame())
        return tmp_path / "last.ckpt"
    with fit_options(checkpoint_dir=tmp_path):
        _ensemble().fit(_frame())
    return tmp_path / "member-0" / "finished.pt"


def _resume(tmp_path, name: str):
    with fit_options(checkpoint_dir=tmp_path, resume=True):
        (_model(_Epochs()) if name == "last.ckpt" else _ensemble()).fit(_frame())


@pytest.mark.parametrize("name", ["last.ckpt", "finished.pt"])
def test_a_checkpoint_holding_code_is_refused_and_the_code_never_runs(tmp_path, monkeypatch,
                                                                      pickled_code, name):
    # torch's switch to unpickle anything: resuming must not listen to it.
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    path = _checkpoint_of(tmp_path / "run", name)
    code, marker = pickled_code
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["payload"] = code
    torch.save(checkpoint, path)
    with pytest.raises(Exception) as err:
        _resume(tmp_path / "run", name)
    assert not marker.exists(), "the checkpoint's code ran"
    assert err.type is ValueError
    assert str(err.value) == (f"{path} is not a tsrnn training checkpoint "
                              "(refused: it contains code)")


DAMAGE = {
    "truncated": (lambda path: path.write_bytes(path.read_bytes()[:200]), "cannot be read"),
    "not a checkpoint": (lambda path: torch.save({"epoch": 1}, path),
                         "is not a tsrnn training checkpoint"),
    "another network": (
        lambda path: torch.save({**torch.load(path, weights_only=True),
                                 "state_dict": {"w": torch.ones(2)}}, path),
        "holds a network of another shape than these settings give"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
@pytest.mark.parametrize("name", ["last.ckpt", "finished.pt"])
def test_a_damaged_checkpoint_is_one_line_that_names_it(tmp_path, name, damage):
    path = _checkpoint_of(tmp_path, name)
    make, match = DAMAGE[damage]
    if name == "finished.pt" and damage == "not a checkpoint":
        match = "is not a tsrnn training checkpoint"
    make(path)
    with pytest.raises(ValueError, match=match) as err:
        _resume(tmp_path, name)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


class _Terminal(io.StringIO):
    """Standard error as a terminal: what a user at a shell sees."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("verbose", "shown"), [("auto", True), (True, True), (False, False)])
def test_a_fit_in_a_terminal_shows_one_clean_bar(monkeypatch, verbose, shown):
    from tsrnn import Forecaster

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    frame = pd.DataFrame({"y": np.sin(np.arange(200) / 5)})
    Forecaster(input_len=16, horizon=4, hidden_size=8, max_epochs=3, accelerator="cpu",
               random_state=0, verbose=verbose).fit(frame)
    text = terminal.getvalue()
    if not shown:
        assert text == ""
        return
    assert "training" in text and "3/3" in text and "val_loss=" in text
    for chatter in ("GPU available", "TPU available", "LOCAL_RANK", "Tip", "💡", "Trainer"):
        assert chatter not in text


def test_outside_a_terminal_auto_shows_nothing(capsys):
    from tsrnn import Forecaster

    frame = pd.DataFrame({"y": np.sin(np.arange(200) / 5)})
    Forecaster(input_len=16, horizon=4, hidden_size=8, max_epochs=2, accelerator="cpu",
               random_state=0).fit(frame)  # verbose="auto"; pytest's stderr is no terminal
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_verbose_takes_true_false_or_auto():
    from tsrnn import Forecaster

    frame = pd.DataFrame({"y": np.sin(np.arange(200) / 5)})
    with pytest.raises(ValueError, match="verbose must be True or False, got 'yes'"):
        Forecaster(input_len=16, horizon=4, verbose="yes").fit(frame)
