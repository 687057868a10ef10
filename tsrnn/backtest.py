"""Rolling-origin backtests of a fitted :class:`tsrnn.Forecaster`.

Names for users of other libraries: :func:`historical_forecasts` is Darts'
``historical_forecasts`` (``retrain`` as there); :func:`backtest` is Darts'
``backtest`` and NeuralForecast's ``cross_validation``: its forecasts come in
NeuralForecast's layout (``unique_id``, ``ds``, ``cutoff``, ``y``, the forecast),
and every :class:`Backtest` has metrics per horizon step beside the pooled ones.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from tsrnn._checks import is_integer
from tsrnn.data import (
    DataError,
    SeriesData,
    WindowDataset,
    check_length,
    make_loader,
    window_starts,
)

__all__ = ["Backtest", "InSampleBacktestWarning", "backtest", "historical_forecasts"]

FORECAST_COLUMN = "tsrnn"  # NeuralForecast names the forecast column after the model


class Backtest(NamedTuple):
    """Result of :meth:`Forecaster.historical_forecasts` and :meth:`Forecaster.backtest`.

    Attributes
    ----------
    forecasts
        One row per (series, forecast origin, horizon step). From
        ``historical_forecasts``: the id column (long frames), ``origin`` (the last
        timestamp the forecast saw), the time column, then for each target its
        forecast and ``<target>_actual``. From ``backtest``: NeuralForecast's
        ``cross_validation`` layout (see :func:`backtest`).
    metrics
        MSE, MAE, RMSE, MAPE, sMAPE and MASE over every forecast, in original units.
    step_metrics
        The same metrics for each horizon step alone: one row per step (index
        ``step``, 1 to ``horizon``), one column per metric.
    """

    forecasts: pd.DataFrame
    metrics: dict[str, float]
    step_metrics: pd.DataFrame | None = None


class InSampleBacktestWarning(UserWarning):
    """A backtest forecast values the model was trained on, so its errors are
    in-sample and flatter the model.

    Attributes
    ----------
    n_in_sample, n_origins
        Forecasts (origins) whose targets the model saw at fit, out of all of them.
    training_end
        The last time the model was trained on (the latest over those series).
    """

    def __init__(self, message: str, n_in_sample: int = 0, n_origins: int = 0,
                 training_end: Any = None):
        super().__init__(message)
        self.n_in_sample = n_in_sample
        self.n_origins = n_origins
        self.training_end = training_end


def historical_forecasts(model, df: pd.DataFrame, *, start: float | int | Any = 0.8,
                         stride: int | None = None, season: int | str = "auto",
                         retrain: bool | int = False, stacklevel: int = 2) -> Backtest:
    """Rolling-origin backtest of the fitted ``model`` on ``df``; see
    :meth:`tsrnn.Forecaster.historical_forecasts`."""
    check_is_fitted(model, "net_")
    every = _refit_every(retrain)
    data = model._read(df)
    check_length(data, model.input_len_ + model.horizon_)
    stride = model.horizon_ if stride is None else int(stride)
    first = _origin_rows(model, data, start)
    season = _season(model, data, first, season)
    starts = window_starts(data.offsets, model.input_len_, model.horizon_, stride,
                           target_from=first)
    if starts.size == 0:
        raise DataError(f"no complete forecast after start={start!r}: every series ends "
                        f"less than horizon={model.horizon_} steps after it")
    series = np.searchsorted(data.offsets, starts, side="right") - 1
    origins = data.times[starts + model.input_len_ - 1]
    if every:
        out = _refit_forecasts(model, data, starts, series, origins, every)
    else:
        _warn_in_sample(model, data, starts, series, stacklevel + 1)
        out = _forecast(model, data, starts, series)
    n_t = len(model.target_names_)
    idx = starts[:, None] + model.input_len_ + np.arange(model.horizon_)  # [B, H] rows
    actual = data.values[idx][..., :n_t]  # [B, H, C]
    point = out[..., model._median_index()]  # [B, H, C]
    metrics = _metrics(model, data, first, series, actual, point, season)
    steps = pd.DataFrame(
        [_metrics(model, data, first, series, actual[:, [h]], point[:, [h]], season)
         for h in range(model.horizon_)],
        index=pd.RangeIndex(1, model.horizon_ + 1, name="step"))
    frame = model._frame([data.ids[i] for i in series], list(origins), out)
    frame.insert(1 if model.roles_["id_col"] is not None else 0, "origin",
                 np.repeat(np.asarray(origins), model.horizon_))
    for j, name in enumerate(model.target_names_):
        frame[f"{name}_actual"] = actual[..., j].reshape(-1)
    return Backtest(frame, metrics, steps)


def backtest(model, df: pd.DataFrame, *, start: float | int | Any = 0.8,
             stride: int | None = None, season: int | str = "auto", retrain: bool | int = True,
             stacklevel: int = 2) -> Backtest:
    """:func:`historical_forecasts`, with its forecasts in NeuralForecast's
    ``cross_validation`` layout; see :meth:`tsrnn.Forecaster.backtest`."""
    result = historical_forecasts(model, df, start=start, stride=stride, season=season,
                                  retrain=retrain, stacklevel=stacklevel + 1)
    return result._replace(forecasts=_cross_validation_frame(model, result.forecasts))


# ------------------------------------------------------------------ forecasts
def _forecast(model, data: SeriesData, starts: np.ndarray, series: np.ndarray) -> np.ndarray:
    """``model``'s forecasts of the windows at ``starts``, ``[B, H, C, Q]`` in
    original units."""
    loc, spread = model._stats_for(data)
    scaled = model._scaled(data)
    ds = WindowDataset.from_series(data, model.input_len_, model.horizon_, starts=starts,
                                   values=scaled)
    preds = []
    with torch.inference_mode():
        for batch in make_loader(ds, 1024):
            fut = batch.future if batch.future.shape[-1] else None
            preds.append(model.net_(batch.inputs, fut).numpy())
    n_t = len(model.target_names_)
    out = np.concatenate(preds)  # [B, H, C, Q]
    return out * spread[series][:, None, :n_t, None] + loc[series][:, None, :n_t, None]


def _refit_every(retrain) -> int:
    """Origins each refit serves; 0: no refit."""
    if isinstance(retrain, bool | np.bool_):
        return int(retrain)
    if is_integer(retrain) and retrain >= 1:
        return int(retrain)
    raise ValueError(f"retrain must be True, False or a positive integer k (refit every k "
                     f"origins), got {retrain!r}")


def _refit_forecasts(model, data: SeriesData, starts, series, origins: pd.Index,
                     every: int) -> np.ndarray:
    """Forecasts by clones of ``model`` refitted on every row up to an origin.

    The distinct origin times, in order, are the cutoffs: a clone is fitted on each
    series' rows up to cutoff ``0, every, 2 * every, ...`` and forecasts the windows
    of that cutoff and the ``every - 1`` after it. Cutting every series at the same
    time keeps one series' later rows out of another's forecast, as
    NeuralForecast's ``cross_validation`` does.
    """
    from sklearn.base import clone

    cutoffs = origins.unique().sort_values()
    serves = cutoffs.get_indexer(origins) // every  # [B] which refit forecasts each window
    out = None
    for g in np.unique(serves):
        cutoff = cutoffs[g * every]
        pick = np.flatnonzero(serves == g)
        train = _frame_until(model, data, cutoff, needed=np.unique(series[pick]))
        try:
            # The refits keep the sizes this model chose: the windows are cut for them.
            refit = clone(model).set_params(input_len=model.input_len_,
                                            horizon=model.horizon_)
            refit = refit.fit(train, **_fit_columns(model))
        except DataError as err:
            raise DataError(f"retrain: refitting on the rows up to the origin {cutoff}: "
                            f"{err}") from None
        part = _forecast(refit, data, starts[pick], series[pick])
        if out is None:
            out = np.empty((len(starts), *part.shape[1:]), dtype=part.dtype)
        out[pick] = part
    return out


def _frame_until(model, data: SeriesData, cutoff, needed: np.ndarray) -> pd.DataFrame:
    """Every series' rows up to ``cutoff``, as a frame ``fit`` reads with the fitted
    column roles. Series too short to train on are left out, unless a forecast of
    this refit needs them: then the backtest starts too early."""
    keep = np.asarray(data.times <= cutoff)
    kept = np.add.reduceat(keep.astype(np.int64), data.offsets[:-1])  # [S] rows
    minimum = model.input_len_ + model.horizon_
    short = [i for i in needed if kept[i] < minimum]
    if short:
        i = short[0]
        raise DataError(f"retrain: {data.series_name(i)} has {kept[i]} rows up to the "
                        f"origin {cutoff}, fewer than input_len + horizon = {minimum} to "
                        "refit on; start the backtest later")
    keep &= np.repeat(kept >= minimum, data.lengths)
    roles = model.roles_
    frame = pd.DataFrame(data.values[keep], columns=list(data.feature_names))
    if roles["time_col"] is None:
        frame.index = data.times[keep]
    else:
        frame.insert(0, roles["time_col"], data.times[keep])
    if roles["id_col"] is not None:
        frame.insert(0, roles["id_col"], np.repeat(np.asarray(data.ids, dtype=object),
                                                   data.lengths)[keep])
    return frame


def _fit_columns(model) -> dict:
    roles = model.roles_
    return {"time_col": roles["time_col"], "id_col": roles["id_col"],
            "target": roles["target"], "past_covariates": roles["past_covariates"],
            "future_covariates": roles["future_covariates"]}


def _warn_in_sample(model, data: SeriesData, starts, series, stacklevel: int) -> None:
    """Warn when forecasts target rows at or before the end of the data the model
    was fitted on (``context_end_``, the last training time of each series, which
    model files keep). Series unseen at fit are not checked."""
    known = model._series_positions()
    targets = data.times[starts + model.input_len_]  # each forecast's first step
    inside = np.zeros(len(starts), dtype=bool)
    ends = []
    for i, sid in enumerate(data.ids):
        if sid not in known:
            continue
        end = model.context_end_[known[sid]]
        rows = series == i
        inside[rows] = np.asarray(targets[rows] <= end)
        if inside[rows].any():
            ends.append(end)
    n = int(inside.sum())
    if n == 0:
        return
    end = max(ends)
    warnings.warn(InSampleBacktestWarning(
        f"{n} of the {len(starts)} backtest origins forecast values the model was "
        f"trained on (its training data ends at {end}): their errors are in-sample and "
        "flatter the model. For an out-of-sample backtest pass retrain=True (refit on "
        "the data before each origin; retrain=k refits every k origins), or fit on data "
        "before start", n, len(starts), end), stacklevel=stacklevel)


def _cross_validation_frame(model, forecasts: pd.DataFrame) -> pd.DataFrame:
    """``forecasts`` of :func:`historical_forecasts` in NeuralForecast's
    ``cross_validation`` layout, one row per series, target, origin and step."""
    id_col, time_name = model.roles_["id_col"], model.roles_["time_col"] or "timestamp"
    levels = model._quantile_levels()
    point = "" if not levels else f"_q{levels[model._median_index()]:g}"
    parts = []
    for target in model.target_names_:
        if id_col is None:
            uid = target
        elif len(model.target_names_) == 1:
            uid = forecasts[id_col].to_numpy()
        else:
            uid = forecasts[id_col].astype(str).to_numpy() + f"/{target}"
        part = pd.DataFrame({"unique_id": uid, "ds": forecasts[time_name].to_numpy(),
                             "cutoff": forecasts["origin"].to_numpy(),
                             "y": forecasts[f"{target}_actual"].to_numpy(),
                             FORECAST_COLUMN: forecasts[f"{target}{point}"].to_numpy()})
        for q in levels:
            part[f"{FORECAST_COLUMN}_q{q:g}"] = forecasts[f"{target}_q{q:g}"].to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


# -------------------------------------------------------- origins and metrics
def _origin_rows(model, data: SeriesData, start) -> np.ndarray:
    lengths = data.lengths
    if isinstance(start, float):
        if not 0 < start < 1:
            raise ValueError(f"start as a fraction must be in (0, 1), got {start}")
        rows = np.floor(lengths * start).astype(np.int64)
    elif isinstance(start, int | np.integer) and not isinstance(start, bool):
        if start < 0:  # not counted from the end, as a Python index would be
            raise ValueError(f"start as a row count must be >= 0, got {start}")
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
    return np.maximum(rows, model.input_len_)


def _season(model, data: SeriesData, first: np.ndarray, season) -> int:
    """``season="auto"``: the fitted ``season_`` when every series has more rows than
    that before its first origin (else the seasonal naive has no scale: 1)."""
    if season != "auto":
        return season
    fitted = int(getattr(model, "season_", 1))
    return fitted if bool(np.all(first > fitted)) else 1


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


class ForecastEvaluation:
    """A mixin of :class:`tsrnn.Forecaster`: how well it forecasts, as backtests and
    as scikit-learn's ``score``."""

    def score(self, X: pd.DataFrame | pd.Series, y: None = None) -> float:
        """Negative mean absolute error of forecasting the end of each series of ``X``:
        higher is better, as scikit-learn's model selection expects.

        Each series' last ``horizon`` steps are forecast from the ``input_len`` steps
        before them (known-future covariates over the horizon come from ``X``
        itself), and compared with what ``X`` holds there, in original units. The
        score depends only on the model and ``X``, so it is out of sample whenever
        ``X`` comes after the training data. That makes ``GridSearchCV`` and
        ``cross_val_score`` work on a frame ordered by time with
        ``sklearn.model_selection.TimeSeriesSplit(test_size=n)``, ``n >= input_len +
        horizon`` rows (per series): each fold fits on the rows before its test
        rows and scores the test rows' last ``horizon`` steps. With quantiles, the
        median (the level nearest 0.5) is scored.

        Parameters
        ----------
        X
            A frame (or Series) with the columns seen at fit; every series at least
            ``input_len + horizon`` rows long.
        y
            Must be None: the targets are columns of ``X``. It is there because
            scikit-learn passes one when it has one.

        Returns
        -------
        float
            ``-MAE`` over every series, horizon step and target.
        """
        from tsrnn.metrics import mae

        check_is_fitted(self, "net_")
        if y is not None:
            raise ValueError("score takes the targets from X's columns (target= at fit): "
                             "pass y=None")
        data = self._read(X)
        length, h = self.input_len_ + self.horizon_, self.horizon_
        try:
            check_length(data, length)
        except DataError as exc:
            raise DataError(f"{exc}: score() forecasts the last horizon steps of each series "
                            f"from the input_len steps before them (with TimeSeriesSplit, "
                            f"pass test_size >= {length})") from None
        ends = data.offsets[1:]
        context = np.stack([data.values[e - length : e - h] for e in ends])  # [S, L, F]
        later = np.stack([data.values[e - h : e] for e in ends])  # [S, H, F]
        loc, spread = self._stats_for(data)
        n_future = len(data.future_names)  # the covariates', then any calendar columns
        fut = None
        if n_future:
            fut = ((later[..., -n_future:] - loc[:, None, -n_future:])
                   / spread[:, None, -n_future:]).astype(np.float32)  # [S, H, F_future]
        out = self._forecast(context, fut, loc, spread)  # [S, H, C, Q]
        levels = self._quantile_levels()
        point = out[..., int(np.argmin(np.abs(np.asarray(levels) - 0.5))) if levels else 0]
        return -float(mae(later[..., : len(self.target_names_)], point))

    # ---------------------------------------------------------------- backtest
    def historical_forecasts(self, df: pd.DataFrame, *, start: float | int | Any = 0.8,
                             stride: int | None = None, season: int | str = "auto",
                             retrain: bool | int = False) -> Backtest:
        """Rolling-origin backtest on ``df`` (Darts' ``historical_forecasts``).

        Parameters
        ----------
        df
            Frame with the columns seen at fit.
        start
            First forecast origin: a fraction of each series' length (float), a row
            count (int), or a timestamp. Each forecast sees only rows before its
            first step.
        stride
            Steps between origins; default ``horizon`` (non-overlapping forecasts).
        season
            Seasonal lag of the naive forecast that scales MASE (1: repeat-last).
            ``"auto"``: the fitted ``season_`` (12 for monthly data, 24 for hourly,
            1 for integer times), or 1 where a series has no more than that many
            rows before its first origin.
        retrain
            False: every forecast comes from this fitted model. Where that model
            was trained on the forecast values (``df`` overlaps the data it was
            fitted on, up to ``context_end_``) the errors are in-sample, and an
            :class:`~tsrnn.backtest.InSampleBacktestWarning` says so. True: refit a
            clone (same parameters and ``random_state``) on every series' rows up
            to each origin time, then forecast from it; this costs one full fit per
            distinct origin time, e.g. ``0.2 * rows / horizon`` fits for
            ``start=0.8`` and the default stride. An integer ``k``: refit every
            ``k`` origins, the refitted model forecasting those ``k``; ``k`` at
            least the number of origins fits once, on the data before the first
            (NeuralForecast's ``cross_validation`` without ``refit``). This model's
            own fit is used only for its column roles.

        Returns
        -------
        Backtest
            The forecasts with actuals, and their metrics in original units, pooled
            and per horizon step.
        """
        return historical_forecasts(self, df, start=start, stride=stride, season=season,
                                    retrain=retrain, stacklevel=3)

    def backtest(self, df: pd.DataFrame, *, start: float | int | Any = 0.8,
                 stride: int | None = None, season: int | str = "auto",
                 retrain: bool | int = True) -> Backtest:
        """Out-of-sample backtest with metrics per horizon step (Darts' ``backtest``,
        NeuralForecast's ``cross_validation``).

        The same backtest as :meth:`historical_forecasts`, with ``retrain=True`` by
        default (one fit per origin: see there for the cost and ``retrain=k``).
        ``Backtest.forecasts`` comes in NeuralForecast's layout: ``unique_id`` (the
        series id; for a wide frame the target's name; with several targets of a
        long frame ``"<id>/<target>"``), ``ds``, ``cutoff`` (the origin), ``y`` (the
        actual value) and ``tsrnn`` (the forecast; the median with quantiles, which
        add ``tsrnn_q<level>`` columns). ``Backtest.step_metrics`` has the metrics
        of each horizon step, ``Backtest.metrics`` those over all of them.
        """
        return backtest(self, df, start=start, stride=stride, season=season,
                        retrain=retrain, stacklevel=3)
