"""The estimator contract: one suite of checks run against every tsrnn estimator.

Like scikit-learn's ``parametrize_with_checks``, at tiny sizes. To put a new
estimator under contract, add an :class:`EstimatorCase` to ``CASES``: a factory with
tiny test parameters, a function that makes a small fit frame, the fit keyword
arguments, and how to read a comparable output from the fitted estimator.
"""

from __future__ import annotations

import copy
import gc
import inspect
import pickle
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from tsrnn import AnomalyDetector, Forecaster, SequenceClassifier
from tsrnn.baselines import (
    DiffDetector,
    IsolationForestDetector,
    PCADetector,
    RollingZScoreDetector,
    ZScoreDetector,
)
from tsrnn.data import DataError

Estimator = BaseEstimator
Call = Callable[[Estimator, pd.DataFrame, Path], Any]


@dataclass(frozen=True)
class EstimatorCase:
    """One estimator under contract.

    Attributes
    ----------
    id
        Test id.
    make
        The estimator with tiny test parameters; keyword arguments override them.
    make_frame
        ``seed -> DataFrame``: a small fit frame. Seeds 0 and 1 give frames that
        differ in values (and length).
    fit_kwargs
        Keyword arguments of ``fit`` besides the frame.
    output
        A comparable numeric output of a fitted estimator, e.g. ``predict()``.
    apply
        Use a fitted estimator on a new frame, e.g. ``predict(df)``.
    column
        A numeric input column that the bad-input checks corrupt.
    dropped
        A column whose absence from a frame ``apply`` must name.
    needs_fit
        Calls that raise ``NotFittedError`` before ``fit``.
    per_row
        Learned attributes with one value per training row, such as PyOD's
        ``decision_scores_`` and ``labels_``: results, not a copy of the frame.
    saves
        Whether the estimator writes a model file (``save`` / ``load``). The
        baselines have none: they refit in seconds and say so.
    seeded
        Whether a ``random_state`` parameter decides the result (the deterministic
        baselines have none).
    too_short
        Rows of a fit frame too short to learn from.
    """

    id: str
    make: Callable[..., Estimator]
    make_frame: Callable[[int], pd.DataFrame]
    fit_kwargs: dict
    output: Callable[[Estimator], np.ndarray]
    apply: Callable[[Estimator, pd.DataFrame], Any]
    column: str
    dropped: str
    needs_fit: dict[str, Call] = field(default_factory=dict)
    per_row: tuple[str, ...] = ()
    saves: bool = True
    seeded: bool = True
    too_short: int = 5

    def fit(self, seed: int = 0, **params) -> Estimator:
        return self.make(**params).fit(self.make_frame(seed), **self.fit_kwargs)


# ---------------------------------------------------------------- Forecaster cases
HOURS = pd.Timedelta(hours=1)


def _numbers(frame: pd.DataFrame) -> np.ndarray:
    """The numeric columns of an output frame (forecasts), as one array."""
    return frame.select_dtypes("number").to_numpy(dtype=np.float64)


def _wide_frame(seed: int) -> pd.DataFrame:
    """One series, ``DatetimeIndex``, two target columns."""
    n = 200 - 20 * (seed % 2)
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame(
        {"y": 10 + np.sin(2 * np.pi * t / 24) + 0.2 * rng.standard_normal(n),
         "z": np.cos(2 * np.pi * t / 12) + 0.2 * rng.standard_normal(n)},
        index=pd.date_range("2024-01-01", periods=n, freq="h"),
    )


def _calendar(times: pd.DatetimeIndex) -> np.ndarray:
    return np.sin(2 * np.pi * times.hour.to_numpy() / 24)


def _long_frame(seed: int) -> pd.DataFrame:
    """Three series of different lengths and ends; two targets, a past and a
    known-future covariate."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, sid in enumerate("abc"):
        n = 90 + 10 * k - 10 * (seed % 2)
        times = pd.date_range("2024-01-01", periods=n, freq="h") + k * HOURS
        f = _calendar(times)
        parts.append(pd.DataFrame({
            "series": sid, "timestamp": times,
            "y1": 5 * k + f + 0.2 * rng.standard_normal(n),
            "y2": np.cumsum(rng.standard_normal(n)),
            "p": rng.standard_normal(n), "f": f,
        }))
    return pd.concat(parts, ignore_index=True)


# Known-future covariates for every series over a span covering every frame's horizon.
_FUTURE_TIMES = pd.date_range("2024-01-01", periods=24 * 10, freq="h")
LONG_FUTURE = pd.DataFrame({
    "series": np.repeat(list("abc"), len(_FUTURE_TIMES)),
    "timestamp": np.tile(_FUTURE_TIMES, 3),
    "f": np.tile(_calendar(_FUTURE_TIMES), 3),
})

TINY = dict(input_len=16, horizon=4, hidden_size=8, max_epochs=2, batch_size=32,
            accelerator="cpu", random_state=0)


def _forecaster(**params) -> Forecaster:
    return Forecaster(**{**TINY, **params})


def _long_forecaster(**params) -> Forecaster:
    return Forecaster(**{
        **TINY, "cell": "rnn", "num_layers": 2, "strategy": "recursive", "segment_len": 4,
        "quantiles": [0.1, 0.5, 0.9], "channel_independent": False,
        "window_norm": "standard", "scaler": "minmax", "learn_initial_state": True,
        "n_models": 2, "calendar": "auto", **params,
    })


def _forecaster_needs_fit(future=None) -> dict[str, Call]:
    return {
        "predict": lambda est, df, path: est.predict(future=future),
        "predict(df)": lambda est, df, path: est.predict(df, future=future),
        "historical_forecasts": lambda est, df, path: est.historical_forecasts(df),
        "score": lambda est, df, path: est.score(df),
        "save": lambda est, df, path: est.save(path),
    }


# ----------------------------------------------------------- AnomalyDetector case
DETECTOR_TINY = dict(window=8, hidden_size=8, max_epochs=2, batch_size=32, accelerator="cpu",
                     random_state=0)


def _detector(**params) -> AnomalyDetector:
    return AnomalyDetector(**{**DETECTOR_TINY, **params})


def _detector_output(est: AnomalyDetector) -> np.ndarray:
    """Scores of every row of the seed-0 frame, then the threshold."""
    scores = est.decision_function(_wide_frame(0)).to_numpy(dtype=np.float64)
    return np.append(scores, est.threshold_)


_DETECTOR_NEEDS_FIT: dict[str, Call] = {
    "decision_function": lambda est, df, path: est.decision_function(df),
    "predict": lambda est, df, path: est.predict(df),
    "feature_scores": lambda est, df, path: est.feature_scores(df),
    "stream": lambda est, df, path: est.stream(),
    "save": lambda est, df, path: est.save(path),
}


# ------------------------------------------------------------ baseline detectors
LONG_ROLES = dict(id_col="series", time_col="timestamp")


def _scores_and_threshold(make_frame: Callable[[int], pd.DataFrame]):
    """Scores of every row of the seed-0 frame, then the threshold."""
    def output(est) -> np.ndarray:
        scores = est.decision_function(make_frame(0)).to_numpy(dtype=np.float64)
        return np.append(scores, est.threshold_)
    return output


def _baseline_case(cls, params: dict, make_frame, fit_kwargs: dict, column: str, dropped: str,
                   too_short: int = 1) -> EstimatorCase:
    return EstimatorCase(
        id=cls.__name__,
        make=lambda **p: cls(**{**params, **p}),
        make_frame=make_frame,
        fit_kwargs=fit_kwargs,
        output=_scores_and_threshold(make_frame),
        apply=lambda est, df: est.decision_function(df).to_frame(),
        column=column,
        dropped=dropped,
        needs_fit={"decision_function": lambda est, df, path: est.decision_function(df),
                   "predict": lambda est, df, path: est.predict(df)},
        per_row=("decision_scores_", "labels_"),
        saves=False,
        seeded="random_state" in params,
        too_short=too_short,
    )


_LONG_BASELINE = dict(make_frame=_long_frame, column="y2", dropped="p",
                      fit_kwargs=dict(**LONG_ROLES, target=["y1", "y2", "p"]))
BASELINE_CASES = [
    _baseline_case(ZScoreDetector, dict(contamination=0.05), _wide_frame, {}, "y", "z"),
    _baseline_case(DiffDetector, dict(contamination=0.05), too_short=2, **_LONG_BASELINE),
    _baseline_case(RollingZScoreDetector, dict(window=16, contamination=0.05), _wide_frame,
                   {}, "z", "y"),
    _baseline_case(IsolationForestDetector,
                   dict(n_estimators=10, contamination=0.05, random_state=0),
                   **_LONG_BASELINE),
    _baseline_case(PCADetector, dict(variance=0.5, contamination=0.05), **_LONG_BASELINE),
]


# -------------------------------------------------------- SequenceClassifier case
CLASSIFIER_TINY = dict(cell="gru", hidden_size=8, bidirectional=True, max_epochs=2,
                       batch_size=8, accelerator="cpu", random_state=0)


def _runs_frame(seed: int) -> pd.DataFrame:
    """Twelve machine runs of different lengths, one row per step; faulty runs drift."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(12):
        n = 8 + (k * 3 + seed) % 9
        faulty = k % 2
        parts.append(pd.DataFrame({
            "run": f"run{k}",
            "x1": rng.standard_normal(n) + faulty * np.linspace(0, 2, n),
            "x2": rng.standard_normal(n),
            "label": "faulty" if faulty else "normal",
        }))
    return pd.concat(parts, ignore_index=True)


