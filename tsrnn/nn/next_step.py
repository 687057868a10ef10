"""`NextStepNet`: a recurrent encoder whose output at step t predicts the inputs at
step t + 1. The network of the detector's stateful mode: its state carries the
whole past, so a new point costs one cell step."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from tsrnn.nn.classify import detach_state
from tsrnn.nn.encoder import Cell, RecurrentEncoder, State

__all__ = ["NextStepNet"]


class NextStepNet(nn.Module):
    """One-step-ahead prediction at every step of a sequence, carrying its state.

    Parameters
    ----------
    input_size
        Features per step; the prediction has as many.
    cell, hidden_size, num_layers, dropout, layer_norm
        The (unidirectional) :class:`RecurrentEncoder`.
    """

    def __init__(self, input_size: int, *, cell: Cell = "lstm", hidden_size: int = 64,
                 num_layers: int = 1, dropout: float = 0.0, layer_norm: bool = False):
        super().__init__()
        self.encoder = RecurrentEncoder(input_size, hidden_size, cell, num_layers,
                                        dropout=dropout, layer_norm=layer_norm)
        self.head = nn.Linear(hidden_size, input_size)

    def forward(self, x: torch.Tensor, state: State | None = None
                ) -> tuple[torch.Tensor, State]:
        """Predictions ``[B, T, input_size]`` (step t's is for step t + 1) and the
        final state, from ``x [B, T, input_size]`` and the state before it (None:
        zeros, a series' start)."""
        out, final = self.encoder(x, state)  # [B, T, H]
        return self.head(out), final  # [B, T, input_size]

    def chunks(self, x: torch.Tensor, steps: int
               ) -> Iterator[tuple[int, torch.Tensor]]:
        """Truncated backpropagation through time: ``x [B, T, I]`` in chunks of
        ``steps``, the state carried from chunk to chunk and detached between them.
        Yields each chunk's first step and its predictions ``[B, k, I]``."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        state = None
        for start in range(0, x.shape[1], steps):
            pred, state = self(x[:, start:start + steps], state)  # [B, k, I]
            yield start, pred
            state = detach_state(state)
