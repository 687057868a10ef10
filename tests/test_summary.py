"""Tests for tsrnn/summary.py: ``model.summary()`` says what was chosen and how the
training went, as a dict that prints as text."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from tsrnn import AnomalyDetector, Forecaster
from tsrnn.baselines import ZScoreDetector

FAST = dict(hidden_size=8, max_epochs=2, batch_size=32, accelerator="cpu", random_state=0,
            verbose=False)


def _daily(n: int = 200) -> pd.DataFrame:
    y = np.sin(np.arange(n) * 2 * np.pi / 7) + 0.1 * np.random.default_rng(0).standard_normal(n)
    return pd.DataFrame({"y": y}, index=pd.date_range("2024-01-01", periods=n, freq="D"))


def test_forecaster_summary_names_the_auto_sizes_network_and_training():
    model = Forecaster(n_models=2, **FAST).fit(_daily())
    summary = model.summary()
    assert isinstance(summary, dict)
    assert (summary["input_len"], summary["horizon"], summary["season"]) == (
        model.input_len_, model.horizon_, model.season_) == (28, 14, 7)
    assert summary["series"] == 1 and summary["freq"] == "D" and summary["targets"] == ["y"]
    assert summary["chosen"] == ("input_len", "horizon", "segment_len", "strategy")
    assert summary["segment_len"] == model.segment_len_ == 7  # 28 // 4, one season
    assert summary["strategy"] == "direct"  # 14 steps: one segment of 7
    assert summary["parameters"] == sum(p.numel() for p in model.net_.parameters())
    assert summary["n_models"] == 2
    assert summary["epochs"] == model.training_summary_["epochs"]
    assert summary["best_val_loss"] == pytest.approx(model.training_summary_["best_val_loss"])
    assert summary["best_epoch"] == model.training_summary_["best_epoch"] + 1
    text = str(summary)
    assert text.splitlines()[0] == "Forecaster"
    assert "input_len:      28 (auto)" in text and "season:         7\n" in text
    assert repr(summary) == text


def test_integer_sizes_are_not_marked_auto_and_no_validation_is_said():
    model = Forecaster(input_len=14, horizon=7, val_size=0, **FAST).fit(_daily())
    summary = model.summary()
    assert summary["chosen"] == ("segment_len", "strategy")  # the "auto" ones left
    assert "14 (auto)" not in str(summary) and "7 (auto)" not in str(summary)
    assert "strategy:       direct (auto)" in str(summary)
    assert summary["validation"] == "none: trained every epoch"
    assert "best_val_loss" not in summary


def test_detector_summary_has_its_window_calendar_and_threshold():
    det = AnomalyDetector(window=8, n_models=1, **FAST).fit(_daily())
    summary = det.summary()
    assert summary["window"] == 8
    assert summary["calendar"] == list(det.calendar_) and summary["chosen"] == ("calendar",)
    assert summary["threshold"] == pytest.approx(det.threshold_)


def test_summary_before_fit_is_not_fitted_error_and_baselines_have_one():
    with pytest.raises(NotFittedError):
        Forecaster().summary()
    summary = ZScoreDetector().fit(_daily()).summary()
    assert summary["estimator"] == "ZScoreDetector" and "parameters" not in summary
