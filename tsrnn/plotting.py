"""Plots (needs matplotlib: ``pip install tsrnn[plot]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from tsrnn.forecaster import Forecaster

__all__ = ["plot_anomalies", "plot_attention", "plot_forecast"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt  # falls back to Agg where there is no screen
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("plotting needs matplotlib: pip install 'tsrnn[plot]'") from err
    return plt


def plot_attention(model: Forecaster, df=None, *, series=None,
                   target: str | None = None, path=None) -> Figure:
    """Draw a seq2seq forecaster's attention under the input series it attends to.

    Top: the last ``input_len`` observed values and the forecast that follows them.
    Bottom, on the same time axis: one row per forecast step, shaded by how much
    attention that step paid to each input step.

    Parameters
    ----------
    model
        A fitted ``Forecaster(model="seq2seq", attention=...)``.
    df
        Forecast from the end of this frame; default: the training data's end.
    series
        Which series id to draw (long frames); default: the first.
    target
        Which target column to draw; default: the first.
    path
        Also save the figure there (PNG, SVG, PDF by extension).
    """
    plt = _pyplot()
    weights = model.attention_weights(df)  # [S, H, L]
    forecast = model.predict(df)
    ids, context, ends, _, _ = model._context(df)
    i = 0 if series is None else list(ids).index(series)
    target = target or model.target_names_[0]
    j = model.target_names_.index(target)
    history = context[i, :, j]  # [L], original units
    time_col = model.roles_["time_col"] or "timestamp"
    id_col = model.roles_["id_col"]
    rows = forecast if id_col is None else forecast[forecast[id_col] == ids[i]]
    point = target
    if point not in rows:  # quantile forecast: draw the median
        point = f"{target}_q{model._quantile_levels()[model._median_index()]:g}"

    L, H = weights.shape[2], weights.shape[1]
    steps_in = np.arange(-L + 1, 1)  # 0 is the last observed step
    steps_out = np.arange(1, H + 1)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6),
                                      gridspec_kw={"height_ratios": [1, 1.4]})
    top.plot(steps_in, history, color="tab:blue", label="input (observed)")
    top.plot(steps_out, rows[point].to_numpy(), color="tab:orange", label="forecast")
    top.axvline(0.5, color="grey", lw=0.8, ls=":")
    top.set_ylabel(target)
    name = "" if ids[i] is None else f"{ids[i]}: "
    top.set_title(f"{name}{model.attention} attention of a {model.cell.upper()} seq2seq "
                  f"forecaster, forecast from {ends[i]}")
    top.legend(loc="upper left")
    image = bottom.imshow(weights[i], aspect="auto", cmap="viridis", origin="upper",
                          extent=(steps_in[0] - 0.5, steps_in[-1] + 0.5, H + 0.5, 0.5))
    bottom.set_xlim(steps_in[0] - 0.5, steps_out[-1] + 0.5)
    freq = model.freq_ if isinstance(model.freq_, int | np.integer) else model.freq_.freqstr
    bottom.set_xlabel(f"steps of {freq} relative to the last observation ({time_col})")
    bottom.set_ylabel("forecast step")
    from matplotlib.ticker import MaxNLocator

    for axis in (bottom.xaxis, bottom.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(image, ax=[top, bottom], location="right", shrink=0.6,
                 label="attention weight")
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _series_groups(frame: pd.DataFrame, id_col, max_series: int):
    """``(id, rows)`` of the first ``max_series`` series, and how many there are."""
    if id_col is None:
        return [(None, frame)], 1
    groups = list(frame.groupby(id_col, sort=False))
    return groups[:max_series], len(groups)


def _times_of(frame: pd.DataFrame, time_col):
    import pandas as pd

    values = frame.index.to_series() if time_col is None else frame[time_col]
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy()
    return pd.to_datetime(values, format="mixed").to_numpy()


def _date_ticks(ax) -> None:
    """Short date labels that fit under a wide panel without rotating."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _quantile_columns(forecast: pd.DataFrame, target: str) -> dict[float, str]:
    prefix = f"{target}_q"
    out = {}
    for column in forecast.columns:
        if isinstance(column, str) and column.startswith(prefix):
            try:
                out[float(column[len(prefix):])] = column
            except ValueError:
                continue
    return dict(sorted(out.items()))


