"""Tests for tsrnn/metrics/m4.py: M4's sMAPE, MASE, OWA and Naive2 against the
published weekly figures, against the organisers' R code written out step by step,
and by hand."""

from pathlib import Path

import numpy as np
import pytest

from tsrnn.metrics import (
    M4_HORIZON,
    M4_SEASONALITY,
    m4_mase,
    m4_smape,
    mase,
    naive2,
    owa,
    smape,
)

M4 = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "m4"

# Published M4 weekly figures (sMAPE, MASE, OWA), from ../shared/data/README.md.
PUBLISHED_WEEKLY = {
    "Naive2": (9.161, 2.777, 1.000),
    "Theta": (9.093, 2.637, 0.971),
    "RNN benchmark": (15.220, 5.132, 1.755),
    "ES-RNN": (7.817, 2.356, 0.851),
    "best weekly entry": (6.582, 2.107, 0.739),
}


@pytest.fixture(scope="module")
def weekly():
    """(training series, [359, 13] actuals) of M4's weekly set."""
    pd = pytest.importorskip("pandas")
    train_csv, test_csv = M4 / "Weekly-train.csv", M4 / "Weekly-test.csv"
    if not (train_csv.is_file() and test_csv.is_file()):
        pytest.skip(f"M4 weekly data not found: needs {train_csv} and {test_csv} "
                    "(see ../shared/data/README.md)")
    train = pd.read_csv(train_csv, index_col=0)
    test = pd.read_csv(test_csv, index_col=0)
    assert list(train.index) == list(test.index)
    return [row.dropna().to_numpy() for _, row in train.iterrows()], test.to_numpy()


# ------------------------------------------------------------------ published figures
def test_naive2_reproduces_the_published_m4_weekly_figures(weekly):
    train, actual = weekly
    assert len(train) == 359 and actual.shape == (359, M4_HORIZON["weekly"])
    season, horizon = M4_SEASONALITY["weekly"], M4_HORIZON["weekly"]
    assert season == 1
    forecast = np.stack([naive2(y, horizon, season=season) for y in train])
    smape_, mase_ = m4_smape(actual, forecast), m4_mase(actual, forecast, y_train=train,
                                                        season=season)
    published_smape, published_mase, _ = PUBLISHED_WEEKLY["Naive2"]
    assert round(smape_, 3) == published_smape  # 9.1613
    assert round(mase_, 3) == published_mase  # 2.7773
    assert owa(smape_, mase_, smape_naive2=published_smape, mase_naive2=published_mase) == (
        pytest.approx(1.0, abs=5e-4))


@pytest.mark.parametrize("method", PUBLISHED_WEEKLY)
def test_owa_reproduces_the_published_weekly_owa(method):
    smape_, mase_, published = PUBLISHED_WEEKLY[method]
    naive2_smape, naive2_mase, _ = PUBLISHED_WEEKLY["Naive2"]
    got = owa(smape_, mase_, smape_naive2=naive2_smape, mase_naive2=naive2_mase)
    assert round(got, 3) == published


# ------------------------------------------------------------------ by hand / the R code
def test_m4_smape_by_hand_and_equal_to_smape():
    y_true = np.array([[100.0, 200.0], [10.0, 10.0]])
    y_pred = np.array([[110.0, 200.0], [5.0, 10.0]])
    expected = np.mean([np.mean([200 * 10 / 210, 0.0]), np.mean([200 * 5 / 15, 0.0])])
    assert m4_smape(y_true, y_pred) == pytest.approx(expected, rel=1e-14)
    assert m4_smape(y_true, y_pred) == pytest.approx(smape(y_true, y_pred), rel=1e-14)
    assert m4_smape(y_true[0], y_pred[0]) == pytest.approx(200 * 10 / 210 / 2, rel=1e-14)


