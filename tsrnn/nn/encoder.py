"""The recurrent encoder every tsrnn model is built on (forecasters, detector, classifier)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tsrnn.nn.fast_gru import FastGRU, gru_forward

__all__ = ["CELLS", "RecurrentEncoder", "reverse_within"]

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

    def forward(
        self, x: torch.Tensor, state: State | None = None, lengths: torch.Tensor | None = None,
        *, final_state: bool = True,
    ) -> tuple[torch.Tensor, State | None]:
        """Run the stack.

        Parameters
        ----------
        x
            ``[B, T, input_size]``.
        state
            Initial state as torch's recurrent layers take it: ``h0`` of shape
            ``[num_layers * num_directions, B, hidden_size]``, or ``(h0, c0)`` for
            LSTM. Default: zeros, or the learned initial state.
        lengths
            ``[B]`` integer true length of each sequence, in ``[0, T]``; steps from
            ``lengths[b]`` on are padding. Padding never reaches an output, a final
            state or the backward direction, which starts at each sequence's own last
            step. A sequence of length 0 keeps its initial state. Default: every
            sequence has ``T`` steps.
        final_state
            False: the caller only reads ``outputs``. With ``lengths``, LSTM layers
            on CPU then keep torch's fused kernel (about 20x faster than packed
            sequences there), and the returned state may be None.

        Returns
        -------
        outputs
            ``[B, T, num_directions * hidden_size]``, the last layer at every step;
            zero on padded steps.
        state
            Final state in the same layout as ``state``: for padded sequences, the
            state at each sequence's last true step. With ``final_state=False``, None
            where computing it would cost (an LSTM over padded sequences on CPU).
        """
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input [batch, time, {self.input_size}], got {tuple(x.shape)}"
            )
        if state is None and self.initial_state is not None:
            init = self.initial_state.expand(-1, -1, x.shape[0], -1)  # [S, L*D, B, H]
            state = (init[0], init[1]) if self.cell == "lstm" else init[0]
        if lengths is not None:
            lengths = _check_lengths(lengths, x.shape[0], x.shape[1]).to(x.device)
            if bool((lengths == x.shape[1]).all()):
                lengths = None  # nothing is padded: the plain path is the same, and faster
            elif not bool(lengths.all()):
                return self._with_empty(x, state, lengths, final_state)
        per_layer = _split_layers(state, self.num_layers, self.num_directions)
        finals = []
        out = x
        for i, layer in enumerate(self.layers):
            if i > 0:
                out = self.dropout(out)
            if self.training and self.recurrent_dropout > 0:
                out, final = self._unrolled(layer, out, per_layer[i], lengths)
            elif lengths is not None:
                out, final = self._masked(layer, out, per_layer[i], lengths, final_state)
            else:
                out, final = layer(out, per_layer[i])  # [B, T, D*H]
            if self.norms is not None:
                out = self.norms[i](out)
            finals.append(final)
        if lengths is not None:
            out = out * _step_mask(lengths, x.shape[1]).unsqueeze(-1).to(out.dtype)
        return out, _join_layers(finals, self.cell)

    def summary(self, outputs: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """What a head reads: the last layer at the end of the sequence, ``[B, D*H]``.

        The forward direction's last step and the backward direction's first step,
        taken from the output sequence. Without ``layer_norm`` this equals the final
        hidden state; with it, it is the normalized one. With ``lengths``, the
        forward direction's last step is each sequence's last true step.
        """
        if lengths is None:
            last = outputs[:, -1]  # [B, D*H]
        else:
            index = (lengths.to(outputs.device).long() - 1).clamp(min=0)  # [B]
            last = outputs[torch.arange(outputs.shape[0], device=outputs.device), index]
        if self.num_directions == 1:
            return last
        h = self.hidden_size
        return torch.cat([last[:, :h], outputs[:, 0, h:]], dim=-1)

    def _with_empty(self, x: torch.Tensor, state, lengths: torch.Tensor, final_state: bool):
        """Run the sequences that have steps; the empty ones keep their initial state.

        Truncated BPTT cuts sequences into chunks, and a short sequence has none left
        in the later chunks; packing refuses zero lengths.
        """
        active = lengths > 0  # [B]
        batch, steps = x.shape[:2]
        width = self.output_size
        if state is None:
            shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
            zero = x.new_zeros(shape)
            state = (zero, zero) if self.cell == "lstm" else zero
        out = x.new_zeros(batch, steps, width)  # [B, T, D*H]
        if not bool(active.any()):
            return out, state
        idx = active.nonzero().squeeze(1).to(x.device)  # [B_active]
        sub_state = tuple(s[:, idx] for s in state) if isinstance(state, tuple) \
            else state[:, idx]
        sub_out, sub_final = self(x[idx], sub_state, lengths[active], final_state=final_state)
        out = out.index_copy(0, idx, sub_out)
        if sub_final is None:
            return out, None
        if isinstance(state, tuple):
            final = tuple(s.index_copy(1, idx, f) for s, f in zip(state, sub_final, strict=True))
        else:
            final = state.index_copy(1, idx, sub_final)
        return out, final

    def _masked(self, layer: nn.Module, x: torch.Tensor, state, lengths: torch.Tensor,
                final_state: bool):
        """One fused layer over padded sequences of the given lengths."""
        if x.device.type != "cpu" or (self.cell == "lstm" and final_state):
            # cuDNN runs packed batches fast; and only packing gives an LSTM's cell
            # state at each sequence's own end. Packed, torch's kernels skip the
            # padding and return the final state in the batch's order.
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            out, final = layer(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            return out, final  # [B, T, D*H]
        # On CPU a packed batch leaves the fused kernels (20x slower for an LSTM), and
        # FastGRU takes none. The forward direction is causal, so padding only reaches
        # outputs after each sequence's end, and the final hidden state is the output
        # at the last true step. The backward direction runs forwards over each
        # sequence reversed within its own length; its outputs are then put back.
        batch = torch.arange(x.shape[0], device=x.device)
        last = lengths.to(x.device).long() - 1  # [B]
        outputs, finals = [], []
        for d in range(self.num_directions):
            seq = reverse_within(x, lengths) if d else x  # [B, T, I]
            h0 = None if state is None else _direction(state, d)
            out = self._run_direction(layer, d, seq, h0)  # [B, T, H]
            finals.append(out[batch, last])  # [B, H]
            outputs.append(reverse_within(out, lengths) if d else out)
        final = None if self.cell == "lstm" else torch.stack(finals)  # [D, B, H]
        return torch.cat(outputs, dim=-1), final  # [B, T, D*H]

    def _run_direction(self, layer: nn.Module, d: int, x: torch.Tensor, h0) -> torch.Tensor:
        """Direction ``d``'s weights of a one-layer fused layer, run forwards in time:
        outputs ``[B, T, H]``."""
        suffix = "_l0_reverse" if d else "_l0"
        params = [getattr(layer, name + suffix)
                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if isinstance(layer, FastGRU):
            return gru_forward(x, h0, *params)[0]
        zero = x.new_zeros(1, x.shape[0], self.hidden_size)
        # torch._VF is what nn.RNN/nn.LSTM call; given one direction's weights, it is
        # that direction as a unidirectional layer, on the same fused kernel.
        if self.cell == "lstm":
            hx = (zero, zero) if h0 is None else (h0[0][None], h0[1][None])
            return torch._VF.lstm(x, hx, params, True, 1, 0.0, self.training, False, True)[0]
        run = torch._VF.rnn_tanh if layer.nonlinearity == "tanh" else torch._VF.rnn_relu
        hx = zero if h0 is None else h0[None]
        return run(x, hx, params, True, 1, 0.0, self.training, False, True)[0]

    def _unrolled(self, layer: nn.Module, x: torch.Tensor, state, lengths=None):
        """One layer step by step, with a variational dropout mask on the hidden state.

        With ``lengths``, a sequence's state stops changing after its last true step,
        and the backward direction runs over each sequence reversed within its length.
        """
        batch, steps, _ = x.shape
        alive = None if lengths is None else _step_mask(lengths, steps)  # [B, T]
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
            inputs = x if d == 0 or lengths is None else reverse_within(x, lengths)
            order = range(steps) if d == 0 or lengths is not None else range(steps - 1, -1, -1)
            for t in order:
                if self.cell == "lstm":
                    h_new, c_new = cell(inputs[:, t], (h * mask, c))
                else:
                    h_new = cell(inputs[:, t], h * mask)
                if alive is None:
                    h, c = h_new, (c_new if self.cell == "lstm" else None)
                else:
                    on = alive[:, t, None]  # [B, 1]
                    h = torch.where(on, h_new, h)
                    c = torch.where(on, c_new, c) if self.cell == "lstm" else None
                seq.append(h)
            if d == 1 and lengths is None:
                seq.reverse()
            out = torch.stack(seq, dim=1)  # [B, T, H]
            if d == 1 and lengths is not None:
                out = reverse_within(out, lengths)
            outputs.append(out)
            finals.append((h, c) if self.cell == "lstm" else h)
        out = torch.cat(outputs, dim=-1)  # [B, T, D*H]
        if self.cell == "lstm":
            final = (torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals]))
        else:
            final = torch.stack(finals)  # [D, B, H]
        return out, final


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of ``x [B, T, ...]`` within its own length; padding stays put.

    Step ``t < lengths[b]`` of sequence ``b`` moves to ``lengths[b] - 1 - t``. Applying
    it twice gives ``x`` back.
    """
    steps = x.shape[1]
    t = torch.arange(steps, device=x.device)  # [T]
    n = lengths.to(x.device).long()[:, None]  # [B, 1]
    index = torch.where(t < n, n - 1 - t, t)  # [B, T]
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)  # [B, T, ...]
    return torch.gather(x, 1, index)


def _step_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """``[B, T]`` True on each sequence's true steps."""
    t = torch.arange(steps, device=lengths.device)
    return t[None, :] < lengths[:, None]


def _check_lengths(lengths, batch: int, steps: int) -> torch.Tensor:
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (batch,) or lengths.dtype.is_floating_point or lengths.is_complex():
        raise ValueError(f"lengths must be {batch} integers, got {tuple(lengths.shape)} "
                         f"{lengths.dtype}")
    if bool((lengths < 0).any()) or bool((lengths > steps).any()):
        raise ValueError(f"lengths must lie in [0, {steps}], got {lengths.tolist()}")
    return lengths.long()


def _split_layers(state, layers: int, directions: int) -> list:
    """Torch's stacked state ``[L*D, B, H]`` -> one ``[D, B, H]`` state per layer."""
    if state is None:
        return [None] * layers
    if isinstance(state, tuple):
        hs, cs = state[0].split(directions), state[1].split(directions)
        return list(zip(hs, cs, strict=True))
    return list(state.split(directions))


def _join_layers(finals: list, cell: str) -> State | None:
    if any(f is None for f in finals):
        return None
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