def plot_forecast(forecast: pd.DataFrame, history: pd.DataFrame | None = None, *,
                  target: str, time_col: str = "timestamp", id_col: str | None = None,
                  history_len: int | None = None, max_series: int = 4,
                  path=None) -> Figure:
    """Draw forecasts after the history they continue: one panel per series.

    Each panel shows the last observed values, the forecast (the median for a
    quantile forecast), the band between the lowest and highest quantile, and the
    actual values where the forecast frame has them (``<target>_actual``, as
    :meth:`Forecaster.historical_forecasts` and ``tsrnn forecast --holdout`` write).

    Parameters
    ----------
    forecast
        A frame from :meth:`Forecaster.predict` (or with ``_actual`` columns).
    history
        Observed rows with the same time, id and target column names.
    target
        The target column to draw.
    time_col, id_col
        The forecast's time column and (long frames) id column.
    history_len
        Draw only this many observed steps before each forecast (default: all).
    max_series
        Draw at most this many series; the title says when there are more.
    path
        Also save the figure there (PNG, SVG, PDF by extension).
    """
    plt = _pyplot()
    quantiles = _quantile_columns(forecast, target)
    point = target if target in forecast else None
    if point is None and quantiles:
        levels = np.array(list(quantiles))
        point = quantiles[float(levels[np.argmin(np.abs(levels - 0.5))])]
    if point is None:
        raise ValueError(f"the forecast has no column {target!r} nor {target}_q<level> "
                         f"columns; it has {list(forecast.columns)}")
    groups, n_series = _series_groups(forecast, id_col, max_series)
    fig, axes = plt.subplots(len(groups), 1, figsize=(11, 2.8 * len(groups) + 0.6),
                             squeeze=False)
    for ax, (sid, rows) in zip(axes[:, 0], groups, strict=True):
        times = _times_of(rows, time_col)
        if history is not None:
            past = history if sid is None else history[history[id_col] == sid]
            if history_len is not None:
                past = past.iloc[-history_len:]
            ax.plot(_times_of(past, time_col), past[target].to_numpy(), color="tab:blue",
                    lw=1.2, label="history")
            if len(past):
                ax.axvline(_times_of(past, time_col)[-1], color="grey", lw=0.8, ls=":")
        if len(quantiles) >= 2:
            (lo, lo_col), (hi, hi_col) = list(quantiles.items())[0], \
                list(quantiles.items())[-1]
            ax.fill_between(times, rows[lo_col].to_numpy(), rows[hi_col].to_numpy(),
                            color="tab:orange", alpha=0.25, lw=0,
                            label=f"{hi - lo:.0%} interval (q{lo:g} to q{hi:g})")
        label = "forecast" if point == target else f"forecast (median, {point})"
        ax.plot(times, rows[point].to_numpy(), color="tab:orange", lw=1.8, label=label)
        actual = f"{target}_actual"
        if actual in rows:
            ax.plot(times, rows[actual].to_numpy(), color="black", lw=1.2, ls="--",
                    marker=".", ms=4, label="actual")
        ax.set_title(target if sid is None else f"{sid}: {target}", loc="left", fontsize=10)
        ax.set_ylabel(target)
        ax.grid(alpha=0.3)
        if np.issubdtype(times.dtype, np.datetime64):
            _date_ticks(ax)
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=4)
    more = f" (first {len(groups)} of {n_series} series)" if n_series > len(groups) else ""
    fig.suptitle(f"Forecast of {target}{more}", x=0.01, ha="left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` positions of each run of consecutive 1s."""
    padded = np.concatenate([[0], flags.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2] - 1, strict=True))


