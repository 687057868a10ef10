"""Tests for tsrnn/nn/autoencoder.py: the recurrent autoencoder, with bare forward
passes and a few optimizer steps (no Lightning)."""

import itertools

import pytest
import torch

from tsrnn.nn import CELLS, RecurrentEncoder
from tsrnn.nn.autoencoder import RecurrentAutoencoder

B, W, F, H = 3, 6, 2, 5  # batch, window, features, hidden units

CONFIGS = list(itertools.product(CELLS, (1, 2), (False, True)))  # cell, layers, bidirectional
CONFIG_IDS = [f"{c}-{n}layer{'-bi' if bi else ''}" for c, n, bi in CONFIGS]


def _autoencoder(cell="lstm", num_layers=1, bidirectional=False, seed=0, **kwargs):
    torch.manual_seed(seed)
    return RecurrentAutoencoder(F, W, cell=cell, hidden_size=H, num_layers=num_layers,
                                bidirectional=bidirectional, **kwargs)


def _x(seed=1, batch=B, steps=W, features=F):
    return torch.randn(batch, steps, features, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------ shapes
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_shapes(cell, num_layers, bidirectional):
    net = _autoencoder(cell, num_layers, bidirectional).eval()
    out = net(_x())
    assert out.shape == (B, W, F) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert net(_x(batch=1)).shape == (1, W, F)


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_the_encoder_is_the_shared_recurrent_encoder(cell, num_layers, bidirectional):
    net = _autoencoder(cell, num_layers, bidirectional)
    assert type(net.encoder) is RecurrentEncoder
    assert net.encoder.cell == cell and len(net.encoder.layers) == num_layers
    assert net.encoder.num_directions == (2 if bidirectional else 1)
    # The decoder reads the code, whose width grows with the directions.
    assert type(net.decoder) is RecurrentEncoder and net.decoder.cell == cell
    assert net.bridge.in_features == net.encoder.output_size == H * (1 + bidirectional)


def test_windows_are_rebuilt_independently():
    net = _autoencoder("gru", 2, True).eval()
    x = _x(batch=4)
    together = net(x)
    for i in range(4):
        torch.testing.assert_close(net(x[i:i + 1]), together[i:i + 1], rtol=1e-5, atol=1e-6)


def test_the_whole_window_reaches_the_code():
    # Everything rebuilt passes through the encoder's final state: the first step of
    # the window, read longest ago, still changes every step of the output.
    net = _autoencoder("lstm").eval()
    x = _x()
    nudged = x.clone()
    nudged[:, 0] += 1.0
    assert (net(nudged) - net(x)).abs().amin(dim=(0, 2)).gt(0).all()


@pytest.mark.parametrize("window", [1, 0, -3])
def test_window_below_two_is_refused(window):
    with pytest.raises(ValueError, match="window must be >= 2"):
        RecurrentAutoencoder(F, window)


@pytest.mark.parametrize("shape", [(B, W + 1, F), (B, W - 1, F), (B, W, F + 1), (W, F)])
def test_wrong_window_shape_is_refused(shape):
    with pytest.raises(ValueError, match=rf"expected windows \[batch, {W}, {F}\]"):
        _autoencoder()(torch.zeros(shape))


# ---------------------------------------------------------------------- training
@pytest.mark.parametrize("cell", CELLS)
def test_can_overfit_a_few_windows(cell):
    net = _autoencoder(cell)
    t = torch.arange(W, dtype=torch.float32)
    x = torch.stack([torch.stack([torch.sin(t / 2 + p), torch.cos(t / 3 - p)], dim=-1)
                     for p in (0.0, 1.0, 2.0, 3.0)])  # [4, W, F]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), x)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_gradients_reach_every_parameter(cell, num_layers, bidirectional):
    net = _autoencoder(cell, num_layers, bidirectional)
    x = _x()
    torch.nn.functional.mse_loss(net(x), x).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("num_layers", [1, 2])
def test_layer_norm_takes_part(num_layers):
    net = _autoencoder("gru", num_layers, layer_norm=True)
    x = _x()
    torch.nn.functional.mse_loss(net(x), x).backward()
    dead = [name for name, p in net.named_parameters() if p.grad is None]
    assert dead == []
