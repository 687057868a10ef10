"""Tests for tsrnn/metrics/forecast.py: each metric against a reference (scikit-learn, or a
hand-written loop where scikit-learn has none), their invariants, and their errors."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from sklearn import metrics as skm

from tsrnn.metrics import (
    UndefinedMetricWarning,
    forecast_metrics,
    mae,
    mape,
    mase,
    mse,
    rmse,
    smape,
)

FAST = settings(max_examples=60, deadline=None)
RTOL = 1e-12  # references sum in another order; results agree to a few ulps



def _sklearn_mape_percent(y_true, y_pred, **kwargs):
    """scikit-learn's MAPE in percent over the points whose actual value is not 0
    (NaN when there are none): the rule tsrnn follows."""
    keep = np.asarray(y_true) != 0
    if not keep.any():
        return np.nan
    return 100 * skm.mean_absolute_percentage_error(y_true[keep], y_pred[keep], **kwargs)


# tsrnn metric -> scikit-learn reference, both on the flattened arrays.
SKLEARN = {
    "mse": (mse, skm.mean_squared_error),
    "mae": (mae, skm.mean_absolute_error),
    "rmse": (rmse, skm.root_mean_squared_error),
    "mape": (mape, _sklearn_mape_percent),
}

# Every public function as f(y_true, y_pred), for the error tests.
TRAIN = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
CALLS = {
    "mse": mse,
    "mae": mae,
    "rmse": rmse,
    "mape": mape,
    "smape": smape,
    "mase": lambda t, p: mase(t, p, y_train=TRAIN),
    "forecast_metrics": forecast_metrics,
    "forecast_metrics+mase": lambda t, p: forecast_metrics(t, p, y_train=TRAIN),
}

FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)


def _random(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


@st.composite
def pairs(draw, elements=FINITE, max_dims=3):
    """(y_true, y_pred) of one random shape, at least one element."""
    shape = draw(array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=5))
    return draw(arrays(np.float64, shape, elements=elements)), draw(
        arrays(np.float64, shape, elements=elements)
    )


@st.composite
def forecast_cases(draw, elements=FINITE):
    """(y_true [n, h, k], y_pred, y_train [T, k] or [T], season), naive MAE > 0."""
    n, h, k = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    season = draw(st.integers(1, 4))
    per_target = draw(st.booleans())
    train_shape = (draw(st.integers(season + 1, season + 12)),) + ((k,) if per_target else ())
    y_train = draw(arrays(np.float64, train_shape, elements=elements))
    scale = np.mean(np.abs(y_train[season:] - y_train[:-season]), axis=0)
    assume(np.all(scale > 1e-200))  # below that, MASE can overflow (tested on its own)
    y_true = draw(arrays(np.float64, (n, h, k), elements=elements))
    y_pred = draw(arrays(np.float64, (n, h, k), elements=elements))
    return y_true, y_pred, y_train, season


def _smape_loop(y_true, y_pred) -> float:
    """The textbook definition, one element at a time; 0/0 terms count as 0."""
    total = 0.0
    for a, b in zip(np.ravel(y_true).tolist(), np.ravel(y_pred).tolist(), strict=True):
        denom = abs(a) + abs(b)
        total += 0.0 if denom == 0 else abs(a - b) / denom
    return 200.0 * total / np.size(y_true)


# ------------------------------------------------------------------ against scikit-learn
@pytest.mark.parametrize("name", SKLEARN)
@pytest.mark.parametrize("shape", [(1,), (7,), (32, 24, 7), (5, 12, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_sklearn_on_flattened_windows(name, shape, dtype):
    ours, reference = SKLEARN[name]
    y_true, y_pred = _random(shape, seed=len(shape), dtype=dtype)
    expected = reference(y_true.astype(np.float64).ravel(), y_pred.astype(np.float64).ravel())
    got = ours(y_true, y_pred)
    assert type(got) is float
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


@FAST
@given(case=pairs())
def test_matches_sklearn_on_random_shapes(case):
    y_true, y_pred = case
    # scikit-learn floors |y_true| at eps in MAPE; tsrnn divides by the value itself.
    assume(np.all((y_true == 0) | (np.abs(y_true) >= np.finfo(np.float64).eps)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # zeros in y_true
        for ours, reference in SKLEARN.values():
            np.testing.assert_allclose(ours(y_true, y_pred),
                                       reference(y_true.ravel(), y_pred.ravel()),
                                       rtol=RTOL, atol=1e-300)


# ------------------------------------------------------------------ MAPE: units and zeros
def test_mape_and_smape_are_both_in_percent():
    # 10 % off everywhere is 10 for MAPE; sMAPE of the same is 200 * 1 / 21, also percent.
    assert mape([10.0, -20.0], [11.0, -22.0]) == pytest.approx(10.0, rel=RTOL)
    assert smape([10.0, -20.0], [11.0, -22.0]) == pytest.approx(200 / 21, rel=RTOL)
    scores = forecast_metrics([10.0, -20.0], [11.0, -22.0])
    assert scores["mape"] == pytest.approx(10.0, rel=RTOL)
    # Small errors: the two agree to first order, so one unit is visible at a glance.
    y_true = np.linspace(100.0, 200.0, 50)
    assert mape(y_true, y_true * 1.01) == pytest.approx(smape(y_true, y_true * 1.01), rel=0.01)


def test_mape_leaves_out_zero_actuals_with_a_warning():
    y_true = np.array([1.0, 0.0, 2.5, 8.0, -2.0])
    y_pred = np.array([1.2, 0.1, 2.5, 7.0, -1.0])
    match = r"MAPE is undefined where the actual value is 0: 1 of 5 points left out"
    with pytest.warns(UndefinedMetricWarning, match=match):
        got = mape(y_true, y_pred)
    assert got == pytest.approx(100 * np.mean([0.2, 0.0, 1 / 8, 0.5]), rel=RTOL)
    assert got < 100  # never the 1e13 that a floor of eps on |y_true| gives
    with pytest.warns(UndefinedMetricWarning, match=match):
        assert forecast_metrics(y_true, y_pred)["mape"] == got


def test_forecast_metrics_warns_once_about_zero_actuals():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forecast_metrics([0.0, 0.0, 3.0], [1.0, 0.0, 2.0], y_train=TRAIN)
    assert [str(w.message)[:50] for w in caught] == [
        "MAPE is undefined where the actual value is 0: 2 o"]
    assert caught[0].category is UndefinedMetricWarning


def test_mape_is_nan_with_a_warning_when_every_actual_is_zero():
    with pytest.warns(UndefinedMetricWarning, match=r"3 of 3 points left out, MAPE is NaN"):
        assert np.isnan(mape([0.0, 0.0, 0.0], [0.0, 1.0, 2.0]))
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(mape([0.0], [0.0]))


def test_mape_without_zero_actuals_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mape([1e-300, 5.0], [1e-300, 5.0]) == 0.0


def test_mape_of_an_actual_value_near_zero_is_inf_not_a_numpy_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mape([2.2e-308, 1.0], [1e6, 1.0]) == np.inf


def test_uniform_average_over_channels_for_mse_mae_mape_but_not_rmse():
    # Channels of very different scale: the mean of per-channel RMSEs (scikit-learn's
    # 2-D default) is then far from the RMSE over all elements (ours).
    y_true, y_pred = _random((40, 3), seed=3)
    y_pred = y_pred * np.array([1.0, 10.0, 100.0])
    for ours, reference in (
        (mse, skm.mean_squared_error),
        (mae, skm.mean_absolute_error),
        (mape, _sklearn_mape_percent),
    ):
        np.testing.assert_allclose(ours(y_true, y_pred), reference(y_true, y_pred), rtol=RTOL)
    assert rmse(y_true, y_pred) == pytest.approx(
        np.sqrt(skm.mean_squared_error(y_true, y_pred)), rel=RTOL
    )
    assert rmse(y_true, y_pred) != pytest.approx(
        skm.root_mean_squared_error(y_true, y_pred), rel=0.05
    )


# ------------------------------------------------------------------ sMAPE (no sklearn)
@pytest.mark.parametrize(
    ("y_true", "y_pred", "expected"),
    [
        ([1.0], [3.0], 100.0),
        ([3.0], [1.0], 100.0),
        ([0.0], [0.0], 0.0),  # 0/0 counts as a perfect term
        ([0.0], [5.0], 200.0),
        ([-1.0], [1.0], 200.0),  # opposite signs
        ([1.0, 0.0], [3.0, 0.0], 50.0),
        ([4.0, -2.0], [2.0, -2.0], 200.0 / 2 * (2.0 / 6.0)),
        ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]], 0.0),
    ],
)
def test_smape_known_values(y_true, y_pred, expected):
    assert smape(y_true, y_pred) == pytest.approx(expected, rel=1e-15, abs=0)
    assert smape(y_true, y_pred) == pytest.approx(_smape_loop(y_true, y_pred), rel=1e-15, abs=0)


@FAST
@given(case=pairs(elements=st.one_of(st.just(0.0), FINITE, st.floats(-1e300, 1e300))))
def test_smape_matches_the_loop_and_is_symmetric_and_bounded(case):
    y_true, y_pred = case
    got = smape(y_true, y_pred)
    np.testing.assert_allclose(got, _smape_loop(y_true, y_pred), rtol=RTOL, atol=1e-12)
    assert got == smape(y_pred, y_true)
    assert 0.0 <= got <= 200.0


def test_smape_near_float64_max_neither_overflows_nor_warns():
    big = np.finfo(np.float64).max
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert smape([big, 1e308], [-big, -1e308]) == 200.0
        assert smape([big], [big]) == 0.0
        assert smape([big], [big / 3]) == pytest.approx(100.0, rel=1e-15)
        assert smape([5e-324], [-5e-324]) == 200.0  # subnormals too


# ------------------------------------------------------------------ MASE
def test_mase_by_hand():
    y_train = [1.0, 2.0, 4.0, 7.0]
    # season 1: naive errors |2-1|, |4-2|, |7-4| = 1, 2, 3 -> scale 2; forecast MAE 1.5.
    assert mase([8.0, 9.0], [9.0, 7.0], y_train=y_train) == 0.75
    # season 2: |4-1|, |7-2| = 3, 5 -> scale 4.
    assert mase([8.0, 9.0], [9.0, 7.0], y_train=y_train, season=2) == 0.375
    # Per target: target 0 has scale 2 and errors 1, 2; target 1 has scale 10, errors 5, 5.
    train_2d = np.array([[1.0, 0.0], [2.0, 10.0], [4.0, 0.0], [7.0, 10.0]])
    y_true = np.array([[8.0, 5.0], [9.0, 5.0]])
    y_pred = np.array([[9.0, 10.0], [7.0, 0.0]])
    assert mase(y_true, y_pred, y_train=train_2d) == pytest.approx((1.5 / 2 + 5 / 10) / 2)


@pytest.mark.parametrize("season", [1, 3, 24])
@pytest.mark.parametrize("per_target", [False, True])
def test_mase_matches_sklearn_mae_of_the_naive_forecast(season, per_target):
    rng = np.random.default_rng(season)
    k = 3
    y_true, y_pred = _random((10, 6, k), seed=season)
    # Targets of different scale, so that per-target and pooled scaling differ.
    y_train = rng.standard_normal((60, k)) * [1.0, 10.0, 100.0]
    if not per_target:
        y_train = y_train[:, 0]
    naive_mae = skm.mean_absolute_error(
        y_train[season:], y_train[:-season], multioutput="raw_values"
    )  # [k] per target, or [1]
    if per_target:
        forecast_mae = skm.mean_absolute_error(
            y_true.reshape(-1, k), y_pred.reshape(-1, k), multioutput="raw_values"
        )
        expected = np.mean(forecast_mae / naive_mae)
    else:
        expected = skm.mean_absolute_error(y_true.ravel(), y_pred.ravel()) / naive_mae[0]
    got = mase(y_true, y_pred, y_train=y_train, season=season)
    assert type(got) is float
    np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_per_target_mase_is_the_mean_of_single_target_mases():
    y_true, y_pred = _random((8, 5, 3), seed=7)
    y_train = np.random.default_rng(8).standard_normal((30, 3)) * [1.0, 50.0, 0.01]
    each = [mase(y_true[..., j], y_pred[..., j], y_train=y_train[:, j]) for j in range(3)]
    np.testing.assert_allclose(mase(y_true, y_pred, y_train=y_train), np.mean(each), rtol=RTOL)
    # With one pooled scale the channels would weigh very differently.
    pooled = mase(y_true, y_pred, y_train=y_train.mean(axis=1))
    assert pooled != pytest.approx(np.mean(each), rel=0.05)


@FAST
@given(case=forecast_cases())
def test_seasonal_naive_on_its_own_training_data_has_mase_one(case):
    _, _, y_train, season = case
    assert mase(y_train[season:], y_train[:-season], y_train=y_train, season=season) == (
        pytest.approx(1.0, rel=RTOL)
    )


@FAST
@given(case=forecast_cases(), power=st.integers(-20, 20))
def test_mase_and_smape_are_scale_free(case, power):
    y_true, y_pred, y_train, season = case
    c = 2.0**power  # exact scaling: no rounding of its own
    np.testing.assert_allclose(
        mase(c * y_true, c * y_pred, y_train=c * y_train, season=season),
        mase(y_true, y_pred, y_train=y_train, season=season),
        rtol=RTOL,
    )
    np.testing.assert_allclose(smape(c * y_true, c * y_pred), smape(y_true, y_pred), rtol=RTOL)


# ------------------------------------------------------------------ invariants of them all
@FAST
@given(case=forecast_cases())
def test_metrics_are_nonnegative_and_consistent(case):
    y_true, y_pred, y_train, season = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # zeros in y_true
        scores = forecast_metrics(y_true, y_pred, y_train=y_train, season=season)
        flat = forecast_metrics(y_true.ravel(), y_pred.ravel())
        single_mape = mape(y_true, y_pred)
    assert list(scores) == ["mse", "mae", "rmse", "mape", "smape", "mase"]
    assert np.isnan(scores["mape"]) == (not np.any(y_true))  # NaN only if every actual is 0
    assert all(type(v) is float and (v >= 0 or k == "mape") for k, v in scores.items())
    np.testing.assert_allclose(scores["mse"], scores["rmse"] ** 2, rtol=RTOL, atol=1e-300)
    if scores["mse"] >= np.finfo(np.float64).tiny:  # squares of errors < 1e-154 underflow
        assert scores["mae"] <= scores["rmse"] * (1 + RTOL)  # power-mean inequality
    assert scores["smape"] <= 200.0
    # The same numbers as the single functions, and as on the flattened arrays.
    for name, value in scores.items():
        if name != "mase":
            np.testing.assert_allclose(flat[name], value, rtol=RTOL, atol=1e-300)
    assert scores["mse"] == mse(y_true, y_pred)
    assert scores["mae"] == mae(y_true, y_pred)
    assert scores["rmse"] == rmse(y_true, y_pred)
    np.testing.assert_equal(scores["mape"], single_mape)
    assert scores["smape"] == smape(y_true, y_pred)
    assert scores["mase"] == mase(y_true, y_pred, y_train=y_train, season=season)


@FAST
@given(
    case=forecast_cases(elements=st.integers(-20, 20).map(float)),
    delta=st.integers(-3, 3).map(float),
    where=st.integers(0, 47),
)
def test_zero_exactly_for_a_perfect_forecast(case, delta, where):
    y_true, _, y_train, season = case
    assume(np.any(y_true))  # MAPE is NaN when every actual value is 0 (tested above)
    y_pred = y_true.copy()
    y_pred.flat[where % y_pred.size] += delta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # zeros in y_true
        perfect = forecast_metrics(y_true, y_true.copy(), y_train=y_train, season=season)
        scores = forecast_metrics(y_true, y_pred, y_train=y_train, season=season)
    assert all(v == 0.0 for v in perfect.values()), perfect
    # MAPE leaves out a point whose actual value is 0, and so its error.
    missed = {"mape"} if y_true.flat[where % y_pred.size] == 0 else set()
    if delta == 0:
        assert all(v == 0.0 for v in scores.values()), scores
    else:
        assert all(v > 0.0 for k, v in scores.items() if k not in missed), scores


def test_float32_input_is_computed_in_float64():
    rng = np.random.default_rng(11)
    y_true = (1000 + rng.standard_normal(200_000)).astype(np.float32)
    y_pred = (1000 + rng.standard_normal(200_000)).astype(np.float32)
    t64, p64 = y_true.astype(np.float64), y_pred.astype(np.float64)
    in_float32 = float(np.mean(np.square(y_true - y_pred), dtype=np.float32))
    in_float64 = float(np.mean(np.square(t64 - p64)))
    assert in_float32 != in_float64  # the data tells the two apart
    assert mse(y_true, y_pred) == in_float64
    assert forecast_metrics(y_true, y_pred) == forecast_metrics(t64, p64)


def test_array_likes_are_accepted():
    expected = mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert expected == pytest.approx(4 / 3)
    assert mse([1, 2, 3], [1, 2, 5]) == expected  # int lists
    assert mse(pd.Series([1.0, 2.0, 3.0]), pd.Series([1.0, 2.0, 5.0])) == expected
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert mae(frame, frame + 1) == 1.0
    assert mae([True, False], [True, True]) == 0.5
    assert mse(3.0, 1.0) == 4.0  # 0-d
    assert forecast_metrics(3.0, 1.0)["smape"] == 100.0


def test_cpu_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    y_true, y_pred = torch.arange(6.0).reshape(1, 3, 2), torch.ones(1, 3, 2)
    assert mae(y_true, y_pred) == mae(y_true.numpy(), y_pred.numpy()) == 11 / 6


def test_import_does_not_load_torch_or_sklearn():
    code = "import sys, tsrnn.metrics; print(' '.join(sys.modules))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "tsrnn.metrics" in loaded
    assert not loaded & {"torch", "lightning", "pytorch_lightning", "sklearn"}


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize(
    ("true_shape", "pred_shape"), [((2, 3), (3, 2)), ((3,), (1, 3)), ((4, 2, 1), (4, 2))]
)
def test_shape_mismatch_names_both_shapes(name, true_shape, pred_shape):
    with pytest.raises(ValueError) as err:
        CALLS[name](np.ones(true_shape), np.ones(pred_shape))
    assert f"y_true {true_shape}" in str(err.value)
    assert f"y_pred {pred_shape}" in str(err.value)


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("shape", [(0,), (0, 24, 7)])
def test_empty_input(name, shape):
    with pytest.raises(ValueError, match=re.escape(f"are empty (shape {shape})")):
        CALLS[name](np.ones(shape), np.ones(shape))


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("argument", ["y_true", "y_pred"])
def test_nan_or_inf_names_the_argument(name, bad, argument):
    good, broken = np.ones((2, 3, 2)), np.ones((2, 3, 2))
    broken[1, 2, 0] = bad
    args = (broken, good) if argument == "y_true" else (good, broken)
    match = rf"^{argument} contains NaN or inf \(1 of 12 values; first at index \(1, 2, 0\)"
    with pytest.raises(ValueError, match=match):
        CALLS[name](*args)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_y_train(bad):
    y_train = TRAIN.copy()
    y_train[2] = bad
    with pytest.raises(ValueError, match=r"^y_train contains NaN or inf"):
        mase([1.0], [2.0], y_train=y_train)
    with pytest.raises(ValueError, match=r"^y_train contains NaN or inf"):
        forecast_metrics([1.0], [2.0], y_train=y_train)


@pytest.mark.parametrize("season", [1, 4])
def test_y_train_shorter_than_season_plus_one(season):
    match = rf"at least season \+ 1 = {season + 1} rows.*got {season}"
    with pytest.raises(ValueError, match=match):
        mase([1.0], [2.0], y_train=np.arange(season, dtype=float), season=season)
    # One row more is enough.
    assert mase([1.0], [2.0], y_train=np.arange(season + 1.0), season=season) == 1 / season


@pytest.mark.parametrize(
    ("y_train", "season", "where"),
    [
        ([5.0, 5.0, 5.0], 1, "is 0:"),  # constant
        ([1.0, 2.0, 1.0, 2.0, 1.0], 2, "is 0:"),  # repeats every season steps
        ([[1.0, 3.0], [2.0, 3.0], [4.0, 3.0]], 1, r"is 0 for targets \[1\]"),
    ],
)
def test_zero_naive_error_is_rejected(y_train, season, where):
    n_targets = np.shape(y_train)[1] if np.ndim(y_train) == 2 else 1
    y = np.ones((2, n_targets))
    with pytest.raises(ValueError, match=rf"seasonal naive forecast \(season={season}\).*{where}"):
        mase(y, y, y_train=y_train, season=season)


def test_mase_that_overflows_is_an_error_not_inf():
    with pytest.raises(ValueError, match=r"MASE overflows float64: forecast MAE 4 .* 2\.2e-308"):
        mase([0.0], [4.0], y_train=[2.2e-308, 0.0])


@pytest.mark.parametrize(
    ("y_train", "y_shape", "match"),
    [
        (np.ones((10, 3)), (4, 2), r"last axis.*y_train \(10, 3\) and y_true \(4, 2\)"),
        (np.ones((10, 1)), (4, 2), r"last axis.*y_train \(10, 1\) and y_true \(4, 2\)"),
        (np.ones((10, 2)), (), r"last axis.*y_true \(\)"),
        (np.ones((10, 2, 2)), (4, 2), r"\[T\] \(one series\) or \[T, n_targets\].*\(10, 2, 2\)"),
        (np.float64(3.0), (4,), r"\[T\] \(one series\) or \[T, n_targets\].*\(\)"),
    ],
)
def test_y_train_shape_errors(y_train, y_shape, match):
    y = np.arange(1.0, 1.0 + np.prod(y_shape, dtype=int)).reshape(y_shape)
    with pytest.raises(ValueError, match=match):
        mase(y, y + 1, y_train=y_train)


@pytest.mark.parametrize("season", [0, -1, 1.5, True, "24", None])
def test_bad_season(season):
    with pytest.raises(ValueError, match=r"season must be an integer >= 1, got"):
        mase([1.0], [2.0], y_train=TRAIN, season=season)


def test_season_without_y_train_is_an_error():
    with pytest.raises(ValueError, match=r"season=24 is only used for MASE, which needs y_train"):
        forecast_metrics([1.0], [2.0], season=24)
    assert "mase" not in forecast_metrics([1.0], [2.0])


@pytest.mark.parametrize(
    ("y_true", "argument"),
    [
        (["a", "b"], "y_true"),
        ([pd.NA, 1.0], "y_true"),
        (np.array([1 + 2j, 3j]), "y_true"),
        (np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]"), "y_true"),
    ],
)
def test_non_numeric_input_is_a_type_error(y_true, argument):
    with pytest.raises(TypeError, match=rf"^{argument} must be numeric"):
        mse(y_true, [1.0, 2.0])
    with pytest.raises(TypeError, match=r"^y_pred must be numeric"):
        mse([1.0, 2.0], y_true)
    with pytest.raises(TypeError, match=r"^y_train must be numeric"):
        mase([1.0, 2.0], [1.0, 2.0], y_train=y_true)


def test_missing_values_from_none_or_pandas_are_nan():
    with pytest.raises(ValueError, match=r"^y_true contains NaN or inf \(1 of 2 values"):
        mse([None, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^y_pred contains NaN or inf \(1 of 2 values"):
        mse([1.0, 2.0], pd.Series([1.0, None], dtype="Float64"))
