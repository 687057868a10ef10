"""The anomaly likelihood and cooldown: batch and stream agree, both are causal."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsrnn.likelihood import (
    MIN_HISTORY,
    ScoreFilter,
    anomaly_likelihood,
    apply_cooldown,
    likelihood_prior,
    post_process,
)


def _streamed(raw, valid, *, likelihood=True, window=10, history=200, cooldown=0, prior=None):
    f = ScoreFilter(likelihood=likelihood, window=window, history=history, cooldown=cooldown,
                    prior=prior)
    return np.array([f.update(r, v) for r, v in zip(raw, valid, strict=True)])


def _batch(raw, valid, *, likelihood=True, window=10, history=200, cooldown=0, prior=None):
    return post_process(raw, valid, likelihood=likelihood, window=window, history=history,
                        cooldown=cooldown, prior=prior)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 700), window=st.integers(1, 30), history=st.integers(2, 300),
       cooldown=st.integers(0, 40), likelihood=st.booleans(), seed=st.integers(0, 10_000),
       with_prior=st.booleans())
def test_stream_equals_batch(n, window, history, cooldown, likelihood, seed, with_prior):
    rng = np.random.default_rng(seed)
    raw = rng.gamma(1.0, 1.0, n) * rng.choice([0.1, 1.0, 50.0])
    valid = rng.random(n) > 0.1
    prior = likelihood_prior(rng.gamma(1.0, 1.0, 50), window=window) if with_prior else None
    kw = dict(likelihood=likelihood, window=window, history=history, cooldown=cooldown,
              prior=prior)
    np.testing.assert_allclose(_streamed(raw, valid, **kw), _batch(raw, valid, **kw),
                               rtol=1e-7, atol=1e-9)


def test_stream_stays_exact_over_many_history_lengths():
    # The running sums are re-added exactly every `history` points: no drift.
    rng = np.random.default_rng(0)
    raw = rng.lognormal(0, 2, 5000) + 1e6 * (np.arange(5000) < 50)  # a huge early burst
    valid = np.ones(5000, dtype=bool)
    np.testing.assert_allclose(_streamed(raw, valid, history=150),
                               _batch(raw, valid, history=150), rtol=1e-6, atol=1e-9)


def test_causal_the_future_changes_nothing_before_it():
    rng = np.random.default_rng(1)
    raw = rng.gamma(2.0, 1.0, 600)
    changed = raw.copy()
    changed[400:] *= 100
    a = _batch(raw, np.ones(600, bool), cooldown=20)
    b = _batch(changed, np.ones(600, bool), cooldown=20)
    np.testing.assert_array_equal(a[:400], b[:400])
    assert not np.array_equal(a[400:], b[400:])


def test_warm_up_and_invalid_steps_score_zero():
    raw = np.random.default_rng(2).gamma(2.0, 1.0, 400)
    valid = np.ones(400, dtype=bool)
    valid[:30] = False
    s = anomaly_likelihood(raw, valid, window=10, history=1000)
    assert (s[:30 + MIN_HISTORY] == 0).all()  # invalid, then 100 averages to learn from
    assert (s[30 + MIN_HISTORY:] > 0).any()
    assert (s >= 0).all()


def test_a_jump_in_errors_scores_high_and_normal_noise_low():
    rng = np.random.default_rng(3)
    raw = rng.gamma(2.0, 0.5, 1000)
    raw[800:810] += 20.0
    s = anomaly_likelihood(raw, window=5, history=500)
    assert s[800:810].max() > 9  # one in a billion
    assert np.median(s[200:800]) < 1


def test_likelihood_ignores_the_error_scale():
    # What matters is how unusual an error is for its own series, not its units.
    rng = np.random.default_rng(4)
    raw = rng.gamma(2.0, 1.0, 800)
    raw[600] += 30
    np.testing.assert_allclose(anomaly_likelihood(raw * 1000), anomaly_likelihood(raw),
                               atol=1e-9)


def test_cooldown_keeps_the_onset_of_an_incident_only():
    s = np.array([0, 0.2, 0.9, 0.9, 0.8, 0.95, 0.1, 0, 0, 0, 0, 0.5])
    out = apply_cooldown(s, 3)
    np.testing.assert_array_equal(out, [0, 0.2, 0.9, 0, 0, 0.95, 0, 0, 0, 0, 0, 0.5])
    np.testing.assert_array_equal(apply_cooldown(s, 0), s)


@pytest.mark.parametrize("cooldown", [1, 7])
def test_cooldown_stream_equals_batch_on_ties(cooldown):
    s = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 2.0, 2.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(
        _streamed(s, np.ones(len(s), bool), likelihood=False, cooldown=cooldown),
        apply_cooldown(s, cooldown))


def test_a_prior_scores_from_the_first_step_then_fades_out():
    rng = np.random.default_rng(5)
    train, raw = rng.gamma(2.0, 1.0, 300), rng.gamma(2.0, 1.0, 400)
    prior = likelihood_prior(train, window=10)
    with_prior = anomaly_likelihood(raw, window=10, history=1000, prior=prior)
    without = anomaly_likelihood(raw, window=10, history=1000)
    assert (with_prior[:MIN_HISTORY] > 0).any() and (without[:MIN_HISTORY] == 0).all()
    # Once the series has MIN_HISTORY averages of its own, the prior has no say.
    np.testing.assert_allclose(with_prior[MIN_HISTORY:], without[MIN_HISTORY:], rtol=1e-9)


def test_a_prior_needs_two_scores():
    with pytest.raises(ValueError, match="at least 2"):
        likelihood_prior([1.0])


def test_stream_state_has_a_fixed_size_however_long_it_runs():
    f = ScoreFilter(likelihood=True, window=10, history=300, cooldown=20)
    rng = np.random.default_rng(6)
    for r in rng.gamma(2.0, 1.0, 2000):
        f.update(float(r), True)
    assert len(f._avgs) == 300 and len(f._raw) == 10 and len(f._peaks) <= 20
    assert f._avgs._back.nbytes + f._avgs._front.nbytes == 3 * 8 * 300


def test_post_process_without_likelihood_is_the_raw_score_where_valid():
    raw = np.array([5.0, 1.0, 2.0, 3.0])
    valid = np.array([False, True, True, True])
    np.testing.assert_array_equal(post_process(raw, valid, likelihood=False), [0, 1, 2, 3])
    np.testing.assert_array_equal(post_process(raw, valid, likelihood=False, cooldown=2),
                                  [0, 1, 2, 3])
