"""Tests for tsrnn/thresholds.py: quantile and peaks-over-threshold (POT) thresholds,
checked against numpy's quantile and against distributions whose quantiles are known."""

import numpy as np
import pytest
from scipy.stats import genpareto

from tsrnn.thresholds import pot_threshold, quantile_threshold


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------ quantile
@pytest.mark.parametrize("contamination", [1e-3, 0.01, 0.1, 0.25, 0.49])
def test_quantile_threshold_is_numpys_quantile(contamination):
    scores = _rng().gamma(2.0, size=1001)
    threshold = quantile_threshold(scores, contamination)
    assert isinstance(threshold, float)
    assert threshold == np.quantile(scores, 1 - contamination)
    assert np.mean(scores > threshold) == pytest.approx(contamination, abs=1e-3)


def test_quantile_threshold_takes_any_order_and_lists():
    scores = _rng(1).exponential(size=500)
    expected = quantile_threshold(scores, 0.05)
    assert quantile_threshold(_rng(2).permutation(scores), 0.05) == expected
    assert quantile_threshold(scores.astype(np.float32).tolist(), 0.05) == pytest.approx(
        expected, rel=1e-6)


@pytest.mark.parametrize("contamination", [0.0, 0.5, 0.7, -0.1, 1.0])
def test_quantile_threshold_refuses_contamination_outside_0_to_half(contamination):
    with pytest.raises(ValueError, match=r"contamination must be in \(0, 0.5\)"):
        quantile_threshold(np.arange(100.0), contamination)


# ----------------------------------------------------------------------------- POT
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pot_on_exponential_scores_finds_the_true_quantile(seed):
    scores = _rng(seed).exponential(1.0, size=100_000)
    # P(X > z) = exp(-z): the 1e-3 risk quantile is ln(1000) = 6.91.
    assert pot_threshold(scores, risk=1e-3) == pytest.approx(np.log(1e3), rel=0.05)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pot_on_heavy_tailed_scores_finds_the_true_quantile(seed):
    shape = 0.25
    scores = genpareto.rvs(shape, size=100_000, random_state=seed)
    assert pot_threshold(scores, risk=1e-3) == pytest.approx(
        genpareto.isf(1e-3, shape), rel=0.1)
    # Lomax (Pareto II): P(X > z) = (1 + z) ** -3, so z = 1e-3 ** (-1 / 3) - 1 = 9.
    lomax = _rng(seed).pareto(3.0, size=100_000)
    assert pot_threshold(lomax, risk=1e-3) == pytest.approx(9.0, rel=0.1)


def test_pot_extrapolates_beyond_the_data():
    # 20,000 scores, risk 1e-5: the empirical quantile has not a single point beyond
    # it to go on; the tail fit still lands near ln(1e5) = 11.5.
    scores = _rng(3).exponential(1.0, size=20_000)
    assert pot_threshold(scores, risk=1e-5) == pytest.approx(np.log(1e5), rel=0.15)


def test_pot_threshold_rises_as_risk_falls():
    scores = _rng(4).exponential(1.0, size=10_000)
    thresholds = [pot_threshold(scores, risk=r) for r in (1e-2, 1e-3, 1e-4, 1e-5)]
    assert np.all(np.diff(thresholds) > 0), thresholds
    assert thresholds[0] > np.quantile(scores, 0.98)


def test_pot_threshold_moves_with_the_scores():
    scores = _rng(5).exponential(1.0, size=10_000)
    base = pot_threshold(scores)
    assert pot_threshold(scores + 10.0) == pytest.approx(base + 10.0, rel=1e-6)
    assert pot_threshold(3.0 * scores) == pytest.approx(3.0 * base, rel=1e-3)


def test_pot_threshold_level_sets_where_the_tail_starts():
    scores = _rng(6).exponential(1.0, size=2_000)
    with pytest.raises(ValueError, match="too few"):  # 2,000 * 0.002 = 4 points
        pot_threshold(scores, risk=1e-4, level=0.998)
    assert pot_threshold(scores, risk=1e-3, level=0.9) == pytest.approx(np.log(1e3), rel=0.15)


@pytest.mark.parametrize("n", [10, 100, 450])
def test_pot_threshold_needs_ten_points_in_the_tail(n):
    with pytest.raises(ValueError, match=rf"only \d+ of {n} scores lie above their 0.98 quantile"):
        pot_threshold(_rng().exponential(size=n))


def test_pot_threshold_of_constant_scores_has_no_tail():
    with pytest.raises(ValueError, match="too few"):
        pot_threshold(np.ones(10_000))


@pytest.mark.parametrize(("risk", "level"), [(0.0, 0.98), (-1e-3, 0.98), (0.03, 0.98),
                                             (0.5, 0.98), (1.0, 0.98), (0.1, 0.9)])
def test_pot_threshold_refuses_a_risk_outside_the_tail(risk, level):
    with pytest.raises(ValueError, match="risk must be in"):
        pot_threshold(_rng().exponential(size=10_000), risk=risk, level=level)
