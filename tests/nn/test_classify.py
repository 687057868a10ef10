"""Tests for tsrnn/nn/classify.py: the sequence classification network, bare forward passes."""

import itertools

import pytest
import torch

from tsrnn.nn import CELLS, SequenceNet

F, H, C = 3, 6, 4  # features, hidden units, classes
LENGTHS = torch.tensor([6, 2, 9, 4])


def _net(cell="gru", bidirectional=False, output="last", seed=0, **kwargs):
    torch.manual_seed(seed)
    return SequenceNet(F, C, output=output, cell=cell, hidden_size=H,
                       bidirectional=bidirectional, **kwargs)


def _batch(steps=9, pad=0.0, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(LENGTHS), 9, F, generator=g)
    out = torch.full((len(LENGTHS), steps, F), pad)
    for i, n in enumerate(LENGTHS.tolist()):
        out[i, :n] = x[i, :n]
    return out


@pytest.mark.parametrize("output", ["last", "sequence"])
def test_shapes(output):
    logits = _net(output=output)(_batch(), LENGTHS)
    assert logits.shape == ((4, C) if output == "last" else (4, 9, C))


def test_tokens_go_through_an_embedding():
    torch.manual_seed(0)
    net = SequenceNet(1, C, vocab_size=10, embedding_dim=5, hidden_size=H)
    tokens = torch.randint(0, 10, (4, 9))
    assert net(tokens, LENGTHS).shape == (4, C)
    assert net.encoder.input_size == 5


CONFIGS = list(itertools.product(CELLS, (False, True), ("last", "sequence"), (0.0, 0.3)))


@pytest.mark.parametrize(("cell", "bidirectional", "output", "recurrent_dropout"), CONFIGS,
                         ids=["-".join(map(str, c)) for c in CONFIGS])
def test_padding_never_changes_a_logit(cell, bidirectional, output, recurrent_dropout):
    net = _net(cell, bidirectional, output, num_layers=2, recurrent_dropout=recurrent_dropout)
    net.train(recurrent_dropout > 0)
    results = []
    for steps, pad in ((9, 0.0), (15, 7.0)):
        torch.manual_seed(3)  # the same dropout masks
        logits = net(_batch(steps, pad), LENGTHS)
        results.append(logits if output == "last" else
                       torch.cat([logits[i, :n] for i, n in enumerate(LENGTHS.tolist())]))
    torch.testing.assert_close(results[0], results[1], atol=1e-6, rtol=1e-6)


def test_initial_state_per_sequence():
    net = _net("lstm", num_layers=2).eval()
    x = _batch()
    h0 = torch.randn(4, 2, H)
    assert torch.equal(net(x, LENGTHS, torch.zeros(4, 2, H)), net(x, LENGTHS))
    changed = net(x, LENGTHS, h0)
    assert not torch.allclose(changed, net(x, LENGTHS))
    # Each sequence's state is its own: changing one row changes one output.
    h1 = h0.clone()
    h1[2] += 1
    diff = (net(x, LENGTHS, h1) - changed).abs().sum(-1)
    assert diff[2] > 0 and (diff[[0, 1, 3]] == 0).all()


@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("cell", CELLS)
def test_chunks_carry_the_state(cell, output):
    # Without gradients, truncated BPTT computes what one pass over the sequence does.
    net = _net(cell, output=output).eval()
    x = _batch()
    whole = net(x, LENGTHS)
    pieces = list(net.chunks(x, LENGTHS, 4))
    assert [start for start, _, _ in pieces] == [0, 4, 8]
    if output == "last":
        ends = torch.stack([e for _, _, e in pieces])  # [chunks, B]
        assert (ends.sum(0) == 1).all(), "every sequence ends in exactly one chunk"
        got = sum(logits * e[:, None] for _, logits, e in pieces)
    else:
        got = torch.cat([logits for _, logits, _ in pieces], dim=1)
        got = got * (torch.arange(9)[None, :, None] < LENGTHS[:, None, None])
        whole = whole * (torch.arange(9)[None, :, None] < LENGTHS[:, None, None])
    torch.testing.assert_close(got, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_no_gradient_flows_past_a_chunk_boundary(cell):
    net = _net(cell, output="sequence")
    x = _batch().requires_grad_()
    h0 = torch.randn(4, 1, H, requires_grad=True)
    *_, (start, logits, _) = net.chunks(x, None, 4, h0)
    assert start == 8
    logits.sum().backward()  # a loss on the last chunk only
    assert (x.grad[:, :8] == 0).all(), "gradient leaked into an earlier chunk"
    assert x.grad[:, 8:].abs().sum() > 0
    assert h0.grad is None or (h0.grad == 0).all()
    # Without the cut, the same loss reaches the first step.
    x.grad = None
    net(x)[:, 8:].sum().backward()
    assert x.grad[:, 0].abs().sum() > 0


def test_chunks_need_a_unidirectional_encoder():
    with pytest.raises(ValueError, match="bidirectional"):
        next(_net(bidirectional=True).chunks(_batch(), LENGTHS, 3))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="output"):
        SequenceNet(F, C, output="first")
    with pytest.raises(ValueError, match="n_classes"):
        SequenceNet(F, 1)
