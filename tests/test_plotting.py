"""Tests for tsrnn/plotting.py: forecast and anomaly plots from plain frames.

(The seq2seq attention plot is tested with its model in tests/test_seq2seq.py.)
"""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from tsrnn.plotting import plot_anomalies, plot_forecast  # noqa: E402


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_forecast_plot_draws_history_band_forecast_and_actuals(tmp_path):
    times = pd.date_range("2024-01-01", periods=30, freq="h")
    history = pd.DataFrame({"timestamp": times[:24], "y": np.arange(24.0)})
    forecast = pd.DataFrame({"timestamp": times[24:], "y_q0.1": np.arange(6.0),
                             "y_q0.5": np.arange(6.0) + 1, "y_q0.9": np.arange(6.0) + 2,
                             "y_actual": np.arange(6.0) + 1.5})
    fig = plot_forecast(forecast, history, target="y", history_len=12,
                        path=tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    assert _legend(fig.axes[0]) == ["history", "80% interval (q0.1 to q0.9)",
                                    "forecast (median, y_q0.5)", "actual"]
    assert len(fig.axes[0].lines[0].get_xdata()) == 12  # history_len


def test_forecast_plot_has_a_panel_per_series_up_to_max_series():
    frames = [pd.DataFrame({"id": k, "t": np.arange(10, 14), "y": np.ones(4)}) for k in "abc"]
    fig = plot_forecast(pd.concat(frames), target="y", time_col="t", id_col="id",
                        max_series=2)
    assert len(fig.axes) == 2
    assert "first 2 of 3 series" in fig._suptitle.get_text()


def test_forecast_plot_names_a_missing_target():
    with pytest.raises(ValueError, match="no column 'z'"):
        plot_forecast(pd.DataFrame({"t": [1], "y": [1.0]}), target="z", time_col="t")


def test_anomaly_plot_shades_each_flagged_region_and_draws_the_threshold():
    n = 100
    label = np.zeros(n, dtype=int)
    label[[10, 11, 12, 50]] = 1  # two regions
    scored = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=n, freq="h"),
                           "value": np.sin(np.arange(n) / 5), "score": label * 2.0 + 0.1,
                           "label": label, "truth": label})
    fig = plot_anomalies(scored, target="value", time_col="ts", threshold=1.0,
                         truth_col="truth")
    top, bottom = fig.axes
    assert len(top.patches) == 2  # one shaded span per flagged region
    assert _legend(top) == ["value", "flagged by the detector", "labelled anomaly"]
    assert _legend(bottom) == ["anomaly score", "threshold 1"]
    assert bottom.lines[1].get_ydata()[0] == 1.0