def _classifier(**params) -> SequenceClassifier:
    return SequenceClassifier(**{**CLASSIFIER_TINY, **params})


_CLASSIFIER_NEEDS_FIT: dict[str, Call] = {
    "predict": lambda est, df, path: est.predict(df),
    "predict_proba": lambda est, df, path: est.predict_proba(df),
    "score": lambda est, df, path: est.score(df, "label"),
    "save": lambda est, df, path: est.save(path),
}

CASES = [
    EstimatorCase(
        id="Forecaster-wide",
        make=_forecaster,
        make_frame=_wide_frame,
        fit_kwargs={},
        output=lambda est: _numbers(est.predict()),
        apply=lambda est, df: est.predict(df),
        column="y",
        dropped="z",
        needs_fit=_forecaster_needs_fit(),
    ),
    EstimatorCase(
        id="Forecaster-long",
        make=_long_forecaster,
        make_frame=_long_frame,
        fit_kwargs=dict(id_col="series", time_col="timestamp", target=["y1", "y2"],
                        past_covariates=["p"], future_covariates=["f"]),
        output=lambda est: _numbers(est.predict(future=LONG_FUTURE)),
        apply=lambda est, df: est.predict(df, future=LONG_FUTURE),
        column="y2",
        dropped="p",
        needs_fit=_forecaster_needs_fit(LONG_FUTURE),
    ),
    EstimatorCase(
        id="Forecaster-seq2seq",
        make=lambda **params: _forecaster(**{
            "model": "seq2seq", "attention": "bahdanau", "cell": "lstm",
            "bidirectional": True, "teacher_forcing": 0.5, "quantiles": [0.1, 0.5, 0.9],
            **params}),
        make_frame=_long_frame,
        fit_kwargs=dict(id_col="series", time_col="timestamp", target=["y1", "y2"],
                        future_covariates=["f"]),
        output=lambda est: _numbers(est.predict(future=LONG_FUTURE)),
        apply=lambda est, df: est.predict(df, future=LONG_FUTURE),
        column="y1",
        dropped="f",
        needs_fit={**_forecaster_needs_fit(LONG_FUTURE),
                   "attention_weights": lambda est, df, path: est.attention_weights(
                       future=LONG_FUTURE)},
    ),
    EstimatorCase(
        id="AnomalyDetector",
        make=_detector,
        make_frame=_wide_frame,
        fit_kwargs={},
        output=_detector_output,
        # A frame, as the checks read outputs with `_numbers`.
        apply=lambda est, df: est.decision_function(df).to_frame(),
        column="y",
        dropped="z",
        needs_fit=_DETECTOR_NEEDS_FIT,
        per_row=("decision_scores_", "labels_"),
    ),
    EstimatorCase(
        id="AnomalyDetector-stateful",
        make=lambda **params: _detector(**{"stateful": True, "tbptt_steps": 16, **params}),
        make_frame=_wide_frame,
        fit_kwargs={},
        output=_detector_output,
        apply=lambda est, df: est.decision_function(df).to_frame(),
        column="y",
        dropped="z",
        needs_fit=_DETECTOR_NEEDS_FIT,
        per_row=("decision_scores_", "labels_"),
    ),
    EstimatorCase(
        id="SequenceClassifier",
        make=_classifier,
        make_frame=_runs_frame,
        fit_kwargs=dict(y="label", id_col="run"),
        output=lambda est: est.predict_proba(_runs_frame(0)).ravel(),
        apply=lambda est, df: pd.DataFrame(est.predict_proba(df)),
        column="x1",
        dropped="x2",
        needs_fit=_CLASSIFIER_NEEDS_FIT,
    ),
    *BASELINE_CASES,
]


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def case(request) -> EstimatorCase:
    return request.param


