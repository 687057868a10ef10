"""Tests for tsrnn/nn/forecast.py: ForecastNet and WindowNorm, with bare forward passes."""

import itertools

import pytest
import torch

from tsrnn.nn import STRATEGIES, ForecastNet, WindowNorm

B, L, HOR = 4, 12, 7  # batch, input_len, horizon
N_TARGETS, N_PAST = 2, 1
SEG = 5  # divides neither input_len nor horizon: both get padded


def _net(*, n_targets=N_TARGETS, n_past=N_PAST, n_future=0, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs = {"hidden_size": 8, **kwargs}
    return ForecastNet(n_targets + n_past + n_future, n_targets, L, HOR, n_future=n_future,
                       **kwargs).eval()


def _inputs(net, seed=1, batch=B, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, L, net.n_features, generator=g) * scale
    future = torch.randn(batch, HOR, net.n_future, generator=g) if net.n_future else None
    return x, future


def _zero_head(net):
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
    return net


# ------------------------------------------------------------------------ shapes
SHAPE_CASES = list(itertools.product(STRATEGIES, (1, SEG), (True, False), (1, 3), (0, 2)))


@pytest.mark.parametrize(
    ("strategy", "segment_len", "channel_independent", "n_quantiles", "n_future"),
    SHAPE_CASES,
    ids=[f"{s}-seg{g}-{'ci' if c else 'joint'}-q{q}-fut{f}" for s, g, c, q, f in SHAPE_CASES],
)
def test_output_shape(strategy, segment_len, channel_independent, n_quantiles, n_future):
    net = _net(strategy=strategy, segment_len=segment_len,
               channel_independent=channel_independent, n_quantiles=n_quantiles,
               n_future=n_future)
    x, future = _inputs(net)
    out = net(x, future)
    assert out.shape == (B, HOR, N_TARGETS, n_quantiles)
    assert torch.isfinite(out).all()
    # Training mode, and a batch of one, work too.
    assert net.train()(x[:1], None if future is None else future[:1]).shape == (
        1, HOR, N_TARGETS, n_quantiles)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_output_shape_single_target_and_deep_encoder(strategy, cell):
    net = _net(n_targets=1, n_past=0, strategy=strategy, cell=cell, num_layers=2,
               bidirectional=strategy != "recursive", layer_norm=True,
               learn_initial_state=True, segment_len=3)
    assert net(_inputs(net)[0]).shape == (B, HOR, 1, 1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_gradients_reach_every_parameter(strategy):
    net = _net(strategy=strategy, segment_len=SEG, n_future=2, n_quantiles=3,
               learn_initial_state=True, channel_independent=False).train()
    x, future = _inputs(net)
    net(x, future).pow(2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# ----------------------------------------------------------------- quantiles
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_quantiles_never_cross(strategy, seed):
    net = _net(strategy=strategy, n_quantiles=5, segment_len=1 + seed % 3, n_future=1,
               window_norm=[None, "last", "mean", "standard"][seed], seed=seed)
    with torch.no_grad():  # large random weights: wild raw outputs, still ordered
        for p in net.parameters():
            p.normal_(std=3.0)
    x, future = _inputs(net, seed=seed, scale=100.0)
    out = net(x, future)
    assert torch.isfinite(out).all()
    assert (out.diff(dim=-1) >= 0).all()


# ------------------------------------------------------------ window normalization
@pytest.mark.parametrize("channel_independent", [True, False])
@pytest.mark.parametrize("segment_len", [1, SEG])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_last_norm_with_zero_head_repeats_the_last_value(strategy, segment_len,
                                                         channel_independent):
    net = _zero_head(_net(strategy=strategy, segment_len=segment_len, window_norm="last",
                          channel_independent=channel_independent))
    x, _ = _inputs(net, scale=10.0)
    out = net(x)[..., 0]  # [B, H, C]
    expected = x[:, -1:, :N_TARGETS].expand(-1, HOR, -1)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("method", ["mean", "standard"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_mean_and_standard_norm_with_zero_head_forecast_the_mean(strategy, method):
    net = _zero_head(_net(strategy=strategy, window_norm=method))
    x, _ = _inputs(net, scale=10.0)
    x = x + 50.0  # a level far from 0
    out = net(x)[..., 0]
    expected = x[..., :N_TARGETS].mean(dim=1, keepdim=True).expand(-1, HOR, -1)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_standard_norm_undoes_the_scale(strategy):
    # A head that outputs a constant 1 (one standard deviation) forecasts mean + std.
    net = _zero_head(_net(strategy=strategy, window_norm="standard"))
    with torch.no_grad():
        net.head.bias.fill_(1.0)
    x, _ = _inputs(net, scale=10.0)
    targets = x[..., :N_TARGETS]
    std = (targets.var(dim=1, unbiased=False, keepdim=True) + 1e-5).sqrt()
    expected = (targets.mean(dim=1, keepdim=True) + std).expand(-1, HOR, -1)
    torch.testing.assert_close(net(x)[..., 0], expected)


def test_no_norm_with_zero_head_forecasts_zero():
    net = _zero_head(_net(window_norm=None))
    out = net(_inputs(net, scale=10.0)[0] + 50.0)
    torch.testing.assert_close(out, torch.zeros_like(out))


@pytest.mark.parametrize("method", ["last", "mean", "standard"])
def test_window_norm_is_shift_equivariant(method):
    # Shifting a window by a constant shifts the forecast by it (and scaling scales it
    # for "standard"), whatever the weights: the net sees only the normalized window.
    net = _net(window_norm=method, n_past=0)
    x, _ = _inputs(net)
    torch.testing.assert_close(net(x + 123.0), net(x) + 123.0, atol=1e-3, rtol=1e-5)
    if method == "standard":
        torch.testing.assert_close(net(x * 7.0), net(x) * 7.0, atol=1e-3, rtol=1e-4)


def test_window_norm_statistics():
    x = torch.randn(3, 10, 2) * 4 + 9
    for method in ("last", "mean", "standard", None):
        normed, loc, scale = WindowNorm(method)(x)
        assert loc.shape == scale.shape == (3, 1, 2)
        torch.testing.assert_close(normed * scale + loc, x)
    _, loc, _ = WindowNorm("last")(x)
    torch.testing.assert_close(loc, x[:, -1:])
    normed, _, _ = WindowNorm("standard")(x)
    torch.testing.assert_close(normed.mean(dim=1), torch.zeros(3, 2), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="window_norm"):
        WindowNorm("median")


# ----------------------------------------------------------------- recursive mode
@pytest.mark.parametrize("segment_len", [1, 2, SEG])
def test_recursive_is_causal_in_the_future_covariates(segment_len):
    net = _net(strategy="recursive", segment_len=segment_len, n_future=2)
    x, future = _inputs(net)
    base = net(x, future)
    for k in range(HOR):
        changed = future.clone()
        changed[:, k] += 5.0
        out = net(x, changed)
        # A segment is forecast at once from its own covariates, so only the steps
        # of earlier segments must not move.
        segment_start = (k // segment_len) * segment_len
        torch.testing.assert_close(out[:, :segment_start], base[:, :segment_start])
        # The change reaches the steps after k's segment (the next decoder input).
        next_segment = (k // segment_len + 1) * segment_len
        if next_segment < HOR:
            assert not torch.allclose(out[:, next_segment:], base[:, next_segment:])


@pytest.mark.parametrize("segment_len", [1, 2])
def test_recursive_forecast_at_step_k_uses_the_future_covariate_at_k(segment_len):
    net = _net(strategy="recursive", segment_len=segment_len, n_future=2)
    x, future = _inputs(net)
    base = net(x, future)
    for k in range(HOR):
        changed = future.clone()
        changed[:, k] += 5.0
        assert not torch.allclose(net(x, changed)[:, k], base[:, k]), f"step {k}"


@pytest.mark.parametrize("strategy", ["direct", "parallel"])
def test_future_covariates_reach_every_step(strategy):
    net = _net(strategy=strategy, n_future=2, segment_len=2)
    x, future = _inputs(net)
    base = net(x, future)
    for k in range(HOR):
        changed = future.clone()
        changed[:, k] += 5.0
        assert not torch.allclose(net(x, changed)[:, k], base[:, k]), f"step {k}"


def test_recursive_with_a_bidirectional_encoder_raises():
    with pytest.raises(ValueError, match="bidirectional"):
        _net(strategy="recursive", bidirectional=True)


# ------------------------------------------------------------ channel independence
@pytest.mark.parametrize("segment_len", [1, SEG])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_channel_independent_permutes_with_the_channels(strategy, segment_len):
    net = _net(n_targets=3, strategy=strategy, segment_len=segment_len, n_future=1,
               n_quantiles=3, channel_independent=True)
    x, future = _inputs(net)
    perm = torch.tensor([2, 0, 1])
    permuted = x.clone()
    permuted[..., :3] = x[..., perm]
    torch.testing.assert_close(net(permuted, future), net(x, future)[:, :, perm])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_channel_independent_forecast_ignores_other_channels(strategy):
    net = _net(n_targets=3, strategy=strategy, segment_len=2, channel_independent=True)
    x, _ = _inputs(net)
    changed = x.clone()
    changed[..., 1:3] = torch.randn_like(changed[..., 1:3]) * 10
    torch.testing.assert_close(net(changed)[:, :, 0], net(x)[:, :, 0])
    # ...while the shared covariates do reach it.
    changed = x.clone()
    changed[..., 3] += 10.0
    assert not torch.allclose(net(changed)[:, :, 0], net(x)[:, :, 0])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_joint_forecast_mixes_channels(strategy):
    net = _net(n_targets=3, strategy=strategy, channel_independent=False)
    x, _ = _inputs(net)
    changed = x.clone()
    changed[..., 1:3] = torch.randn_like(changed[..., 1:3]) * 10
    assert not torch.allclose(net(changed)[:, :, 0], net(x)[:, :, 0])


# ------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"input": (B, L + 1, 3)}, rf"\[batch, {L}, 3\]"),
        ({"input": (B, L, 4)}, rf"\[batch, {L}, 3\]"),
        ({"input": (L, 3)}, rf"\[batch, {L}, 3\]"),
        ({"future": None}, rf"\[batch, {HOR}, 1\]"),
        ({"future": (B, HOR - 1, 1)}, rf"\[batch, {HOR}, 1\]"),
        ({"future": (B, HOR, 2)}, rf"\[batch, {HOR}, 1\]"),
    ],
)
def test_bad_shapes_name_the_expected_shape(bad, match):
    net = _net(n_targets=1, n_past=1, n_future=1)
    x, future = _inputs(net)
    if "input" in bad:
        x = torch.randn(bad["input"])
    else:
        future = None if bad["future"] is None else torch.randn(bad["future"])
    with pytest.raises(ValueError, match=match):
        net(x, future)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "seq2seq"}, "strategy"),
        ({"segment_len": 0}, "segment_len"),
        ({"window_norm": "median"}, "window_norm"),
        ({"cell": "transformer"}, "cell"),
        ({"n_targets": 0}, "column counts"),
        ({"n_targets": 5}, "column counts"),
        ({"n_future": 3}, "column counts"),
        ({"n_future": -1}, "column counts"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = {"n_features": 3, "n_targets": 1, "input_len": L, "horizon": HOR, **kwargs}
    with pytest.raises(ValueError, match=match):
        ForecastNet(args.pop("n_features"), args.pop("n_targets"), args.pop("input_len"),
                    args.pop("horizon"), **args)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors:UserWarning")
@pytest.mark.parametrize("kwargs", [{"input_len": 0}, {"horizon": 0}, {"n_quantiles": 0}],
                         ids=["input_len", "horizon", "n_quantiles"])
def test_bad_sizes_raise_at_construction(kwargs):
    args = {"input_len": L, "horizon": HOR, **kwargs}
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ForecastNet(2, 1, args.pop("input_len"), args.pop("horizon"), **args)
