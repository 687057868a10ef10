"""tune: the trials are drawn from the seed and scored out of sample."""

import pytest
from conftest import COLUMNS, sensors

from tsrnn.distributed.tuning import check_space, draw_trials, tune

SPACE = {"hidden_size": [4, 8], "lr": {"low": 1e-3, "high": 1e-2, "log": True},
         "num_layers": {"low": 1, "high": 2, "integer": True}}


def test_draws_come_from_the_seed_and_stay_in_the_space():
    space = check_space(SPACE, {"hidden_size", "lr", "num_layers"})
    drawn = draw_trials(space, 50, seed=1)
    assert drawn == draw_trials(space, 50, seed=1) != draw_trials(space, 50, seed=2)
    assert {d["hidden_size"] for d in drawn} == {4, 8}
    assert all(1e-3 <= d["lr"] <= 1e-2 for d in drawn)
    assert {d["num_layers"] for d in drawn} == {1, 2}


def test_the_score_is_an_out_of_sample_backtest():
    pytest.importorskip("optuna")
    from tsrnn import Forecaster

    df = sensors(2, 80)
    fixed = {"input_len": 12, "horizon": 4, "max_epochs": 1}
    result = tune(df, {"hidden_size": [4]}, params=fixed, columns=COLUMNS, trials=1,
                  engine="optuna")
    # By hand: fit on each series' first 80%, forecast the rest from rolling origins.
    head = df.groupby("sensor").head(64)
    model = Forecaster(**fixed, hidden_size=4, random_state=0).fit(head, **COLUMNS)
    backtest = model.historical_forecasts(df, start=0.8)
    assert result.best_score == backtest.metrics["mae"]
    assert backtest.forecasts["origin"].min() >= head["timestamp"].max()


def test_a_failed_trial_is_kept_with_its_reason():
    pytest.importorskip("optuna")
    result = tune(sensors(2, 80), {"input_len": [12, 500]},
                  params={"horizon": 4, "max_epochs": 1}, columns=COLUMNS, trials=6,
                  seed=0, engine="optuna")
    failed = result.trials[result.trials["input_len"] == 500]
    assert len(failed) and failed["mae"].isna().all()
    assert failed["error"].str.contains("fewer than input_len").all()
    assert result.best_params == {"input_len": 12}