_FITTED: dict[str, Estimator] = {}


def _fitted(case: EstimatorCase) -> Estimator:
    """One fitted estimator per case, shared by the checks that only read it."""
    if case.id not in _FITTED:
        _FITTED[case.id] = case.fit(0)
    return _FITTED[case.id]


# ------------------------------------------------------------------------ helpers
def _init_params(cls) -> list[inspect.Parameter]:
    return [p for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self"]


def _params_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)


def _equal(a, b) -> bool:
    """Deep equality for parameter values and fitted state."""
    if isinstance(a, torch.nn.Module):
        sa, sb = a.state_dict(), b.state_dict()
        return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    if isinstance(a, BaseEstimator):  # a fitted scikit-learn model, e.g. a forest
        return type(a) is type(b) and pickle.dumps(a) == pickle.dumps(b)
    if isinstance(a, np.ndarray | torch.Tensor):
        return type(a) is type(b) and a.shape == b.shape and bool((a == b).all())
    if isinstance(a, dict):
        return isinstance(b, dict) and _params_equal(a, b)
    if isinstance(a, list | tuple):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_equal(x, y) for x, y in zip(a, b, strict=True)))
    return type(a) is type(b) and a == b


def _learned(est: Estimator) -> dict[str, Any]:
    params = est.get_params(deep=False)
    return {k: v for k, v in vars(est).items() if k not in params}


def _walk(value, depth=0):
    """Every value reachable through containers and tsrnn objects (not networks)."""
    yield value
    if depth > 4:
        return
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk(v, depth + 1)
    elif type(value).__module__.startswith("tsrnn") and hasattr(value, "__dict__") \
            and not isinstance(value, torch.nn.Module):
        yield from _walk(vars(value), depth + 1)


# ------------------------------------------------------------------- parameters
def test_init_stores_every_argument_unchanged(case):
    cls = type(case.make())
    params = _init_params(cls)
    assert params, "an estimator has parameters"
    kinds = {p.kind for p in params}
    assert not kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}, \
        "no *args / **kwargs catch-alls"
    default = cls()
    assert vars(default).keys() == {p.name for p in params}, "__init__ sets nothing else"
    for p in params:
        assert getattr(default, p.name) is p.default, p.name
        # No validation or conversion in __init__: any object is stored as is.
        sentinel = object()
        assert getattr(cls(**{p.name: sentinel}), p.name) is sentinel, p.name
    assert default.get_params(deep=False).keys() == {p.name for p in params}


def test_clone_and_params_round_trip(case):
    est = case.make()
    params = est.get_params()
    cloned = clone(est)
    assert cloned is not est
    assert _params_equal(cloned.get_params(), params)
    assert _params_equal(type(est)(**params).get_params(), params)
    assert est.set_params(**params) is est
    assert _params_equal(est.get_params(), params)
    name = "random_state" if case.seeded else next(iter(params))
    assert est.set_params(**{name: 123}).get_params()[name] == 123
    with pytest.raises(ValueError, match="not_a_parameter"):
        est.set_params(not_a_parameter=1)


def test_clone_of_fitted_estimator_is_unfitted(case):
    fitted = _fitted(case)
    cloned = clone(fitted)
    assert _params_equal(cloned.get_params(), fitted.get_params())
    assert _learned(cloned) == {}
    with pytest.raises(NotFittedError):
        check_is_fitted(cloned)


