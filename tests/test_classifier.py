"""Tests for tsrnn/classifier.py: SequenceClassifier on arrays, lists, frames and tokens.

The shared estimator checks (clone, NotFittedError, seeding, save/load, bad frames)
run in tests/test_contract.py; these cover what is particular to classification.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from tsrnn import SequenceClassifier
from tsrnn.data import DataError

TINY = dict(hidden_size=8, max_epochs=2, batch_size=16, accelerator="cpu", random_state=0,
            val_size=0)


def _runs(n=40, seed=0, min_len=5, max_len=14):
    """Runs of different lengths; faulty ones (label 1) drift upwards over the run."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = []
    for label in y:
        steps = int(rng.integers(min_len, max_len + 1))
        x = 0.3 * rng.standard_normal((steps, 2))
        x[:, 0] += label * np.linspace(0.5, 2, steps)
        X.append(x)
    return X, y


def _clf(**params):
    return SequenceClassifier(**{**TINY, **params})


@pytest.fixture(scope="module")
def fitted():
    X, y = _runs()
    return _clf(cell="gru", max_epochs=15, lr=1e-2).fit(X, y), X, y


def test_learns_a_separable_task(fitted):
    clf, X, y = fitted
    assert clf.score(X, y) >= 0.9
    X_new, y_new = _runs(seed=1)
    assert clf.score(X_new, y_new) >= 0.9
    proba = clf.predict_proba(X_new)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X_new), clf.classes_[proba.argmax(1)])


def test_a_sequence_scores_the_same_alone_or_padded_in_a_batch(fitted):
    clf, X, _ = fitted
    longest = max(range(len(X)), key=lambda i: len(X[i]))
    shortest = min(range(len(X)), key=lambda i: len(X[i]))
    together = clf.predict_proba([X[shortest], X[longest]])
    np.testing.assert_allclose(clf.predict_proba([X[shortest]])[0], together[0], rtol=1e-6,
                               atol=1e-7)


def test_string_labels_and_classes():
    X, y = _runs(n=12)
    clf = _clf(max_epochs=1).fit(X, np.where(y == 1, "faulty", "normal"))
    assert clf.classes_.tolist() == ["faulty", "normal"]
    assert set(clf.predict(X)) <= {"faulty", "normal"}


def test_3d_array_input():
    X, y = _runs(n=12, min_len=6, max_len=6)
    clf = _clf(max_epochs=1).fit(np.stack(X), y)
    assert clf.predict(np.stack(X)).shape == (12,)
    assert clf.n_features_in_ == 2 and not hasattr(clf, "feature_names_in_")
    with pytest.raises(TypeError, match="fitted on arrays"):
        clf.predict(pd.DataFrame({"a": [1.0]}))


def test_long_frame_with_label_column_and_label_array():
    X, y = _runs(n=12)
    frame = pd.concat([pd.DataFrame({"run": f"r{i}", "a": x[:, 0], "b": x[:, 1],
                                     "state": ["ok", "bad"][label]})
                       for i, (x, label) in enumerate(zip(X, y, strict=True))],
                      ignore_index=True)
    by_column = _clf(max_epochs=1).fit(frame, "state", id_col="run")
    by_array = _clf(max_epochs=1).fit(frame.drop(columns="state"), np.array(["ok", "bad"])[y],
                                      id_col="run")
    assert by_column.feature_names_in_.tolist() == ["a", "b"]
    np.testing.assert_array_equal(by_column.predict_proba(frame), by_array.predict_proba(frame))
    assert by_column.predict(frame).shape == (12,)
    # Runs interleaved (a frame sorted by time across machines) are the same runs.
    step = frame.groupby("run").cumcount()
    interleaved = frame.iloc[np.lexsort((frame["run"], step))]
    order = pd.Index(pd.unique(frame["run"])).get_indexer(pd.unique(interleaved["run"]))
    np.testing.assert_array_equal(by_column.predict_proba(interleaved),
                                  by_column.predict_proba(frame)[order])
    with pytest.raises(TypeError, match="fitted on a DataFrame"):
        by_column.predict(X)


@pytest.mark.parametrize("kind", ["array", "list", "frame"])
def test_sequence_output_labels_every_step(kind):
    # Tagging: is the machine past its fault onset at this step?
    rng = np.random.default_rng(0)
    X, Y = [], []
    for _ in range(16):
        steps = 10 if kind == "array" else int(rng.integers(6, 13))
        onset = int(rng.integers(2, steps - 1))
        x = 0.2 * rng.standard_normal((steps, 1))
        x[onset:] += 2.0
        X.append(x)
        Y.append((np.arange(steps) >= onset).astype(int))
    if kind == "array":
        X, Y = np.stack(X), np.stack(Y)
        fit_args, kwargs = (X, Y), {}
    elif kind == "list":
        fit_args, kwargs = (X, Y), {}
    else:
        frame = pd.concat([pd.DataFrame({"id": i, "x": x[:, 0], "tag": t})
                           for i, (x, t) in enumerate(zip(X, Y, strict=True))],
                          ignore_index=True)
        fit_args, kwargs = (frame, "tag"), {"id_col": "id"}
    clf = _clf(output="sequence", cell="lstm", max_epochs=20, lr=2e-2).fit(*fit_args, **kwargs)
    assert clf.score(*fit_args) >= 0.9
    pred, proba = clf.predict(fit_args[0]), clf.predict_proba(fit_args[0])
    if kind == "array":
        assert pred.shape == (16, 10) and proba.shape == (16, 10, 2)
    elif kind == "list":
        assert [len(p) for p in pred] == [len(x) for x in X]
        assert all(p.shape == (len(x), 2) for p, x in zip(proba, X, strict=True))
    else:
        assert pred.shape == (len(frame),) and proba.shape == (len(frame), 2)


