"""The recurrent encoder every tsrnn model is built on (forecasters, detector, classifier)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from tsrnn.nn.fast_gru import FastGRU

__all__ = ["CELLS", "RecurrentEncoder"]

Cell = Literal["rnn", "lstm", "gru"]
CELLS: tuple[str, ...] = ("rnn", "lstm", "gru")
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

# FastGRU is nn.GRU with a hand-written backward on CPU, where torch's own GRU
# trains about 2.5x slower than its LSTM (see tsrnn/nn/fast_gru.py).
_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": FastGRU}
_CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class RecurrentEncoder(nn.Module):
    """Stacked Elman RNN, LSTM or GRU layers over ``[B, T, F]`` sequences.

    Each layer passes its whole output sequence to the next.

    Parameters
    ----------
    input_size
        Features per step.
    hidden_size
        Units per layer and direction.
    cell
        ``"rnn"`` (Elman), ``"lstm"`` or ``"gru"``.
    num_layers
        Stacked layers.
    bidirectional
        Also run each layer backwards in time; outputs concatenate both directions.
    dropout
        Dropout on the outputs of every layer but the last (between layers).
    recurrent_dropout
        Variational recurrent dropout (Gal & Ghahramani, 2016): one dropout mask per
        sequence on the hidden state, reused at every step. It needs the step-by-step
        cells instead of torch's fused kernels, so training is several times slower;
        evaluation uses the fused kernels.
    layer_norm
        Layer-normalize each layer's output sequence. (Normalizing inside the cell
        would also leave the fused kernels; between layers it costs little.)
    nonlinearity
        ``"tanh"`` or ``"relu"``, for the Elman cell only.
    learn_initial_state
        Learn the initial hidden (and cell) state instead of starting from zeros.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        cell: Cell = "gru",
        num_layers: int = 1,
        *,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        learn_initial_state: bool = False,
    ):
        super().__init__()
        if cell not in _LAYERS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        for name, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        if num_layers < 1 or hidden_size < 1 or input_size < 1:
            raise ValueError("input_size, hidden_size and num_layers must be >= 1")
        self.input_size, self.hidden_size, self.cell = input_size, hidden_size, cell
        self.num_layers, self.bidirectional = num_layers, bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.recurrent_dropout = recurrent_dropout
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        width = hidden_size * self.num_directions
        self.layers = nn.ModuleList(
            _LAYERS[cell](input_size if i == 0 else width, hidden_size, batch_first=True,
                          bidirectional=bidirectional, **extra)
            for i in range(num_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(num_layers)) \
            if layer_norm else None
        self.dropout = nn.Dropout(dropout)
        n_states = 2 if cell == "lstm" else 1
        self.initial_state = (
            nn.Parameter(torch.zeros(n_states, num_layers * self.num_directions, 1, hidden_size))
            if learn_initial_state else None
        )

    @property
    def output_size(self) -> int:
        """Features per step of the output sequence."""
        return self.hidden_size * self.num_directions

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Run the stack.

        Parameters
        ----------
        x
            ``[B, T, input_size]``.
        state
            Initial state as torch's recurrent layers take it: ``h0`` of shape
            ``[num_layers * num_directions, B, hidden_size]``, or ``(h0, c0)`` for
            LSTM. Default: zeros, or the learned initial state.

        Returns
        -------
        outputs
            ``[B, T, num_directions * hidden_size]``, the last layer at every step.
        state
            Final state in the same layout as ``state``.
        """
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input [batch, time, {self.input_size}], got {tuple(x.shape)}"
            )
        if state is None and self.initial_state is not None:
            init = self.initial_state.expand(-1, -1, x.shape[0], -1)  # [S, L*D, B, H]
            state = (init[0], init[1]) if self.cell == "lstm" else init[0]
        per_layer = _split_layers(state, self.num_layers, self.num_directions)
        finals = []
        out = x
        for i, layer in enumerate(self.layers):
            if i > 0:
                out = self.dropout(out)
            if self.training and self.recurrent_dropout > 0:
                out, final = self._unrolled(layer, out, per_layer[i])
            else:
                out, final = layer(out, per_layer[i])  # [B, T, D*H]
            if self.norms is not None:
                out = self.norms[i](out)
            finals.append(final)
        return out, _join_layers(finals, self.cell)

    def summary(self, outputs: torch.Tensor) -> torch.Tensor:
        """What a head reads: the last layer at the end of the sequence, ``[B, D*H]``.

        The forward direction's last step and the backward direction's first step,
        taken from the output sequence. Without ``layer_norm`` this equals the final
        hidden state; with it, it is the normalized one.
        """
        if self.num_directions == 1:
            return outputs[:, -1]
        h = self.hidden_size
        return torch.cat([outputs[:, -1, :h], outputs[:, 0, h:]], dim=-1)

    def _unrolled(self, layer: nn.Module, x: torch.Tensor, state):
        """One layer step by step, with a variational dropout mask on the hidden state."""
        batch, steps, _ = x.shape
        outputs, finals = [], []
        for d in range(self.num_directions):
            cell = _cell_view(layer, self.cell, d)
            h0 = None if state is None else _direction(state, d)
            h = torch.zeros(batch, self.hidden_size, dtype=x.dtype, device=x.device) \
                if h0 is None else (h0[0] if self.cell == "lstm" else h0)
            c = (torch.zeros_like(h) if h0 is None else h0[1]) if self.cell == "lstm" else None
            keep = 1.0 - self.recurrent_dropout
            mask = torch.bernoulli(torch.full_like(h, keep)) / keep  # [B, H], one per sequence
            seq = []
            order = range(steps) if d == 0 else range(steps - 1, -1, -1)
            for t in order:
                if self.cell == "lstm":
                    h, c = cell(x[:, t], (h * mask, c))
                else:
                    h = cell(x[:, t], h * mask)
                seq.append(h)
            if d == 1:
                seq.reverse()
            outputs.append(torch.stack(seq, dim=1))  # [B, T, H]
            finals.append((h, c) if self.cell == "lstm" else h)
        out = torch.cat(outputs, dim=-1)  # [B, T, D*H]
        if self.cell == "lstm":
            final = (torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals]))
        else:
            final = torch.stack(finals)  # [D, B, H]
        return out, final


def _split_layers(state, layers: int, directions: int) -> list:
    """Torch's stacked state ``[L*D, B, H]`` -> one ``[D, B, H]`` state per layer."""
    if state is None:
        return [None] * layers
    if isinstance(state, tuple):
        hs, cs = state[0].split(directions), state[1].split(directions)
        return list(zip(hs, cs, strict=True))
    return list(state.split(directions))


def _join_layers(finals: list, cell: str) -> State:
    if cell == "lstm":
        return torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals])
    return torch.cat(finals)  # [L*D, B, H]


def _direction(state, d: int):
    if isinstance(state, tuple):
        return state[0][d], state[1][d]
    return state[d]


def _cell_view(layer: nn.Module, cell: str, direction: int) -> nn.Module:
    """A step cell sharing the weights of one direction of a fused layer."""
    suffix = "_reverse" if direction else ""
    step = _CELLS[cell].__new__(_CELLS[cell])
    nn.Module.__init__(step)
    step.input_size, step.hidden_size, step.bias = layer.input_size, layer.hidden_size, True
    if cell == "rnn":
        step.nonlinearity = layer.nonlinearity
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(step, name, getattr(layer, f"{name}_l0{suffix}"))
    return step
