"""Tests for tsrnn/forecaster.py: the Forecaster end to end on tiny synthetic data.

The estimator contract (clone, seeding, persistence, bad input) is checked for every
estimator in tests/test_contract.py; this file covers what is particular to
forecasting.
"""

import csv
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from tsrnn import Forecaster, metrics
from tsrnn.base import member_seed
from tsrnn.data import DataError

# These tests check the backtest mechanics on the data the model was fitted on;
# the in-sample warning itself is tested in test_backtest.py.
pytestmark = pytest.mark.filterwarnings("ignore::tsrnn.InSampleBacktestWarning")

TINY = dict(input_len=16, horizon=4, hidden_size=8, max_epochs=2, batch_size=32,
            accelerator="cpu", random_state=0)
HORIZON = TINY["horizon"]


def _forecaster(**params) -> Forecaster:
    return Forecaster(**{**TINY, **params})


def _sine(n: int, *, period: int = 24, level: float = 0.0, noise: float = 0.1,
          seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n)


def _wide(n: int = 200, freq: str = "h", **columns) -> pd.DataFrame:
    columns = columns or {"y": _sine(n)}
    return pd.DataFrame(columns, index=pd.date_range("2024-01-01", periods=n, freq=freq))


def _long(lengths=(120, 100, 110), freq="15min", interleave=True) -> pd.DataFrame:
    """Series that start and end at different times, rows interleaved in time."""
    parts = []
    for k, n in enumerate(lengths):
        start = pd.Timestamp("2024-03-01") + k * 3 * pd.Timedelta(freq)
        parts.append(pd.DataFrame({
            "series": f"s{k}",
            "timestamp": pd.date_range(start, periods=n, freq=freq),
            "y": _sine(n, level=10 * k, seed=k),
        }))
    frame = pd.concat(parts, ignore_index=True)
    if interleave:
        frame = frame.sort_values("timestamp", kind="stable", ignore_index=True)
    return frame


LONG = dict(id_col="series", time_col="timestamp")


