"""MeanEnsemble: the mean of its members' outputs."""

import pytest
import torch

from tsrnn.nn import MeanEnsemble, RecurrentAutoencoder


def test_output_is_the_members_mean():
    torch.manual_seed(0)
    members = [RecurrentAutoencoder(2, 6, hidden_size=4) for _ in range(3)]
    net = MeanEnsemble(members).eval()
    x = torch.randn(5, 6, 2)  # [B, T, F]
    with torch.no_grad():
        expected = sum(m(x) for m in members) / 3
        torch.testing.assert_close(net(x), expected)
    assert len(list(net.parameters())) == 3 * len(list(members[0].parameters()))


def test_an_ensemble_of_one_is_refused():
    with pytest.raises(ValueError, match="at least 2 members"):
        MeanEnsemble([RecurrentAutoencoder(1, 4, hidden_size=2)])