def test_not_fitted_error_before_fit(case, tmp_path):
    assert case.needs_fit
    frame = case.make_frame(0)
    est = case.make()
    path = tmp_path / "model.pt"
    for name, call in case.needs_fit.items():
        with pytest.raises(NotFittedError):
            call(est, frame, path)
        assert _learned(est) == {}, name
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ fitting
def test_fit_returns_self_and_changes_no_param_nor_the_frame(case):
    est = case.make()
    params = est.get_params(deep=False)
    snapshot = copy.deepcopy(params)
    frame = case.make_frame(0)
    frame_before = frame.copy(deep=True)
    assert est.fit(frame, **case.fit_kwargs) is est
    after = est.get_params(deep=False)
    assert _params_equal(after, snapshot)
    assert all(after[k] is params[k] for k in params), "fit replaced a parameter object"
    pd.testing.assert_frame_equal(frame, frame_before)
    case.apply(est, frame)
    pd.testing.assert_frame_equal(frame, frame_before)


def test_learned_attributes_end_with_underscore(case):
    fitted = _fitted(case)
    learned = _learned(fitted)
    assert learned
    bad = [k for k in learned if not k.endswith("_") or k.startswith("_")]
    assert not bad, f"learned attributes without a trailing underscore: {bad}"
    check_is_fitted(fitted)
    assert fitted.n_features_in_ == len(fitted.feature_names_in_)


def test_fitting_twice_equals_fitting_once(case):
    twice = case.make().fit(case.make_frame(0), **case.fit_kwargs)
    twice.fit(case.make_frame(1), **case.fit_kwargs)
    once = case.fit(1)
    np.testing.assert_array_equal(case.output(twice), case.output(once))
    a, b = _learned(twice), _learned(once)
    assert a.keys() == b.keys()
    for k in a:
        assert _equal(a[k], b[k]), k


def _skip_unless_saves(case: EstimatorCase) -> None:
    if not case.saves:
        pytest.skip(f"{case.id} has no model file: save/load raise NotImplementedError "
                    "(tests/test_baselines.py)")


def test_refitting_a_loaded_estimator_equals_a_fresh_fit(case, tmp_path):
    _skip_unless_saves(case)
    _fitted(case).save(tmp_path / "model.pt")
    loaded = type(_fitted(case)).load(tmp_path / "model.pt")
    loaded.fit(case.make_frame(1), **case.fit_kwargs)
    once = case.fit(1)
    np.testing.assert_array_equal(case.output(loaded), case.output(once))
    assert _learned(loaded).keys() == _learned(once).keys()


def test_the_global_generators_do_not_change_the_result(case):
    fitted = _fitted(case)
    # Seeded inside fit (or not random at all): the global generators' state does
    # not matter.
    torch.manual_seed(12345)
    np.random.seed(12345)  # noqa: NPY002
    again = case.fit(0)
    np.testing.assert_array_equal(case.output(again), case.output(fitted))


def test_random_state_decides_the_result(case):
    if not case.seeded:
        pytest.skip(f"{case.id} has no random_state: it is deterministic")
    fitted = _fitted(case)
    other = case.fit(0, random_state=fitted.random_state + 1)
    assert not np.allclose(case.output(other), case.output(fitted))


