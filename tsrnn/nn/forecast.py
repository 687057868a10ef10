"""Recurrent forecasting network: encoder, window normalization, segments, heads.

The techniques that make an RNN competitive on long horizons are options here
(SegRNN, Lin et al. 2023): channel independence, per-window normalization,
segment-wise input and parallel multi-step decoding.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from tsrnn.nn.encoder import Cell, RecurrentEncoder

__all__ = ["STRATEGIES", "WINDOW_NORMS", "ForecastNet", "WindowNorm"]

Strategy = Literal["direct", "parallel", "recursive"]
STRATEGIES: tuple[str, ...] = ("direct", "parallel", "recursive")
WINDOW_NORMS: tuple[str | None, ...] = ("last", "mean", "standard", None)


class WindowNorm(nn.Module):
    """Instance normalization of each input window, undone on the forecast.

    ``"last"`` subtracts the window's last value (so a zero output repeats the last
    value), ``"mean"`` its mean, ``"standard"`` standardizes by mean and standard
    deviation (RevIN without the affine part). ``None`` does nothing.
    """

    def __init__(self, method: str | None):
        super().__init__()
        if method not in WINDOW_NORMS:
            raise ValueError(f"window_norm must be one of {WINDOW_NORMS}, got {method!r}")
        self.method = method

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x [B, T, C]`` -> normalized ``x``, ``loc [B, 1, C]``, ``scale [B, 1, C]``."""
        if self.method is None:
            zero = x.new_zeros(x.shape[0], 1, x.shape[2])
            return x, zero, zero + 1
        if self.method == "last":
            loc = x[:, -1:, :]  # [B, 1, C]
            return x - loc, loc, torch.ones_like(loc)
        loc = x.mean(dim=1, keepdim=True)  # [B, 1, C]
        if self.method == "mean":
            return x - loc, loc, torch.ones_like(loc)
        scale = (x.var(dim=1, keepdim=True, unbiased=False) + 1e-5).sqrt()  # [B, 1, C]
        return (x - loc) / scale, loc, scale


