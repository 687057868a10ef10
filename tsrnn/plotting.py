"""Plots (needs matplotlib: ``pip install tsrnn[plot]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tsrnn.forecaster import Forecaster

__all__ = ["plot_attention"]


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
