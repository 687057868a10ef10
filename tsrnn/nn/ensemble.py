"""Ensembles: several networks of one shape, answering as their mean or median."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MeanEnsemble", "MedianEnsemble", "members_of"]


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

    def each(self, *inputs: torch.Tensor | None) -> torch.Tensor:
        """Every member's output, stacked: ``[members, ...]`` (e.g. to average a
        score of each rather than the outputs)."""
        return torch.stack([m(*inputs) for m in self.members])

    def forward(self, *inputs: torch.Tensor | None) -> torch.Tensor:
        return self.each(*inputs).mean(dim=0)  # [members, ...] -> [...]


class MedianEnsemble(MeanEnsemble):
    """The element-wise median output of ``members`` (the mean of the two middle
    values for an even count): one member that went astray moves it far less than
    it moves the mean. With an odd count each value is one member's own, so it
    equals the median of the members' outputs computed apart.

    The median keeps an order that holds in every member: quantile forecasts
    that never cross in a member never cross in the ensemble.
    """

    def forward(self, *inputs: torch.Tensor | None) -> torch.Tensor:
        out = self.each(*inputs).sort(dim=0).values  # [members, ...], sorted per value
        n = out.shape[0]
        return (out[(n - 1) // 2] + out[n // 2]) / 2  # [...]


def members_of(net: nn.Module) -> list[nn.Module]:
    """An ensemble's members, or a single network as the one member."""
    return list(net.members) if isinstance(net, MeanEnsemble) else [net]
