"""Tests for tsrnn/nn/encoder.py: the recurrent encoder, with bare forward passes."""

import ast
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import tsrnn.nn
from tsrnn.nn import CELLS, RecurrentEncoder
from tsrnn.nn.encoder import reverse_within

B, T, F, H = 3, 7, 4, 5  # batch, steps, input features, hidden units

CONFIGS = list(itertools.product(CELLS, (1, 2), (False, True)))  # cell, layers, bidirectional
CONFIG_IDS = [f"{c}-{n}layer{'-bi' if bi else ''}" for c, n, bi in CONFIGS]


def _encoder(cell="gru", num_layers=1, bidirectional=False, seed=0, **kwargs):
    torch.manual_seed(seed)
    return RecurrentEncoder(F, H, cell, num_layers, bidirectional=bidirectional, **kwargs)


def _x(seed=1, batch=B, steps=T):
    return torch.randn(batch, steps, F, generator=torch.Generator().manual_seed(seed))


def _random_state(cell, num_layers, bidirectional, batch=B, seed=2):
    g = torch.Generator().manual_seed(seed)
    shape = (num_layers * (2 if bidirectional else 1), batch, H)
    h = torch.randn(shape, generator=g)
    return (h, torch.randn(shape, generator=g)) if cell == "lstm" else h


def _states(state):
    """A state as a tuple of tensors, whatever the cell."""
    return state if isinstance(state, tuple) else (state,)


def _same_weights(src: nn.Module, dst: nn.Module) -> nn.Module:
    dst.load_state_dict(src.state_dict())
    return dst


# ------------------------------------------------------------------------ shapes
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_shapes(cell, num_layers, bidirectional):
    enc = _encoder(cell, num_layers, bidirectional)
    d = 2 if bidirectional else 1
    out, state = enc(_x())
    assert enc.output_size == d * H
    assert out.shape == (B, T, d * H)
    assert isinstance(state, tuple) == (cell == "lstm")
    for s in _states(state):
        assert s.shape == (num_layers * d, B, H)


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_matches_torchs_stacked_layer(cell, num_layers, bidirectional):
    # Same weights as one fused torch layer of `num_layers` layers: the same outputs,
    # and final states in torch's layout [L*D, B, H] (layer-major, forward first).
    enc = _encoder(cell, num_layers, bidirectional).eval()
    ref = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](
        F, H, num_layers, batch_first=True, bidirectional=bidirectional)
    with torch.no_grad():
        for i, layer in enumerate(enc.layers):
            for name, p in layer.named_parameters():
                getattr(ref, name.replace("_l0", f"_l{i}")).copy_(p)
    x, state = _x(), _random_state(cell, num_layers, bidirectional)
    out, final = enc(x, state)
    ref_out, ref_final = ref(x, state)
    torch.testing.assert_close(out, ref_out)
    for s, r in zip(_states(final), _states(ref_final), strict=True):
        torch.testing.assert_close(s, r)


@pytest.mark.parametrize("cell", CELLS)
def test_state_layout(cell):
    # Last layer: forward direction ends at step T-1, backward direction at step 0.
    enc = _encoder(cell, 2, bidirectional=True).eval()
    out, state = enc(_x())
    h = _states(state)[0]  # [L*D, B, H]
    torch.testing.assert_close(h[-2], out[:, -1, :H])
    torch.testing.assert_close(h[-1], out[:, 0, H:])


# ------------------------------------------------------------------ initial state
@pytest.mark.parametrize("cell", CELLS)
def test_user_state_changes_output(cell):
    enc = _encoder(cell, 2, bidirectional=True).eval()
    x = _x()
    zeros = tuple(torch.zeros_like(s) for s in _states(_random_state(cell, 2, True)))
    default, _ = enc(x)
    explicit_zeros, _ = enc(x, zeros if cell == "lstm" else zeros[0])
    given, _ = enc(x, _random_state(cell, 2, True))
    torch.testing.assert_close(default, explicit_zeros)  # default: zeros
    assert not torch.allclose(given, default)


@pytest.mark.parametrize("cell", CELLS)
def test_learned_initial_state_is_trainable(cell):
    enc = _encoder(cell, 2, learn_initial_state=True)
    assert isinstance(enc.initial_state, nn.Parameter)
    assert any(p is enc.initial_state for p in enc.parameters())
    x = _x()
    enc(x)[0].pow(2).mean().backward()
    assert enc.initial_state.grad is not None and enc.initial_state.grad.abs().sum() > 0

    # After an optimizer step it is no longer zeros, and the output follows it.
    zeros = _same_weights(enc, _encoder(cell, 2, learn_initial_state=True))
    torch.optim.SGD([enc.initial_state], lr=1.0).step()
    assert enc.initial_state.abs().sum() > 0
    with torch.no_grad():
        assert not torch.allclose(enc(x)[0], zeros(x)[0])
        # The learned state is broadcast over the batch: a batch of one gives the same row.
        torch.testing.assert_close(enc(x[:1])[0], enc(x)[0][:1])