def _after(end, n: int, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(end, periods=n + 1, freq=freq)[1:]


# ------------------------------------------------------------------ frame layouts
def test_wide_frame_with_datetime_index():
    df = _wide()
    model = _forecaster().fit(df)
    out = model.predict()
    assert list(out.columns) == ["timestamp", "y"]
    assert out.index.equals(pd.RangeIndex(HORIZON))
    assert (out["timestamp"] == _after(df.index[-1], HORIZON, "h")).all()
    assert out["y"].dtype.kind == "f" and np.isfinite(out["y"]).all()
    assert model.freq_ == pd.tseries.frequencies.to_offset("h")
    assert model.target_names_ == ["y"] and model.n_features_in_ == 1
    # From the end of the same frame: the same forecast.
    pd.testing.assert_frame_equal(model.predict(df), out)


def test_long_frame_keeps_ids_and_continues_each_series():
    df = _long()
    model = _forecaster().fit(df, **LONG)
    out = model.predict()
    assert list(out.columns) == ["series", "timestamp", "y"]
    assert len(out) == 3 * HORIZON
    assert list(out["series"]) == [s for s in ("s0", "s1", "s2") for _ in range(HORIZON)]
    for sid, rows in out.groupby("series"):
        end = df.loc[df["series"] == sid, "timestamp"].max()
        assert list(rows["timestamp"]) == list(_after(end, HORIZON, "15min")), sid
    # Each series forecast near its own level (0, 10, 20): series are not mixed up.
    levels = out.groupby("series")["y"].mean()
    np.testing.assert_allclose(levels.to_numpy(), [0, 10, 20], atol=3)


@pytest.mark.parametrize("step", [1, 5])
def test_integer_time(step):
    n = 150
    y = _sine(n)
    if step == 1:
        df = pd.DataFrame({"y": y}, index=np.arange(100, 100 + n))
        model, time_name = _forecaster().fit(df), "timestamp"
    else:
        df = pd.DataFrame({"t": np.arange(0, step * n, step), "y": y})
        model, time_name = _forecaster().fit(df, time_col="t"), "t"
    out = model.predict()
    last = df.index[-1] if step == 1 else df["t"].iloc[-1]
    assert list(out.columns) == [time_name, "y"]
    assert list(out[time_name]) == [last + step * (h + 1) for h in range(HORIZON)]
    assert model.freq_ == step


def test_series_in_forecasts_out():
    series = _wide()["y"].rename("load")
    model = _forecaster().fit(series)
    out = model.predict()
    assert list(out.columns) == ["timestamp", "load"] and model.target_names_ == ["load"]
    assert (out["timestamp"] == _after(series.index[-1], HORIZON, "h")).all()
    pd.testing.assert_frame_equal(model.predict(series), out)
    pd.testing.assert_frame_equal(model.predict(series.to_frame()), out)
    # The same numbers as the one-column frame.
    frame_model = _forecaster().fit(series.to_frame())
    pd.testing.assert_frame_equal(frame_model.predict(), out)


def test_monthly_period_index():
    n = 120
    periods = pd.period_range("2010-01", periods=n, freq="M")
    model = _forecaster().fit(pd.DataFrame({"y": _sine(n, period=12)}, index=periods))
    out = model.predict()
    assert model.freq_ == pd.offsets.MonthBegin()
    assert list(out["timestamp"]) == list(pd.date_range("2020-01-01", periods=HORIZON,
                                                        freq="MS"))
    unnamed = pd.Series(_sine(n, period=12), index=periods)
    assert list(_forecaster().fit(unnamed).predict().columns) == ["timestamp", "y"]


def _neuralforecast(n=80) -> pd.DataFrame:
    times = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.DataFrame({
        "unique_id": np.repeat(["a", "b"], n), "ds": np.tile(times, 2),
        "y": np.r_[_sine(n, period=7), _sine(n, period=7, level=5, seed=1)],
        "price": np.linspace(0, 1, 2 * n),
    })


def test_neuralforecast_frame_forecasts_y_only():
    df = _neuralforecast()
    with pytest.warns(UserWarning, match=r"\['price'\] are left out.*past_covariates"):
        model = _forecaster().fit(df)
    assert model.target_names_ == ["y"] and model.n_features_in_ == 1
    out = model.predict()
    assert list(out.columns) == ["unique_id", "ds", "y"]
    assert list(out["unique_id"]) == ["a"] * HORIZON + ["b"] * HORIZON
    with_price = _forecaster().fit(df, past_covariates=["price"])
    assert with_price.target_names_ == ["y"] and with_price.n_features_in_ == 2


@pytest.mark.parametrize("channel_independent", [True, False])
def test_multivariate_target(channel_independent):
    df = _wide(y1=_sine(200), y2=_sine(200, level=5, seed=1), y3=_sine(200, period=12))
    model = _forecaster(channel_independent=channel_independent).fit(df)
    out = model.predict()
    assert list(out.columns) == ["timestamp", "y1", "y2", "y3"]
    assert len(out) == HORIZON and np.isfinite(out[["y1", "y2", "y3"]]).all().all()
    assert abs(out["y2"].mean() - 5) < 2


def test_past_covariates_are_inputs_not_outputs():
    df = _wide(y=_sine(200), temp=_sine(200, period=12, seed=3))
    model = _forecaster().fit(df, target="y", past_covariates=["temp"])
    assert list(model.feature_names_in_) == ["y", "temp"] and model.n_features_in_ == 2
    out = model.predict()
    assert list(out.columns) == ["timestamp", "y"]
    changed = df.copy()
    changed.loc[changed.index[-5:], "temp"] += 10.0
    assert not np.allclose(model.predict(changed)["y"], out["y"])


# --------------------------------------------------------- known-future covariates
def _with_future(n=200, horizon=HORIZON):
    """A frame whose target follows a known-future covariate, and that covariate
    over the horizon after the frame."""
    full = _wide(n + horizon)
    full["f"] = np.sign(np.sin(2 * np.pi * np.arange(n + horizon) / 10))
    full["y"] += full["f"]
    return full.iloc[:n], full[["f"]].iloc[n:]


def test_future_covariates_are_required_and_used():
    df, future = _with_future()
    model = _forecaster().fit(df, target="y", future_covariates=["f"])
    assert list(model.feature_names_in_) == ["y", "f"]
    with pytest.raises(ValueError, match="future="):
        model.predict()
    out = model.predict(future=future)
    assert list(out.columns) == ["timestamp", "y"]
    assert (out["timestamp"] == future.index).all()
    other = model.predict(future=future + 5.0)
    assert not np.allclose(other["y"], out["y"])
    # Extra rows in future= are fine: the horizon steps are looked up by time.
    more = pd.concat([future, (future + 1).set_axis(future.index + pd.Timedelta("4h"))])
    pd.testing.assert_frame_equal(model.predict(future=more), out)


def test_future_covariates_missing_a_step_name_it():
    df, future = _with_future()
    model = _forecaster().fit(df, target="y", future_covariates=["f"])
    missing = future.index[2]
    with pytest.raises(DataError, match=rf"'f'.*{missing}"):
        model.predict(future=future.drop(index=missing))
    gap = future.copy()
    gap.iloc[1, 0] = np.nan
    with pytest.raises(DataError, match="'f'"):
        model.predict(future=gap)


def test_future_covariates_frame_checked_and_read_as_at_fit():
    # A missing column was pandas' KeyError, a repeated step numpy's "could not
    # broadcast", and times as text (as read from a CSV) "lacks ... 12 of 12 steps".
    df, future = _with_future()
    df, future = df.rename_axis("t").reset_index(), future.rename_axis("t").reset_index()
    model = _forecaster().fit(df, target="y", future_covariates=["f"])
    out = model.predict(future=future)
    as_text = future.assign(t=future["t"].astype(str))
    pd.testing.assert_frame_equal(model.predict(future=as_text), out)
    for dropped in ("t", "f"):
        with pytest.raises(DataError, match=rf"future= has no column '{dropped}'; its columns"):
            model.predict(future=future.drop(columns=dropped))
    twice = pd.concat([future, future.iloc[[3]]])
    with pytest.raises(DataError, match=rf"future= has several rows at {future['t'][3]}"):
        model.predict(future=twice)


def test_future_covariates_of_a_long_frame_name_the_series():
    df = _long()
    df["f"] = df["timestamp"].dt.minute / 60
    model = _forecaster().fit(df, target="y", future_covariates=["f"], **LONG)
    rows = []
    for sid, part in df.groupby("series"):
        times = _after(part["timestamp"].max(), HORIZON, "15min")
        rows.append(pd.DataFrame({"series": sid, "timestamp": times, "f": times.minute / 60}))
    future = pd.concat(rows, ignore_index=True)
    assert len(model.predict(future=future)) == 3 * HORIZON
    with pytest.raises(DataError, match="series 's1'"):
        model.predict(future=future[future["series"] != "s1"])


# ------------------------------------------------------------------- quantiles
def test_quantile_columns_never_cross():
    df = _wide(a=_sine(200), b=_sine(200, level=3, seed=1))
    model = _forecaster(quantiles=[0.1, 0.5, 0.9]).fit(df)
    out = model.predict()
    names = [f"{t}_q{q}" for t in ("a", "b") for q in ("0.1", "0.5", "0.9")]
    assert list(out.columns) == ["timestamp", *names]
    backtest = model.historical_forecasts(df, start=150, stride=1).forecasts
    for frame in (out, backtest):
        for t in ("a", "b"):
            q = frame[[f"{t}_q0.1", f"{t}_q0.5", f"{t}_q0.9"]].to_numpy()
            assert (np.diff(q, axis=1) >= 0).all()


def test_backtest_metrics_use_the_median_quantile():
    df = _wide()
    model = _forecaster(quantiles=[0.2, 0.5, 0.8]).fit(df)
    bt = model.historical_forecasts(df, start=150)
    expected = metrics.mae(bt.forecasts["y_actual"], bt.forecasts["y_q0.5"])
    assert bt.metrics["mae"] == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- predict(df)
def test_predict_on_a_new_series():
    df = _long()
    model = _forecaster().fit(df, **LONG)
    new = pd.DataFrame({"series": "new", "y": _sine(40, level=50, seed=9),
                        "timestamp": pd.date_range("2025-01-01", periods=40, freq="15min")})
    out = model.predict(new)
    assert list(out["series"]) == ["new"] * HORIZON
    assert list(out["timestamp"]) == list(_after(new["timestamp"].iloc[-1], HORIZON, "15min"))
    assert abs(out["y"].mean() - 50) < 5  # scaled with its own statistics


@pytest.mark.parametrize("column", ["y", "temp", "series", "timestamp"])
def test_predict_with_a_missing_column_names_it(column):
    df = _long()
    df["temp"] = np.arange(len(df)) % 7
    model = _forecaster().fit(df, target="y", past_covariates=["temp"], **LONG)
    with pytest.raises(DataError, match=f"'{column}'"):
        model.predict(df.drop(columns=[column]))


def test_predict_needs_input_len_rows():
    model = _forecaster().fit(_wide())
    with pytest.raises(DataError, match="input_len"):
        model.predict(_wide().iloc[:10])


# -------------------------------------------------------- predict(steps=), score
@pytest.fixture(scope="module")
def wide_model():
    df = _wide()
    return df, _forecaster(quantiles=[0.1, 0.5, 0.9]).fit(df)


@pytest.mark.parametrize("steps", [1, 3, HORIZON])
def test_predict_fewer_steps_is_the_first_steps_of_the_horizon(wide_model, steps):
    df, model = wide_model
    full = model.predict(df)
    pd.testing.assert_frame_equal(model.predict(df, steps=steps), full.iloc[:steps])
    pd.testing.assert_frame_equal(model.predict(steps=steps), full.iloc[:steps])


def test_predict_fewer_steps_of_many_series():
    df = _long()
    model = _forecaster().fit(df, **LONG)
    full, two = model.predict(), model.predict(steps=2)
    pd.testing.assert_frame_equal(
        two, full.groupby("series", sort=False).head(2).reset_index(drop=True))


@pytest.mark.parametrize(("steps", "error", "match"), [
    (HORIZON + 1, ValueError, rf"steps=5 is beyond the model's horizon={HORIZON}.*horizon=5"),
    (0, ValueError, "steps must be a positive integer, got 0"),
    (2.5, ValueError, "steps must be a positive integer"),
])
def test_predict_steps_out_of_range(wide_model, steps, error, match):
    with pytest.raises(error, match=match):
        wide_model[1].predict(steps=steps)


def test_score_is_minus_the_mae_of_each_series_last_horizon(wide_model):
    df, model = wide_model
    forecast = model.predict(df.iloc[:-HORIZON])["y_q0.5"].to_numpy()
    expected = -metrics.mae(df["y"].iloc[-HORIZON:], forecast)
    assert model.score(df) == pytest.approx(expected, rel=1e-6)
    assert model.score(df["y"]) == model.score(df)


def test_score_of_many_series_uses_future_covariates_from_the_frame():
    df = _long()
    df["hour"] = pd.to_datetime(df["timestamp"]).dt.hour.astype(float)
    model = _forecaster().fit(df, target="y", future_covariates=["hour"], **LONG)
    errors = []
    for _, rows in df.groupby("series", sort=False):
        head, tail = rows.iloc[:-HORIZON], rows.iloc[-HORIZON:]
        out = model.predict(head, future=tail[["series", "timestamp", "hour"]])
        errors.append(np.abs(out["y"].to_numpy() - tail["y"].to_numpy()))
    assert model.score(df) == pytest.approx(-np.mean(errors), rel=1e-5)


def test_score_says_what_length_it_needs(wide_model):
    df, model = wide_model
    with pytest.raises(DataError, match=r"fewer than input_len \+ horizon = 20.*test_size >= 20"):
        model.score(df.iloc[:19])
    with pytest.raises(ValueError, match="pass y=None"):
        model.score(df, df["y"])


def test_grid_search_and_cross_val_score_with_a_time_series_split():
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score

    df = _wide(160)
    cv = TimeSeriesSplit(n_splits=2, test_size=TINY["input_len"] + HORIZON)
    search = GridSearchCV(_forecaster(max_epochs=1), {"hidden_size": [4, 8]}, cv=cv,
                          error_score="raise").fit(df)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 and np.all(np.isfinite(scores)) and np.all(scores < 0)
    assert search.best_params_["hidden_size"] == [4, 8][int(np.argmax(scores))]
    assert search.best_estimator_.predict().shape == (HORIZON, 2)
    folds = cross_val_score(_forecaster(max_epochs=1), df["y"], cv=cv, error_score="raise")
    assert folds.shape == (2,) and np.all(np.isfinite(folds)) and np.all(folds < 0)


@pytest.mark.parametrize(
    ("scaler", "window_norm"),
    [("standard", "last"), ("minmax", "mean"), (None, "last"), ("standard", None),
     ("minmax", "standard")],
)
def test_forecasts_are_in_original_units(scaler, window_norm):
    df = _wide(y=_sine(200, level=1000.0))
    model = _forecaster(scaler=scaler, window_norm=window_norm).fit(df)
    out = model.predict()["y"]
    assert np.all(np.abs(out - 1000) < 10), out.tolist()
    bt = model.historical_forecasts(df, start=150).forecasts
    assert np.all(np.abs(bt["y"] - 1000) < 10)


def test_missing_values_are_filled_when_asked():
    df = _wide()
    df.iloc[[20, 21, 100], 0] = np.nan
    with pytest.raises(DataError, match="'y'"):
        _forecaster().fit(df)
    for fill in ("ffill", "interpolate"):
        assert np.isfinite(_forecaster(fill=fill).fit(df).predict()["y"]).all()


# --------------------------------------------------------------------- learning
def test_learns_a_sine_wave_better_than_repeating_the_last_value():
    df = _wide(24 * 30, y=_sine(24 * 30, noise=0.05))
    model = Forecaster(input_len=48, horizon=12, hidden_size=16, max_epochs=5, lr=1e-2,
                       accelerator="cpu", random_state=0).fit(df.iloc[:600])
    bt = model.historical_forecasts(df, start=600, stride=1)
    fc = bt.forecasts
    repeat_last = df["y"].reindex(fc["origin"]).to_numpy()
    naive_mse = np.mean((fc["y_actual"].to_numpy() - repeat_last) ** 2)
    assert bt.metrics["mse"] < 0.3 * naive_mse, (bt.metrics["mse"], naive_mse)


# ---------------------------------------------------------- historical forecasts
@pytest.fixture(scope="module")
def backtest_setup():
    n = 300
    df = _wide(n, freq="D", y=_sine(n, level=10.0, period=7))
    return df, _forecaster().fit(df)


@pytest.mark.parametrize(("start", "stride"), [(200, 3), (200, None), (0.8, 1), (17, 5)])
def test_historical_forecasts_windows(backtest_setup, start, stride):
    df, model = backtest_setup
    n = len(df)
    bt = model.historical_forecasts(df, start=start, stride=stride)
    fc = bt.forecasts
    assert list(fc.columns) == ["origin", "timestamp", "y", "y_actual"]
    first = int(np.floor(n * start)) if isinstance(start, float) else start
    first = max(first, model.input_len)
    step = stride or HORIZON
    n_windows = (n - HORIZON - first) // step + 1
    assert len(fc) == n_windows * HORIZON
    origins = fc["origin"].to_numpy()[::HORIZON]
    expected = df.index[first - 1 + step * np.arange(n_windows)]
    assert (origins == expected).all()
    # Each forecast runs horizon steps after its origin; actuals are the frame's values.
    lead = (fc["timestamp"] - fc["origin"]) / pd.Timedelta("1D")
    assert list(lead) == list(range(1, HORIZON + 1)) * n_windows
    np.testing.assert_allclose(fc["y_actual"], df["y"].reindex(fc["timestamp"]), rtol=1e-6)


def test_historical_forecasts_start_at_a_timestamp(backtest_setup):
    df, model = backtest_setup
    fc = model.historical_forecasts(df, start=df.index[250]).forecasts
    assert fc["timestamp"].iloc[0] == df.index[250]
    assert fc["origin"].iloc[0] == df.index[249]


def test_historical_forecasts_match_predict(backtest_setup):
    df, model = backtest_setup
    fc = model.historical_forecasts(df, start=200, stride=7).forecasts
    origin = fc["origin"].iloc[-1]
    expected = model.predict(df.loc[:origin])
    np.testing.assert_allclose(fc["y"].iloc[-HORIZON:], expected["y"], rtol=1e-5)
    assert list(fc["timestamp"].iloc[-HORIZON:]) == list(expected["timestamp"])


def test_historical_forecast_metrics_match_tsrnn_metrics(backtest_setup):
    df, model = backtest_setup
    bt = model.historical_forecasts(df, start=200, stride=2, season=1)
    actual, pred = bt.forecasts["y_actual"], bt.forecasts["y"]
    expected = metrics.forecast_metrics(actual, pred, y_train=df["y"].iloc[:200])
    assert bt.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert bt.metrics[name] == pytest.approx(value, rel=1e-6), name
    assert bt.metrics["mase"] > 0
    with_season = model.historical_forecasts(df, start=200, stride=2, season=7).metrics
    assert with_season["mase"] == pytest.approx(
        metrics.mase(actual, pred, y_train=df["y"].iloc[:200], season=7), rel=1e-6)
    # season="auto" (the default) is the fitted season_: 7 for daily data
    assert model.season_ == 7
    auto = model.historical_forecasts(df, start=200, stride=2).metrics
    assert auto["mase"] == pytest.approx(with_season["mase"], rel=1e-9)


def test_backtest_mape_is_percent_and_leaves_out_zero_actuals(backtest_setup):
    df, model = backtest_setup
    zeros = df.copy()
    zeros.iloc[220:225, zeros.columns.get_loc("y")] = 0.0
    with pytest.warns(metrics.UndefinedMetricWarning, match=r"5 of \d+ points left out"):
        bt = model.historical_forecasts(zeros, start=200)
    fc = bt.forecasts
    kept = fc["y_actual"] != 0
    expected = 100 * np.mean(np.abs(fc["y"] - fc["y_actual"])[kept] / np.abs(fc["y_actual"][kept]))
    assert bt.metrics["mape"] == pytest.approx(expected, rel=1e-6)  # percent, not 1e13


def test_historical_forecasts_of_many_series():
    df = _long()
    model = _forecaster().fit(df, **LONG)
    bt = model.historical_forecasts(df, start=80, stride=4)
    fc = bt.forecasts
    assert list(fc.columns) == ["series", "origin", "timestamp", "y", "y_actual"]
    per_series = []
    for sid, rows in fc.groupby("series"):
        n = int((df["series"] == sid).sum())
        assert len(rows) == ((n - HORIZON - 80) // 4 + 1) * HORIZON, sid
        history = df.loc[df["series"] == sid, "y"].iloc[:80]
        per_series.append(metrics.mase(rows["y_actual"], rows["y"], y_train=history))
    assert bt.metrics["mase"] == pytest.approx(np.mean(per_series), rel=1e-6)
    assert bt.metrics["mse"] == pytest.approx(metrics.mse(fc["y_actual"], fc["y"]), rel=1e-6)


def test_historical_forecast_mase_of_several_targets_matches_tsrnn_metrics():
    n = 300
    df = _wide(n, a=_sine(n, level=10), b=_sine(n, level=100, seed=1) * 5)
    model = _forecaster().fit(df)
    fc = model.historical_forecasts(df, start=200).forecasts
    bt = model.historical_forecasts(df, start=200)
    expected = metrics.mase(fc[["a_actual", "b_actual"]], fc[["a", "b"]],
                            y_train=df[["a", "b"]].iloc[:200], season=model.season_)
    assert bt.metrics["mase"] == pytest.approx(expected, rel=1e-6)


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    "params",
    [
        {"cell": "xyz"}, {"quantiles": [0.5, 0.1]}, {"quantiles": [0.0, 0.5]},
        {"quantiles": []}, {"segment_len": 0}, {"segment_len": 17}, {"segment_len": "x"},
        {"input_len": 0}, {"horizon": 0}, {"hidden_size": 0}, {"num_layers": 0},
        {"batch_size": 0}, {"max_epochs": 0}, {"input_len": 1.5}, {"strategy": "xyz"},
        {"bidirectional": True, "strategy": "recursive"}, {"window_norm": "xyz"},
        {"scaler": "xyz"}, {"loss": "xyz"}, {"lr_scheduler": "xyz"}, {"fill": "xyz"},
        {"nonlinearity": "xyz"}, {"dropout": 1.0}, {"recurrent_dropout": -0.1},
        {"val_size": 1.5}, {"n_models": 0}, {"n_models": 1.5},
    ],
    ids=lambda p: ",".join(f"{k}={v!r}" for k, v in p.items()),
)
def test_invalid_params_raise_at_fit_not_init(params):
    model = _forecaster(**params)  # __init__ validates nothing
    with pytest.raises(ValueError, match=next(iter(params))):
        model.fit(_wide())
    assert not hasattr(model, "net_")


@pytest.mark.parametrize(("horizon", "segment_len", "expected"),
                         [(16, 4, "direct"), (17, 4, "parallel"), (4, 1, "direct"),
                          (5, 1, "parallel")])
def test_auto_strategy_decodes_in_parallel_past_four_segments(tmp_path, horizon,
                                                              segment_len, expected):
    model = _forecaster(horizon=horizon, segment_len=segment_len, max_epochs=1).fit(_wide())
    assert model.strategy == "auto"
    assert model.net_.strategy == model.summary()["strategy"] == expected
    model.save(tmp_path / "model.pt")
    loaded = Forecaster.load(tmp_path / "model.pt")  # the rule rebuilds the same network
    assert loaded.net_.strategy == expected
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())


