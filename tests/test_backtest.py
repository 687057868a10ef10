"""Tests for tsrnn/backtest.py: refitting backtests (``retrain``), the in-sample
warning, per-step metrics and ``backtest()``'s NeuralForecast layout.

The plain rolling-origin backtest (windows, origins, pooled metrics) is covered in
tests/test_forecaster.py. Every refit here is a full (tiny) training, about a
second each, so the tests keep the number of origins small.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from tsrnn import Forecaster, InSampleBacktestWarning, metrics
from tsrnn.data import DataError

TINY = dict(input_len=16, horizon=4, hidden_size=8, max_epochs=2, batch_size=32,
            accelerator="cpu", random_state=0)
H = TINY["horizon"]


def _wide(values, freq="h") -> pd.DataFrame:
    return pd.DataFrame({"y": values},
                        index=pd.date_range("2024-01-01", periods=len(values), freq=freq))


def _sine(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10 + np.sin(np.arange(n) / 3) + 0.1 * rng.standard_normal(n)


@pytest.fixture(scope="module")
def fitted():
    df = _wide(_sine(120))
    return df, Forecaster(**TINY).fit(df)


def _quiet(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InSampleBacktestWarning)
        return call()


# ------------------------------------------------------------------- retrain
def test_retrain_forecasts_come_from_a_clone_fitted_up_to_each_origin(fitted):
    df, model = fitted
    bt = model.historical_forecasts(df, start=112, retrain=True)  # origins: rows 111, 115
    fc = bt.forecasts
    assert list(fc.columns) == ["origin", "timestamp", "y", "y_actual"]
    assert list(fc["origin"].unique()) == [df.index[111], df.index[115]]
    for origin, rows in fc.groupby("origin"):
        refit = clone(model).fit(df.loc[:origin])
        np.testing.assert_allclose(rows["y"], refit.predict()["y"], rtol=1e-5)


def test_retrain_follows_data_the_fitted_model_never_saw():
    """A model fitted on a constant knows nothing of a trend; refits learn it."""
    n = 100
    constant = _wide(np.full(n, 5.0) + 0.01 * np.random.default_rng(0).standard_normal(n))
    trend = _wide(np.linspace(0, 50, n))
    model = Forecaster(**{**TINY, "max_epochs": 5, "lr": 1e-2}).fit(constant)
    frozen = _quiet(lambda: model.historical_forecasts(trend, start=92))
    refitted = model.historical_forecasts(trend, start=92, retrain=True)
    assert not np.allclose(frozen.forecasts["y"], refitted.forecasts["y"], rtol=1e-3)
    assert refitted.metrics["mae"] < frozen.metrics["mae"]
    pd.testing.assert_frame_equal(frozen.forecasts.drop(columns="y"),
                                  refitted.forecasts.drop(columns="y"))


@pytest.mark.parametrize(("retrain", "fits_at"), [(2, [0, 2, 4]), (3, [0, 3]), (9, [0])])
def test_retrain_k_refits_every_k_origins(fitted, monkeypatch, retrain, fits_at):
    df, model = fitted
    ends = []
    fit = Forecaster.fit

    def counting_fit(self, frame, **columns):
        ends.append(frame.index[-1])
        return fit(self, frame, **columns)

    monkeypatch.setattr(Forecaster, "fit", counting_fit)
    bt = model.historical_forecasts(df, start=100, retrain=retrain)  # 5 origins
    origins = bt.forecasts["origin"].unique()
    assert len(origins) == 5
    assert ends == [origins[i] for i in fits_at]


def test_retrain_cuts_every_series_at_the_same_time():
    """Long frames: each refit sees every series up to the origin time, no later."""
    parts = [pd.DataFrame({"series": f"s{k}", "y": _sine(60 + 8 * k, seed=k),
                           "timestamp": pd.date_range("2024-01-01", periods=60 + 8 * k,
                                                      freq="h")}) for k in range(2)]
    df = pd.concat(parts, ignore_index=True)
    columns = dict(id_col="series", time_col="timestamp")
    model = Forecaster(**TINY).fit(df, **columns)
    bt = model.historical_forecasts(df, start=pd.Timestamp("2024-01-03 08:00"),
                                    retrain=True)
    fc = bt.forecasts
    assert fc.groupby("series")["origin"].nunique().to_dict() == {"s0": 1, "s1": 3}
    first = fc["origin"].min()
    refit = clone(model).fit(df[df["timestamp"] <= first], **columns)
    expected = refit.predict().set_index("series")["y"]
    for sid in ("s0", "s1"):
        got = fc[(fc["series"] == sid) & (fc["origin"] == first)]["y"]
        np.testing.assert_allclose(got, expected.loc[sid], rtol=1e-5)


@pytest.mark.parametrize("retrain", [0, -1, 1.5, "yes", None])
def test_bad_retrain_names_it(fitted, retrain):
    df, model = fitted
    with pytest.raises(ValueError, match="retrain"):
        model.historical_forecasts(df, retrain=retrain)


def test_a_negative_start_row_is_refused_not_read_as_the_first(fitted):
    # start=-5 gave the backtest of start=0, not the last 5 rows a Python index means.
    df, model = fitted
    with pytest.raises(ValueError, match="start as a row count must be >= 0, got -5"):
        model.historical_forecasts(df, start=-5)


def test_retrain_too_early_says_start_later(fitted):
    df, model = fitted
    with pytest.raises(DataError, match="retrain.*start the backtest later"):
        model.historical_forecasts(df, start=17, retrain=True)


# ---------------------------------------------------------- in-sample warning
def test_in_sample_backtest_warns_with_the_count_and_the_way_out(fitted):
    df, model = fitted
    with pytest.warns(InSampleBacktestWarning, match=r"6 of the 6 .*retrain=True") as caught:
        model.historical_forecasts(df, start=96)
    warning = caught[0].message
    assert (warning.n_in_sample, warning.n_origins) == (6, 6)
    assert warning.training_end == df.index[-1]
    assert caught[0].filename == __file__  # points at the caller


def test_no_warning_out_of_sample_or_with_retrain(fitted):
    df, _ = fitted
    model = Forecaster(**TINY).fit(df.iloc[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("error", InSampleBacktestWarning)
        model.historical_forecasts(df, start=100)  # first target: row 100, unseen
        model.historical_forecasts(df, start=112, retrain=True)
    # One row earlier, the first forecast's first step was a training row.
    with pytest.warns(InSampleBacktestWarning, match="1 of the "):
        model.historical_forecasts(df, start=99)


def test_series_unseen_at_fit_are_not_in_sample():
    df = pd.DataFrame({"series": "a", "y": _sine(80),
                       "timestamp": pd.date_range("2024-01-01", periods=80, freq="h")})
    model = Forecaster(**TINY).fit(df, id_col="series", time_col="timestamp")
    other = df.assign(series="b")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InSampleBacktestWarning)
        model.historical_forecasts(other, start=60)
    with pytest.warns(InSampleBacktestWarning, match="5 of the 10"):
        model.historical_forecasts(pd.concat([df, other]), start=60)


def test_a_loaded_model_remembers_where_its_training_ended(fitted, tmp_path):
    df, model = fitted
    model.save(tmp_path / "m.tsrnn")
    loaded = Forecaster.load(tmp_path / "m.tsrnn")
    assert loaded.context_end_ == [df.index[-1]]
    with pytest.warns(InSampleBacktestWarning, match="6 of the 6"):
        loaded.historical_forecasts(df, start=96)
    longer = _wide(_sine(140))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InSampleBacktestWarning)
        loaded.historical_forecasts(longer, start=120)


# ---------------------------------------------------------- per-step metrics
def test_step_metrics_match_a_hand_computation(fitted):
    df, model = fitted
    bt = _quiet(lambda: model.historical_forecasts(df, start=90, stride=3, season=3))
    fc = bt.forecasts
    step = ((fc["timestamp"] - fc["origin"]) / pd.Timedelta("1h")).astype(int)
    assert list(bt.step_metrics.index) == list(range(1, H + 1))
    assert bt.step_metrics.index.name == "step"
    assert list(bt.step_metrics.columns) == list(bt.metrics)
    for h in range(1, H + 1):
        rows = fc[step == h]
        err = rows["y_actual"].to_numpy() - rows["y"].to_numpy()
        row = bt.step_metrics.loc[h]
        assert row["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-6)
        assert row["mse"] == pytest.approx(np.mean(err ** 2), rel=1e-6)
        assert row["rmse"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-6)
        history = df["y"].to_numpy()[:90]  # the rows before the first forecast
        scale = np.mean(np.abs(history[3:] - history[:-3]))  # season 3
        assert row["mase"] == pytest.approx(np.mean(np.abs(err)) / scale, rel=1e-5)
        assert row["smape"] == pytest.approx(
            metrics.smape(rows["y_actual"], rows["y"]), rel=1e-6)
    # Pooled: the mean over equal-sized steps for the mean errors.
    assert bt.metrics["mae"] == pytest.approx(bt.step_metrics["mae"].mean(), rel=1e-6)
    assert bt.metrics["mse"] == pytest.approx(bt.step_metrics["mse"].mean(), rel=1e-6)


# ------------------------------------------------------------------ backtest()
def test_backtest_is_neuralforecast_cross_validation_layout(fitted):
    df, model = fitted
    plain = _quiet(lambda: model.historical_forecasts(df, start=100, retrain=99))
    bt = model.backtest(df, start=100, retrain=99)  # one fit, before the first origin
    cv = bt.forecasts
    assert list(cv.columns) == ["unique_id", "ds", "cutoff", "y", "tsrnn"]
    assert (cv["unique_id"] == "y").all()
    np.testing.assert_array_equal(cv["cutoff"], plain.forecasts["origin"])
    np.testing.assert_array_equal(cv["ds"], plain.forecasts["timestamp"])
    np.testing.assert_allclose(cv["y"], df["y"].reindex(cv["ds"]), rtol=1e-6)
    np.testing.assert_allclose(cv["tsrnn"], plain.forecasts["y"], rtol=1e-6)
    assert bt.metrics == plain.metrics
    pd.testing.assert_frame_equal(bt.step_metrics, plain.step_metrics)


def test_backtest_of_long_frames_with_quantiles(monkeypatch):
    parts = [pd.DataFrame({"sensor": f"s{k}", "y": _sine(60, seed=k),
                           "timestamp": pd.date_range("2024-01-01", periods=60, freq="h")})
             for k in range(2)]
    df = pd.concat(parts, ignore_index=True)
    model = Forecaster(**TINY, quantiles=[0.1, 0.5, 0.9]).fit(
        df, id_col="sensor", time_col="timestamp")
    bt = model.backtest(df, start=52, retrain=10)
    cv = bt.forecasts
    assert list(cv.columns) == ["unique_id", "ds", "cutoff", "y", "tsrnn", "tsrnn_q0.1",
                                "tsrnn_q0.5", "tsrnn_q0.9"]
    assert cv.groupby("unique_id").size().to_dict() == {"s0": 2 * H, "s1": 2 * H}
    np.testing.assert_array_equal(cv["tsrnn"], cv["tsrnn_q0.5"])


def test_backtest_retrains_by_default(fitted, monkeypatch):
    df, model = fitted
    calls = []
    fit = Forecaster.fit
    monkeypatch.setattr(Forecaster, "fit",
                        lambda self, frame, **c: calls.append(1) or fit(self, frame, **c))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InSampleBacktestWarning)
        model.backtest(df, start=112)
    assert len(calls) == 2