class ForecastNet(nn.Module):
    """Forecast ``horizon`` steps of ``n_targets`` channels from ``input_len`` steps.

    Input columns are ordered targets, past covariates, known-future covariates (the
    layout of :class:`tsrnn.data.SeriesData`).

    Parameters
    ----------
    n_features
        Input columns in all.
    n_targets
        Leading input columns to forecast.
    input_len, horizon
        Steps in and out.
    n_future
        Trailing input columns that are known-future covariates; their values over
        the horizon are a second input.
    cell, hidden_size, num_layers, bidirectional, dropout, recurrent_dropout,
    layer_norm, nonlinearity, learn_initial_state
        The :class:`~tsrnn.nn.RecurrentEncoder`.
    strategy
        ``"direct"``: a linear head maps the final state (and the future covariates)
        to every horizon step at once. ``"parallel"``: SegRNN's parallel multi-step
        decoding, one decoder step per output segment from the final state, each
        told its position; all segments run as one batch. ``"recursive"``: an
        autoregressive decoder that feeds each predicted segment back in (past
        covariates are held at their last value over the horizon).
    segment_len
        Steps per segment. With ``segment_len > 1`` the window is cut into segments,
        each embedded by a linear layer, so the RNN runs ``input_len / segment_len``
        steps instead of ``input_len``: faster, and it keeps long inputs in reach.
        A window that does not divide evenly is padded at its start.
    channel_independent
        Treat each target channel as its own univariate series (with the
        covariates), sharing all weights.
    window_norm
        Per-window normalization of the target channels, see :class:`WindowNorm`.
    n_quantiles
        Outputs per step and channel. With more than one, outputs are increasing
        along the last axis by construction: quantiles never cross.
    """

    def __init__(
        self,
        n_features: int,
        n_targets: int,
        input_len: int,
        horizon: int,
        *,
        n_future: int = 0,
        cell: Cell = "gru",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        learn_initial_state: bool = False,
        strategy: Strategy = "direct",
        segment_len: int = 1,
        channel_independent: bool = True,
        window_norm: str | None = "last",
        n_quantiles: int = 1,
    ):
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if strategy == "recursive" and bidirectional:
            raise ValueError("a bidirectional encoder cannot decode recursively: it would "
                             "need the future to run backwards from")
        for name, value in (("input_len", input_len), ("horizon", horizon),
                            ("segment_len", segment_len), ("n_quantiles", n_quantiles)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not 0 < n_targets <= n_features or n_future < 0 or n_targets + n_future > n_features:
            raise ValueError(f"inconsistent column counts: n_features={n_features}, "
                             f"n_targets={n_targets}, n_future={n_future}")
        self.n_features, self.n_targets, self.n_future = n_features, n_targets, n_future
        self.input_len, self.horizon = input_len, horizon
        self.strategy, self.segment_len = strategy, segment_len
        self.channel_independent = channel_independent and n_targets > 1
        self.n_quantiles = n_quantiles
        self.norm = WindowNorm(window_norm)

        # Each "unit" the RNN sees: one channel (with the covariates) or all of them.
        self.unit_targets = 1 if self.channel_independent else n_targets
        self.n_covariates = n_features - n_targets
        unit_features = self.unit_targets + self.n_covariates
        self.n_in_segments = math.ceil(input_len / segment_len)
        self.n_out_segments = math.ceil(horizon / segment_len)
        if segment_len > 1:
            self.embed = nn.Sequential(nn.Linear(segment_len * unit_features, hidden_size),
                                       nn.ReLU())
            rnn_input = hidden_size
        else:
            self.embed = nn.Identity()
            rnn_input = unit_features
        self.encoder = RecurrentEncoder(
            rnn_input, hidden_size, cell, num_layers, bidirectional=bidirectional,
            dropout=dropout, recurrent_dropout=recurrent_dropout, layer_norm=layer_norm,
            nonlinearity=nonlinearity, learn_initial_state=learn_initial_state,
        )
        self.head_dropout = nn.Dropout(dropout)
        self._build_decoder(cell=cell, hidden_size=hidden_size, nonlinearity=nonlinearity)

    def _build_decoder(self, *, cell: Cell, hidden_size: int, nonlinearity: str) -> None:
        """The layers after the encoder (subclasses build their own)."""
        width = self.encoder.output_size
        out_per_step = self.unit_targets * self.n_quantiles
        strategy, segment_len, n_future = self.strategy, self.segment_len, self.n_future
        horizon = self.horizon
        if strategy == "direct":
            self.head = nn.Linear(width + horizon * n_future, horizon * out_per_step)
        else:
            seg_out = segment_len * out_per_step
            if strategy == "parallel":
                self.position = nn.Parameter(torch.randn(self.n_out_segments, width) * 0.02)
                self.future_embed = (nn.Linear(segment_len * n_future, width) if n_future
                                     else None)
                self.decoder = RecurrentEncoder(width, width, cell, 1,
                                                nonlinearity=nonlinearity)
                self.head = nn.Linear(width, seg_out)
            else:
                # Each segment's forecast also sees that segment's known-future values.
                self.head = nn.Linear(width + segment_len * n_future, seg_out)

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: torch.Tensor, future: torch.Tensor | None = None,
                targets: torch.Tensor | None = None) -> torch.Tensor:
        """Forecast.

        Parameters
        ----------
        inputs
            ``[B, input_len, n_features]``.
        future
            ``[B, horizon, n_future]`` known-future covariates over the horizon.
        targets
            ``[B, horizon, n_targets]`` the true future, for decoders trained with
            teacher forcing (ignored by the others and at evaluation).

        Returns
        -------
        ``[B, horizon, n_targets, n_quantiles]``.
        """
        return self._forecast(inputs, future, targets)[0]

    def _forecast(self, inputs, future, targets):
        """Forecast plus what the decoder reports (attention weights, or None)."""
        batch = inputs.shape[0]
        if inputs.shape[1:] != (self.input_len, self.n_features):
            raise ValueError(f"expected inputs [batch, {self.input_len}, {self.n_features}], "
                             f"got {tuple(inputs.shape)}")
        if self.n_future and (future is None or future.shape[1:] != (self.horizon,
                                                                     self.n_future)):
            raise ValueError(f"expected future covariates [batch, {self.horizon}, "
                             f"{self.n_future}], got "
                             f"{None if future is None else tuple(future.shape)}")
        history, covariates = inputs[..., : self.n_targets], inputs[..., self.n_targets :]
        history, loc, scale = self.norm(history)  # [B, T, C], [B, 1, C], [B, 1, C]
        units, future_units = self._to_units(history, covariates, future)
        if targets is not None and self.training:
            targets = self._target_units((targets - loc) / scale)  # [B*U, H, unit_targets]
        else:
            targets = None
        out, extra = self._decode(units, future_units, targets)  # [B*U, H, U_t, Q]
        out = self._quantiles(out)
        if self.channel_independent:
            out = out.reshape(batch, self.n_targets, self.horizon, self.n_quantiles)
            out = out.transpose(1, 2)  # [B, H, C, Q]
        return out * scale[..., None] + loc[..., None], extra  # [B, H, C, Q], window scale

    def _target_units(self, targets: torch.Tensor) -> torch.Tensor:
        """``[B, H, C]`` -> ``[B*U, H, unit_targets]``, the layout of the decoder."""
        if not self.channel_independent:
            return targets
        batch, steps, channels = targets.shape
        return targets.transpose(1, 2).reshape(batch * channels, steps, 1)

    def _to_units(self, targets, covariates, future):
        """Channel independence: ``[B, T, C]`` -> ``[B*C, T, 1 + n_cov]``."""
        # No empty covariate tensors: ONNX's Reshape reads a 0 in a shape as "keep
        # this axis", so an exported graph would mishandle them.
        if not self.channel_independent:
            if not self.n_covariates:
                return targets, future
            return torch.cat([targets, covariates], dim=-1), future
        batch, steps, channels = targets.shape
        per_channel = targets.transpose(1, 2).reshape(batch * channels, steps, 1)  # [B*C, T, 1]
        if future is not None:
            future = _repeat_rows(future, channels)  # [B*C, H, n_future]
        if not self.n_covariates:
            return per_channel, future
        cov = _repeat_rows(covariates, channels)  # [B*C, T, n_cov]
        return torch.cat([per_channel, cov], dim=-1), future

    def _segments(self, x: torch.Tensor, n_segments: int) -> torch.Tensor:
        """``[B, T, f]`` -> ``[B, n_segments, segment_len * f]``, padding the start."""
        batch, steps, feats = x.shape
        pad = n_segments * self.segment_len - steps
        if pad > 0:  # repeat the first step: zeros would read as a jump after normalization
            x = torch.cat([x[:, :1].expand(-1, pad, -1), x], dim=1)
        return x.reshape(batch, n_segments, self.segment_len * feats)

    def _encode_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.segment_len == 1:
            return x  # [B, T, f]
        return self.embed(self._segments(x, self.n_in_segments))  # [B, T/s, hidden]

    def _decode(self, units: torch.Tensor, future: torch.Tensor | None, targets=None):
        """``[N, T, f]`` units -> ``([N, H, unit_targets, Q], None)``."""
        n = units.shape[0]
        out_shape = (n, self.horizon, self.unit_targets, self.n_quantiles)
        outputs, state = self.encoder(self._encode_input(units))
        if self.strategy == "recursive":
            return self._recursive(units, future, outputs, state).reshape(out_shape), None
        summary = self.encoder.summary(outputs)  # [N, D*H]
        if self.strategy == "direct":
            parts = [summary] if future is None else [summary, future.reshape(n, -1)]
            out = self.head(self.head_dropout(torch.cat(parts, dim=-1)))  # [N, H*U*Q]
            return out.reshape(out_shape), None
        # parallel: every output segment decodes one step from the same final state.
        m = self.n_out_segments
        step_in = self.position.expand(n, -1, -1)  # [N, m, W]
        if self.future_embed is not None:
            fut = self._pad_end(future, m * self.segment_len)  # [N, m*s, n_future]
            step_in = step_in + self.future_embed(fut.reshape(n, m, -1))
        step_in = step_in.reshape(n * m, 1, -1)  # [N*m, 1, W]
        h0 = _repeat_rows(summary, m)[None]  # [1, N*m, W]
        init = (h0, torch.zeros_like(h0)) if self.encoder.cell == "lstm" else h0
        dec, _ = self.decoder(step_in, init)  # [N*m, 1, W]
        out = self.head(self.head_dropout(dec[:, 0]))  # [N*m, s*U*Q]
        out = out.reshape(n, m * self.segment_len, self.unit_targets, self.n_quantiles)
        return out[:, : self.horizon], None

    def _recursive(self, units, future, encoded, state) -> torch.Tensor:
        n, s = units.shape[0], self.segment_len
        past = units[:, -1:, self.unit_targets : units.shape[-1] - self.n_future]  # [N, 1, p]
        if future is not None:
            future = self._pad_end(future, self.n_out_segments * s)  # [N, m*s, n_future]
        outputs = []
        for j in range(self.n_out_segments):
            head_in = [self.encoder.summary(encoded)]  # [N, H]
            if future is not None:
                head_in.append(future[:, j * s : (j + 1) * s].reshape(n, -1))  # [N, s*nf]
            seg = self.head(self.head_dropout(torch.cat(head_in, dim=-1)))  # [N, s*U*Q]
            seg = seg.reshape(n, s, self.unit_targets, self.n_quantiles)
            outputs.append(seg)
            if j == self.n_out_segments - 1:
                break
            point = self._quantiles(seg)[..., self.n_quantiles // 2]  # [N, s, U], the median
            step = [point, past.expand(-1, s, -1)]
            if future is not None:
                step.append(future[:, j * s : (j + 1) * s])
            step = torch.cat(step, dim=-1)  # [N, s, unit_features]
            step = step if s == 1 else self.embed(step.reshape(n, 1, -1))  # [N, 1, .]
            encoded, state = self.encoder(step, state)
        return torch.cat(outputs, dim=1)[:, : self.horizon]  # [N, H, U, Q]

    @staticmethod
    def _pad_end(x: torch.Tensor, steps: int) -> torch.Tensor:
        pad = steps - x.shape[1]
        return x if pad == 0 else torch.cat([x, x[:, -1:].expand(-1, pad, -1)], dim=1)

    def _quantiles(self, out: torch.Tensor) -> torch.Tensor:
        """Non-crossing quantiles: the lowest, then positive increments."""
        if self.n_quantiles == 1:
            return out
        steps = F.softplus(out[..., 1:])
        return torch.cat([out[..., :1], out[..., :1] + steps.cumsum(dim=-1)], dim=-1)



def _repeat_rows(x: torch.Tensor, times: int) -> torch.Tensor:
    """``x.repeat_interleave(times, dim=0)``, written as a view and a reshape: the
    ONNX exporter turns ``repeat_interleave`` into a graph fixed to the traced batch."""
    rest = x.shape[1:]
    return x[:, None].expand(-1, times, *rest).reshape(x.shape[0] * times, *rest)  # [B*t, ...]
