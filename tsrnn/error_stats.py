"""What the detector learns from its training errors, per series: the typical
size of each target's error (to weigh every sensor by its own noise) and the
likelihood's prior. Pure functions of ``(errors, valid)`` pairs, offline scores
then online ones, as :meth:`tsrnn.AnomalyDetector._step_errors` gives them."""

from __future__ import annotations

import numpy as np

from tsrnn.data import SeriesData
from tsrnn.data.scaling import without_glitches
from tsrnn.likelihood import likelihood_prior

__all__ = ["MIN_ERROR_SCALE", "MIN_ERROR_SHARE", "MIN_SCALE_ROWS", "error_scales",
           "held_out_rows", "likelihood_priors", "score_scales", "target_variances"]

_CHI2_MEDIAN = 0.4549364  # median of a chi-square variable with one degree of freedom
MIN_ERROR_SCALE = 1e-4  # squared errors in units of the series' scaling
MIN_ERROR_SHARE = 0.01  # of a target's training variance (see error_scales)
MIN_SCALE_ROWS = 20  # validation rows enough for a median error


def held_out_rows(data: SeriesData, train_end: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``[N]``: the rows that stand for new data, each series' validation rows (from
    ``train_end`` on, which the network never fitted) that have a score; a series
    with fewer than :data:`MIN_SCALE_ROWS` of them gives all its rows with one."""
    out = np.zeros(len(valid), dtype=bool)
    for i, (a, b) in enumerate(zip(data.offsets[:-1], data.offsets[1:], strict=True)):
        held_out = a + int(train_end[i])
        out[held_out:b] = valid[held_out:b]
        if out[held_out:b].sum() < MIN_SCALE_ROWS:
            out[a:b] = valid[a:b]
    return out


def target_variances(data: SeriesData, scaled: np.ndarray) -> np.ndarray:
    """``[series, F]``: each series' variance of each scaled target (the floor of
    :func:`error_scales`), glitches clipped (:func:`tsrnn.data.scaling.without_glitches`):
    one fault code in the training rows (a -9999 among readings near 20) would
    otherwise set it, and with it how surprising every later step is."""
    return np.stack([without_glitches(scaled[a:b, :data.n_targets]).var(axis=0)
                     for a, b in zip(data.offsets[:-1], data.offsets[1:], strict=True)])


def error_scales(data: SeriesData, train_end: np.ndarray, *, offline: tuple,
                 online: tuple, variance: np.ndarray | None = None) -> np.ndarray:
    """``[series + 1, 2, F]``: each training series' (then the pooled) typical
    squared error per target, for offline and online scores.

    Measured on each series' validation rows (from ``train_end`` on), which the
    network never fitted: errors on rows it fitted are smaller, by how much
    differs from series to series and sensor to sensor, and new data look like
    the validation rows. (On NAB this changes nothing; on SKAB, SKAB fitted on
    anomaly-free data and the sensors it adds 0.01 to 0.06 PR-AUC.) A series
    with fewer than :data:`MIN_SCALE_ROWS` scored validation rows uses all its
    rows.

    ``variance`` ``[series, F]``, each training series' variance per target (in
    scaled units), sets a floor: a target's scale is at least
    :data:`MIN_ERROR_SHARE` of it. A quantized sensor that sat still through the
    validation rows (SKAB's flow rate) has a median error near 0, and its next
    step would then outweigh every other sensor by millions; with the floor its
    surprise is measured against its own spread (on SKAB it lifts PR-AUC by about
    0.02 and the F1 at ``threshold_``; NAB and the sensors are unchanged).
    """
    out = np.ones((len(data.ids) + 1, 2, data.n_targets))
    for mode, (errors, valid) in enumerate((offline, online)):
        rows = held_out_rows(data, train_end, valid)
        for i, (a, b) in enumerate(zip(data.offsets[:-1], data.offsets[1:], strict=True)):
            scored = errors[a:b][rows[a:b]]
            if len(scored):
                # A robust scale (training data may hold anomalies): the median
                # of a chi-square(1) variable is 0.455 times its mean.
                out[i, mode] = np.median(scored, axis=0) / _CHI2_MEDIAN
            if variance is not None:
                out[i, mode] = np.maximum(out[i, mode], MIN_ERROR_SHARE * variance[i])
        out[-1, mode] = np.median(out[:-1, mode], axis=0)
    # A series predicted almost exactly has no noise to measure surprise in:
    # below (1% of its standard deviation)^2, rounding is all there is.
    return np.maximum(out, MIN_ERROR_SCALE)


def likelihood_priors(data: SeriesData, *, offline: tuple, online: tuple,
                      window: int, average: str = "squared") -> np.ndarray:
    """``[series + 1, 2, 2]``: per training series (then all of them, for series
    unseen at fit), for offline and online scores (each ``(errors, valid)`` of
    :meth:`AnomalyDetector._step_errors`), the (mean, std) of the training scores' short-term
    averages (over ``window`` steps, taken as ``average`` says): the likelihood's prior."""
    out = np.zeros((len(data.ids) + 1, 2, 2))
    for mode, (errors, valid) in enumerate((offline, online)):
        raw = errors.mean(axis=1)
        for i, (a, b) in enumerate(zip(data.offsets[:-1], data.offsets[1:], strict=True)):
            scored = raw[a:b][valid[a:b]]
            if len(scored) >= 2:
                out[i, mode] = likelihood_prior(scored, window=window, average=average)
            elif len(scored):  # a series barely longer than the window: no spread
                out[i, mode] = scored.mean(), 0.0
        # Pooled: the mean of the means; the spread within and between series.
        means, stds = out[:-1, mode, 0], out[:-1, mode, 1]
        out[-1, mode] = means.mean(), np.sqrt((stds ** 2).mean() + means.var())
    return out


def score_scales(data: SeriesData, train_end: np.ndarray, scores: np.ndarray,
                 valid: np.ndarray) -> np.ndarray:
    """``[series]``: each series' typical ranking score, the median of its online
    ``scores`` ``[N]`` on the rows that stand for new data (:func:`held_out_rows`),
    and at least 1 (1 where it has none).

    Ranking scores are errors in units of each target's typical one, so about 1
    on a normal step; but the smoothing raises a step to the mean of the last
    errors, and on a series whose errors are heavy-tailed (a quantized sensor's
    rare moves) that mean sits far above 1: on SKAB's experiments the median
    validation score ranged from 0.8 to 21, and a threshold fitted on one
    experiment meant little on the next. Divided by this, a normal step of every
    series scores about 1 again. (Not below 1: a series predicted almost
    exactly would have its every wobble magnified.)"""
    rows = held_out_rows(data, train_end, valid)
    out = np.ones(len(data.ids))
    for i, (a, b) in enumerate(zip(data.offsets[:-1], data.offsets[1:], strict=True)):
        if rows[a:b].any():
            out[i] = max(float(np.median(scores[a:b][rows[a:b]])), 1.0)
    return out
