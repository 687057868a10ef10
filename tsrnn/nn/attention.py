"""Attention over encoder outputs: additive (Bahdanau) and multiplicative (Luong)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ATTENTIONS", "AdditiveAttention", "MultiplicativeAttention", "make_attention"]

ATTENTIONS: tuple[str, ...] = ("bahdanau", "luong", "luong_dot")


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015): ``score(q, k) = v^T tanh(W_q q + W_k k)``."""

    def __init__(self, query_size: int, key_size: int, attention_size: int | None = None):
        super().__init__()
        attention_size = attention_size or query_size
        self.query = nn.Linear(query_size, attention_size, bias=False)
        self.key = nn.Linear(key_size, attention_size)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def prepare(self, keys: torch.Tensor) -> torch.Tensor:
        """Project the keys once per sequence: ``[B, S, key] -> [B, S, attention]``."""
        return self.key(keys)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, prepared: torch.Tensor):
        """``query [B, q]`` over ``keys [B, S, key]`` -> context ``[B, key]``, weights
        ``[B, S]``."""
        scores = self.v(torch.tanh(prepared + self.query(query)[:, None])).squeeze(-1)  # [B, S]
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights[:, None], keys).squeeze(1), weights  # [B, key], [B, S]


class MultiplicativeAttention(nn.Module):
    """Luong et al. (2015): ``score(q, k) = q^T W k`` ("general") or ``q^T k`` ("dot")."""

    def __init__(self, query_size: int, key_size: int, method: str = "general"):
        super().__init__()
        if method not in ("general", "dot"):
            raise ValueError(f"method must be 'general' or 'dot', got {method!r}")
        if method == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs equal query and key sizes, got "
                             f"{query_size} and {key_size} (a bidirectional encoder "
                             "doubles the key size: use 'general')")
        self.method = method
        self.weight = nn.Linear(key_size, query_size, bias=False) if method == "general" \
            else None

    def prepare(self, keys: torch.Tensor) -> torch.Tensor:
        return keys if self.weight is None else self.weight(keys)  # [B, S, q]

    def forward(self, query: torch.Tensor, keys: torch.Tensor, prepared: torch.Tensor):
        scores = torch.bmm(prepared, query[:, :, None]).squeeze(-1)  # [B, S]
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights[:, None], keys).squeeze(1), weights  # [B, key], [B, S]


def make_attention(kind: str, query_size: int, key_size: int) -> nn.Module:
    if kind == "bahdanau":
        return AdditiveAttention(query_size, key_size)
    if kind == "luong":
        return MultiplicativeAttention(query_size, key_size, "general")
    if kind == "luong_dot":
        return MultiplicativeAttention(query_size, key_size, "dot")
    raise ValueError(f"attention must be one of {ATTENTIONS} or None, got {kind!r}")