@pytest.mark.parametrize(("input_len", "horizon", "season", "segments", "expected"), [
    (54, 13, 52, 13, "direct"), (96, 96, 24, 24, "direct"), (192, 96, 24, 24, "direct"),
    (384, 192, 24, 24, "parallel"), (96, 192, 24, 24, "parallel"),
    (672, 336, 24, 24, "parallel"), (720, 720, 24, 24, "parallel"),
    (288, 96, 96, 48, "direct"), (480, 48, 1, 48, "direct")])
def test_auto_segments_and_strategy_at_the_benchmark_sizes(input_len, horizon, season,
                                                           segments, expected):
    """M4 weekly (54, 13) and ETTh1 at horizon 96 keep the sizes their figures
    were measured with; hourly data is cut into days, and the long horizons decode
    in parallel."""
    model = Forecaster(input_len=input_len, horizon=horizon)
    model.input_len_, model.horizon_, model.season_ = input_len, horizon, season  # as fit
    assert (model._segment_len(), model._strategy()) == (segments, expected)


# ------------------------------------------------------------------ ensembles
def test_n_models_forecasts_the_median_of_its_members_fitted_alone():
    """Member k is the single fit with member_seed(random_state, k), so the
    ensemble of an odd count forecasts exactly the median of those fits (the
    forecast suite reports the ensemble from its single fits on this ground)."""
    df, levels = _wide(), dict(quantiles=[0.1, 0.5, 0.9])
    train = df.iloc[:170]
    ensemble = _forecaster(n_models=3, **levels).fit(train)
    singles = [_forecaster(random_state=member_seed(0, k), **levels).fit(train)
               for k in range(3)]
    columns = ["y_q0.1", "y_q0.5", "y_q0.9"]
    each = np.stack([s.predict()[columns].to_numpy() for s in singles])  # [members, H, Q]
    assert not np.allclose(each[0], each[1])  # the members differ
    forecast = ensemble.predict()[columns].to_numpy()
    np.testing.assert_array_equal(forecast, np.median(each, axis=0))
    assert (np.diff(forecast, axis=1) >= 0).all()  # quantiles never cross
    assert len(ensemble.training_summary_["members"]) == 3
    backtests = [m.historical_forecasts(df, start=170).forecasts[columns].to_numpy()
                 for m in (ensemble, *singles)]
    np.testing.assert_array_equal(backtests[0], np.median(backtests[1:], axis=0))


