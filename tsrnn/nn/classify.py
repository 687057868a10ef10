"""Sequence classification and tagging network: (embedding), recurrent encoder, linear head."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import nn

from tsrnn.nn.encoder import Cell, RecurrentEncoder, State

__all__ = ["OUTPUTS", "SequenceNet", "detach_state"]

Output = Literal["last", "sequence"]
OUTPUTS: tuple[str, ...] = ("last", "sequence")


class SequenceNet(nn.Module):
    """Class logits for padded sequences: one per sequence, or one per step.

    Parameters
    ----------
    input_size
        Features per step; ignored when ``vocab_size`` is set.
    n_classes
        Classes.
    output
        ``"last"``: the encoder's summary at each sequence's true end (the backward
        direction's first step when bidirectional) feeds the head; ``"sequence"``:
        every step's output does.
    vocab_size, embedding_dim
        With ``vocab_size``, inputs are token ids ``[B, T]`` looked up in an
        ``nn.Embedding(vocab_size, embedding_dim)``.
    cell, hidden_size, num_layers, bidirectional, dropout, recurrent_dropout, layer_norm,
    nonlinearity, learn_initial_state
        The :class:`RecurrentEncoder`.
    """

    def __init__(
        self,
        input_size: int,
        n_classes: int,
        *,
        output: Output = "last",
        vocab_size: int | None = None,
        embedding_dim: int = 16,
        cell: Cell = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        nonlinearity: str = "tanh",
        learn_initial_state: bool = False,
    ):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.output = output
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, embedding_dim)
        self.encoder = RecurrentEncoder(
            input_size if vocab_size is None else embedding_dim, hidden_size, cell, num_layers,
            bidirectional=bidirectional, dropout=dropout, recurrent_dropout=recurrent_dropout,
            layer_norm=layer_norm, nonlinearity=nonlinearity,
            learn_initial_state=learn_initial_state)
        self.head_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None,
                h0: torch.Tensor | None = None) -> torch.Tensor:
        """Logits.

        Parameters
        ----------
        x
            ``[B, T, input_size]`` features, or ``[B, T]`` token ids.
        lengths
            ``[B]`` true lengths; padded steps never change a logit of a true step.
            Default: no padding.
        h0
            ``[B, num_layers * num_directions, hidden_size]``: each sequence's initial
            hidden state (an LSTM's cell state starts at zero). Default: zeros, or the
            encoder's learned initial state.

        Returns
        -------
        ``[B, n_classes]`` for ``output="last"``, ``[B, T, n_classes]`` for
        ``"sequence"`` (padded steps' logits are the head's bias).
        """
        out, _ = self.encoder(self._embed(x), self._state(h0), lengths,
                              final_state=False)  # [B, T, D*H]; the state is not needed
        if self.output == "last":
            return self.head(self.head_dropout(self.encoder.summary(out, lengths)))  # [B, C]
        return self.head(self.head_dropout(out))  # [B, T, C]

    def chunks(self, x: torch.Tensor, lengths: torch.Tensor | None, steps: int,
               h0: torch.Tensor | None = None
               ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """Truncated backpropagation through time: run ``x`` in chunks of ``steps``.

        The state is carried from chunk to chunk and detached between them, so a
        loss on one chunk sends no gradient into an earlier one. Unidirectional
        encoders only (a backward direction would need the future).

        Yields
        ------
        start
            The chunk's first step.
        logits
            ``"last"``: ``[B, C]`` from each sequence's last step within the chunk;
            ``"sequence"``: ``[B, k, C]`` for the chunk's steps.
        ends
            ``[B]`` bool: the sequences whose true end lies in this chunk (for
            ``"last"``, where their loss belongs).
        """
        if self.encoder.num_directions != 1:
            raise ValueError("truncated BPTT needs a unidirectional encoder "
                             "(bidirectional=False)")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        batch, total = x.shape[:2]
        if lengths is None:
            lengths = torch.full((batch,), total, dtype=torch.long)
        lengths = lengths.to(x.device)
        state = self._state(h0)
        for start in range(0, total, steps):
            stop = min(start + steps, total)
            inside = (lengths - start).clamp(0, stop - start)  # [B] steps in this chunk
            out, state = self.encoder(self._embed(x[:, start:stop]), state, inside)
            ends = (lengths > start) & (lengths <= stop)  # [B]
            if self.output == "last":
                logits = self.head(self.head_dropout(self.encoder.summary(out, inside)))
            else:
                logits = self.head(self.head_dropout(out))  # [B, k, C]
            yield start, logits, ends
            state = detach_state(state)

    def _state(self, h0: torch.Tensor | None) -> State | None:
        """Batch-major initial hidden states -> the encoder's layout."""
        if h0 is None or h0.numel() == 0:
            return None
        h = h0.transpose(0, 1).contiguous()  # [B, L*D, H] -> [L*D, B, H]
        return (h, torch.zeros_like(h)) if self.encoder.cell == "lstm" else h

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:
            return x
        return self.embedding(x)  # [B, T] -> [B, T, E]


def detach_state(state: State) -> State:
    """Cut the graph behind a recurrent state (a tensor, or LSTM's pair)."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