def _mase_r(insample, outsample, forecasts, frq):
    """M4's ``mase_cal`` as the R code writes it: NA for the first ``frq`` naive
    forecasts, then ``insample[j - frq]``; the mean of |error| / masep over the horizon."""
    naive = [np.nan] * frq + [insample[j - frq] for j in range(frq, len(insample))]
    masep = np.nanmean(np.abs(np.asarray(insample) - np.asarray(naive)))
    return np.mean(np.abs(np.asarray(outsample) - np.asarray(forecasts)) / masep)


@pytest.mark.parametrize("season", [1, 4, 12])
def test_m4_mase_follows_the_r_code_with_series_of_different_lengths(season):
    rng = np.random.default_rng(season)
    train = [50 + np.cumsum(rng.normal(size=n)) for n in (40, 57, 90)]
    actual = 50 + rng.normal(size=(3, 6))
    forecast = 50 + rng.normal(size=(3, 6))
    expected = np.mean([_mase_r(t, a, f, season)
                        for t, a, f in zip(train, actual, forecast, strict=True)])
    assert m4_mase(actual, forecast, y_train=train, season=season) == pytest.approx(
        expected, rel=1e-12)
    # One series: the same as tsrnn's mase with that season.
    assert m4_mase(actual[1], forecast[1], y_train=train[1], season=season) == pytest.approx(
        mase(actual[1], forecast[1], y_train=train[1], season=season), rel=1e-14)
    # A 2-D array of equal-length series is accepted too.
    same = np.stack([t[:40] for t in train])
    assert m4_mase(actual, forecast, y_train=same, season=season) == pytest.approx(
        m4_mase(actual, forecast, y_train=list(same), season=season), rel=1e-14)


def test_m4_mase_errors_name_the_series():
    y = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"series 1: .*is 0"):
        m4_mase(y, y + 1, y_train=[[1.0, 2.0, 4.0], [5.0, 5.0, 5.0]], season=1)
    with pytest.raises(ValueError, match=r"y_train holds 1 series, y_true 2"):
        m4_mase(y, y, y_train=[[1.0, 2.0]], season=1)
    with pytest.raises(ValueError, match=r"y_train\[0\] must be one series"):
        m4_mase(y, y, y_train=[np.ones((3, 2)), [1.0, 2.0]], season=1)
    with pytest.raises(TypeError, match=r"sequence of n_series 1-D arrays"):
        m4_mase(y, y, y_train=5.0, season=1)
    with pytest.raises(ValueError, match=r"season must be an integer >= 1"):
        m4_mase(y[0], y[0], y_train=[1.0, 2.0, 3.0], season=0)


def test_owa_rejects_what_it_cannot_divide_by():
    with pytest.raises(ValueError, match=r"smape_naive2 is 0"):
        owa(1.0, 1.0, smape_naive2=0.0, mase_naive2=1.0)
    with pytest.raises(ValueError, match=r"mase must be a finite number >= 0, got nan"):
        owa(1.0, float("nan"), smape_naive2=1.0, mase_naive2=1.0)
    with pytest.raises(TypeError, match=r"smape must be a number"):
        owa("9.1", 1.0, smape_naive2=1.0, mase_naive2=1.0)


# ------------------------------------------------------------------ Naive2
def _acf_r(x, lag):
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    return sum(d[t] * d[t + lag] for t in range(len(x) - lag)) / sum(d * d)


def _naive2_r(x, fh, ppy):
    """M4's ``Benchmarks`` (Naive2 only) with R's ``acf`` and ``decompose`` written
    out loop by loop: the independent reference for `naive2`."""
    x = list(map(float, x))
    n = len(x)
    seasonal = False
    if ppy > 1 and n >= 3 * ppy:
        lag_max = min(int(np.floor(10 * np.log10(n))), n - 1)
        if ppy <= lag_max:
            acf = [_acf_r(x, k) for k in range(1, lag_max + 1)]
            clim = 1.645 / np.sqrt(n) * np.sqrt(1 + 2 * sum(a * a for a in acf[:ppy - 1]))
            seasonal = abs(acf[ppy - 1]) > clim
    if not seasonal:
        return np.full(fh, x[-1])
    filt = [1 / ppy] * ppy if ppy % 2 else [0.5 / ppy] + [1 / ppy] * (ppy - 1) + [0.5 / ppy]
    half = len(filt) // 2
    trend = [np.nan] * n
    for t in range(half, n - half):
        trend[t] = sum(w * x[t - half + j] for j, w in enumerate(filt))
    ratio = [x[t] / trend[t] for t in range(n)]
    figure = [np.nanmean([ratio[t] for t in range(i, n, ppy)]) for i in range(ppy)]
    figure = [f / np.mean(figure) for f in figure]
    season_in = [figure[t % ppy] for t in range(n)]
    si_out = [season_in[n - ppy + (j % ppy)] for j in range(fh)]
    return np.array([x[-1] / season_in[-1] * s for s in si_out])


