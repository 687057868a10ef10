import pytest
import torch

from tsrnn.nn.attention import AdditiveAttention, MultiplicativeAttention, make_attention


@pytest.mark.parametrize("kind", ["bahdanau", "luong", "luong_dot"])
def test_weights_are_a_distribution_and_context_their_mix(kind):
    torch.manual_seed(0)
    attention = make_attention(kind, 6, 6)
    query, keys = torch.randn(3, 6), torch.randn(3, 5, 6)
    context, weights = attention(query, keys, attention.prepare(keys))
    assert weights.shape == (3, 5) and context.shape == (3, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    assert (weights >= 0).all()
    torch.testing.assert_close(context, torch.einsum("bs,bsk->bk", weights, keys))


def test_scores_match_their_formulas():
    torch.manual_seed(0)
    query, keys = torch.randn(2, 4), torch.randn(2, 3, 5)
    add = AdditiveAttention(4, 5, 7)
    _, w = add(query, keys, add.prepare(keys))
    scores = torch.stack([
        add.v(torch.tanh(add.query(query) + add.key(keys[:, s]))).squeeze(-1) for s in range(3)
    ], dim=1)
    torch.testing.assert_close(w, torch.softmax(scores, -1))

    general = MultiplicativeAttention(4, 5, "general")
    _, w = general(query, keys, general.prepare(keys))
    scores = torch.einsum("bq,qk,bsk->bs", query, general.weight.weight, keys)
    torch.testing.assert_close(w, torch.softmax(scores, -1))

    dot = MultiplicativeAttention(5, 5, "dot")
    q5 = torch.randn(2, 5)
    _, w = dot(q5, keys, dot.prepare(keys))
    torch.testing.assert_close(w, torch.softmax(torch.einsum("bk,bsk->bs", q5, keys), -1))


def test_bad_arguments():
    with pytest.raises(ValueError, match="equal query and key sizes"):
        MultiplicativeAttention(4, 8, "dot")
    with pytest.raises(ValueError, match="general' or 'dot'"):
        MultiplicativeAttention(4, 4, "cosine")
    with pytest.raises(ValueError, match="attention must be one of"):
        make_attention("transformer", 4, 4)
