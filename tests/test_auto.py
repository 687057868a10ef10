"""`input_len="auto"`, `horizon="auto"`: sizes by rule from the frequency and the
series' lengths (tsrnn/auto.py), recorded in the fitted attributes and used by
predict, backtests and model files."""

import warnings

import numpy as np
import pandas as pd
import pytest

from tsrnn import Forecaster
from tsrnn.auto import AutoSizeWarning, auto_sizes, frequency_rule
from tsrnn.data import DataError

FAST = dict(hidden_size=8, max_epochs=2, batch_size=32, accelerator="cpu", random_state=0)


def _series(n: int, freq, season: int = 12, name: str = "y") -> pd.Series:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    y = 10 + 0.05 * t + np.sin(2 * np.pi * t / season) + rng.normal(0, 0.1, n)
    index = pd.RangeIndex(n) if freq is None else pd.date_range("2000-01-01", periods=n,
                                                                freq=freq)
    return pd.Series(y, index=index, name=name)


def _val_rows(n, h, fraction=0.1):
    return max(round(n * fraction), h)


@pytest.mark.parametrize("freq, season, horizon", [
    ("YS", 1, 6), ("QS", 4, 8), ("MS", 12, 18), ("W", 52, 13), ("D", 7, 14), ("B", 5, 14),
    ("h", 24, 48), ("2h", 12, 24), ("15min", 96, 96), ("5min", 288, 96), (None, 1, 24), (1, 1, 24),
])
def test_frequency_rule(freq, season, horizon):
    assert frequency_rule(freq) == (season, horizon)


@pytest.mark.parametrize("freq, n, expected", [
    ("MS", 144, (36, 18, 12, True)),  # the airline shape: three years of input
    ("W", 1000, (156, 13, 52, True)),  # three years of weeks
    ("W", 80, (54, 13, 52, True)),  # M4 weekly's shortest: cut, still validated
    ("D", 3653, (28, 14, 7, True)),  # ten years of days
    ("h", 17420, (96, 48, 24, True)),
    (None, 500, (48, 24, 1, True)),  # integer times
    ("MS", 50, (32, 18, 12, False)),  # too short for a validation part (rule 4)
])
def test_auto_sizes(freq, n, expected):
    assert tuple(auto_sizes(freq, [n, 5 * n], "auto", "auto", _val_rows)) == expected


def test_integers_are_kept_and_feed_the_rule():
    assert tuple(auto_sizes("MS", [144], 24, "auto", _val_rows)) == (24, 18, 12, True)
    assert tuple(auto_sizes("MS", [144], "auto", 6, _val_rows)) == (36, 6, 12, True)


def test_too_short_is_a_clear_error():
    with pytest.raises(DataError, match="too few for input_len='auto' with horizon=18"):
        auto_sizes("MS", [30], "auto", "auto", _val_rows)


def test_defaults_are_auto():
    model = Forecaster()
    assert (model.input_len, model.horizon) == ("auto", "auto")


def test_monthly_airline_shape_fits_with_a_validation_part():
    s = _series(144, "MS", name="passengers")
    model = Forecaster(**FAST).fit(s)
    assert (model.input_len_, model.horizon_, model.season_) == (36, 18, 12)
    assert model.context_.shape == (1, 36, 1)
    assert np.isfinite(model.training_summary_["best_val_loss"])  # validated
    forecast = model.predict()
    assert len(forecast) == 18
    assert forecast["timestamp"].iloc[0] == s.index[-1] + pd.offsets.MonthBegin()
    assert len(model.predict(s.iloc[:-5])) == 18


def test_weekly_daily_hourly_and_integer_times():
    for freq, n, sizes in [("W", 300, (156, 13, 52)), ("D", 3650, (28, 14, 7)),
                           ("h", 24 * 60, (96, 48, 24)), (None, 400, (48, 24, 1))]:
        model = Forecaster(**{**FAST, "max_epochs": 1}).fit(_series(n, freq))
        assert (model.input_len_, model.horizon_, model.season_) == sizes, freq
        assert len(model.predict()) == sizes[1]


