"""The anomaly likelihood and cooldown: batch and stream agree, both are causal."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsrnn.likelihood import (
    MIN_HISTORY,
    OUT_OF_RANGE_SCORE,
    RangeWatch,
    ScoreFilter,
    anomaly_likelihood,
    apply_cooldown,
    likelihood_prior,
    post_process,
    range_breaches,
    sustained,
)


def _streamed(raw, valid, *, likelihood=True, window=10, history=200, cooldown=0, prior=None,
              smoothing=0, average="squared"):
    f = ScoreFilter(likelihood=likelihood, window=window, history=history, cooldown=cooldown,
                    prior=prior, smoothing=smoothing, average=average)
    return np.array([f.update(r, v) for r, v in zip(raw, valid, strict=True)])


def _batch(raw, valid, *, likelihood=True, window=10, history=200, cooldown=0, prior=None,
           smoothing=0, average="squared"):
    return post_process(raw, valid, likelihood=likelihood, window=window, history=history,
                        cooldown=cooldown, prior=prior, smoothing=smoothing, average=average)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 700), window=st.integers(1, 30), history=st.integers(2, 300),
       cooldown=st.integers(0, 40), likelihood=st.booleans(), seed=st.integers(0, 10_000),
       with_prior=st.booleans(), smoothing=st.integers(0, 60),
       average=st.sampled_from(["absolute", "squared"]))
def test_stream_equals_batch(n, window, history, cooldown, likelihood, seed, with_prior,
                             smoothing, average):
    rng = np.random.default_rng(seed)
    raw = rng.gamma(1.0, 1.0, n) * rng.choice([0.1, 1.0, 50.0])
    valid = rng.random(n) > 0.1
    prior = (likelihood_prior(rng.gamma(1.0, 1.0, 50), window=window, average=average)
             if with_prior else None)
    kw = dict(likelihood=likelihood, window=window, history=history, cooldown=cooldown,
              prior=prior, smoothing=smoothing, average=average)
    np.testing.assert_allclose(_streamed(raw, valid, **kw), _batch(raw, valid, **kw),
                               rtol=1e-7, atol=1e-9)


def test_stream_stays_exact_over_many_history_lengths():
    # The running sums are re-added exactly every `history` points: no drift.
    rng = np.random.default_rng(0)
    raw = rng.lognormal(0, 2, 5000) + 1e6 * (np.arange(5000) < 50)  # a huge early burst
    valid = np.ones(5000, dtype=bool)
    np.testing.assert_allclose(_streamed(raw, valid, history=150),
                               _batch(raw, valid, history=150), rtol=1e-6, atol=1e-9)


def test_the_absolute_average_is_the_squared_mean_of_the_roots():
    from tsrnn.likelihood import _likelihood_averages

    x = np.array([1.0, 4.0, 9.0, 100.0])
    np.testing.assert_allclose(_likelihood_averages(x, 3, "absolute"),
                               [1.0, 2.25, 4.0, ((2 + 3 + 10) / 3) ** 2])
    np.testing.assert_allclose(_likelihood_averages(x, 3, "squared"),
                               [1.0, 2.5, 14 / 3, 113 / 3])
    with pytest.raises(ValueError, match="average must be one of"):
        _likelihood_averages(x, 3, "median")


def test_one_outlier_lifts_the_absolute_average_less_than_the_squared():
    # Twenty steps of noise with one routine outlier: the mean of squared errors
    # is dominated by it; the average of magnitudes much less.
    rng = np.random.default_rng(4)
    raw = rng.chisquare(1, 2000)
    raw[1500] = 200.0
    valid = np.ones(2000, dtype=bool)
    outlier = {a: _batch(raw, valid, history=1000, average=a)[1500:1520].max()
               for a in ("absolute", "squared")}
    assert outlier["absolute"] < 0.5 * outlier["squared"]
    jump = raw.copy()
    jump[1500:1520] += 20.0  # an incident: twenty steps far above the noise
    incident = {a: _batch(jump, valid, history=1000, average=a)[1500:1520].max()
                for a in ("absolute", "squared")}
    # the incident stands further above the outlier (seed 4: 2.4 times, against 1.2)
    assert (incident["absolute"] / outlier["absolute"]
            > 1.5 * incident["squared"] / outlier["squared"])


def test_a_squared_filter_keeps_the_attributes_older_stream_files_hold():
    old = ScoreFilter(likelihood=True, window=10, history=100, cooldown=0, average="squared")
    new = ScoreFilter(likelihood=True, window=10, history=100, cooldown=0, average="absolute")
    assert "average" not in vars(old) and old.average == "squared"
    assert vars(new)["average"] == "absolute"


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


@pytest.mark.parametrize("smoothing", [0, 1, 2, 5, 50])
def test_sustained_equals_a_step_by_step_loop(smoothing):
    rng = np.random.default_rng(smoothing)
    raw = rng.gamma(1.0, 1.0, 300)
    valid = rng.random(300) > 0.2
    expected, seen = np.zeros(300), []
    for t in range(300):  # the definition: the mean of the last valid raw scores
        if valid[t]:
            seen.append(raw[t])
            recent = seen[-smoothing:] if smoothing > 1 else [raw[t]]
            expected[t] = max(raw[t], float(np.mean(recent)))
    np.testing.assert_allclose(sustained(raw, valid, smoothing), expected, rtol=1e-12)
    np.testing.assert_allclose(post_process(raw, valid, likelihood=False, smoothing=smoothing),
                               expected, rtol=1e-12)


def test_sustained_keeps_a_blip_and_holds_a_long_incident_up():
    raw = np.ones(200)
    raw[50] = 30.0  # a blip
    raw[100:160] = 8.0  # a long incident ...
    raw[130:140] = 1.0  # ... in which the error dips back to normal for a while
    out = sustained(raw, smoothing=50)
    assert out[50] == 30.0  # the blip keeps its own peak
    assert (out[130:140] > 4.0).all()  # the dip stays high: the incident's running mean
    assert out[40] == 1.0 and (out[:50] == 1.0).all()


def test_post_process_without_likelihood_is_the_raw_score_where_valid():
    raw = np.array([5.0, 1.0, 2.0, 3.0])
    valid = np.array([False, True, True, True])
    np.testing.assert_array_equal(post_process(raw, valid, likelihood=False), [0, 1, 2, 3])
    np.testing.assert_array_equal(post_process(raw, valid, likelihood=False, cooldown=2),
                                  [0, 1, 2, 3])


# --- the range check ---------------------------------------------------------


def _naive_breaches(values, tolerance, start=None):
    """The definition of :func:`range_breaches`, one step and one column at a time."""
    x = np.asarray(values, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    low = None if start is None else [float(v) for v in start[0]]
    high = None if start is None else [float(v) for v in start[1]]
    out = []
    for t, row in enumerate(x):
        breach = False
        if low is None:  # the first step sets the range
            low, high = [float(v) for v in row], [float(v) for v in row]
        else:
            for j, v in enumerate(row):
                margin = tolerance * (high[j] - low[j])
                if high[j] > low[j] and (v < low[j] - margin or v > high[j] + margin):
                    breach = True
                low[j], high[j] = min(low[j], v), max(high[j], v)
        out.append(breach and (start is not None or t >= MIN_HISTORY))
    return np.array(out, dtype=bool)


def _range_case(seed, n, n_cols, kind, with_start):
    """Values ``[n]`` (``n_cols`` 0) or ``[n, n_cols]`` of one kind, and a start range."""
    rng = np.random.default_rng(seed)
    shape = (n, max(n_cols, 1))
    if kind == "walk":  # new extremes now and then
        x = np.cumsum(rng.normal(size=shape), axis=0)
    elif kind == "growing":  # noise whose spread grows: many breaches after the start
        x = rng.normal(size=shape) * (1 + np.arange(n)[:, None] / 20)
    elif kind == "ties":  # few distinct values: steps exactly at the range's ends
        x = rng.integers(0, 4, size=shape).astype(np.float64)
    else:  # "constant" columns next to a noisy one
        x = np.full(shape, 3.0)
        x[:, 0] = rng.normal(size=n)
    start = None
    if with_start:
        low = rng.normal(size=shape[1]) - rng.choice([0.0, 1.0])
        high = low + rng.choice([0.0, 0.5, 3.0], size=shape[1])  # some with no range
        start = (low, high)
    return (x[:, 0] if n_cols == 0 else x), start


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 260), n_cols=st.integers(0, 3),
       kind=st.sampled_from(["walk", "growing", "ties", "constant"]),
       tolerance=st.sampled_from([0.0, 0.05, 0.3]), with_start=st.booleans(),
       seed=st.integers(0, 10_000))
def test_range_breaches_equals_a_step_by_step_loop(n, n_cols, kind, tolerance, with_start,
                                                    seed):
    values, start = _range_case(seed, n, n_cols, kind, with_start)
    out = range_breaches(values, tolerance, start)
    assert out.shape == (n,) and out.dtype == bool
    np.testing.assert_array_equal(out, _naive_breaches(values, tolerance, start))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 260), n_cols=st.integers(0, 3),
       kind=st.sampled_from(["walk", "growing", "ties", "constant"]),
       tolerance=st.sampled_from([0.0, 0.05, 0.3]), with_start=st.booleans(),
       seed=st.integers(0, 10_000))
def test_range_watch_equals_range_breaches(n, n_cols, kind, tolerance, with_start, seed):
    values, start = _range_case(seed, n, n_cols, kind, with_start)
    watch = RangeWatch(tolerance, start)
    streamed = [watch.update(v if n_cols else np.array([v])) for v in values]
    assert all(isinstance(b, bool) for b in streamed)
    np.testing.assert_array_equal(np.array(streamed, dtype=bool),
                                  range_breaches(values, tolerance, start))


def test_range_breaches_by_hand():
    # Start range [0, 10], tolerance 0.05: a margin of 0.5. 10.4 is inside it
    # (< 10.5) and widens the range to [0, 10.4], a margin of 0.52; 11 is beyond
    # 10.92 and widens it to [0, 11], a margin of 0.55; -0.6 < -0.55 breaches and
    # widens it to [-0.6, 11], a margin of 0.58; -0.4 is inside again.
    values = np.array([10.4, 11.0, -0.6, -0.4])
    expected = [False, True, True, False]
    start = (np.array([0.0]), np.array([10.0]))
    np.testing.assert_array_equal(range_breaches(values, 0.05, start), expected)
    watch = RangeWatch(0.05, start)
    assert [watch.update(v) for v in values[:, None]] == expected
    # Without a margin, 10.4 is already beyond 10.
    np.testing.assert_array_equal(range_breaches(values, 0.0, start)[:1], [True])


def test_without_a_start_the_first_steps_only_learn_the_range():
    x = np.tile([0.0, 1.0], 80)[:MIN_HISTORY + 10]
    x[50] = 1e6  # huge jumps while the range is learnt: not breaches
    x[MIN_HISTORY - 1] = 1.5e6  # the last step learnt
    # The first step checked: the range is [0, 1.5e6], the margin 7.5e4.
    x[MIN_HISTORY] = 2e6
    out = range_breaches(x, 0.05)
    assert not out[:MIN_HISTORY].any()
    assert out[MIN_HISTORY] and not out[MIN_HISTORY + 1:].any()
    watch = RangeWatch(0.05)
    np.testing.assert_array_equal([watch.update(v) for v in x[:, None]], out)
    # With a start range, the same jump at step 50 breaches at once.
    start = (np.array([0.0]), np.array([1.0]))
    assert range_breaches(x, 0.05, start)[50]


def test_a_column_with_one_value_so_far_never_breaches():
    n = MIN_HISTORY + 30
    x = np.column_stack([np.full(n, 5.0), np.tile([0.0, 1.0], n // 2)])
    x[MIN_HISTORY + 10, 0] = 1e6  # the first other value of column 0: no range to leave
    x[MIN_HISTORY + 20, 0] = -1e6  # now the range is [5, 1e6]: far below it
    out = range_breaches(x, 0.05)
    np.testing.assert_array_equal(np.flatnonzero(out), [MIN_HISTORY + 20])
    watch = RangeWatch(0.05)
    np.testing.assert_array_equal([watch.update(v) for v in x], out)
    # The same with a start range that is a single value.
    start = (np.array([5.0, 0.0]), np.array([5.0, 1.0]))
    np.testing.assert_array_equal(np.flatnonzero(range_breaches(x, 0.05, start)),
                                  [MIN_HISTORY + 20])


def test_range_watch_ignores_missing_values():
    watch = RangeWatch(0.05, (np.array([0.0, 0.0]), np.array([10.0, 10.0])))
    assert watch.update(np.array([np.nan, 5.0])) is False
    assert watch.update(np.array([np.nan, np.nan])) is False
    # The range is as it was: no NaN in it, not widened.
    np.testing.assert_array_equal(watch.low, [0.0, 0.0])
    np.testing.assert_array_equal(watch.high, [10.0, 10.0])
    # A NaN in one column does not hide a breach in another.
    assert watch.update(np.array([np.nan, 10.6])) is True
    assert watch.update(np.array([10.6, np.nan])) is True  # column 0 still [0, 10]
    # Without a start, a NaN in the first step leaves that column without a range.
    watch = RangeWatch(0.05)
    for v in [np.nan] + [0.0, 1.0] * 60:
        watch.update(np.array([v]))
    np.testing.assert_array_equal([watch.low, watch.high], [[0.0], [1.0]])
    assert watch.update(np.array([1.2])) is True and watch.update(np.array([np.nan])) is False


def test_range_breaches_treats_missing_values_as_the_stream_does():
    # A NaN neither breaches nor widens the range, nor switches the check off.
    x = np.array([0.0, 1.0, np.nan, 0.5, 100.0, np.nan, 100.0])
    start = (np.array([0.0]), np.array([1.0]))
    batch = range_breaches(x, 0.05, start)
    watch = RangeWatch(0.05, start)
    np.testing.assert_array_equal(batch, [watch.update(np.array([v])) for v in x])
    np.testing.assert_array_equal(np.flatnonzero(batch), [4])
    # inf (what fill="ffill" carries forward too) is missing just the same.
    infs = np.where(np.isnan(x), np.inf, x)
    np.testing.assert_array_equal(range_breaches(infs, 0.05, start), batch)
    watch = RangeWatch(0.05, start)
    np.testing.assert_array_equal([watch.update(np.array([v])) for v in infs], batch)


def test_breaches_score_at_least_the_out_of_range_score():
    raw = np.array([0.5, 0.2, 2000.0, 0.1, 0.3, 0.4])
    valid = np.array([True, True, True, True, False, True])
    breaches = np.array([False, True, True, False, True, False])
    out = post_process(raw, valid, likelihood=False, breaches=breaches)
    # At a breach: the larger of the score and OUT_OF_RANGE_SCORE, even where not
    # valid; elsewhere the raw score (0 where not valid).
    np.testing.assert_array_equal(out, [0.5, OUT_OF_RANGE_SCORE, 2000.0, 0.1,
                                        OUT_OF_RANGE_SCORE, 0.4])
    np.testing.assert_array_equal(post_process(raw, valid, likelihood=False),
                                  [0.5, 0.2, 2000.0, 0.1, 0.0, 0.4])
    # With the likelihood too.
    rng = np.random.default_rng(7)
    raw = rng.gamma(2.0, 1.0, 300)
    breaches = rng.random(300) < 0.05
    out = post_process(raw, likelihood=True, window=10, history=200, breaches=breaches)
    assert (out[breaches] >= OUT_OF_RANGE_SCORE).all()
    assert (out[~breaches] < OUT_OF_RANGE_SCORE).all()


def test_the_cooldown_runs_after_the_range_check():
    raw = np.array([0.1, 0.2, 0.1, 1500.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    breaches = np.zeros(10, dtype=bool)
    breaches[[1, 2, 3, 8]] = True
    out = post_process(raw, likelihood=False, cooldown=3, breaches=breaches)
    # Step 1 breaches (1000); step 2's breach, no worse, within the cooldown: 0;
    # step 3 breaches worse (1500): kept; step 8 is more than 3 steps after it.
    np.testing.assert_array_equal(out, [0.1, OUT_OF_RANGE_SCORE, 0.0, 1500.0, 0.0, 0.0,
                                        0.0, 0.0, OUT_OF_RANGE_SCORE, 0.0])
    f = ScoreFilter(likelihood=False, window=10, history=200, cooldown=3)
    np.testing.assert_array_equal(
        [f.update(r, True, b) for r, b in zip(raw, breaches, strict=True)], out)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 500), window=st.integers(1, 30), history=st.integers(2, 300),
       cooldown=st.integers(0, 40), likelihood=st.booleans(), seed=st.integers(0, 10_000),
       with_prior=st.booleans(), breach_rate=st.sampled_from([0.0, 0.02, 0.3]))
def test_stream_equals_batch_with_breaches(n, window, history, cooldown, likelihood, seed,
                                           with_prior, breach_rate):
    rng = np.random.default_rng(seed)
    raw = rng.gamma(1.0, 1.0, n) * rng.choice([0.1, 1.0, 50.0, 1e4])
    valid = rng.random(n) > 0.1
    breaches = rng.random(n) < breach_rate
    prior = likelihood_prior(rng.gamma(1.0, 1.0, 50), window=window) if with_prior else None
    f = ScoreFilter(likelihood=likelihood, window=window, history=history, cooldown=cooldown,
                    prior=prior)
    streamed = [f.update(r, v, b) for r, v, b in zip(raw, valid, breaches, strict=True)]
    batch = post_process(raw, valid, likelihood=likelihood, window=window, history=history,
                         cooldown=cooldown, prior=prior, breaches=breaches)
    np.testing.assert_allclose(streamed, batch, rtol=1e-7, atol=1e-9)
    if not cooldown:
        assert (batch[breaches] >= OUT_OF_RANGE_SCORE).all()
