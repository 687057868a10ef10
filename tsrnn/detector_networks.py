"""How an :class:`tsrnn.AnomalyDetector` builds its networks and reads their step
errors: the autoencoder, forecaster or stateful cell of each ensemble member, its
inputs (scaled targets and calendar phases) and the squared errors of every step
that :mod:`tsrnn.detector_scores` turns into scores."""

from __future__ import annotations

import numpy as np
import torch

from tsrnn.data import DataError, SeriesData, WindowDataset, make_loader, window_starts
from tsrnn.data.calendar import calendar_features, calendar_names
from tsrnn.nn.autoencoder import RecurrentAutoencoder
from tsrnn.nn.ensemble import MeanEnsemble, members_of
from tsrnn.nn.forecast import ForecastNet
from tsrnn.nn.next_step import NextStepNet
from tsrnn.stateful import next_step_errors

# A scaled training value beyond this has a square (its loss, its target's variance)
# that float32 cannot hold: training then gave a NaN threshold and scored 0 everywhere.
MAX_SCALED = float(np.sqrt(np.finfo(np.float32).max))  # 1.8e19


def check_trainable(data: SeriesData, scaled: np.ndarray) -> None:
    """Refuse a training value too far from its series' scale to train on, by its
    column, series, row and time (a fault code such as 3.4e38 among readings of 1)."""
    far = ~(np.abs(scaled[:, :data.n_targets]) < MAX_SCALED)
    if not far.any():
        return
    k, j = (int(i) for i in np.argwhere(far)[0])
    i = int(np.searchsorted(data.offsets, k, side="right") - 1)
    at = data.times[k] if data.rows is None else f"row {int(data.rows[k])} ({data.times[k]})"
    raise DataError(
        f"column {data.target_names[j]!r} of {data.series_name(i)} holds "
        f"{data.values[k, j]:.3g} at {at}, {abs(scaled[k, j]):.2g} once scaled: too far "
        "out to train on. If it is a fault code, set it to NaN (with fill=) or drop the row")


class DetectorNetworks:
    """A mixin of :class:`tsrnn.AnomalyDetector`: its networks and their errors."""

    def _make_net(self, n_targets: int):
        """The fitted network's shape: one member, or ``n_models`` averaged."""
        return self._assemble([self._make_member(n_targets) for _ in range(self.n_models)])

    def _make_member(self, n_targets: int):
        # The calendar columns (set calendar_ first) follow the targets. The network
        # forecasts or rebuilds them too, though only the targets are scored:
        # predicting the phase makes it track where in the cycle it is. (On NAB
        # this scored about 4 points above reading the calendar as an input only,
        # over three seeds.)
        n_inputs = n_targets + len(calendar_names(self.calendar_))
        if self.stateful:
            return NextStepNet(n_inputs, cell=self.cell, hidden_size=self.hidden_size,
                               num_layers=self.num_layers, dropout=self.dropout,
                               layer_norm=self.layer_norm)
        if self.score == "reconstruction":
            return RecurrentAutoencoder(
                n_inputs, self.window, cell=self.cell, hidden_size=self.hidden_size,
                num_layers=self.num_layers, bidirectional=self.bidirectional,
                dropout=self.dropout, layer_norm=self.layer_norm)
        # One step ahead from the raw (globally scaled) window: a jump away from the
        # recent level must show as a large error, so no per-window normalization.
        return ForecastNet(n_inputs, n_inputs, self.window, 1, cell=self.cell,
                           hidden_size=self.hidden_size, num_layers=self.num_layers,
                           bidirectional=self.bidirectional, dropout=self.dropout,
                           layer_norm=self.layer_norm, window_norm=None,
                           channel_independent=False)

    def _check_network(self) -> None:
        """``stateful``, ``score`` and ``window`` shaped the fitted networks: changed
        by ``set_params`` after fit, scoring would hand them inputs they were not
        built for (and fail inside torch), so the change is refused by name."""
        net = members_of(self.net_)[0]
        at_fit = {"stateful": isinstance(net, NextStepNet)}
        if not at_fit["stateful"]:  # (a stateful network reads any window: its warm-up)
            autoencoder = isinstance(net, RecurrentAutoencoder)
            at_fit["score"] = "reconstruction" if autoencoder else "forecast"
            at_fit["window"] = net.window if autoencoder else net.input_len
        for name, value in at_fit.items():
            if getattr(self, name) != value:
                raise ValueError(f"the networks were fitted with {name}={value!r}, now "
                                 f"{getattr(self, name)!r}: it shapes them, so set it back, "
                                 "or fit again for the new value")

    def _inputs(self, data: SeriesData, scaled: np.ndarray) -> np.ndarray:
        """The network's input columns ``[N, F + 2 * cycles]``: scaled targets, then
        the calendar features."""
        return np.hstack([scaled, calendar_features(self._local(data.times), self.calendar_)])

    def _local(self, times):
        """Timestamps in the training data's timezone, where the calendar phases
        were learnt (a stream in UTC for a model fitted in local time would
        otherwise see its day shifted)."""
        if self.time_zone_ is not None and getattr(times, "tz", None) is not None:
            return times.tz_convert(self.time_zone_)
        return times

    def _windows(self, data: SeriesData, inputs: np.ndarray, starts: np.ndarray):
        """Windows of every input column; each column is also a training target."""
        horizon = 1 if self.score == "forecast" else 0
        return WindowDataset(inputs, data.offsets, self.window, horizon, inputs.shape[1],
                             starts=starts)

    def _window_errors(self, windows: torch.Tensor, nxt: torch.Tensor | None = None):
        """Squared errors of the targets (the first F input columns): ``[B, window,
        F]`` (reconstruction) or ``[B, F]`` (forecast of ``nxt``). An ensemble's are
        the mean of its members' errors: each member's surprise counts, where the
        error of the averaged output would smooth a surprise away."""
        n = self.n_features_in_
        net = self.net_
        with torch.inference_mode():
            out = net.each(windows) if isinstance(net, MeanEnsemble) else net(windows)[None]
            if self.score == "reconstruction":  # out: [M, B, window, F + calendar]
                return (out - windows)[..., :n].square().mean(dim=0)
            return (out[:, :, 0, :n, 0] - nxt[:, :n]).square().mean(dim=0)  # [M, B, F] -> [B, F]

    def _step_errors(self, data: SeriesData, inputs: np.ndarray,
                     online: bool) -> tuple[np.ndarray, np.ndarray]:
        """Per-step, per-target squared errors ``[N, F]`` of stacked series, and
        which steps have one ``[N]`` (not the warm-up steps of online scores)."""
        if self.stateful:  # online either way: the state only ever reads the past
            return next_step_errors(self.net_, data, inputs, data.n_targets, self.window)
        w = self.window
        errors = np.zeros((len(inputs), data.n_targets))
        valid = np.zeros(len(inputs), dtype=bool)
        horizon = 1 if self.score == "forecast" else 0
        starts = window_starts(data.offsets, w, horizon)
        ds = self._windows(data, inputs, starts)
        chunks = [self._window_errors(b.inputs, b.targets[:, 0] if horizon else None).numpy()
                  for b in make_loader(ds, 2048)]
        err = np.concatenate(chunks)  # [B, w, F] or [B, F]
        if self.score == "forecast":
            errors[starts + w] = err  # the step each forecast is for
            valid[starts + w] = True
            return errors, valid  # the first `window` steps of a series have no forecast
        if online:
            errors[starts + w - 1] = err[:, -1]  # the last step of the window ending there
            valid[starts + w - 1] = True
            return errors, valid  # the first window - 1 steps are warming up
        counts = np.zeros(len(inputs))
        for k in range(w):  # a loop over window positions, vectorised over all windows
            np.add.at(errors, starts + k, err[:, k])
            np.add.at(counts, starts + k, 1)
        return errors / np.maximum(counts, 1)[:, None], counts > 0
