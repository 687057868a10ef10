"""Tests for tsrnn/baselines.py: the simple detectors a recurrent one must beat.

The estimator contract (clone, params, not-fitted, bad input) runs for every baseline
in tests/test_contract.py. Here each baseline's scores are checked against a naive
computation written independently (numpy loops, scikit-learn's PCA and
IsolationForest), then what they are for: per-series statistics, row alignment,
causality, the anomalies each one catches, thresholds, and clear errors.
"""

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from tsrnn.baselines import (
    DiffDetector,
    IsolationForestDetector,
    PCADetector,
    RollingZScoreDetector,
    ZScoreDetector,
)
from tsrnn.data import DataError

LONG = dict(id_col="series", time_col="timestamp")
HOUR = pd.Timedelta(hours=1)
FEATURES = ["a", "b", "c"]

DETECTORS = {
    "zscore": lambda **p: ZScoreDetector(**{"contamination": 0.05, **p}),
    "diff": lambda **p: DiffDetector(**{"contamination": 0.05, **p}),
    "rolling": lambda **p: RollingZScoreDetector(**{"window": 20, "contamination": 0.05, **p}),
    "iforest": lambda **p: IsolationForestDetector(
        **{"n_estimators": 50, "contamination": 0.05, "random_state": 0, **p}),
    "pca": lambda **p: PCADetector(**{"variance": 0.8, "contamination": 0.05, **p}),
}


# ---------------------------------------------------------------------- frames
def _f32(x: np.ndarray) -> np.ndarray:
    """Values a float32 frame holds exactly, so naive float64 sums see the same data."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _values(n: int, seed: int, level: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """``[n, 3]``: a daily sine, a half-day cosine, and ``c`` that follows ``a``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    a = np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)
    b = 2 * np.cos(2 * np.pi * t / 12) + 3 + 0.1 * rng.standard_normal(n)
    c = a + 0.3 * rng.standard_normal(n)
    return _f32(level + scale * np.stack([a, b, c], axis=1))


def _wide(n: int = 120, seed: int = 0, values: np.ndarray | None = None) -> pd.DataFrame:
    values = _values(n, seed) if values is None else _f32(values)
    return pd.DataFrame(values, columns=FEATURES[:values.shape[1]],
                        index=pd.date_range("2024-01-01", periods=len(values), freq="h"))


SERIES = {"s0": (60, 0.0, 1.0), "s1": (70, 10.0, 3.0), "s2": (80, -5.0, 0.5)}


def _long(seed: int = 0, series=SERIES) -> pd.DataFrame:
    """Series of different lengths, levels and scales, starting at different hours;
    stacked one after the other."""
    return pd.concat([pd.DataFrame({
        "series": sid,
        "timestamp": pd.date_range("2024-01-01", periods=n, freq="h") + 2 * k * HOUR,
        **dict(zip(FEATURES, _values(n, seed + k, level, scale).T, strict=True)),
    }) for k, (sid, (n, level, scale)) in enumerate(series.items())], ignore_index=True)


