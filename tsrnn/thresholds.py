"""Turning anomaly scores into 0/1 labels."""

from __future__ import annotations

import numpy as np

__all__ = ["pot_threshold", "quantile_threshold"]


def quantile_threshold(scores: np.ndarray, contamination: float) -> float:
    """The score above which a ``contamination`` fraction of ``scores`` lies."""
    if not 0.0 < contamination < 0.5:
        raise ValueError(f"contamination must be in (0, 0.5), got {contamination}")
    return float(np.quantile(np.asarray(scores, dtype=np.float64), 1.0 - contamination))


def pot_threshold(scores: np.ndarray, risk: float = 1e-3, level: float = 0.98) -> float:
    """Peaks over threshold (Siffer et al., KDD 2017): an extreme-value threshold.

    The excesses over the ``level`` quantile of the scores are fitted with a
    generalized Pareto distribution (maximum likelihood); the threshold is the score
    exceeded with probability ``risk`` under that fit. It needs no guess of how many
    anomalies there are, only how rare a false alarm should be.

    Parameters
    ----------
    scores
        Scores of (mostly) normal data.
    risk
        Probability that a normal score exceeds the threshold.
    level
        Quantile where the tail starts; enough scores must lie above it (at least
        10) for the fit.
    """
    from scipy.stats import genpareto  # scipy comes with scikit-learn

    scores = np.asarray(scores, dtype=np.float64)
    if not 0.0 < risk < 1.0 - level:
        raise ValueError(f"risk must be in (0, 1 - level), got risk={risk}, level={level}")
    t = float(np.quantile(scores, level))
    excess = scores[scores > t] - t
    if excess.size < 10:
        raise ValueError(f"only {excess.size} of {scores.size} scores lie above their {level} "
                         "quantile: too few (10) to fit the tail")
    shape, _, scale = genpareto.fit(excess, floc=0.0)
    ratio = risk * scores.size / excess.size  # P(score > z) = (N_t / n) * P(excess > z - t)
    if abs(shape) < 1e-8:
        return t - scale * np.log(ratio)
    return float(t + scale / shape * (ratio ** (-shape) - 1.0))