def test_an_even_ensemble_forecasts_the_mean_of_its_two_middle_members(tmp_path):
    df = _wide()
    ensemble = _forecaster(n_models=2).fit(df)
    singles = [_forecaster(random_state=member_seed(0, k)).fit(df).predict()["y"].to_numpy()
               for k in range(2)]
    np.testing.assert_allclose(ensemble.predict()["y"].to_numpy(), np.mean(singles, axis=0),
                               rtol=1e-6)
    ensemble.save(tmp_path / "two.tsrnn")
    loaded = Forecaster.load(tmp_path / "two.tsrnn")
    pd.testing.assert_frame_equal(loaded.predict(), ensemble.predict())


def test_an_ensembles_attention_is_its_members_mean():
    df = _wide()
    options = dict(model="seq2seq", attention="luong", segment_len=1)
    ensemble = _forecaster(n_models=2, **options).fit(df)
    singles = [_forecaster(random_state=member_seed(0, k), **options).fit(df)
               for k in range(2)]
    weights = ensemble.attention_weights()
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(weights, np.mean([s.attention_weights() for s in singles], 0),
                               rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------ quiet and clean
@pytest.mark.parametrize(
    "params",
    [{}, {"quantiles": [0.1, 0.9], "lr_scheduler": "cosine"},
     {"lr_scheduler": "plateau", "recurrent_dropout": 0.2, "cell": "lstm", "max_epochs": 1}],
    ids=["default", "quantiles-cosine", "plateau-lstm"],
)
def test_quiet_fit_prints_and_warns_nothing(capfd, recwarn, params):
    import warnings

    warnings.simplefilter("always")
    df = _wide()
    model = _forecaster(**params).fit(df.iloc[:160])
    model.predict()
    model.historical_forecasts(df, start=160)  # out of sample: no InSampleBacktestWarning
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.parametrize("val_size", [0, 3], ids=["val_size=0", "val-part-too-short"])
def test_quiet_fit_without_validation_warns_nothing(capfd, recwarn, val_size):
    import warnings

    warnings.simplefilter("always")
    _forecaster(val_size=val_size, patience=None, lr_scheduler=None).fit(_wide())
    assert capfd.readouterr() == ("", "")
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.filterwarnings("ignore:You defined a `validation_step`")
def test_plateau_scheduler_without_validation():
    model = _forecaster(val_size=0, patience=None, lr_scheduler="plateau")
    try:
        model.fit(_wide())
    except ValueError as exc:  # a clear error up front would do too
        assert "val_size" in str(exc)


def test_verbose_shows_progress(capfd):
    _forecaster(verbose=True, max_epochs=1).fit(_wide())
    out, err = capfd.readouterr()
    assert out or err


@pytest.mark.parametrize("verbose", [False, True])
def test_fit_writes_no_files(tmp_path, monkeypatch, capfd, verbose):
    monkeypatch.chdir(tmp_path)
    df = _wide()
    model = _forecaster(verbose=verbose, lr_scheduler="plateau").fit(df)
    model.predict()
    model.historical_forecasts(df)
    capfd.readouterr()
    assert list(tmp_path.iterdir()) == []


def test_log_dir_gets_csv_logs(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    model = _forecaster(log_dir=str(tmp_path / "logs"), max_epochs=3, patience=None)
    model.fit(_wide())
    assert list(work.iterdir()) == []
    logs = list((tmp_path / "logs").rglob("metrics.csv"))
    assert len(logs) == 1
    with logs[0].open() as f:
        rows = list(csv.DictReader(f))
    assert {"epoch", "train_loss", "val_loss"} <= set(rows[0])
    epochs = {int(r["epoch"]) for r in rows if r["val_loss"]}
    assert epochs == {0, 1, 2} == set(range(model.training_summary_["epochs"]))


# --------------------------------------------------------------- no Lightning
def _run_fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, check=True).stdout


def test_load_and_predict_never_import_lightning(tmp_path):
    df = _long()
    model = _forecaster().fit(df, **LONG)
    model.save(tmp_path / "model.pt")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    df.to_pickle(tmp_path / "frame.pkl")
    expected = model.predict().to_json(date_format="iso")
    out = _run_fresh(f"""
        import pickle, sys
        import pandas as pd
        from tsrnn import Forecaster
        df = pd.read_pickle({str(tmp_path / "frame.pkl")!r})
        loaded = Forecaster.load({str(tmp_path / "model.pt")!r})
        print(loaded.predict().to_json(date_format="iso"))
        loaded.predict(df)
        loaded.historical_forecasts(df)
        with open({str(tmp_path / "model.pkl")!r}, "rb") as f:
            pickle.load(f).predict()
        print(sorted(m for m in sys.modules if "lightning" in m))
    """)
    forecast, modules = out.strip().splitlines()
    assert forecast == expected
    assert modules == "[]"


# ---------------------------------------------------------- training options
@pytest.fixture
def trainer_kwargs_seen(monkeypatch):
    """The keyword arguments of every Lightning Trainer that fit creates."""
    import pytorch_lightning as pl

    seen = []

    class RecordingTrainer(pl.Trainer):
        def __init__(self, **kwargs):
            seen.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(pl, "Trainer", RecordingTrainer)
    return seen


def test_gradient_clipping_reaches_the_trainer(trainer_kwargs_seen):
    _forecaster(gradient_clip=0.5).fit(_wide())
    _forecaster(gradient_clip=None).fit(_wide())
    model = _forecaster(gradient_clip=0.5,
                        trainer_kwargs={"gradient_clip_val": 0.25, "max_epochs": 1})
    model.fit(_wide())
    first, off, override = trainer_kwargs_seen
    assert (first["gradient_clip_val"], first["gradient_clip_algorithm"]) == (0.5, "norm")
    assert off["gradient_clip_val"] is None
    assert override["gradient_clip_val"] == 0.25 and override["max_epochs"] == 1
    assert model.training_summary_["epochs"] == 1


@pytest.mark.filterwarnings("ignore:You defined a `validation_step`")
def test_gradient_clipping_bounds_the_updates():
    # Adam's step barely depends on the gradient's size, unless the gradient is far
    # below its eps: clipped to 1e-12, the weights must hardly move.
    def weights(clip, epochs):
        model = _forecaster(gradient_clip=clip, max_epochs=epochs, lr=0.1, val_size=0,
                            patience=None, lr_scheduler=None).fit(_wide())
        return np.concatenate([p.detach().numpy().ravel() for p in model.net_.parameters()])

    clipped = np.abs(weights(1e-12, 3) - weights(1e-12, 1)).max()
    free = np.abs(weights(None, 3) - weights(None, 1)).max()
    assert clipped < 1e-3 < 1e-2 < free, (clipped, free)


def test_early_stopping_restores_the_best_weights(tmp_path):
    n = 300
    df = _wide(n, y=_sine(n, noise=0.5, seed=4))
    # Pinned: the validation loss is recomputed below as MSE on standard-scaled values.
    model = _forecaster(max_epochs=30, patience=1, lr=0.05, val_size=0.3, loss="mse",
                        scaler="standard", lr_scheduler=None, log_dir=str(tmp_path)).fit(df)
    summary = model.training_summary_
    with next(tmp_path.rglob("metrics.csv")).open() as f:
        val = [float(r["val_loss"]) for r in csv.DictReader(f) if r["val_loss"]]
    assert len(val) == summary["epochs"] < 30  # stopped early
    assert summary["best_epoch"] == int(np.argmin(val)) < summary["epochs"] - 1
    assert summary["best_val_loss"] == pytest.approx(min(val), rel=1e-6)
    assert val[-1] > summary["best_val_loss"]  # the last epoch was worse
    # The weights kept are the best epoch's: their validation loss (MSE in scaled
    # units over the validation windows) is the best one, not the last one.
    first_val_row = n - round(0.3 * n)
    fc = model.historical_forecasts(df, start=first_val_row, stride=1).forecasts
    spread = model.scaler_spread_[0, 0]
    loss = np.mean(((fc["y"] - fc["y_actual"]) / spread) ** 2)
    assert loss == pytest.approx(summary["best_val_loss"], rel=1e-4)