def test_too_short_trains_without_validation_and_warns():
    with pytest.warns(AutoSizeWarning, match="no validation"):
        model = Forecaster(**FAST).fit(_series(50, "MS"))
    assert (model.input_len_, model.horizon_) == (32, 18)
    with pytest.raises(DataError, match="Pass integers"):
        Forecaster(**FAST).fit(_series(30, "MS"))


def test_backtest_uses_the_fitted_sizes_and_season():
    s = _series(144, "MS")
    model = Forecaster(**FAST).fit(s.iloc[:110])
    result = model.backtest(s, start=110, retrain=False)
    assert len(result.forecasts) % 18 == 0
    seasonal = model.backtest(s, start=110, retrain=False, season=12).metrics["mase"]
    assert result.metrics["mase"] == pytest.approx(seasonal)  # "auto" is season_ = 12
    refit = model.backtest(s, start=110, retrain=True)
    assert len(refit.forecasts) == len(result.forecasts)


def test_save_and_load_keep_the_chosen_sizes(tmp_path):
    s = _series(144, "MS")
    model = Forecaster(**FAST).fit(s)
    model.save(tmp_path / "m.tsrnn")
    back = Forecaster.load(tmp_path / "m.tsrnn")
    assert back.get_params()["input_len"] == "auto"
    assert (back.input_len_, back.horizon_, back.season_) == (36, 18, 12)
    pd.testing.assert_frame_equal(back.predict(), model.predict())


def test_refit_forgets_the_previous_sizes():
    model = Forecaster(**FAST).fit(_series(144, "MS"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoSizeWarning)
        model.fit(_series(400, None))
    assert (model.input_len_, model.horizon_, model.season_) == (48, 24, 1)


def test_files_from_before_auto_sizes_load(tmp_path):
    import torch

    from tsrnn.model_checks import checksum

    path = tmp_path / "old.tsrnn"
    model = Forecaster(input_len=12, horizon=3, **FAST).fit(_series(100, "D"))
    model.save(path)
    payload = torch.load(path, weights_only=True)
    del payload["fitted"]["sizes"]  # as files written before "auto" sizes
    payload["checksum"] = checksum(payload)
    torch.save(payload, path)
    back = Forecaster.load(path)
    assert (back.input_len_, back.horizon_, back.season_) == (12, 3, 1)
    pd.testing.assert_frame_equal(back.predict(), model.predict())


def test_auto_segments_are_at_most_one_season():
    """Hourly: segments of a day (24), not input_len // 4 = 48; integer times have
    no season, so only the 48-step bound holds."""
    hourly = Forecaster(input_len=192, horizon=24, **FAST).fit(_series(600, "h"))
    steps = Forecaster(input_len=192, horizon=24, **FAST).fit(_series(600, None))
    assert (hourly.segment_len_, steps.segment_len_) == (24, 48)
    assert hourly.net_.segment_len == 24 and hourly.summary()["segment_len"] == 24


def test_files_from_before_the_season_cap_keep_their_segments(tmp_path):
    """A file written with segment_len="auto" before the season cap (hourly, input
    192: segments of 48) holds no segment length; it loads with its 48."""
    import torch

    from tsrnn.model_checks import checksum

    path = tmp_path / "old.tsrnn"
    model = Forecaster(input_len=192, horizon=24, segment_len=48, **FAST).fit(
        _series(600, "h"))
    model.save(path)
    payload = torch.load(path, weights_only=True)
    payload["params"]["segment_len"] = "auto"
    del payload["fitted"]["sizes"]["segment_len"]  # as files written before the cap
    payload["checksum"] = checksum(payload)
    torch.save(payload, path)
    back = Forecaster.load(path)
    assert back.segment_len == "auto" and back.segment_len_ == 48
    pd.testing.assert_frame_equal(back.predict(), model.predict())
