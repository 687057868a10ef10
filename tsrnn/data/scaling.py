"""Per-series scalers, fitted on the training part only.

The math is three pure functions (`fit_stats`, `scale`, `unscale`); `Scaler` only
holds the fitted statistics, as in torchmetrics' functional/class split.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["GLITCH_RANGES", "Scaler", "fit_stats", "scale", "unscale", "without_glitches"]

Method = Literal["standard", "minmax", "robust"]

# The interquartile range of a standard normal variable: a robust spread in
# these units is a standard deviation wherever the data are normal.
_NORMAL_IQR = 1.3489795


def fit_stats(x: np.ndarray, method: Method | None) -> tuple[np.ndarray, np.ndarray]:
    """``(loc, spread)`` of ``x [T, F]`` per column, so that ``(x - loc) / spread``
    is standardized (``"standard"``), in [0, 1] (``"minmax"``), standardized by
    the median and the interquartile range (``"robust"``: an outlier or an
    anomaly in the training rows moves neither), or unchanged (None).

    A constant column gets spread 1, so that it maps to 0 instead of dividing by 0.
    """
    n_features = x.shape[-1]
    if method is None:
        return np.zeros(n_features), np.ones(n_features)
    x = x.astype(np.float64)  # accumulate in float64: float32 sums drift on long series
    if method == "standard":
        loc, spread = x.mean(axis=0), x.std(axis=0)
    elif method == "minmax":
        loc = x.min(axis=0)
        spread = x.max(axis=0) - loc
    elif method == "robust":
        q1, loc, q3 = np.quantile(x, [0.25, 0.5, 0.75], axis=0)
        spread = (q3 - q1) / _NORMAL_IQR
    else:
        raise ValueError(f"scaler must be 'standard', 'minmax', 'robust' or None, got "
                         f"{method!r}")
    return loc, spread_or_one(spread, loc)


# A value further beyond its column's 1% and 99% quantiles than this many times
# the range between them (14 standard deviations of normal data) is a glitch or
# a fault code, not a level.
GLITCH_RANGES = 3.0


def without_glitches(x: np.ndarray) -> np.ndarray:
    """``x [T, F]`` (float64) with each value more than :data:`GLITCH_RANGES`
    times its column's 1%-99% quantile range beyond that range clipped to that
    fence: a fault code or a glitch in training rows (one -9999 among readings
    near 20) would otherwise set statistics of the whole column. A column whose
    1% and 99% quantiles are equal (mostly one value: a setpoint, a valve that
    rarely moves) is left as it is: its rare values are its signal."""
    x = np.asarray(x, np.float64)
    low, high = np.nanquantile(x, [0.01, 0.99], axis=0)
    width = high - low
    return np.clip(x, np.where(width > 0, low - GLITCH_RANGES * width, -np.inf),
                   np.where(width > 0, high + GLITCH_RANGES * width, np.inf))


def is_constant(spread: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Where a column with this ``spread`` (or range) about this ``level`` is
    constant: its spread within float32's rounding of its level (relative, so
    that a series measured in nanounits keeps its variation), or too small for
    float32 to hold."""
    f32 = np.finfo(np.float32)
    return ~((spread > f32.eps * np.abs(level)) & (spread >= f32.tiny))


def spread_or_one(spread: np.ndarray, level: np.ndarray) -> np.ndarray:
    """``spread``, or 1 where the column is constant (:func:`is_constant`)."""
    return np.where(is_constant(spread, level), 1.0, spread)


def scale(x: np.ndarray, loc: np.ndarray, spread: np.ndarray) -> np.ndarray:
    return ((x - loc) / spread).astype(np.float32)


def unscale(x: np.ndarray, loc: np.ndarray, spread: np.ndarray) -> np.ndarray:
    return (x * spread + loc).astype(np.float32)


class Scaler:
    """Per-series scaling of stacked series.

    Parameters
    ----------
    method
        ``"standard"`` (zero mean, unit variance), ``"minmax"`` (to [0, 1]),
        ``"robust"`` (zero median, the interquartile range of a unit normal) or
        ``None`` (identity).

    Attributes
    ----------
    loc_, spread_
        ``[S, F]`` float64 statistics of each series and column.
    """

    def __init__(self, method: Method | None = "standard"):
        self.method = method

    def fit(self, values: np.ndarray, offsets: np.ndarray,
            fit_rows: np.ndarray | None = None) -> Scaler:
        """Fit on the first ``fit_rows[i]`` rows of each series (default: all rows).

        Pass the training part's length (``Split.train_end``) so that nothing from
        validation or test leaks into the statistics.
        """
        offsets = np.asarray(offsets)
        ends = offsets[1:] if fit_rows is None else offsets[:-1] + np.asarray(fit_rows)
        stats = [fit_stats(values[a:b], self.method) for a, b in zip(offsets[:-1], ends,
                                                                       strict=True)]
        self.loc_ = np.stack([s[0] for s in stats])  # [S, F]
        self.spread_ = np.stack([s[1] for s in stats])  # [S, F]
        return self

    def _stats(self, series, columns):
        cols = slice(None) if columns is None else columns
        return self.loc_[series][..., cols], self.spread_[series][..., cols]

    def transform(self, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Scale stacked series ``[N, F]``; returns a new float32 array."""
        series = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))  # [N]
        return scale(values, self.loc_[series], self.spread_[series])

    def inverse_transform(self, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        series = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))  # [N]
        return unscale(values, self.loc_[series], self.spread_[series])

    def inverse_windows(self, y: np.ndarray, series: np.ndarray,
                        columns: slice | None = None) -> np.ndarray:
        """Undo the scaling of windowed outputs.

        Parameters
        ----------
        y
            ``[B, H, F_sel]`` model outputs in scaled units.
        series
            ``[B]`` series index of each window.
        columns
            Which fitted columns ``y`` holds (e.g. ``SeriesData.target_columns``).
        """
        loc, spread = self._stats(np.asarray(series), columns)  # [B, F_sel]
        return unscale(y, loc[:, None, :], spread[:, None, :])
