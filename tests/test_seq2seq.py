"""Forecaster(model="seq2seq"): attention you can see, and that it learns."""

import numpy as np
import pandas as pd
import pytest

from tsrnn import Forecaster

# These tests check the backtest mechanics on the data the model was fitted on;
# the in-sample warning itself is tested in test_backtest.py.
pytestmark = pytest.mark.filterwarnings("ignore::tsrnn.InSampleBacktestWarning")

IN, HOR, PERIOD = 16, 4, 12


def _copy_task(n_series=150, length=40, seed=0) -> pd.DataFrame:
    """Each series repeats its own random pattern of period 12, so the answer for
    horizon step h sits exactly at input step ``IN - PERIOD + h``."""
    rng = np.random.default_rng(seed)
    return pd.concat([
        pd.DataFrame({"id": f"s{i}", "t": pd.date_range("2024-01-01", periods=length, freq="h"),
                      "v": np.tile(rng.standard_normal(PERIOD), length // PERIOD + 1)[:length]})
        for i in range(n_series)
    ], ignore_index=True)


def _seq2seq(attention, **params):
    options = dict(input_len=IN, horizon=HOR, model="seq2seq", segment_len=1,
                   window_norm=None, scaler=None, hidden_size=32, max_epochs=15, lr=3e-3,
                   loss="mse", val_size=0, random_state=0, accelerator="cpu")
    return Forecaster("gru", attention=attention, **{**options, **params})


@pytest.fixture(scope="module", params=["bahdanau", "luong"])
def trained(request):
    df = _copy_task()
    return df, _seq2seq(request.param).fit(df, time_col="t", id_col="id")


def test_attention_concentrates_on_the_answer_and_the_forecast_is_accurate(trained):
    df, model = trained
    weights = model.attention_weights(df)
    assert weights.shape == (150, HOR, IN)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    answer = IN - PERIOD + np.arange(HOR)
    mass = weights[:, np.arange(HOR), answer]  # [series, horizon]
    assert mass.mean() > 0.35, mass.mean()  # uniform attention would give 1/16
    assert (weights.argmax(-1) == answer).mean() > 0.8
    backtest = model.historical_forecasts(df, start=IN, stride=HOR)
    assert backtest.metrics["mse"] < 0.05  # the series have unit variance


def test_saved_model_gives_the_same_forecast_and_attention(trained, tmp_path):
    df, model = trained
    model.save(tmp_path / "s2s.tsrnn")
    loaded = Forecaster.load(tmp_path / "s2s.tsrnn")
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    np.testing.assert_array_equal(loaded.attention_weights(df), model.attention_weights(df))


def test_plot_attention_writes_a_picture(trained, tmp_path):
    pytest.importorskip("matplotlib")
    from tsrnn.plotting import plot_attention

    _, model = trained
    fig = plot_attention(model, series="s3", path=tmp_path / "attention.png")
    assert (tmp_path / "attention.png").stat().st_size > 10_000
    top, bottom = fig.axes[:2]
    assert bottom.images[0].get_array().shape == (HOR, IN)
    assert top.get_xlim() == bottom.get_xlim()  # the heatmap sits under the series


def test_attention_weights_needs_a_seq2seq_model_with_attention():
    df = _copy_task(n_series=3)
    direct = Forecaster(input_len=IN, horizon=HOR, hidden_size=4, max_epochs=1,
                        random_state=0).fit(df, time_col="t", id_col="id")
    with pytest.raises(ValueError, match="model='seq2seq'"):
        direct.attention_weights()
    plain = _seq2seq(None, max_epochs=1).fit(df, time_col="t", id_col="id")
    assert plain.predict().shape == (3 * HOR, 3)
    with pytest.raises(ValueError, match="attention set"):
        plain.attention_weights()


@pytest.mark.parametrize(("param", "value", "message"), [
    ("model", "transformer", "model must be"),
    ("attention", "self", "attention must be one of"),
])
def test_bad_parameters_raise_at_fit(param, value, message):
    model = Forecaster(**{param: value})  # __init__ only stores
    with pytest.raises(ValueError, match=message):
        model.fit(_copy_task(n_series=2), time_col="t", id_col="id")