def plot_anomalies(scored: pd.DataFrame, *, target: str, threshold: float,
                   time_col: str | None = None, id_col: str | None = None,
                   score_col: str = "score", label_col: str = "label",
                   truth_col: str | None = None, max_series: int = 4,
                   path=None) -> Figure:
    """Draw each series with its flagged regions shaded, and its anomaly score with
    the threshold line beneath it.

    Parameters
    ----------
    scored
        Rows with the series' values, the score and the 0/1 label (1 = anomaly), as
        ``tsrnn detect`` writes them; e.g. ``df.assign(score=det.decision_function(df),
        label=det.predict(df))``.
    target
        The value column to draw.
    threshold
        The detector's ``threshold_``: scores above it are flagged.
    time_col, id_col
        Time column (None: the index) and, for long frames, the id column.
    score_col, label_col
        Columns of the score and the 0/1 label.
    truth_col
        Optional 0/1 column of known anomalies, drawn as marks above the series.
    max_series
        Draw at most this many series; the title says when there are more.
    path
        Also save the figure there (PNG, SVG, PDF by extension).
    """
    plt = _pyplot()
    groups, n_series = _series_groups(scored, id_col, max_series)
    fig, axes = plt.subplots(2 * len(groups), 1, sharex=True,
                             figsize=(12, 3.4 * len(groups) + 0.6),
                             gridspec_kw={"height_ratios": [1.6, 1] * len(groups)},
                             squeeze=False)
    for k, (sid, rows) in enumerate(groups):
        top, bottom = axes[2 * k, 0], axes[2 * k + 1, 0]
        times = _times_of(rows, time_col)
        values = rows[target].to_numpy()
        flags = rows[label_col].to_numpy().astype(bool)
        top.plot(times, values, color="tab:blue", lw=0.8, label=target)
        # A lone flagged step would be a hairline: give every region a visible width.
        span = times[-1] - times[0]
        pad = span * 0.002 if len(times) > 1 else 0
        for i, (first, last) in enumerate(_runs(flags)):
            top.axvspan(times[first] - pad, times[last] + pad, color="tab:red", alpha=0.25,
                        lw=0, label=None if i else "flagged by the detector")
        top.scatter(times[flags], values[flags], color="tab:red", s=8, zorder=3)
        if truth_col is not None:
            truth = rows[truth_col].to_numpy().astype(bool)
            high = np.nanmax(values) + 0.05 * (np.nanmax(values) - np.nanmin(values))
            top.scatter(times[truth], np.full(truth.sum(), high), marker="v", s=14,
                        color="black", label="labelled anomaly", zorder=3)
        name = target if sid is None else f"{sid}: {target}"
        top.set_title(f"{name} ({int(flags.sum())} of {len(flags):,} steps flagged)",
                      loc="left", fontsize=10)
        top.set_ylabel(target)
        scores = rows[score_col].to_numpy()
        bottom.plot(times, scores, color="tab:purple", lw=0.8, label="anomaly score")
        bottom.axhline(threshold, color="tab:red", ls="--", lw=1,
                       label=f"threshold {threshold:.3g}")
        # Scores are heavy-tailed: a log axis keeps both the threshold and the peaks.
        if np.nanmax(scores) > 20 * threshold > 0:
            bottom.set_yscale("log")
            positive = scores[scores > 0]
            if positive.size:
                bottom.set_ylim(bottom=max(positive.min(), threshold / 100))
        bottom.set_ylabel("score")
        if k == 0:  # the same symbols in every pair: one legend each is enough
            top.legend(loc="upper left", fontsize=8, ncol=3)
            bottom.legend(loc="upper left", fontsize=8, ncol=2)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
        if np.issubdtype(times.dtype, np.datetime64):
            _date_ticks(bottom)
    more = f" (first {len(groups)} of {n_series} series)" if n_series > len(groups) else ""
    fig.suptitle(f"Anomalies in {target}{more}: red regions are flagged, where the score "
                 "crosses the threshold", x=0.01, ha="left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
