"""Tests for tsrnn/forecast_calendar.py: the forecaster's calendar inputs, chosen by
the data's frequency and fed as known-future covariates."""

import numpy as np
import pandas as pd
import pytest

from tsrnn import Forecaster
from tsrnn.data import SeriesData
from tsrnn.forecast_calendar import forecast_cycles, with_calendar, without_calendar

TINY = dict(input_len=16, horizon=4, hidden_size=8, max_epochs=2, batch_size=32,
            accelerator="cpu", random_state=0, verbose=False)


@pytest.mark.parametrize(("freq", "cycles"), [
    ("15min", ("day", "week")), ("h", ("day", "week")), ("D", ("week", "year")),
    ("B", ("week", "year")), ("W", ("year",)), ("MS", ("year",)), ("ME", ("year",)),
    ("QS", ("year",)), ("YS", ()),
])
def test_auto_takes_the_two_shortest_cycles_longer_than_a_step(freq, cycles):
    assert forecast_cycles("auto", pd.tseries.frequencies.to_offset(freq)) == cycles


def test_integer_times_get_no_calendar_and_cannot_ask_for_one():
    assert forecast_cycles("auto", 1) == forecast_cycles("auto", None) == ()
    assert forecast_cycles(None, pd.tseries.frequencies.to_offset("h")) == ()
    with pytest.raises(ValueError, match="integer index.*calendar=None"):
        forecast_cycles(["day"], 1)
    with pytest.raises(ValueError, match="calendar must be"):
        forecast_cycles(["month"], pd.tseries.frequencies.to_offset("h"))


def test_calendar_columns_are_appended_as_known_future_covariates_and_taken_off():
    frame = pd.DataFrame({"y": np.arange(48.0)},
                         index=pd.date_range("2024-01-01", periods=48, freq="h"))
    data = SeriesData.from_dataframe(frame)
    both = with_calendar(data, ("day", "week"))
    assert both.future_names == ("day_sin", "day_cos", "week_sin", "week_cos")
    assert both.values.shape == (48, 5)
    np.testing.assert_allclose(both.values[[0, 6, 24], 1:3], [[0, 1], [1, 0], [0, 1]],
                               atol=1e-6)  # midnight, 06:00, the next midnight
    back = without_calendar(both, ("day", "week"))
    np.testing.assert_array_equal(back.values, data.values)
    assert back.future_names == ()


@pytest.fixture(scope="module")
def hourly():
    n = 24 * 7 * 3
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    y = 3 + (t.day_of_week >= 5) + np.sin(2 * np.pi * t.hour / 24)
    return pd.DataFrame({"y": y}, index=t)


@pytest.fixture(scope="module")
def fitted(hourly):
    return Forecaster(calendar="auto", **TINY).fit(hourly.iloc[:-24])


def test_a_calendar_model_forecasts_alike_from_its_context_a_frame_and_a_backtest(
        hourly, fitted):
    assert fitted.calendar_ == ("day", "week")
    assert list(fitted.feature_names_in_) == ["y"]  # the user's columns only
    assert fitted.net_.n_features == 5 and fitted.net_.n_future == 4
    forecast = fitted.predict()
    np.testing.assert_allclose(fitted.predict(hourly.iloc[:-24])["y"], forecast["y"],
                               rtol=1e-5)
    backtest = fitted.historical_forecasts(hourly, start=len(hourly) - 24, stride=4)
    first = backtest.forecasts.iloc[:4]
    np.testing.assert_allclose(first["y"], forecast["y"], rtol=1e-5)
    assert np.isfinite(fitted.score(hourly))


def test_the_calendar_changes_the_forecast_and_is_saved(hourly, fitted, tmp_path):
    plain = Forecaster(**TINY).fit(hourly.iloc[:-24])
    assert plain.calendar_ == ()
    assert not np.allclose(plain.predict()["y"], fitted.predict()["y"])
    fitted.save(tmp_path / "cal.tsrnn")
    loaded = Forecaster.load(tmp_path / "cal.tsrnn")
    assert loaded.calendar_ == ("day", "week")
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())


def test_a_calendar_goes_with_the_users_known_future_covariates(hourly):
    frame = hourly.assign(f=np.cos(np.arange(len(hourly)) / 5.0))
    model = Forecaster(calendar=["week"], **TINY).fit(frame.iloc[:-24],
                                                      future_covariates=["f"])
    future = frame.iloc[-24:-20][["f"]]
    assert model.net_.n_future == 3
    forecast = model.predict(future=future)
    backtest = model.historical_forecasts(frame, start=len(frame) - 24, stride=4)
    np.testing.assert_allclose(backtest.forecasts["y"].iloc[:4], forecast["y"], rtol=1e-5)