def _monthly(n, seed, amplitude=0.3, noise=0.05):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    season = 1 + amplitude * np.sin(2 * np.pi * t / 12)
    return (100 + 0.5 * t) * season * np.exp(noise * rng.normal(size=n))


@pytest.mark.parametrize(("n", "seed"), [(36, 0), (37, 1), (50, 2), (121, 3), (240, 4)])
@pytest.mark.parametrize("season", [12, 4, 7])
def test_naive2_follows_the_r_code_on_seasonal_series(n, seed, season):
    y = _monthly(n, seed)
    horizon = 18
    np.testing.assert_allclose(naive2(y, horizon, season=season),
                               _naive2_r(y, horizon, season), rtol=1e-12)


def test_naive2_deseasonalises_only_series_that_test_seasonal():
    seasonal = _monthly(72, 0)
    flat = _monthly(72, 0, amplitude=0.0)
    assert not np.allclose(naive2(seasonal, 12, season=12), seasonal[-1])
    np.testing.assert_array_equal(naive2(flat, 12, season=12), np.full(12, flat[-1]))
    # Fewer than three seasons of data: the plain naive forecast, as in M4.
    np.testing.assert_array_equal(naive2(seasonal[:35], 5, season=12),
                                  np.full(5, seasonal[34]))
    # R's acf stops at lag 10 * log10(n): 20 for 100 values, so a 24-step season
    # is not tested there and M4 forecasts such a series with the plain naive.
    daily = 100 * (1 + 0.3 * np.sin(2 * np.pi * np.arange(300) / 24))
    np.testing.assert_array_equal(naive2(daily[:100], 5, season=24), np.full(5, daily[99]))
    # From 252 values on (10 * log10(252) > 24) the season is tested, and found.
    np.testing.assert_allclose(naive2(daily[:260], 5, season=24), daily[260:265], rtol=1e-12)
    # season 1 (M4's yearly, weekly and daily data): always the plain naive forecast.
    np.testing.assert_array_equal(naive2(seasonal, 13, season=1), np.full(13, seasonal[-1]))


def test_naive2_continues_an_exact_multiplicative_season():
    pattern = np.array([0.8, 1.2, 1.0, 0.9, 1.1, 1.0, 0.7, 1.3, 1.0, 0.95, 1.05, 1.0])
    y = 10 * np.tile(pattern, 6)
    np.testing.assert_allclose(naive2(y[:-7], 7, season=12), y[-7:], rtol=1e-12)


def test_naive2_errors():
    with pytest.raises(ValueError, match=r"horizon must be an integer >= 1"):
        naive2([1.0, 2.0], 0, season=1)
    with pytest.raises(ValueError, match=r"y_train must be one series"):
        naive2(np.ones((4, 2)), 3, season=1)
    with pytest.raises(ValueError, match=r"y_train contains NaN or inf"):
        naive2([1.0, np.nan], 3, season=1)
    seasonal = _monthly(72, 0)
    seasonal[5] = -1.0
    with pytest.raises(ValueError, match=r"positive series"):
        naive2(seasonal, 3, season=12)


def test_m4_constants():
    assert M4_SEASONALITY == {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 1,
                              "daily": 1, "hourly": 24}
    assert M4_HORIZON == {"yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13,
                          "daily": 14, "hourly": 48}