# -------------------------------------------------------------------- persistence
def test_save_load_round_trip(case, tmp_path):
    _skip_unless_saves(case)
    fitted = _fitted(case)
    path = tmp_path / "model.pt"
    fitted.save(path)
    assert list(tmp_path.iterdir()) == [path], "save writes one file, atomically"
    loaded = type(fitted).load(path)
    assert type(loaded) is type(fitted)
    assert _params_equal(loaded.get_params(), fitted.get_params())
    np.testing.assert_array_equal(case.output(loaded), case.output(fitted))
    new = case.make_frame(1)
    np.testing.assert_array_equal(_numbers(case.apply(loaded, new)),
                                  _numbers(case.apply(fitted, new)))
    # The file is the safe format: plain values and tensors only.
    torch.load(path, weights_only=True)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_round_trip(case, tmp_path, how):
    fitted = _fitted(case)
    if how == "pickle":
        restored = pickle.loads(pickle.dumps(fitted))
    else:
        joblib.dump(fitted, tmp_path / "model.joblib")
        restored = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(case.output(restored), case.output(fitted))
    assert _params_equal(restored.get_params(), fitted.get_params())


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_missing_value_without_fill_names_the_column(case, bad):
    frame = case.make_frame(0)
    frame.loc[frame.index[len(frame) // 2], case.column] = bad
    est = case.make()
    with pytest.raises(DataError, match=rf"column '{case.column}'.*fill="):
        est.fit(frame, **case.fit_kwargs)
    assert _learned(est) == {}


def test_non_numeric_column_is_named(case):
    frame = case.make_frame(0)
    frame[case.column] = [f"v{i}" for i in range(len(frame))]
    with pytest.raises(DataError, match=rf"column '{case.column}' is not numeric"):
        case.make().fit(frame, **case.fit_kwargs)


def test_missing_column_at_predict_time_is_named(case):
    frame = case.make_frame(1).drop(columns=[case.dropped])
    with pytest.raises(DataError, match=rf"column '{case.dropped}' is not in the DataFrame"):
        case.apply(_fitted(case), frame)


def test_too_short_frame_is_a_data_error(case):
    frame = case.make_frame(0).iloc[:case.too_short]
    with pytest.raises(DataError, match="rows"):
        case.make().fit(frame, **case.fit_kwargs)


def test_not_a_dataframe_is_refused(case):
    array = case.make_frame(0).select_dtypes("number").to_numpy()
    with pytest.raises(TypeError, match="DataFrame"):
        case.make().fit(array, **case.fit_kwargs)


# ----------------------------------------------------------- no training frame kept
def test_no_reference_to_the_training_frame(case):
    frame = case.make_frame(0)
    rows = len(frame)
    alive = weakref.ref(frame)
    est = case.make().fit(frame, **case.fit_kwargs)
    del frame
    gc.collect()
    assert alive() is None, "the estimator (or something it holds) keeps the frame alive"
    for name, value in _learned(est).items():
        if name in case.per_row:  # one result per row: not a copy of the rows
            assert isinstance(value, np.ndarray) and value.shape == (rows,), name
            continue
        for v in _walk(value):
            assert not isinstance(v, pd.DataFrame | pd.Series), name
            if isinstance(v, np.ndarray | torch.Tensor):
                assert v.shape[0] < rows and v.size < rows, (name, tuple(v.shape))


# Training settings every network estimator shares: each bad value is refused at
# fit with a one-line error naming the parameter, before Lightning sees it.
BAD_TRAINING = [
    ("lr", -1, "lr must be a number > 0"), ("lr", "fast", "lr must be"),
    ("lr", float("nan"), "lr must be"),
    ("gradient_clip", -1.0, "gradient_clip must be"), ("patience", -1, "patience must be"),
    ("patience", 2.5, "patience must be"), ("dropout", 1.5, "dropout must be"),
    ("random_state", "abc", "random_state must be"), ("random_state", -1, "random_state"),
    ("precision", "bogus", "precision must be one of"),
    ("accelerator", "quantum", "accelerator must be one of"),
    ("trainer_kwargs", {"max_epoch": 3}, "'max_epoch' is not a Lightning Trainer argument "
     "(did you mean 'max_epochs'?)"),
    ("trainer_kwargs", "fast", "trainer_kwargs must be a dict"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_TRAINING,
                         ids=[f"{n}={v!r}" for n, v, _ in BAD_TRAINING])
def test_bad_training_setting_is_named_before_training(case, name, value, message):
    if "lr" not in case.make().get_params():
        pytest.skip(f"{case.id} trains no network")
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        case.fit(**{name: value})
    assert "\n" not in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_accelerator_without_a_gpu_says_so(case):
    if "accelerator" not in case.make().get_params():
        pytest.skip(f"{case.id} has no accelerator")
    with pytest.raises(ValueError, match="accelerator='gpu', but torch sees no CUDA GPU"):
        case.fit(accelerator="gpu")
