"""Recurrent autoencoder for reconstruction-based anomaly scores."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from tsrnn.nn.encoder import Cell, RecurrentEncoder

__all__ = ["RecurrentAutoencoder"]


class RecurrentAutoencoder(nn.Module):
    """Compress a window into the encoder's final state, then rebuild it.

    The encoder is the forecasters' :class:`~tsrnn.nn.RecurrentEncoder`. The
    decoder is recurrent too: it starts from the (bridged) code and is fed the code
    at every step, so everything it rebuilds must pass through the bottleneck.

    Parameters
    ----------
    n_features
        Columns per step.
    window
        Steps per window.
    cell, hidden_size, num_layers, bidirectional, dropout, layer_norm, nonlinearity
        The encoder; the decoder is one layer of the same cell.
    """

    def __init__(self, n_features: int, window: int, *, cell: Cell = "lstm",
                 hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, layer_norm: bool = False,
                 nonlinearity: Literal["tanh", "relu"] = "tanh"):
        super().__init__()
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        self.n_features, self.window = n_features, window
        self.encoder = RecurrentEncoder(n_features, hidden_size, cell, num_layers,
                                        bidirectional=bidirectional, dropout=dropout,
                                        layer_norm=layer_norm, nonlinearity=nonlinearity)
        width = self.encoder.output_size
        self.bridge = nn.Linear(width, hidden_size)
        self.decoder = RecurrentEncoder(width, hidden_size, cell, 1, nonlinearity=nonlinearity)
        self.output = nn.Linear(hidden_size, n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, window, F]`` -> reconstruction ``[B, window, F]``."""
        if x.shape[1:] != (self.window, self.n_features):
            raise ValueError(f"expected windows [batch, {self.window}, {self.n_features}], "
                             f"got {tuple(x.shape)}")
        # No per-window normalization here, unlike the forecasters: a level the
        # training data never reached is exactly what should score high.
        outputs, _ = self.encoder(x)
        code = self.encoder.summary(outputs)  # [B, W]
        h0 = torch.tanh(self.bridge(code))[None]  # [1, B, H]
        init = (h0, torch.zeros_like(h0)) if self.decoder.cell == "lstm" else h0
        steps = code[:, None].expand(-1, self.window, -1)  # [B, window, W]
        out, _ = self.decoder(steps, init)  # [B, window, H]
        return self.output(out)  # [B, window, F]