def test_explicit_state_overrides_learned_state():
    enc = _encoder("lstm", 1, learn_initial_state=True)
    with torch.no_grad():
        enc.initial_state.normal_()
        state = _random_state("lstm", 1, False)
        plain = _same_weights(enc, _encoder("lstm", 1, learn_initial_state=True))
        plain.initial_state.zero_()
        torch.testing.assert_close(enc(_x(), state)[0], plain(_x(), state)[0])


# -------------------------------------------------------- recurrent dropout
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_unrolled_path_equals_fused_path(cell, num_layers, bidirectional):
    # With p -> 0 the step-by-step path (train mode) computes what the fused kernel
    # (eval mode) does: outputs, final states and gradients.
    kwargs = {"nonlinearity": "relu"} if cell == "rnn" else {}
    enc = _encoder(cell, num_layers, bidirectional, recurrent_dropout=1e-7, **kwargs)
    x, state = _x(), _random_state(cell, num_layers, bidirectional)
    results = []
    for train in (True, False):
        enc.train(train)
        enc.zero_grad()
        out, final = enc(x, state)
        (out.sum() + sum(s.sum() for s in _states(final))).backward()
        grads = [p.grad.clone() for p in enc.parameters()]
        results.append((out.detach(), [s.detach() for s in _states(final)], grads))
    (out_t, final_t, grads_t), (out_e, final_e, grads_e) = results
    torch.testing.assert_close(out_t, out_e, atol=1e-5, rtol=1e-5)
    for a, b in zip(final_t, final_e, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads_t, grads_e, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_dropout_mask_is_fixed_over_time(monkeypatch, cell, bidirectional):
    # Record the hidden state every step cell receives: it must be the previous
    # output times one mask per sequence, the same at every step.
    step_cls = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[cell]
    seen = []
    original = step_cls.forward

    def recording_forward(self, x, hx=None):
        seen.append((hx[0] if cell == "lstm" else hx).detach().clone())
        return original(self, x, hx)

    monkeypatch.setattr(step_cls, "forward", recording_forward)
    enc = _encoder(cell, 1, bidirectional, recurrent_dropout=0.5).train()
    batch = 16
    x, state = _x(batch=batch), _random_state(cell, 1, bidirectional, batch=batch)
    out, _ = enc(x, state)
    d = 2 if bidirectional else 1
    assert len(seen) == d * T
    h0 = _states(state)[0]
    for k in range(d):
        hx = seen[k * T : (k + 1) * T]
        mask = hx[0] / h0[k]  # [B, H], 0 or 1 / keep
        assert set(mask.round(decimals=4).unique().tolist()) == {0.0, 2.0}
        assert 0.2 < (mask == 0).float().mean() < 0.8
        assert not all(torch.equal(mask[0], m) for m in mask[1:])  # one mask per sequence
        h_out = out[..., k * H : (k + 1) * H]
        order = range(1, T) if k == 0 else range(T - 2, -1, -1)
        prev = [h_out[:, t - 1] if k == 0 else h_out[:, t + 1] for t in order]
        for step, h_prev in zip(hx[1:], prev, strict=True):
            torch.testing.assert_close(step, h_prev.detach() * mask)


@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_dropout_is_seeded_and_resampled(cell):
    enc = _encoder(cell, 2, recurrent_dropout=0.5).train()
    x = _x()
    torch.manual_seed(10)
    a = enc(x)[0]
    b = enc(x)[0]
    torch.manual_seed(10)
    c = enc(x)[0]
    torch.manual_seed(11)
    d = enc(x)[0]
    torch.testing.assert_close(a, c)
    assert not torch.allclose(a, b)  # a new mask for every forward pass
    assert not torch.allclose(a, d)


@pytest.mark.parametrize("cell", CELLS)
def test_eval_mode_ignores_recurrent_dropout(cell):
    enc = _encoder(cell, 2, True, recurrent_dropout=0.5).eval()
    plain = _same_weights(enc, _encoder(cell, 2, True)).eval()
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(enc(x)[0], plain(x)[0])
        torch.testing.assert_close(enc(x)[0], enc(x)[0])
        assert not torch.allclose(enc.train()(x)[0], plain(x)[0])


# ------------------------------------------------------- layer norm and dropout
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_layer_norm_normalizes_every_step(cell, num_layers, bidirectional):
    enc = _encoder(cell, num_layers, bidirectional, layer_norm=True).eval()
    with torch.no_grad():
        out, _ = enc(_x() * 3)
    mean = out.mean(dim=-1)
    var = out.var(dim=-1, unbiased=False)
    torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-5, rtol=0)
    # Not exactly 1: LayerNorm divides by sqrt(var + 1e-5), and LSTM outputs can be small.
    torch.testing.assert_close(var, torch.ones_like(var), atol=1e-2, rtol=0)


