"""Tests for tsrnn/nn/fast_gru.py: the hand-written GRU against torch's nn.GRU."""

import pytest
import torch
from torch import nn

from tsrnn.nn.fast_gru import FastGRU, fast_gru, gru_forward

# (batch, steps, input features, hidden units), including single steps and single rows.
SIZES = [(3, 7, 4, 5), (1, 1, 2, 3), (4, 1, 1, 6), (1, 9, 3, 2), (6, 13, 1, 8)]
SIZE_IDS = ["B{}-T{}-I{}-H{}".format(*s) for s in SIZES]


def _layer(input_size, hidden, *, bidirectional=False, bias=True, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    layer = nn.GRU(input_size, hidden, bias=bias, batch_first=True, bidirectional=bidirectional)
    return layer.to(dtype)


def _inputs(batch, steps, input_size, hidden, directions=1, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, input_size, generator=g, dtype=dtype, requires_grad=True)
    h0 = torch.randn(directions, batch, hidden, generator=g, dtype=dtype, requires_grad=True)
    return x, h0


def _grads(loss, layer, *tensors):
    """Gradients of ``loss`` for ``tensors`` and every parameter, None where unused."""
    wrt = [*tensors, *layer.parameters()]
    return torch.autograd.grad(loss, wrt, allow_unused=True)


def _weighted_loss(outputs, h_n, seed=2, use=("outputs", "h_n")):
    """A loss with random weights, so that every output element gets its own gradient."""
    g = torch.Generator().manual_seed(seed)
    w_out = torch.randn(outputs.shape, generator=g, dtype=outputs.dtype)
    w_h = torch.randn(h_n.shape, generator=g, dtype=h_n.dtype)
    loss = outputs.new_zeros(())
    if "outputs" in use:
        loss = loss + (outputs * w_out).sum()
    if "h_n" in use:
        loss = loss + (h_n * w_h).sum()
    return loss


def _assert_all_close(actual, expected, atol):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        if e is None:
            assert a is None or not a.any()
        else:
            torch.testing.assert_close(a, e, atol=atol, rtol=0)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_forward_and_gradients_match_nn_gru(size, bidirectional):
    batch, steps, input_size, hidden = size
    layer = _layer(input_size, hidden, bidirectional=bidirectional)
    x, h0 = _inputs(batch, steps, input_size, hidden, 2 if bidirectional else 1)

    expected_out, expected_h = layer(x, h0)
    out, h_n = fast_gru(layer, x, h0)
    assert out.shape == expected_out.shape and h_n.shape == expected_h.shape
    torch.testing.assert_close(out, expected_out, atol=1e-6, rtol=0)
    torch.testing.assert_close(h_n, expected_h, atol=1e-6, rtol=0)

    expected = _grads(_weighted_loss(expected_out, expected_h), layer, x, h0)
    actual = _grads(_weighted_loss(out, h_n), layer, x, h0)
    _assert_all_close(actual, expected, atol=1e-10)


def test_reverse_direction_matches_bidirectional_layer():
    batch, steps, input_size, hidden = 3, 6, 2, 4
    layer = _layer(input_size, hidden, bidirectional=True)
    x, h0 = _inputs(batch, steps, input_size, hidden, directions=2)
    expected_out, expected_h = layer(x, h0)

    params = [
        getattr(layer, f"{name}_l0_reverse")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    out, h_last = gru_forward(x, h0[1], *params, reverse=True)
    torch.testing.assert_close(out, expected_out[..., hidden:], atol=1e-6, rtol=0)
    torch.testing.assert_close(h_last, expected_h[1], atol=1e-6, rtol=0)


@pytest.mark.parametrize("use", [("outputs",), ("h_n",)], ids=["outputs-only", "h_n-only"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_gradients_when_only_one_output_is_used(use, bidirectional):
    batch, steps, input_size, hidden = 3, 5, 2, 4
    layer = _layer(input_size, hidden, bidirectional=bidirectional)
    x, h0 = _inputs(batch, steps, input_size, hidden, 2 if bidirectional else 1)
    expected = _grads(_weighted_loss(*layer(x, h0), use=use), layer, x, h0)
    actual = _grads(_weighted_loss(*fast_gru(layer, x, h0), use=use), layer, x, h0)
    _assert_all_close(actual, expected, atol=1e-10)


def test_zero_initial_state_when_h0_is_none():
    layer = _layer(3, 4)
    x, _ = _inputs(2, 5, 3, 4)
    expected_out, expected_h = layer(x)
    out, h_n = fast_gru(layer, x)
    torch.testing.assert_close(out, expected_out, atol=1e-6, rtol=0)
    torch.testing.assert_close(h_n, expected_h, atol=1e-6, rtol=0)
    expected = _grads(_weighted_loss(expected_out, expected_h), layer, x)
    _assert_all_close(_grads(_weighted_loss(out, h_n), layer, x), expected, atol=1e-10)


def test_gradcheck():
    layer = _layer(2, 3, seed=3)
    x, h0 = _inputs(2, 4, 2, 3, seed=4)
    inputs = (x, h0[0].detach().requires_grad_(), *layer.parameters())
    assert torch.autograd.gradcheck(gru_forward, inputs)
    assert torch.autograd.gradcheck(lambda *a: gru_forward(*a, reverse=True), inputs)


def test_without_biases():
    layer = _layer(3, 4, bias=False)
    x, h0 = _inputs(2, 5, 3, 4)
    expected_out, expected_h = layer(x, h0)
    out, h_n = fast_gru(layer, x, h0)
    torch.testing.assert_close(out, expected_out, atol=1e-6, rtol=0)
    expected = _grads(_weighted_loss(expected_out, expected_h), layer, x, h0)
    _assert_all_close(_grads(_weighted_loss(out, h_n), layer, x, h0), expected, atol=1e-10)


def test_float32_and_no_grad():
    layer = _layer(3, 8, dtype=torch.float32)
    x, h0 = _inputs(4, 10, 3, 8, dtype=torch.float32)
    expected_out, expected_h = layer(x, h0)
    with torch.no_grad():
        out, h_n = fast_gru(layer, x, h0)
    assert out.dtype == torch.float32 and not out.requires_grad
    torch.testing.assert_close(out, expected_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_n, expected_h, atol=1e-5, rtol=0)
    out, h_n = fast_gru(layer, x, h0)
    expected = _grads(_weighted_loss(expected_out, expected_h), layer, x, h0)
    _assert_all_close(_grads(_weighted_loss(out, h_n), layer, x, h0), expected, atol=1e-4)


def test_only_some_inputs_require_grad():
    layer = _layer(3, 4)
    layer.weight_ih_l0.requires_grad_(False)
    layer.bias_hh_l0.requires_grad_(False)
    x = torch.randn(2, 5, 3, dtype=torch.float64)  # no gradient wanted for the input
    trainable = [p for p in layer.parameters() if p.requires_grad]
    expected = torch.autograd.grad(_weighted_loss(*layer(x)), trainable)
    actual = torch.autograd.grad(_weighted_loss(*fast_gru(layer, x)), trainable)
    _assert_all_close(actual, expected, atol=1e-10)


def test_fast_gru_module_is_a_drop_in():
    torch.manual_seed(0)
    fast = FastGRU(3, 4, batch_first=True, bidirectional=True).double()
    reference = nn.GRU(3, 4, batch_first=True, bidirectional=True).double()
    reference.load_state_dict(fast.state_dict())
    x, h0 = _inputs(2, 5, 3, 4, directions=2)
    for got, want in zip(fast(x, h0), reference(x, h0), strict=True):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)

    stacked = FastGRU(3, 4, num_layers=2, batch_first=True).double()  # falls back to nn.GRU
    out, h_n = stacked(x)
    assert out.shape == (2, 5, 4) and h_n.shape == (2, 2, 4)


def test_bad_arguments():
    layer = _layer(3, 4)
    x, _ = _inputs(2, 5, 3, 4)
    with pytest.raises(ValueError, match="num_layers=1"):
        fast_gru(nn.GRU(3, 4, num_layers=2, batch_first=True).double(), x)
    with pytest.raises(ValueError, match="num_layers=1"):
        fast_gru(nn.GRU(3, 4).double(), x)
    with pytest.raises(ValueError, match="expected input"):
        fast_gru(layer, x[..., :2])
    with pytest.raises(ValueError, match="expected h0"):
        fast_gru(layer, x, torch.zeros(1, 3, 4, dtype=torch.float64))
