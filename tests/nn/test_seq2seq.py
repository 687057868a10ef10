import itertools

import pytest
import torch

from tsrnn.nn import RecurrentEncoder
from tsrnn.nn.seq2seq import Seq2SeqNet

FEATURES, TARGETS, IN, HOR = 5, 2, 12, 7


def _net(**kw):
    torch.manual_seed(0)
    options = dict(n_future=2, hidden_size=8, segment_len=1)
    return Seq2SeqNet(FEATURES, TARGETS, IN, HOR, **{**options, **kw})


def _inputs(net, batch=3):
    torch.manual_seed(1)
    future = torch.randn(batch, HOR, net.n_future) if net.n_future else None
    return torch.randn(batch, IN, FEATURES), future


@pytest.mark.parametrize(
    ("attention", "cell", "bidirectional", "segment_len", "independent"),
    [c for c in itertools.product(["bahdanau", "luong", "luong_dot", None],
                                  ["rnn", "lstm", "gru"], [False, True], [1, 5], [True, False])
     if not (c[0] == "luong_dot" and c[2])],
)
def test_shapes_and_attention_rows(attention, cell, bidirectional, segment_len, independent):
    net = _net(attention=attention, cell=cell, bidirectional=bidirectional,
               segment_len=segment_len, channel_independent=independent, n_quantiles=3)
    x, future = _inputs(net)
    out = net(x, future)
    assert out.shape == (3, HOR, TARGETS, 3)
    assert (out.diff(dim=-1) >= 0).all()
    assert isinstance(net.encoder, RecurrentEncoder)  # the forecaster's own encoder class
    if attention is None:
        with pytest.raises(ValueError, match="no attention"):
            net.attention_weights(x, future)
    else:
        w = net.eval().attention_weights(x, future)
        assert w.shape == (3, HOR, IN)
        torch.testing.assert_close(w.sum(-1), torch.ones(3, HOR))


def test_teacher_forcing_uses_targets_only_in_training():
    net = _net(teacher_forcing=1.0)
    x, future = _inputs(net)
    targets = torch.randn(3, HOR, TARGETS)
    net.train()
    torch.manual_seed(2)
    a = net(x, future, targets)
    torch.manual_seed(2)
    b = net(x, future, targets + 1.0)
    # Step 0 sees only the observed history; later steps see the forced truth.
    torch.testing.assert_close(a[:, 0], b[:, 0])
    assert not torch.allclose(a[:, 1:], b[:, 1:])
    net.eval()
    torch.testing.assert_close(net(x, future, targets), net(x, future, targets + 1.0))
    torch.testing.assert_close(net(x, future, targets), net(x, future))


def test_decoder_reads_each_steps_future_covariates():
    net = _net(attention="luong").eval()
    x, future = _inputs(net)
    base = net(x, future)
    for k in range(HOR):
        changed = future.clone()
        changed[:, k] += 3.0
        out = net(x, changed)
        torch.testing.assert_close(out[:, :k], base[:, :k])  # causal
        assert not torch.allclose(out[:, k], base[:, k])


def test_gradients_reach_encoder_attention_and_decoder():
    net = _net(attention="bahdanau", teacher_forcing=0.5).train()
    x, future = _inputs(net)
    net(x, future, torch.randn(3, HOR, TARGETS)).sum().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="attention must be one of"):
        _net(attention="self")
    with pytest.raises(ValueError, match="teacher_forcing must be in"):
        _net(teacher_forcing=1.5)
    with pytest.raises(ValueError, match="equal query and key sizes"):
        _net(attention="luong_dot", bidirectional=True)
