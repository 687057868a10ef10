"""Forecast accuracy metrics: pure numpy functions, computed in float64.

Every metric takes ``y_true`` and ``y_pred`` of the same shape, any shape at all
(``[n_windows, horizon, n_targets]`` is the usual one), and averages over **all**
elements: every window, horizon step and target channel weighs the same. This is
the protocol of the ETT / long-horizon benchmarks (Informer, Autoformer, ...), and
for MSE and MAE it equals scikit-learn's ``multioutput="uniform_average"`` over the
columns of ``y.reshape(-1, n_targets)`` (and so does MAPE, times 100, where no
actual value is 0). For RMSE it does not: tsrnn
takes the square root of the overall MSE, while scikit-learn averages the RMSE of
each column. To get per-channel or per-step scores, slice first
(``mse(y_true[..., k], y_pred[..., k])``) or reduce yourself.

Units: MAPE and sMAPE are both in **percent** (10 means 10 %), as in the M4
competition; MSE, MAE and RMSE are in the data's units (squared for MSE); MASE is
a ratio to the in-sample error of the naive forecast (see `mase`).

MAPE is undefined where the actual value is 0. Such points are left out of the
mean, and an `UndefinedMetricWarning` says how many; when every actual value is 0,
MAPE is NaN (with the same warning). It is never the ``1e13`` that a tiny floor
on ``|y_true|`` gives.

Inputs are array-likes: numpy arrays, nested lists, pandas objects, or CPU torch
tensors that do not require grad (call ``.detach().cpu()`` first). Broadcasting is
not applied: shapes must be equal. Empty inputs, NaN and inf are rejected with a
``ValueError`` that names the argument at fault. Each function returns a Python
``float``.

The math lives in small private helpers that trust their input, so that
`forecast_metrics` validates once and computes everything from the same arrays.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike

from tsrnn._checks import check_integer

__all__ = [
    "UndefinedMetricWarning",
    "forecast_metrics",
    "mae",
    "mape",
    "mase",
    "mse",
    "rmse",
    "smape",
]


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined on some of the points given, which were left out (or,
    when it is undefined on all of them, the result is NaN)."""