def test_dropout_between_layers_only_in_training():
    enc = _encoder("gru", 2, dropout=0.5)
    plain = _same_weights(enc, _encoder("gru", 2))
    x = _x()
    with torch.no_grad():
        enc.eval()
        torch.testing.assert_close(enc(x)[0], plain(x)[0])
        enc.train()
        torch.manual_seed(0)
        a = enc(x)[0]
        b = enc(x)[0]
        assert not torch.allclose(a, plain(x)[0])
        assert not torch.allclose(a, b)


def test_dropout_does_not_touch_a_single_layer():
    # Dropout is between layers: one layer has nothing to drop, even in training.
    enc = _encoder("lstm", 1, dropout=0.5).train()
    plain = _same_weights(enc, _encoder("lstm", 1)).train()
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(enc(x)[0], plain(x)[0])


# ------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "xyz"}, "cell"),
        ({"cell": "LSTM"}, "cell"),
        ({"nonlinearity": "sigmoid"}, "nonlinearity"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"recurrent_dropout": 1.0}, "recurrent_dropout"),
        ({"recurrent_dropout": -0.5}, "recurrent_dropout"),
        ({"num_layers": 0}, ">= 1"),
        ({"hidden_size": 0}, ">= 1"),
        ({"input_size": 0}, ">= 1"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = {"input_size": F, "hidden_size": H, **kwargs}
    with pytest.raises(ValueError, match=match):
        RecurrentEncoder(**args)


@pytest.mark.parametrize("shape", [(B, T, F + 1), (T, F), (B, T, F, 1)])
def test_bad_input_shape_names_the_expected_shape(shape):
    with pytest.raises(ValueError, match=rf"\[batch, time, {F}\]"):
        _encoder()(torch.randn(shape))


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3])
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_gradients_reach_every_parameter(cell, num_layers, bidirectional, recurrent_dropout):
    enc = _encoder(cell, num_layers, bidirectional, layer_norm=True, learn_initial_state=True,
                   dropout=0.1, recurrent_dropout=recurrent_dropout).train()
    with torch.no_grad():  # a non-trivial LayerNorm, so its gain and bias get gradients
        for norm in enc.norms:
            norm.weight.normal_()
    torch.manual_seed(0)
    out, state = enc(_x())
    (out.pow(2).mean() + sum(s.pow(2).mean() for s in _states(state))).backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


# ------------------------------------------------------- variable lengths (masks)
LENGTHS = (5, 2, 7)  # the longest fills the batch: every path has something to mask
PATHS = ["fused", "fused-outputs-only", "recurrent_dropout"]


def _padded(seqs, steps, pad_value):
    """The sequences in one ``[B, steps, F]`` batch, padded with ``pad_value``."""
    x = torch.full((len(seqs), steps, F), pad_value)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    return x


def _seqs(seed=3):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, F, generator=g) for n in LENGTHS]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_padding_changes_nothing(cell, num_layers, bidirectional, path):
    # The same sequences padded to 7 and to 11 steps, with different garbage: outputs
    # on true steps, final states, the summary and the gradients are identical.
    enc = _encoder(cell, num_layers, bidirectional, layer_norm=num_layers == 2,
                   recurrent_dropout=0.3 if path == "recurrent_dropout" else 0.0)
    enc.train(path == "recurrent_dropout")
    seqs, lengths = _seqs(), torch.tensor(LENGTHS)
    results = []
    for steps, pad in ((max(LENGTHS), 0.0), (11, 1e3)):
        x = _padded(seqs, steps, pad).requires_grad_()
        enc.zero_grad()
        torch.manual_seed(4)  # the same dropout masks
        out, state = enc(x, _random_state(cell, num_layers, bidirectional), lengths,
                         final_state=path != "fused-outputs-only")
        summary = enc.summary(out, lengths)
        if state is None:  # an LSTM that was told not to compute it
            assert cell == "lstm" and path == "fused-outputs-only"
            state = x.new_zeros(1)
        (out.pow(2).sum() + summary.sum() + sum(s.sum() for s in _states(state))).backward()
        assert (out[:, max(LENGTHS):] == 0).all()
        for i, n in enumerate(LENGTHS):
            assert (out[i, n:] == 0).all(), "padded steps output zeros"
            assert (x.grad[i, n:] == 0).all(), "no gradient reaches a padded step"
        grads = [p.grad.clone() for p in enc.parameters()]
        results.append((out[:, : max(LENGTHS)].detach(), [s.detach() for s in _states(state)],
                        summary.detach(), grads, x.grad[:, : max(LENGTHS)]))
    for a, b in zip(*results, strict=True):
        for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b],
                        strict=True):
            torch.testing.assert_close(u, v, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_padded_sequence_equals_the_sequence_alone(cell, num_layers, bidirectional):
    enc = _encoder(cell, num_layers, bidirectional).eval()
    seqs = _seqs()
    state = _random_state(cell, num_layers, bidirectional)
    out, final = enc(_padded(seqs, 9, -5.0), state, torch.tensor(LENGTHS))
    summary = enc.summary(out, torch.tensor(LENGTHS))
    for i, s in enumerate(seqs):
        own_state = tuple(t[:, i : i + 1] for t in _states(state))
        alone, alone_final = enc(s[None], own_state if cell == "lstm" else own_state[0])
        torch.testing.assert_close(out[i, : len(s)], alone[0], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(summary[i], enc.summary(alone)[0], atol=1e-6, rtol=1e-5)
        for a, b in zip(_states(final), _states(alone_final), strict=True):
            torch.testing.assert_close(a[:, i], b[:, 0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3])
@pytest.mark.parametrize("cell", CELLS)
def test_empty_sequence_keeps_its_initial_state(cell, recurrent_dropout):
    # Truncated BPTT hands the encoder chunks in which short sequences have ended.
    enc = _encoder(cell, 2, recurrent_dropout=recurrent_dropout).train(recurrent_dropout > 0)
    state = _random_state(cell, 2, False)
    out, final = enc(_x(), state, torch.tensor([4, 0, T]))
    assert (out[1] == 0).all()
    for a, b in zip(_states(final), _states(state), strict=True):
        assert torch.equal(a[:, 1], b[:, 1])
        assert not torch.equal(a[:, 0], b[:, 0])
    out, final = enc(_x(), None, torch.zeros(B, dtype=torch.long))
    assert (out == 0).all() and all((s == 0).all() for s in _states(final))


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_outputs_do_not_depend_on_asking_for_the_final_state(cell, num_layers, bidirectional):
    # The LSTM's exact final cell state needs packed sequences; without it, the fused
    # kernel runs, and must compute the same outputs.
    enc = _encoder(cell, num_layers, bidirectional)
    x, lengths = _padded(_seqs(), 9, 3.0), torch.tensor(LENGTHS)
    state = _random_state(cell, num_layers, bidirectional)
    with_state, final = enc(x, state, lengths)
    outputs_only, none = enc(x, state, lengths, final_state=False)
    torch.testing.assert_close(outputs_only, with_state, atol=1e-6, rtol=1e-6)
    assert (none is None) == (cell == "lstm")
    if none is not None:
        assert torch.equal(none, final)


def test_full_lengths_equal_no_lengths():
    enc = _encoder("lstm", 2, True)
    x = _x()
    out, _ = enc(x, None, torch.full((B,), T))
    assert torch.equal(out, enc(x)[0])


def test_reverse_within_reverses_true_steps_only():
    x = torch.arange(2 * 4, dtype=torch.float32).view(2, 4, 1)  # [B, T, 1]
    out = reverse_within(x, torch.tensor([3, 4]))
    assert out[..., 0].tolist() == [[2, 1, 0, 3], [7, 6, 5, 4]]
    assert torch.equal(reverse_within(out, torch.tensor([3, 4])), x)


@pytest.mark.parametrize("lengths", [[1, 2], [1, 2, 9], [-1, 2, 3], [1.0, 2.0, 3.0]])
def test_bad_lengths_raise(lengths):
    with pytest.raises(ValueError, match="lengths"):
        _encoder()(_x(), None, torch.tensor(lengths))


# ---------------------------------------------------------------- no Lightning
def test_nn_source_never_imports_lightning():
    package = Path(tsrnn.nn.__file__).parent
    files = sorted(package.rglob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                    node.func, "id", "")) in ("import_module", "__import__"):
                names = [a.value for a in node.args if isinstance(a, ast.Constant)]
            else:
                continue
            assert not any("lightning" in n.lower() for n in names), f"{path}: {names}"


def test_nn_forward_does_not_load_lightning():
    code = (
        "import sys, torch\n"
        "from tsrnn.nn import ForecastNet, RecurrentEncoder\n"
        "RecurrentEncoder(3, 4, 'lstm', 2, recurrent_dropout=0.2)(torch.randn(2, 5, 3))\n"
        "ForecastNet(3, 2, 8, 4, strategy='parallel', segment_len=3)(torch.randn(2, 8, 3))\n"
        "print(sorted(m for m in sys.modules if 'lightning' in m))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
