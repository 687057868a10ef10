"""`MeanEnsemble`: several networks of one shape, answering as their mean."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MeanEnsemble"]


class MeanEnsemble(nn.Module):
    """The mean output of ``members``, networks that take and give tensors of the
    same shapes (e.g. autoencoders or forecasters trained from other seeds).

    Averaging several seeds' outputs smooths out what one training run happened
    to learn, at ``len(members)`` times the cost of one forward pass.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = nn.ModuleList(members)

    def each(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's output, stacked: ``[members, ...]`` (e.g. to average a
        score of each rather than the outputs)."""
        return torch.stack([m(x) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.each(x).mean(dim=0)  # [members, ...] -> [...]