# ------------------------------------------------------------------ validation
def _as_float64(x: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype.kind not in "biufO":
        raise TypeError(f"{name} must be numeric, got an array of dtype {array.dtype}")
    try:
        return array.astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:  # object arrays holding None, strings, pd.NA
        raise TypeError(f"{name} must be numeric: {err}") from None


def _check_finite(array: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains NaN or inf ({int(bad.sum())} of {array.size} values; "
            f"first at index {first}: {array[first]})"
        )


def _check_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_true = _as_float64(y_true, "y_true")
    y_pred = _as_float64(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got y_true {y_true.shape} "
            f"and y_pred {y_pred.shape}"
        )
    if y_true.size == 0:
        raise ValueError(f"y_true and y_pred are empty (shape {y_true.shape})")
    _check_finite(y_true, "y_true")
    _check_finite(y_pred, "y_pred")
    return y_true, y_pred


def _check_season(season: int) -> None:
    check_integer(season, "season", 1)


def _naive_scale(y_train: ArrayLike, season: int, y_true: np.ndarray) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast: a scalar, or ``[n_targets]``."""
    _check_season(season)
    y_train = _as_float64(y_train, "y_train")
    if y_train.ndim not in (1, 2):
        raise ValueError(
            f"y_train must be [T] (one series) or [T, n_targets], got shape {y_train.shape}"
        )
    if y_train.ndim == 2 and (y_true.ndim == 0 or y_true.shape[-1] != y_train.shape[1]):
        raise ValueError(
            f"a 2-D y_train [T, n_targets] needs y_true's last axis to be the n_targets "
            f"axis, got y_train {y_train.shape} and y_true {y_true.shape}"
        )
    if y_train.shape[0] < season + 1:
        raise ValueError(
            f"y_train needs at least season + 1 = {season + 1} rows for the seasonal naive "
            f"forecast, got {y_train.shape[0]}"
        )
    _check_finite(y_train, "y_train")
    scale = np.mean(np.abs(y_train[season:] - y_train[:-season]), axis=0)  # [] or [n_targets]
    if np.any(scale == 0):
        where = "" if y_train.ndim == 1 else f" for targets {np.flatnonzero(scale == 0).tolist()}"
        raise ValueError(
            f"the in-sample MAE of the seasonal naive forecast (season={season}) on y_train "
            f"is 0{where}: the series repeats itself exactly every {season} steps, so MASE "
            f"is undefined"
        )
    return scale


# ------------------------------------------------------------------ math on checked arrays
def _mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.square(y_true - y_pred)))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y_true - y_pred)))


def _mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    defined = y_true != 0
    n_zero = int(y_true.size - np.count_nonzero(defined))
    if n_zero:
        rest = (f"the mean over the other {y_true.size - n_zero}" if n_zero < y_true.size
                else "NaN")
        warnings.warn(
            f"MAPE is undefined where the actual value is 0: {n_zero} of {y_true.size} "
            f"points left out, MAPE is {rest}. sMAPE and MASE are defined there",
            UndefinedMetricWarning, stacklevel=3,
        )
        if n_zero == y_true.size:
            return float("nan")
    y_true, y_pred = y_true[defined], y_pred[defined]
    with np.errstate(over="ignore"):  # |y_pred - y_true| near the float64 maximum
        return float(100.0 * np.mean(np.abs(y_pred - y_true) / np.abs(y_true)))


def _smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = y_true.ravel(), y_pred.ravel()  # 0-d input: index assignment below
    with np.errstate(over="ignore"):
        diff = np.abs(y_true - y_pred)
        total = np.abs(y_true) + np.abs(y_pred)
    overflow = np.isinf(total)
    if overflow.any():
        # |y| + |ŷ| only overflows for values near the float64 maximum, where halving
        # is exact: recompute those terms on halves (the ratio is unchanged).
        half_true, half_pred = y_true[overflow] / 2, y_pred[overflow] / 2
        diff[overflow] = np.abs(half_true - half_pred)
        total[overflow] = np.abs(half_true) + np.abs(half_pred)
    terms = np.divide(diff, total, out=np.zeros_like(diff), where=total > 0)  # 0/0 -> 0
    return float(200.0 * np.mean(terms))


def _mase(y_true: np.ndarray, y_pred: np.ndarray, scale: np.ndarray) -> float:
    # A 2-D y_train gives one scale per target; the last axis of the errors is that axis.
    with np.errstate(over="ignore"):
        result = float(np.mean(np.abs(y_true - y_pred) / scale))
    if not np.isfinite(result):
        raise ValueError(
            f"MASE overflows float64: forecast MAE {_mae(y_true, y_pred):g} over the in-sample "
            f"MAE of the seasonal naive forecast {scale}"
        )
    return result


# ------------------------------------------------------------------ public API
def mse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean squared error over all elements.

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values, the same shape (e.g.
        ``[n_windows, horizon, n_targets]``), finite.

    Returns
    -------
    float
        ``mean((y_true - y_pred) ** 2)``; equals scikit-learn's
        ``mean_squared_error`` on the flattened arrays.

    Raises
    ------
    ValueError
        If the shapes differ, the inputs are empty, or either holds NaN or inf.
    TypeError
        If an input is not numeric.
    """
    return _mse(*_check_pair(y_true, y_pred))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error over all elements.

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values, the same shape, finite.

    Returns
    -------
    float
        ``mean(|y_true - y_pred|)``; equals scikit-learn's ``mean_absolute_error``
        on the flattened arrays.

    Raises
    ------
    ValueError
        If the shapes differ, the inputs are empty, or either holds NaN or inf.
    TypeError
        If an input is not numeric.
    """
    return _mae(*_check_pair(y_true, y_pred))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error: the square root of `mse` over all elements.

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values, the same shape, finite.

    Returns
    -------
    float
        ``sqrt(mean((y_true - y_pred) ** 2))``; equals scikit-learn's
        ``root_mean_squared_error`` on the flattened arrays. It is *not* the mean of
        per-channel RMSEs, which scikit-learn returns for 2-D input.

    Raises
    ------
    ValueError
        If the shapes differ, the inputs are empty, or either holds NaN or inf.
    TypeError
        If an input is not numeric.
    """
    return float(np.sqrt(_mse(*_check_pair(y_true, y_pred))))


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute percentage error, in **percent** (10 means 10 %).

    ``100 / n * sum(|y_true - y_pred| / |y_true|)`` over the ``n`` points where
    ``y_true`` is not 0. Where it is 0 the ratio is undefined, so those points are
    **left out** and an `UndefinedMetricWarning` says how many; if every
    ``y_true`` is 0 the result is NaN, with the same warning. Away from zeros it is
    scikit-learn's ``mean_absolute_percentage_error`` times 100 (scikit-learn
    divides by ``max(|y_true|, eps)`` instead, which turns one zero into a result
    near ``1e13``). Values near 0 still inflate MAPE: prefer `smape` or `mase` for
    series that touch or cross zero.

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values, the same shape, finite.

    Returns
    -------
    float
        Percent, ``>= 0`` and unbounded above; NaN when every ``y_true`` is 0.

    Raises
    ------
    ValueError
        If the shapes differ, the inputs are empty, or either holds NaN or inf.
    TypeError
        If an input is not numeric.

    Warns
    -----
    UndefinedMetricWarning
        When some (or all) ``y_true`` are 0 and were left out.
    """
    return _mape(*_check_pair(y_true, y_pred))


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric mean absolute percentage error, in **percent** (0 to 200), like `mape`.

    ``200 / n * sum(|y_true - y_pred| / (|y_true| + |y_pred|))`` over all ``n``
    elements, where a term with ``y_true == y_pred == 0`` counts as 0 (a perfect
    forecast of zero), not NaN. It is symmetric in its arguments; a term is 200 when
    exactly one of the two is 0 or when they have opposite signs. Away from
    ``0 / 0`` it is M4's sMAPE (`tsrnn.metrics.m4_smape`).

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values, the same shape, finite.

    Returns
    -------
    float
        In ``[0, 200]``.

    Raises
    ------
    ValueError
        If the shapes differ, the inputs are empty, or either holds NaN or inf.
    TypeError
        If an input is not numeric.
    """
    return _smape(*_check_pair(y_true, y_pred))


def mase(y_true: ArrayLike, y_pred: ArrayLike, *, y_train: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler, 2006).

    The MAE of the forecast divided by a scale: the in-sample MAE of the **one-step**
    seasonal naive forecast on the training series,
    ``mean(|y_train[t] - y_train[t - season]|)`` for ``t = season, ..., T - 1``.
    With the default ``season=1`` that is the non-seasonal naive forecast (each
    value predicted by the one before it); with ``season=m`` it is the seasonal
    naive forecast of period ``m`` (each value predicted by the one ``m`` steps
    before). ``season`` is M4's ``m``: 12 for monthly, 4 for quarterly, 24 for
    hourly data, 1 for yearly, weekly and daily data.

    Below 1, the forecast's errors over the horizon are smaller on average than the
    naive method's one-step errors inside the training data. That is not the same
    as beating a repeat-last (or seasonal naive) forecast over the horizon, whose
    errors grow with the lead time: a good multi-step forecast often has a MASE
    above 1 while beating repeat-last over the same horizon. Compare with such a
    baseline on the same forecasts for that question.

    One series per call:

    - ``y_train [T]``: one scale for the whole series; the result is
      ``mae(y_true, y_pred) / scale``.
    - ``y_train [T, n_targets]``: one scale per target, applied along the **last**
      axis of ``y_true`` (which must have ``n_targets`` entries). The result is the
      mean over all elements of ``|error| / scale[target]``, which is the mean over
      targets of each target's own MASE.

    For many series, call it once per series and average the results.

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values, the same shape, finite.
    y_train
        The training part of the same series, in time order, finite.
    season
        Lag of the naive forecast that sets the scale: 1 for the non-seasonal naive
        forecast (the default), ``m`` for the seasonal naive forecast of period
        ``m`` (24 for a daily season in hourly data, and so on).

    Returns
    -------
    float
        ``>= 0``.

    Raises
    ------
    ValueError
        If the shapes differ, the inputs are empty or hold NaN or inf, ``y_train``
        is not 1-D or 2-D, does not match ``y_true``'s last axis, or has fewer than
        ``season + 1`` rows, ``season`` is not an integer ``>= 1``, or the naive
        in-sample MAE is 0 (a series that repeats exactly every ``season`` steps, or
        a constant one), which would divide by zero, or so close to 0 that MASE
        overflows float64.
    TypeError
        If an input is not numeric.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    return _mase(y_true, y_pred, _naive_scale(y_train, season, y_true))


def forecast_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    y_train: ArrayLike | None = None,
    season: int = 1,
) -> dict[str, float]:
    """Every metric of this module at once, each averaged over all elements.

    Parameters
    ----------
    y_true, y_pred
        Actual and forecast values, the same shape, finite.
    y_train
        The training series, for MASE (see `mase` for the shapes it takes). Without
        it, MASE is left out.
    season
        Lag of MASE's seasonal naive forecast. Passing a ``season`` other than 1
        without ``y_train`` is an error, since it would be silently ignored.

    Returns
    -------
    dict[str, float]
        Keys ``"mse"``, ``"mae"``, ``"rmse"``, ``"mape"`` (percent, over the points
        whose actual value is not 0), ``"smape"`` (percent, 0 to 200), and
        ``"mase"`` when ``y_train`` is given (scaled by the in-sample one-step MAE of
        the naive forecast with lag ``season``), in that order.

    Raises
    ------
    ValueError
        As the single metrics do.
    TypeError
        If an input is not numeric.

    Warns
    -----
    UndefinedMetricWarning
        When some ``y_true`` are 0, as `mape` does.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    if y_train is None and season != 1:
        raise ValueError(f"season={season!r} is only used for MASE, which needs y_train")
    scale = None if y_train is None else _naive_scale(y_train, season, y_true)
    mse_ = _mse(y_true, y_pred)
    result = {
        "mse": mse_,
        "mae": _mae(y_true, y_pred),
        "rmse": float(np.sqrt(mse_)),
        "mape": _mape(y_true, y_pred),
        "smape": _smape(y_true, y_pred),
    }
    if scale is not None:
        result["mase"] = _mase(y_true, y_pred, scale)
    return result
