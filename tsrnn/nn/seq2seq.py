"""Encoder-decoder forecaster with Bahdanau or Luong attention.

The encoder is the same :class:`~tsrnn.nn.RecurrentEncoder` as the direct
forecaster's (stacked, bidirectional if asked); a bridge maps its final state to
the decoder's. The decoder unrolls the horizon one segment at a time: it is fed its
previous output and that segment's known-future covariates, and attends over every
encoder step. Window normalization, channel independence and segments work as in
:class:`~tsrnn.nn.ForecastNet`, which this class extends.
"""

from __future__ import annotations

import torch
from torch import nn

from tsrnn.nn.attention import ATTENTIONS, make_attention
from tsrnn.nn.encoder import Cell
from tsrnn.nn.forecast import ForecastNet

__all__ = ["Seq2SeqNet"]

_STEP_CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class Seq2SeqNet(ForecastNet):
    """Recurrent encoder-decoder with attention.

    Parameters
    ----------
    *args, **kwargs
        As :class:`~tsrnn.nn.ForecastNet` (``strategy`` does not apply).
    attention
        ``"bahdanau"`` (additive; the context enters the decoder's input),
        ``"luong"`` (multiplicative, "general": ``q^T W k``), ``"luong_dot"``
        (``q^T k``), or None (a plain encoder-decoder). With Luong attention the
        context is computed from the decoder's new state.
    teacher_forcing
        Probability, per sequence and decoder step, of feeding the true previous
        segment instead of the prediction while training. Never used in evaluation.
    """

    def __init__(self, *args, attention: str | None = "bahdanau",
                 teacher_forcing: float = 0.0, **kwargs):
        if attention is not None and attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS} or None, got {attention!r}")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        self.attention_kind = attention
        kwargs["strategy"] = "direct"  # validated by the parent, replaced below
        super().__init__(*args, **kwargs)
        self.strategy = "seq2seq"
        self.teacher_forcing = teacher_forcing

    def _build_decoder(self, *, cell: Cell, hidden_size: int, nonlinearity: str) -> None:
        width = self.encoder.output_size  # keys: every encoder step, both directions
        s = self.segment_len
        self.bridge = nn.Linear(width, hidden_size)
        self.bridge_cell = nn.Linear(width, hidden_size) if cell == "lstm" else None
        context = width if self.attention_kind is not None else 0
        step_in = s * self.unit_targets + s * self.n_future
        if self.attention_kind == "bahdanau":
            step_in += context
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.decoder_cell = _STEP_CELLS[cell](step_in, hidden_size, **extra)
        self.attention = (make_attention(self.attention_kind, hidden_size, width)
                          if self.attention_kind is not None else None)
        self.head = nn.Linear(hidden_size + context, s * self.unit_targets * self.n_quantiles)

    def _decode(self, units: torch.Tensor, future: torch.Tensor | None, targets=None):
        """``units [N, T, f]`` -> forecasts ``[N, H, U, Q]`` and attention ``[N, m, S]``
        (decoder segments over encoder steps), or None without attention."""
        n, s, m = units.shape[0], self.segment_len, self.n_out_segments
        keys, _ = self.encoder(self._encode_input(units))  # [N, S, W]
        summary = self.encoder.summary(keys)  # [N, W]
        h = torch.tanh(self.bridge(summary))  # [N, hidden]
        c = torch.tanh(self.bridge_cell(summary)) if self.bridge_cell is not None else None
        # The decoder's first input is the last observed segment of the targets.
        history = self._segments(units[..., : self.unit_targets], self.n_in_segments)
        previous = history[:, -1]  # [N, s*U]
        if future is not None:
            future = self._pad_end(future, m * s).reshape(n, m, -1)  # [N, m, s*n_future]
        forcing = None
        if targets is not None and self.teacher_forcing > 0:
            forcing = self._pad_end(targets, m * s).reshape(n, m, -1)  # [N, m, s*U]
        prepared = self.attention.prepare(keys) if self.attention is not None else None

        outputs, weights = [], []
        for j in range(m):
            step = [previous] if future is None else [previous, future[:, j]]
            context = None
            if self.attention_kind == "bahdanau":
                context, w = self.attention(h, keys, prepared)  # [N, W], [N, S]
                step.append(context)
            step = torch.cat(step, dim=-1)
            if c is None:
                h = self.decoder_cell(step, h)
            else:
                h, c = self.decoder_cell(step, (h, c))
            if self.attention is not None and self.attention_kind != "bahdanau":
                context, w = self.attention(h, keys, prepared)
            head_in = h if context is None else torch.cat([h, context], dim=-1)
            out = self.head(self.head_dropout(head_in))  # [N, s*U*Q]
            out = out.reshape(n, s, self.unit_targets, self.n_quantiles)
            outputs.append(out)
            if self.attention is not None:
                weights.append(w)
            point = self._quantiles(out)[..., self.n_quantiles // 2].reshape(n, -1)  # [N, s*U]
            if forcing is not None:
                use_truth = torch.rand(n, 1, device=point.device) < self.teacher_forcing
                previous = torch.where(use_truth, forcing[:, j], point)
            else:
                previous = point
        out = torch.cat(outputs, dim=1)[:, : self.horizon]  # [N, H, U, Q]
        return out, (torch.stack(weights, dim=1) if weights else None)  # [N, m, S]

    @torch.no_grad()
    def attention_weights(self, inputs: torch.Tensor,
                          future: torch.Tensor | None = None) -> torch.Tensor:
        """Attention of every horizon step over every input step: ``[B, H, input_len]``.

        A segment's weight is spread evenly over its steps; with channel independence
        the weights are averaged over the target channels. Each row sums to 1.
        """
        if self.attention is None:
            raise ValueError("this model has no attention (attention=None)")
        _, weights = self._forecast(inputs, future, None)  # [B*U, m, S]
        s = self.segment_len
        w = weights.repeat_interleave(s, dim=1)[:, : self.horizon]  # [B*U, H, S]
        if s > 1:
            w = w.repeat_interleave(s, dim=2) / s  # [B*U, H, S*s]
            w = w[..., w.shape[-1] - self.input_len :]  # drop the padding at the start
            w = w / w.sum(dim=-1, keepdim=True)
        if self.channel_independent:
            w = w.reshape(inputs.shape[0], self.n_targets, self.horizon, -1).mean(dim=1)
        return w  # [B, H, input_len]
