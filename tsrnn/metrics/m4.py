"""The M4 competition's accuracy measures and its Naive2 benchmark, in numpy.

They follow the organisers' evaluation code (``Benchmarks and Evaluation.R`` in
the Mcompetitions/M4-methods repository) and the competition guide:

- `m4_smape`: ``200 * |y - ŷ| / (|y| + |ŷ|)`` averaged over the horizon of each
  series, then over the series; in percent.
- `m4_mase`: each series' forecast errors divided by the in-sample MAE of that
  series' one-step seasonal naive forecast with M4's period ``m``
  (`M4_SEASONALITY`), averaged over the horizon, then over the series.
- `owa`: the overall weighted average, ``(sMAPE / sMAPE_Naive2 + MASE /
  MASE_Naive2) / 2``, computed from the averages over all series (not series by
  series). Naive2 scores 1; below 1 beats it.
- `naive2`: M4's Naive2 forecast, the last value of the seasonally adjusted series
  (classical multiplicative decomposition) put back on the season, where a 90 %
  autocorrelation test finds a season of period ``m``; the plain naive forecast
  otherwise and always when ``m == 1``.

Series have different lengths, so several series are given as a sequence of 1-D
arrays (``y_train``) next to ``[n_series, horizon]`` arrays of actuals and
forecasts. Everything computes in float64 and returns Python floats (or, for
`naive2`, a float64 array).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from tsrnn._checks import check_integer
from tsrnn.metrics.forecast import (
    _as_float64,
    _check_finite,
    _check_pair,
    _naive_scale,
    _smape,
)

__all__ = ["M4_HORIZON", "M4_SEASONALITY", "m4_mase", "m4_smape", "naive2", "owa"]

#: M4's seasonal period ``m`` for each frequency: the lag of the naive forecast that
#: scales MASE and the season Naive2 tests for.
M4_SEASONALITY = {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 1, "daily": 1,
                  "hourly": 24}
#: M4's forecast horizon for each frequency.
M4_HORIZON = {"yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13, "daily": 14,
              "hourly": 48}

# M4's seasonality test: one-sided 90 % (z = 1.645) on the autocorrelation at lag m.
_Z_90 = 1.645


# ------------------------------------------------------------------ checks
def _rows(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``[n_series, horizon]`` float64 arrays from one series' ``[horizon]`` or many."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    if y_true.ndim not in (1, 2):
        raise ValueError(f"y_true and y_pred must be [horizon] (one series) or [n_series, "
                         f"horizon], got shape {y_true.shape}")
    if y_true.ndim == 1:
        return y_true[None], y_pred[None]
    return y_true, y_pred


def _train_series(y_train, n_series: int, one: bool) -> list[np.ndarray]:
    if one:
        return [_one_train(y_train, "y_train")]
    if isinstance(y_train, np.ndarray) and y_train.ndim == 2:
        y_train = list(y_train)
    if not isinstance(y_train, Sequence | np.ndarray) or isinstance(y_train, str):
        raise TypeError("with [n_series, horizon] actuals, y_train must be a sequence of "
                        f"n_series 1-D arrays (the series' lengths may differ), got "
                        f"{type(y_train).__name__}")
    if len(y_train) != n_series:
        raise ValueError(f"y_train holds {len(y_train)} series, y_true {n_series}")
    return [_one_train(s, f"y_train[{i}]") for i, s in enumerate(y_train)]


def _one_train(series: ArrayLike, name: str) -> np.ndarray:
    array = _as_float64(series, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one series, 1-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    _check_finite(array, name)
    return array


# ------------------------------------------------------------------ measures
def m4_smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """M4's sMAPE, in percent (0 to 200).

    ``200 * |y_true - y_pred| / (|y_true| + |y_pred|)``, averaged over each series'
    horizon, then over the series. With one horizon for all series this is the
    mean over all elements, the same number as `tsrnn.metrics.smape`. M4's data
    is positive, so ``0 / 0`` never arises there; here it counts as 0, as in
    `smape`.

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values: ``[horizon]`` for one series or ``[n_series,
        horizon]``, finite.

    Returns
    -------
    float
        In ``[0, 200]``.

    Raises
    ------
    ValueError
        If the shapes differ or are not 1-D or 2-D, the inputs are empty, or
        either holds NaN or inf.
    """
    y_true, y_pred = _rows(y_true, y_pred)
    return float(np.mean([_smape(t, p) for t, p in zip(y_true, y_pred, strict=True)]))


def m4_mase(y_true: ArrayLike, y_pred: ArrayLike, *, y_train, season: int) -> float:
    """M4's MASE: each series scaled by its own in-sample seasonal naive error.

    For each series, the mean over the horizon of ``|y_true - y_pred|`` divided by
    ``mean(|y_train[t] - y_train[t - season]|)`` over its whole training series
    (the one-step error of the seasonal naive forecast with period ``season``,
    M4's ``m``); then the mean over the series. M4 uses ``season =
    M4_SEASONALITY[frequency]``: 1 (the non-seasonal naive forecast) for yearly,
    weekly and daily data, 4 for quarterly, 12 for monthly and 24 for hourly data.
    Below 1, the forecast's errors over the horizon are smaller than that naive
    method's one-step errors in the training data.

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values: ``[horizon]`` for one series or ``[n_series,
        horizon]``, finite.
    y_train
        The training series: one 1-D array-like for one series, or a sequence of
        ``n_series`` 1-D array-likes (their lengths may differ) in the order of
        ``y_true``'s rows. Finite.
    season
        M4's seasonal period ``m`` of the data's frequency (`M4_SEASONALITY`).

    Returns
    -------
    float
        ``>= 0``.

    Raises
    ------
    ValueError
        If the shapes do not match, an input is empty or holds NaN or inf, a
        training series has fewer than ``season + 1`` values, or its in-sample
        naive error is 0 (a constant series, or one that repeats itself exactly
        every ``season`` steps), which would divide by zero.
    TypeError
        If ``y_train`` is not a sequence of series when ``y_true`` is 2-D, or an
        input is not numeric.
    """
    one = np.ndim(y_true) == 1
    y_true, y_pred = _rows(y_true, y_pred)
    train = _train_series(y_train, len(y_true), one)
    per_series = []
    for i, (t, p, history) in enumerate(zip(y_true, y_pred, train, strict=True)):
        try:
            scale = _naive_scale(history, season, t)
        except ValueError as err:
            raise ValueError(f"series {i}: {err}") from None
        per_series.append(np.mean(np.abs(t - p)) / scale)
    return float(np.mean(per_series))


def owa(smape: float, mase: float, *, smape_naive2: float, mase_naive2: float) -> float:
    """M4's overall weighted average: accuracy relative to the Naive2 benchmark.

    ``(smape / smape_naive2 + mase / mase_naive2) / 2``, from sMAPE and MASE each
    averaged over all series (`m4_smape`, `m4_mase`), the method's and Naive2's on
    the same series. Naive2 scores 1; below 1 beats it. On M4's weekly series
    Naive2 has sMAPE 9.161 and MASE 2.777.

    Parameters
    ----------
    smape, mase
        The method's sMAPE (percent) and MASE.
    smape_naive2, mase_naive2
        Naive2's sMAPE and MASE on the same series and horizon.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a value is not a finite number, a measure is negative, or a Naive2
        figure is 0.
    """
    values = {"smape": smape, "mase": mase, "smape_naive2": smape_naive2,
              "mase_naive2": mase_naive2}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    for name in ("smape_naive2", "mase_naive2"):
        if values[name] == 0:
            raise ValueError(f"{name} is 0: OWA divides by it")
    return float((smape / smape_naive2 + mase / mase_naive2) / 2)


# ------------------------------------------------------------------ Naive2
def _acf(y: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelations at lags 1..max_lag, as R's ``acf`` computes them."""
    centred = y - y.mean()
    denom = centred @ centred
    return np.array([centred[:-k] @ centred[k:] / denom for k in range(1, max_lag + 1)])


def _is_seasonal(y: np.ndarray, season: int) -> bool:
    """M4's ``SeasonalityTest``: at least three seasons of data, and the
    autocorrelation at lag ``season`` outside the 90 % limit of Bartlett's formula.
    Only lags R's ``acf`` computes by default (up to ``10 * log10(n)``) count."""
    n = y.size
    if season <= 1 or n < 3 * season:
        return False
    max_lag = min(math.floor(10 * math.log10(n)), n - 1)
    if season > max_lag or np.all(y == y[0]):  # R's test gives NA there: not seasonal
        return False
    acf = _acf(y, max_lag)
    limit = _Z_90 / math.sqrt(n) * np.sqrt(np.cumsum(np.r_[1.0, 2 * acf**2]))
    return bool(abs(acf[season - 1]) > limit[season - 1])


def _seasonal_indices(y: np.ndarray, season: int) -> np.ndarray:
    """Seasonal indices of R's ``decompose(type="multiplicative")``, one per position
    ``t % season`` counted from the series' first value, averaging 1."""
    if season % 2:
        weights = np.full(season, 1.0 / season)
    else:  # 2 x m moving average: a centred window of m + 1 with half-weight ends
        weights = np.r_[0.5, np.ones(season - 1), 0.5] / season
    half = weights.size // 2
    trend = np.full(y.size, np.nan)
    trend[half:y.size - half] = np.convolve(y, weights, mode="valid")
    ratio = y / trend
    figure = np.array([np.nanmean(ratio[i::season]) for i in range(season)])
    return figure / figure.mean()


def naive2(y_train: ArrayLike, horizon: int, *, season: int) -> np.ndarray:
    """M4's Naive2 forecast of one series: naive on the seasonally adjusted series.

    When ``season > 1``, the series has at least ``3 * season`` values and M4's
    seasonality test passes (the autocorrelation at lag ``season`` exceeds
    ``1.645 / sqrt(n) * sqrt(1 + 2 * sum of the squared autocorrelations at lags
    1 .. season - 1)``, a 90 % test), the series is divided by the seasonal indices
    of a classical multiplicative decomposition (a centred moving average of one
    season as the trend, the mean ratio to it at each position of the season,
    normalised to average 1). Its last value, multiplied back by the indices of
    the next ``horizon`` positions, is the forecast. Otherwise (and always for
    ``season == 1``, as for M4's yearly, weekly and daily data) the forecast
    repeats the last value.

    Parameters
    ----------
    y_train
        One series, 1-D, in time order, finite and positive where seasonal (M4's
        series are all positive; a multiplicative decomposition needs that).
    horizon
        Number of steps to forecast, ``>= 1``.
    season
        M4's seasonal period ``m`` of the data's frequency (`M4_SEASONALITY`).

    Returns
    -------
    numpy.ndarray
        ``[horizon]`` float64 forecasts.

    Raises
    ------
    ValueError
        If ``y_train`` is not 1-D, is empty or holds NaN or inf, ``horizon`` or
        ``season`` is not an integer ``>= 1``, or the series tests seasonal but
        holds a value ``<= 0``.
    """
    y = _one_train(y_train, "y_train")
    check_integer(horizon, "horizon", 1)
    check_integer(season, "season", 1)
    if not _is_seasonal(y, season):
        return np.full(horizon, y[-1])
    if np.any(y <= 0):
        raise ValueError("y_train tests seasonal but holds values <= 0: Naive2's "
                         "multiplicative decomposition needs a positive series")
    indices = _seasonal_indices(y, season)
    future = indices[(y.size + np.arange(horizon)) % season]
    return y[-1] / indices[(y.size - 1) % season] * future
