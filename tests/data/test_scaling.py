"""Tests for tsrnn/data/scaling.py: per-series scalers fitted on training rows only."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tsrnn.data import Scaler, make_windows

FAST = settings(max_examples=80, deadline=None)
EPS32 = float(np.finfo(np.float32).eps)


@st.composite
def stacked_series(draw):
    """(values [N, F] float32, offsets [S + 1], fit_rows [S])."""
    lengths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4))
    n_features = draw(st.integers(1, 3))
    values = draw(arrays(np.float32, (sum(lengths), n_features),
                         elements=st.floats(-1e4, 1e4, width=32, allow_subnormal=False)))
    fit_rows = np.array([draw(st.integers(1, n)) for n in lengths])
    return values, np.concatenate([[0], np.cumsum(lengths)]), fit_rows


@FAST
@given(case=stacked_series(), method=st.sampled_from(["standard", "minmax", "robust", None]))
def test_inverse_transform_undoes_transform(case, method):
    values, offsets, fit_rows = case
    scaler = Scaler(method).fit(values, offsets, fit_rows)
    scaled = scaler.transform(values, offsets)
    back = scaler.inverse_transform(scaled, offsets)
    assert scaled.dtype == np.float32 and back.dtype == np.float32
    assert np.isfinite(scaled).all()
    # Two float32 roundings, each relative to the largest magnitude in play.
    atol = 8 * EPS32 * max(1.0, float(np.abs(values).max()))
    np.testing.assert_allclose(back, values, rtol=0, atol=atol)


@FAST
@given(case=stacked_series())
def test_standard_scaler_is_per_series(case):
    values, offsets, fit_rows = case
    scaled = Scaler("standard").fit(values, offsets, fit_rows).transform(values, offsets)
    for i in range(len(offsets) - 1):
        train = values[offsets[i] : offsets[i] + fit_rows[i]].astype(np.float64)
        z = scaled[offsets[i] : offsets[i] + fit_rows[i]].astype(np.float64)
        varying = train.std(axis=0) > 1e-3 * np.maximum(1.0, np.abs(train).max(axis=0))
        np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(z.std(axis=0)[varying], 1.0, atol=1e-4)


@FAST
@given(case=stacked_series())
def test_minmax_scaler_maps_training_rows_into_unit_range(case):
    values, offsets, fit_rows = case
    scaled = Scaler("minmax").fit(values, offsets, fit_rows).transform(values, offsets)
    for i in range(len(offsets) - 1):
        z = scaled[offsets[i] : offsets[i] + fit_rows[i]]
        assert z.min() >= -1e-6 and z.max() <= 1 + 1e-6


def test_statistics_by_hand():
    values = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 10.0], [4.0, 0.0],  # series 0
                       [10.0, 5.0], [20.0, 7.0]], dtype=np.float32)  # series 1
    offsets = np.array([0, 4, 6])
    standard = Scaler("standard").fit(values, offsets)
    np.testing.assert_allclose(standard.loc_, [[2.5, 4.0], [15.0, 6.0]])
    np.testing.assert_allclose(standard.spread_, [[np.sqrt(1.25), np.sqrt(14.0)], [5.0, 1.0]])
    minmax = Scaler("minmax").fit(values, offsets)
    np.testing.assert_allclose(minmax.loc_, [[1.0, 0.0], [10.0, 5.0]])
    np.testing.assert_allclose(minmax.spread_, [[3.0, 10.0], [10.0, 2.0]])
    np.testing.assert_allclose(minmax.transform(values, offsets)[:, 1],
                               [0.2, 0.4, 1.0, 0.0, 0.0, 1.0])
    identity = Scaler(None).fit(values, offsets)
    np.testing.assert_array_equal(identity.transform(values, offsets), values)


def test_fitted_on_training_rows_only():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((30, 2)).astype(np.float32)
    offsets, fit_rows = np.array([0, 18, 30]), np.array([10, 5])
    before = Scaler("standard").fit(values, offsets, fit_rows)
    changed = values.copy()
    changed[10:18] = 1e6  # after series 0's training rows
    changed[23:30] = -1e6  # after series 1's training rows
    after = Scaler("standard").fit(changed, offsets, fit_rows)
    np.testing.assert_array_equal(after.loc_, before.loc_)
    np.testing.assert_array_equal(after.spread_, before.spread_)
    np.testing.assert_allclose(before.loc_[1], values[18:23].astype(np.float64).mean(axis=0))
    # Fitting twice equals fitting once on the second data; fit returns self.
    refit = Scaler("standard")
    assert refit.fit(changed, offsets) is refit
    refit.fit(values, offsets, fit_rows)
    np.testing.assert_array_equal(refit.loc_, before.loc_)


@pytest.mark.parametrize("method", ["standard", "minmax", "robust"])
def test_constant_column_gets_spread_one(method):
    values = np.array([[5.0, 1.0], [5.0, 2.0], [5.0, 3.0], [-2.0, 0.0], [-2.0, 0.0]],
                      dtype=np.float32)
    offsets = np.array([0, 3, 5])
    scaler = Scaler(method).fit(values, offsets)
    assert scaler.spread_[0, 0] == 1.0 and scaler.spread_[1, 0] == 1.0
    assert scaler.spread_[1, 1] == 1.0
    scaled = scaler.transform(values, offsets)
    assert not np.isnan(scaled).any()
    np.testing.assert_array_equal(scaled[:, 0], 0.0)
    np.testing.assert_array_equal(scaled[3:, 1], 0.0)


def test_inverse_windows_undoes_scaling_of_target_windows():
    rng = np.random.default_rng(1)
    values = (rng.standard_normal((25, 3)) * [1.0, 10.0, 100.0] + [0.0, 50.0, -7.0]).astype(
        np.float32)
    offsets, n_targets, input_len, horizon = np.array([0, 12, 25]), 2, 4, 3
    scaler = Scaler("standard").fit(values, offsets, fit_rows=np.array([8, 9]))
    scaled = scaler.transform(values, offsets)

    y_scaled, y_raw, series = [], [], []
    for i in range(2):
        rows = slice(offsets[i], offsets[i + 1])
        y_scaled.append(make_windows(scaled[rows], input_len, horizon, targets=n_targets)[1])
        y_raw.append(make_windows(values[rows], input_len, horizon, targets=n_targets)[1])
        series.append(np.full(len(y_raw[-1]), i))
    y_scaled, y_raw, series = map(np.concatenate, (y_scaled, y_raw, series))
    order = rng.permutation(len(series))  # a shuffled batch mixing both series
    back = scaler.inverse_windows(y_scaled[order], series[order], columns=slice(0, n_targets))
    assert back.shape == (len(series), horizon, n_targets)
    np.testing.assert_allclose(back, y_raw[order], rtol=1e-5, atol=1e-4)
    # Undoing with the wrong series' statistics does not give the raw values back.
    wrong = scaler.inverse_windows(y_scaled, 1 - series, columns=slice(0, n_targets))
    assert not np.allclose(wrong, y_raw, atol=1e-2)


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="'quantile'"):
        Scaler("quantile").fit(np.zeros((3, 1), np.float32), np.array([0, 3]))


def test_robust_scaler_ignores_an_outlier():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, (2000, 1)).astype(np.float32)
    spiked = x.copy()
    spiked[5] = 1e6  # one wild training row
    offsets = np.array([0, 2000])
    robust = Scaler("robust").fit(spiked, offsets)
    assert robust.loc_[0, 0] == pytest.approx(10.0, abs=0.2)
    assert robust.spread_[0, 0] == pytest.approx(2.0, rel=0.1)  # the IQR as a normal's sd
    assert Scaler("standard").fit(spiked, offsets).spread_[0, 0] > 1000


@pytest.mark.parametrize("method", ["standard", "minmax", "robust"])
def test_a_series_in_nanounits_keeps_its_variation(method):
    rng = np.random.default_rng(3)
    unit = rng.standard_normal((40, 1)) + 2.0
    offsets = np.array([0, 40])
    scaled = {k: Scaler(method).fit(unit * k, offsets).transform(unit * k, offsets)
              for k in (1.0, 1e-9)}
    # the same standardised values at either scale, not a column taken for constant
    np.testing.assert_allclose(scaled[1e-9], scaled[1.0], rtol=1e-5, atol=1e-5)
    assert scaled[1e-9].std() > 0.1


def test_without_glitches_clips_only_what_lies_far_beyond_the_bulk():
    from tsrnn.data.scaling import GLITCH_RANGES, without_glitches

    rng = np.random.default_rng(0)
    x = rng.standard_normal((800, 2))
    np.testing.assert_array_equal(without_glitches(x), x)  # normal data: nothing that far
    glitched = x.copy()
    glitched[300, 0] = -9999.0  # a fault code
    out = without_glitches(glitched)
    low, high = np.quantile(glitched[:, 0], [0.01, 0.99])
    assert out[300, 0] == pytest.approx(low - GLITCH_RANGES * (high - low))
    np.testing.assert_array_equal(np.delete(out, 300, axis=0), np.delete(x, 300, axis=0))
    assert out[:, 0].var() < 1.5 * x[:, 0].var() < glitched[:, 0].var() / 100
    # mostly one value (a valve that rarely moves): its rare values are its signal
    rare = np.r_[np.zeros(795), np.full(5, 50.0)][:, None]
    np.testing.assert_array_equal(without_glitches(rare), rare)