def test_tokens_go_through_an_embedding():
    rng = np.random.default_rng(0)
    y = np.arange(30) % 2
    # Class 1 sequences contain token 7 somewhere; class 0 never do.
    X = []
    for label in y:
        tokens = rng.integers(0, 7, int(rng.integers(4, 10)))
        if label:
            tokens[rng.integers(0, len(tokens))] = 7
        X.append(tokens)
    clf = _clf(cell="gru", max_epochs=25, lr=2e-2, embedding_dim=4).fit(X, y)
    assert clf.vocab_size_ == 8 and clf.n_features_in_ == 1
    assert clf.net_.embedding is not None
    assert clf.score(X, y) >= 0.9
    with pytest.raises(DataError, match=r"token id 9 in sequence 0 at step 1 was not seen"):
        clf.predict([np.array([1, 9, 2])])
    with pytest.raises(DataError, match="fitted on token ids"):
        clf.predict([np.ones((3, 1))])


def test_truncated_bptt_trains():
    X, y = _runs(n=20)
    clf = _clf(cell="lstm", tbptt_steps=3, max_epochs=3).fit(X, y)
    assert clf.training_summary_["epochs"] == 3
    assert clf.predict_proba(X).shape == (20, 2)
    with pytest.raises(ValueError, match="bidirectional=False"):
        _clf(tbptt_steps=3, bidirectional=True).fit(X, y)


def test_truncated_bptt_with_validation_and_sequence_output():
    X, y = _runs(n=20)
    Y = [np.full(len(x), label) for x, label in zip(X, y, strict=True)]
    clf = _clf(output="sequence", tbptt_steps=4, val_size=0.2, max_epochs=2).fit(X, Y)
    assert clf.training_summary_["best_val_loss"] is not None


def test_initial_state_per_sequence(fitted):
    X, y = _runs(n=12)
    clf = _clf(cell="rnn", num_layers=2).fit(X, y, initial_state=np.zeros((12, 2, 8)))
    zeros = clf.predict_proba(X, initial_state=np.zeros((12, 2, 8)))
    np.testing.assert_array_equal(zeros, clf.predict_proba(X))
    state = np.random.default_rng(0).standard_normal((12, 2, 8))
    assert not np.allclose(clf.predict_proba(X, initial_state=state), zeros)
    with pytest.raises(DataError, match=r"initial_state must have shape .*\(12, 2, 8\)"):
        clf.predict(X, initial_state=np.zeros((12, 8)))


def test_bad_input_at_predict_names_the_problem(fitted):
    clf, X, _ = fitted
    with pytest.raises(DataError, match="X has 3 features per step; the classifier was fitted "
                                        "on 2"):
        clf.predict([np.ones((4, 3))])
    bad = [x.copy() for x in X[:3]]
    bad[2][1, 0] = np.nan
    with pytest.raises(DataError, match="sequence 2 at step 1"):
        clf.predict(bad)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"output": "first"}, "output"),
        ({"tbptt_steps": 0}, "tbptt_steps"),
        ({"val_size": 1.5}, "val_size"),
        ({"scaler": "quantile"}, "scaler"),
        ({"cell": "transformer"}, "cell"),
    ],
)
def test_bad_parameters_raise_at_fit(params, match):
    X, y = _runs(n=6)
    clf = _clf(**params)  # __init__ stores, fit validates
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_bad_labels_raise():
    X, y = _runs(n=6)
    with pytest.raises(DataError, match="y has 5 labels for 6 sequences"):
        _clf().fit(X, y[:5])
    with pytest.raises(DataError, match="one class"):
        _clf().fit(X, np.zeros(6))
    with pytest.raises(DataError, match="at least 2 sequences"):
        _clf().fit(X[:1], y[:1])


def test_save_load_tokens_and_arrays(tmp_path):
    for X in ([np.array([1, 2, 3]), np.array([4, 0])] * 3, _runs(n=6)[0]):
        y = np.arange(6) % 2
        clf = _clf(max_epochs=1).fit(X, y)
        clf.save(tmp_path / "model.pt")
        loaded = SequenceClassifier.load(tmp_path / "model.pt")
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
        np.testing.assert_array_equal(loaded.classes_, clf.classes_)


def test_works_with_scikit_learn_model_selection():
    X, y = _runs(n=12, min_len=6, max_len=6)
    scores = cross_val_score(_clf(max_epochs=1), np.stack(X), y, cv=2)
    assert scores.shape == (2,)
    assert clone(_clf()).get_params() == _clf().get_params()


@pytest.mark.slow
def test_beats_a_summary_feature_baseline_on_machine_runs():
    # The README's claim on another split: the order of steps carries what a run's
    # summary statistics miss.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tsrnn.datasets import make_machine_runs

    df = make_machine_runs(1000, random_state=0)
    runs = pd.unique(df["run"])
    train, test = df[df["run"].isin(runs[:750])], df[df["run"].isin(runs[750:])]

    def summary(frame):
        g = frame.groupby("run", sort=False)[["current", "temperature", "vibration"]]
        return np.hstack([g.mean(), g.std(), g.min(), g.max(), g.first(), g.last()])

    def labels(frame):
        return frame.groupby("run", sort=False)["label"].first().to_numpy()

    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    baseline_acc = baseline.fit(summary(train), labels(train)).score(summary(test), labels(test))
    columns = ["run", "step", "current", "temperature", "vibration", "label"]
    clf = SequenceClassifier(cell="gru", hidden_size=32, lr=5e-3, max_epochs=60, patience=10,
                             random_state=0, accelerator="cpu")
    clf.fit(train[columns], "label", id_col="run", time_col="step")
    assert clf.score(test[columns], "label") > baseline_acc + 0.05