def _interleaved(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The rows of a long frame interleaved at random (each series' rows stay in time
    order), keeping their index labels."""
    rng = np.random.default_rng(seed)
    keys = np.concatenate([np.sort(rng.random(len(g))) for _, g in frame.groupby("series")])
    return frame.iloc[np.argsort(keys, kind="stable")]


def _rows(frame: pd.DataFrame, sid: str) -> np.ndarray:
    return frame.loc[frame["series"] == sid, FEATURES].to_numpy(dtype=np.float64)


@cache
def _fitted_wide(name: str):
    return DETECTORS[name]().fit(_wide())


# ------------------------------------------------------------ naive references
def _standardize(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (x - ref.mean(axis=0)) / ref.std(axis=0)


def _naive_zscore(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    return np.abs(_standardize(x, train)).sum(axis=1)


def _naive_diff(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    spread = np.diff(train, axis=0).std(axis=0)
    out = np.zeros(len(x))
    out[1:] = (np.abs(np.diff(x, axis=0)) / spread).sum(axis=1)
    return out


def _naive_rolling(x: np.ndarray, window: int) -> np.ndarray:
    out = np.zeros(len(x))
    for t in range(len(x)):
        past = x[max(0, t - window):t]
        if len(past) < 10:
            continue
        for f in range(x.shape[1]):
            sd = past[:, f].std(ddof=1)
            if sd > 0:
                out[t] += abs(x[t, f] - past[:, f].mean()) / sd
    return out


# ------------------------------------------------------- scores against naive
def test_zscore_is_the_sum_of_absolute_z_scores():
    train, new = _wide(seed=0), _wide(90, seed=1)
    det = ZScoreDetector().fit(train)
    x = train.to_numpy(dtype=np.float64)
    np.testing.assert_allclose(det.decision_scores_, _naive_zscore(x, x), rtol=1e-5)
    np.testing.assert_allclose(det.decision_function(new),
                               _naive_zscore(new.to_numpy(dtype=np.float64), x), rtol=1e-5)


def test_diff_is_the_difference_in_units_of_the_training_differences():
    train, new = _wide(seed=0), _wide(90, seed=1)
    det = DiffDetector().fit(train)
    x = train.to_numpy(dtype=np.float64)
    np.testing.assert_allclose(det.decision_scores_, _naive_diff(x, x), rtol=1e-5)
    np.testing.assert_allclose(det.decision_function(new),
                               _naive_diff(new.to_numpy(dtype=np.float64), x), rtol=1e-5)


def test_rolling_zscore_is_a_loop_over_the_previous_window():
    values = _values(120, 0)
    values[50:75] = values[49]  # a constant past: scores 0, not a division by ~0
    train = _wide(values=values)
    det = RollingZScoreDetector(window=12).fit(train)
    expected = _naive_rolling(train.to_numpy(dtype=np.float64), 12)
    assert (expected[62:76] == 0).all() and (expected[20:50] > 0).all()
    np.testing.assert_allclose(det.decision_scores_, expected, rtol=1e-4, atol=1e-6)
    new = _wide(90, seed=1)
    np.testing.assert_allclose(det.decision_function(new),
                               _naive_rolling(new.to_numpy(dtype=np.float64), 12),
                               rtol=1e-4, atol=1e-6)


def test_pca_is_hotellings_t2_plus_q_of_sklearns_pca():
    train, new = _wide(seed=0), _wide(90, seed=1)
    det = PCADetector(variance=0.8).fit(train)
    x = train.to_numpy(dtype=np.float64)
    z = _standardize(x, x)
    pca = PCA(n_components=0.8, svd_solver="full").fit(z)
    assert det.components_.shape[0] == pca.n_components_ < z.shape[1], \
        "a residual subspace, so that Q counts"

    def t2_q(rows):
        t2 = (pca.transform(rows) ** 2 / pca.explained_variance_).sum(axis=1)
        q = ((rows - pca.inverse_transform(pca.transform(rows))) ** 2).sum(axis=1)
        return t2, q

    t2, q = t2_q(z)
    np.testing.assert_allclose(det.decision_scores_, t2 / t2.mean() + q / q.mean(), rtol=1e-4)
    t2_new, q_new = t2_q(_standardize(new.to_numpy(dtype=np.float64), x))
    np.testing.assert_allclose(det.decision_function(new),
                               t2_new / t2.mean() + q_new / q.mean(), rtol=1e-4)


def test_isolation_forest_is_sklearns_on_rows_standardized_per_series():
    frame = _long()
    det = IsolationForestDetector(n_estimators=30, random_state=3).fit(frame, **LONG)
    z = np.concatenate([_standardize(_rows(frame, sid), _rows(frame, sid))
                        for sid in SERIES]).astype(np.float32)
    forest = IsolationForest(n_estimators=30, random_state=3).fit(z)
    np.testing.assert_allclose(det.decision_scores_, -forest.score_samples(z), rtol=1e-6)


# ------------------------------------------------------------ series and rows
@pytest.mark.parametrize("name", ["zscore", "diff", "rolling"])
def test_a_long_frame_scores_each_series_as_if_alone(name):
    frame = _long()
    det = DETECTORS[name]().fit(frame, **LONG)
    scores = det.decision_function(frame)
    for sid in SERIES:
        alone = frame[frame["series"] == sid].set_index("timestamp")[FEATURES]
        expected = DETECTORS[name]().fit(alone).decision_scores_
        np.testing.assert_allclose(scores[frame["series"] == sid], expected, rtol=1e-5,
                                   atol=1e-6, err_msg=sid)


@pytest.mark.parametrize("name", DETECTORS)
def test_each_series_is_standardized_by_its_own_statistics(name):
    """Moving and stretching one series changes no score, and nor do the other
    series: statistics are per series."""
    frame = _long()
    moved = frame.copy()
    rows = moved["series"] == "s1"
    moved.loc[rows, FEATURES] = _f32(moved.loc[rows, FEATURES] * 8 - 300)
    a = DETECTORS[name]().fit(frame, **LONG)
    b = DETECTORS[name]().fit(moved, **LONG)
    np.testing.assert_allclose(b.decision_scores_, a.decision_scores_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.decision_function(moved), a.decision_function(frame),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("detector", "naive"), [(ZScoreDetector, _naive_zscore),
                                                  (DiffDetector, _naive_diff)])
def test_a_series_unseen_at_fit_is_standardized_by_its_own_rows(detector, naive):
    frame = _long()
    det = detector().fit(frame, **LONG)
    new = pd.concat([_long(seed=5, series={"new": (50, 100.0, 7.0)}),
                     frame[frame["series"] == "s0"]], ignore_index=True)
    scores = det.decision_function(new)
    unseen = _rows(new, "new")
    np.testing.assert_allclose(scores[new["series"] == "new"], naive(unseen, unseen),
                               rtol=1e-5)
    # A known series in the same frame keeps its training statistics.
    s0 = _rows(frame, "s0")
    np.testing.assert_allclose(scores[new["series"] == "s0"], naive(s0, s0), rtol=1e-5)


@pytest.mark.parametrize("name", DETECTORS)
def test_scores_are_aligned_to_the_input_rows(name):
    frame = _long()
    frame.index = pd.Index(np.random.default_rng(1).permutation(len(frame)) + 1000)
    shuffled = _interleaved(frame)
    assert not shuffled["series"].is_monotonic_increasing
    det = DETECTORS[name]().fit(shuffled, **LONG)
    scores = det.decision_function(shuffled)
    assert scores.index.equals(shuffled.index)
    np.testing.assert_allclose(det.decision_scores_, scores, rtol=1e-6)
    ordered = DETECTORS[name]().fit(frame, **LONG).decision_function(frame)
    assert ordered.index.equals(frame.index)
    pd.testing.assert_series_equal(scores.sort_index(), ordered.sort_index(), rtol=1e-6)
    wide = _wide()
    assert _fitted_wide(name).decision_function(wide).index.equals(wide.index)


# -------------------------------------------------------------------- causal
@pytest.mark.parametrize("name", DETECTORS)
@settings(max_examples=15, deadline=None)
@given(row=st.integers(1, 119), delta=st.floats(-20, 20).filter(lambda d: abs(d) > 1e-3),
       column=st.sampled_from(FEATURES))
def test_a_later_row_never_changes_earlier_scores(name, row, delta, column):
    det = _fitted_wide(name)
    frame = _wide()
    before = det.decision_function(frame).to_numpy()
    frame.iloc[row, frame.columns.get_loc(column)] += delta
    after = det.decision_function(frame).to_numpy()
    np.testing.assert_array_equal(after[:row], before[:row])


# -------------------------------------------------------- what each one catches
@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("columns", [[0, 2], [0]], ids=["two-features", "one-feature"])
def test_a_spike_ranks_first(request, name, columns):
    if name == "iforest" and columns == [0]:
        # Splits fall inside the training range, so a value beyond it isolates no
        # faster however far out it is: a spike in one of three features ranks with
        # the corners of the normal cloud (3rd here, 2nd to 20th over seeds 0-4).
        request.applymarker(pytest.mark.xfail(strict=True, reason="Isolation Forest "
                                              "saturates outside the training range"))
    det = _fitted_wide(name)
    values = _values(100, seed=1)
    values[70, columns] += 6
    scores = det.decision_function(_wide(values=values)).to_numpy()
    if name == "diff":  # the drop back after the spike is as large a difference
        assert set(np.argsort(scores)[-2:]) == {70, 71}
    else:
        assert np.argmax(scores) == 70


@pytest.mark.parametrize("name", ["zscore", "diff", "rolling", "pca"])
def test_a_value_at_float32s_limit_scores_infinite_not_nan(name):
    # 3.4e38 (a sensor's fault code) scaled overflows float32: PCA's score was
    # NaN, which no threshold flags, and numpy warned of the overflow.
    det = _fitted_wide(name)
    values = _values(100, seed=1)
    values[70, 0] = 3.4e38
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = det.decision_function(_wide(values=values)).to_numpy()
    assert np.isinf(scores[70]) and not np.isnan(scores).any()


@pytest.mark.parametrize("name", ["zscore", "pca"])
def test_a_level_shift_outranks_every_normal_row(name):
    det = _fitted_wide(name)
    values = _values(100, seed=1)
    values[60:, 1] += 8 * values[:, 1].std()
    scores = det.decision_function(_wide(values=values)).to_numpy()
    assert scores[60:].min() > scores[:60].max()


def test_a_correlation_break_is_caught_by_pca_not_by_the_zscore_sum():
    """``b`` moves with ``a`` in training, then against it, each within its usual
    range: no value is unusual, only the pair is."""
    rng = np.random.default_rng(0)
    t = np.arange(300)
    a = np.sin(2 * np.pi * t / 24) + 0.05 * rng.standard_normal(300)
    b = a + 0.05 * rng.standard_normal(300)
    train = _wide(values=np.stack([a[:200], b[:200]], axis=1))
    broken = t[200:] >= 250
    b_new = np.where(broken, -a[200:], b[200:])
    # Each value within its training range: no single value is unusual.
    new = _wide(values=np.stack([np.clip(a[200:], train["a"].min(), train["a"].max()),
                                 np.clip(b_new, train["b"].min(), train["b"].max())], axis=1))
    pca = PCADetector(variance=0.9).fit(train).decision_function(new).to_numpy()
    zscore = ZScoreDetector().fit(train).decision_function(new).to_numpy()
    # Rows where a ~ 0 are the same with b = a or -a: judge the rows where they differ.
    apart = np.abs(a[200:]) > 0.3
    assert pca[broken & apart].min() > pca[~broken].max()
    assert roc_auc_score(broken, pca) > 0.9
    assert roc_auc_score(broken, zscore) < 0.6


# --------------------------------------------------------- thresholds, labels
@pytest.mark.parametrize("name", DETECTORS)
def test_contamination_sets_the_threshold_and_labels(name):
    train = _wide()
    det = DETECTORS[name](contamination=0.1).fit(train)
    scores = det.decision_scores_
    assert isinstance(scores, np.ndarray) and scores.shape == (len(train),)
    np.testing.assert_allclose(det.decision_function(train), scores, rtol=1e-6)
    assert det.threshold_ == pytest.approx(np.quantile(scores, 0.9))
    np.testing.assert_array_equal(det.labels_, (scores > det.threshold_).astype(int))
    assert det.labels_.mean() == pytest.approx(0.1, abs=0.02)
    labels = det.predict(train)
    assert labels.index.equals(train.index) and set(labels.unique()) <= {0, 1}
    np.testing.assert_array_equal(labels, det.labels_)
    new = _wide(90, seed=1)
    np.testing.assert_array_equal(det.predict(new),
                                  (det.decision_function(new) > det.threshold_).astype(int))


def test_numpy_numbers_are_taken_as_parameters():
    det = PCADetector(contamination=np.float32(0.1), variance=np.float64(0.8)).fit(_wide())
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9), rel=1e-6)


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("contamination", [0, 0.5, -0.1, 1, "0.1", None, float("nan")])
def test_bad_contamination_is_refused(name, contamination):
    with pytest.raises(ValueError, match="contamination must be in"):
        DETECTORS[name](contamination=contamination).fit(_wide())


@pytest.mark.parametrize("window", [0, 9, 12.0, "24", True, None])
def test_bad_window_is_refused(window):
    with pytest.raises(ValueError, match="window must be an integer >= 10"):
        RollingZScoreDetector(window=window).fit(_wide())


@pytest.mark.parametrize("variance", [0, 1, 1.5, -0.1, "0.9", None])
def test_bad_variance_is_refused(variance):
    with pytest.raises(ValueError, match="variance must be in"):
        PCADetector(variance=variance).fit(_wide())


@pytest.mark.parametrize("n_estimators", [0, 2.5, None])
def test_bad_n_estimators_is_refused(n_estimators):
    with pytest.raises(ValueError, match="n_estimators must be an integer"):
        IsolationForestDetector(n_estimators=n_estimators).fit(_wide())


@pytest.mark.parametrize("name", DETECTORS)
def test_a_too_short_series_is_named(name):
    det = DETECTORS[name]()
    rows = 2 if name == "diff" else 1  # a difference needs 2 rows, its spread 3
    with pytest.raises(DataError, match=rf"^the series has {rows} rows; .* needs at least"):
        det.fit(_wide().iloc[:rows])
    frame = _long()
    short = frame[(frame["series"] != "s1") | (frame.groupby("series").cumcount() < rows)]
    assert (short["series"] == "s1").sum() == rows
    with pytest.raises(DataError, match=rf"^series 's1' has {rows} rows"):
        det.fit(short, **LONG)


@pytest.mark.parametrize("name", DETECTORS)
def test_scoring_before_fit_raises_not_fitted(name):
    det = DETECTORS[name]()
    for call in (det.decision_function, det.predict):
        with pytest.raises(NotFittedError):
            call(_wide())


@pytest.mark.parametrize("name", DETECTORS)
def test_a_missing_column_at_scoring_time_is_named(name):
    with pytest.raises(DataError, match="column 'b' is not in the DataFrame"):
        _fitted_wide(name).decision_function(_wide().drop(columns="b"))


@pytest.mark.parametrize("name", DETECTORS)
def test_save_and_load_say_there_is_no_model_file(name, tmp_path):
    det = _fitted_wide(name)
    with pytest.raises(NotImplementedError, match="no model file"):
        det.save(tmp_path / "model.pt")
    with pytest.raises(NotImplementedError, match="no model file"):
        type(det).load(tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []
