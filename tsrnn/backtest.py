"""Rolling-origin backtests of a fitted :class:`tsrnn.Forecaster`."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from tsrnn.data import (
    DataError,
    SeriesData,
    WindowDataset,
    check_length,
    make_loader,
    window_starts,
)

__all__ = ["Backtest", "historical_forecasts"]


class Backtest(NamedTuple):
    """Result of :meth:`Forecaster.historical_forecasts`.

    Attributes
    ----------
    forecasts
        One row per (series, forecast origin, horizon step): the id column (long
        frames), ``origin`` (the last timestamp the forecast saw), the time column,
        then for each target its forecast and ``<target>_actual``.
    metrics
        MSE, MAE, RMSE, MAPE, sMAPE and MASE over every forecast, in original units.
    """

    forecasts: pd.DataFrame
    metrics: dict[str, float]


def historical_forecasts(model, df: pd.DataFrame, *, start: float | int | Any = 0.8,
                         stride: int | None = None, season: int = 1) -> Backtest:
    """Rolling-origin backtest of the fitted ``model`` on ``df``; see
    :meth:`tsrnn.Forecaster.historical_forecasts`."""
    check_is_fitted(model, "net_")
    data = model._read(df)
    check_length(data, model.input_len + model.horizon)
    stride = model.horizon if stride is None else int(stride)
    first = _origin_rows(model, data, start)
    starts = window_starts(data.offsets, model.input_len, model.horizon, stride,
                           target_from=first)
    if starts.size == 0:
        raise DataError(f"no complete forecast after start={start!r}: every series ends "
                        f"less than horizon={model.horizon} steps after it")
    loc, spread = model._stats_for(data)
    series = np.searchsorted(data.offsets, starts, side="right") - 1
    scaled = model._scaled(data)
    ds = WindowDataset.from_series(data, model.input_len, model.horizon, starts=starts,
                                   values=scaled)
    preds, actual = [], []
    with torch.inference_mode():
        for batch in make_loader(ds, 1024):
            fut = batch.future if batch.future.shape[-1] else None
            preds.append(model.net_(batch.inputs, fut).numpy())
    n_t = len(model.target_names_)
    out = np.concatenate(preds)  # [B, H, C, Q]
    out = out * spread[series][:, None, :n_t, None] + loc[series][:, None, :n_t, None]
    idx = starts[:, None] + model.input_len + np.arange(model.horizon)  # [B, H] rows
    actual = data.values[idx][..., :n_t]  # [B, H, C]
    point = out[..., model._median_index()]  # [B, H, C]
    metrics = _metrics(model, data, first, series, actual, point, season)
    frame = model._frame([data.ids[i] for i in series],
                         [data.times[s + model.input_len - 1] for s in starts], out)
    frame.insert(1 if model.roles_["id_col"] is not None else 0, "origin",
                 np.repeat(np.asarray([data.times[s + model.input_len - 1]
                                       for s in starts]), model.horizon))
    for j, name in enumerate(model.target_names_):
        frame[f"{name}_actual"] = actual[..., j].reshape(-1)
    return Backtest(frame, metrics)


def _origin_rows(model, data: SeriesData, start) -> np.ndarray:
    lengths = data.lengths
    if isinstance(start, float):
        if not 0 < start < 1:
            raise ValueError(f"start as a fraction must be in (0, 1), got {start}")
        rows = np.floor(lengths * start).astype(np.int64)
    elif isinstance(start, int | np.integer) and not isinstance(start, bool):
        rows = np.full(len(lengths), int(start), dtype=np.int64)
    elif isinstance(data.times, pd.DatetimeIndex):
        try:
            when = pd.Timestamp(start)
        except (ValueError, TypeError):
            raise ValueError(f"start must be a fraction of each series, a row count or a "
                             f"timestamp, got {start!r}") from None
        if (when.tz is None) != (data.times.tz is None):
            raise ValueError(f"start={start!r} and the series' times disagree on having "
                             "a timezone")
        rows = np.array([data.series_times(i).searchsorted(when)
                         for i in range(data.n_series)], dtype=np.int64)
    else:
        raise ValueError(f"start must be a fraction of each series or a row count (the "
                         f"series have integer times), got {start!r}")
    return np.maximum(rows, model.input_len)


def _metrics(model, data, first, series, actual, point, season):
    """Pooled metrics; MASE scales each series (and target) by its own in-sample
    naive error, then averages over series."""
    from tsrnn.metrics import forecast_metrics, mase

    metrics = forecast_metrics(actual, point)
    n_t = len(model.target_names_)
    per_series = []
    for i in np.unique(series):
        history = data.series(i)[: first[i], :n_t]  # what the first forecast saw
        try:
            per_series.append(mase(actual[series == i], point[series == i],
                                   y_train=history, season=season))
        except ValueError:  # too short, or a constant history: no scale
            continue
    metrics["mase"] = float(np.mean(per_series)) if per_series else float("nan")
    return metrics
