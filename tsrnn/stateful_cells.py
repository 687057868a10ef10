"""The recurrent cells of a stateful detector's network as numpy arrays, one step
at a time for a batch of series (:class:`~tsrnn.stateful_stream.StatefulStream`).

For a batch of one, numpy's step runs about ten times faster than torch's call
overhead allows, and gives the network's outputs (float32 rounding apart).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from tsrnn.nn.ensemble import members_of

__all__ = ["Cells"]


class Cells:
    """The members' recurrent layers and heads as numpy arrays, stacked over members
    ``[M, ...]``, and one step of them for a batch of series."""

    def __init__(self, net, n_targets: int):
        members = members_of(net)
        enc = members[0].encoder
        self.kind, self.layers, self.hidden = enc.cell, enc.num_layers, enc.hidden_size
        self.members, self.inputs = len(members), enc.input_size
        size = self.hidden
        self.relu = enc.cell == "rnn" and enc.layers[0].nonlinearity == "relu"

        def stack(tensors) -> np.ndarray:
            return np.stack([t.detach().cpu().numpy().astype(np.float32) for t in tensors])

        self.weights = []
        for i in range(self.layers):
            layers = [m.encoder.layers[i] for m in members]
            w_ih, w_hh, b_ih, b_hh = (stack([getattr(layer, f"{name}_l0") for layer in layers])
                                      for name in ("weight_ih", "weight_hh", "bias_ih",
                                                   "bias_hh"))
            w_ih, w_hh = w_ih.transpose(0, 2, 1), w_hh.transpose(0, 2, 1)  # [M, In, G]
            b_hn = None
            if self.kind == "gru":
                # [x, h] @ w gives r and z summed, then the new gate's x and h parts
                # apart (r multiplies the h part): [M, I + H, 4H].
                n_in, zero = w_ih.shape[1], np.zeros((len(members), w_hh.shape[1], size))
                w_ih = np.concatenate([w_ih, np.zeros((len(members), n_in, size))], axis=2)
                w_hh = np.concatenate([w_hh[..., :2 * size], zero, w_hh[..., 2 * size:]],
                                      axis=2)
                b = np.concatenate([b_ih[:, :2 * size] + b_hh[:, :2 * size],
                                    b_ih[:, 2 * size:]], axis=1)[:, None]  # [M, 1, 3H]
                b = np.concatenate([b, np.zeros((len(members), 1, size))], axis=2)
                b_hn = b_hh[:, None, 2 * size:]  # [M, 1, H]
            else:
                b = (b_ih + b_hh)[:, None]  # [M, 1, G]
            w = np.ascontiguousarray(np.concatenate([w_ih, w_hh], axis=1), dtype=np.float32)
            norm = None
            if enc.norms is not None:
                norms = [m.encoder.norms[i] for m in members]
                norm = (stack([n.weight for n in norms])[:, None],  # [M, 1, H]
                        stack([n.bias for n in norms])[:, None], norms[0].eps)
            self.weights.append((w, b.astype(np.float32), b_hn, norm))
        # Only the targets' predictions are scored: the head's other rows are skipped.
        head_w = stack([m.head.weight for m in members])[:, :n_targets]  # [M, F, H]
        self.head_w = np.ascontiguousarray(head_w.transpose(0, 2, 1))  # [M, H, F]
        self.head_b = stack([m.head.bias for m in members])[:, None, :n_targets]  # [M, 1, F]

    def step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray | None):
        """One step of ``x [S, I]`` from states ``h, c [M, L, S, H]``: the new states
        and each member's prediction of the next step's targets ``[M, S, F]``."""
        members, _, batch, size = h.shape
        out = x  # [S, I], shared by the members; then [M, S, H]
        hs, cs = np.empty_like(h), None if c is None else np.empty_like(c)
        for i, (w, b, b_hn, norm) in enumerate(self.weights):
            n_in = w.shape[1] - size
            both = np.empty((members, batch, n_in + size), np.float32)  # [M, S, I + H]
            both[..., :n_in], both[..., n_in:] = out, h[:, i]
            g = np.matmul(both, w) + b  # [M, S, G] (GRU: [M, S, 4H], see __init__)
            if self.kind == "lstm":  # torch's gate order: input, forget, cell, output
                gates = expit(g)
                cell = gates[..., size:2 * size] * c[:, i] + gates[..., :size] * np.tanh(
                    g[..., 2 * size:3 * size])
                new = gates[..., 3 * size:] * np.tanh(cell)
                cs[:, i] = cell
            elif self.kind == "gru":  # reset, update, then the new gate's input and
                rz = expit(g[..., :2 * size])  # hidden parts apart
                n = np.tanh(g[..., 2 * size:3 * size]
                            + rz[..., :size] * (g[..., 3 * size:] + b_hn))
                new = n + rz[..., size:] * (h[:, i] - n)
            else:
                new = np.maximum(g, 0.0) if self.relu else np.tanh(g)
            hs[:, i] = new
            out = new if norm is None else _layer_norm(new, *norm)
        pred = np.matmul(out, self.head_w) + self.head_b  # [M, S, F]
        return hs, cs, pred


def _layer_norm(x: np.ndarray, weight, bias, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = np.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias
