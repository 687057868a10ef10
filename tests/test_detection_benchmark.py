"""benchmarks/detection.py's online fine-tuning, rows without the level check,
per-sensor recall, mixed window lengths and scores, the cache and NAB's halves, on small
synthetic cases."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tsrnn import AnomalyDetector

spec = importlib.util.spec_from_file_location(
    "detection_benchmark", Path(__file__).resolve().parents[1] / "benchmarks" / "detection.py")
bench = sys.modules["detection_benchmark"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)  # (its dataclass needs the module registered)


@pytest.fixture(scope="module")
def case_and_detector():
    rng = np.random.default_rng(0)
    t = np.arange(300)
    frame = pd.DataFrame({"value": np.sin(t / 5) + 0.05 * rng.normal(size=300)})
    labels = np.zeros(300, dtype=np.int64)
    labels[200:210] = 1
    frame.loc[200:209, "value"] += 3.0
    case = bench.Case("toy", frame.iloc[:100], frame, np.arange(300) >= 100, labels, {})
    det = AnomalyDetector(window=8, n_models=2, max_epochs=2, hidden_size=8, calendar=None,
                          verbose=False, random_state=0).fit(case.train)
    return case, det


def test_no_training_and_fixed_scales_scores_as_the_fitted_detector(case_and_detector):
    case, det = case_and_detector
    (scores, thresholds), = bench.finetuned_online(det, case, [{}], 0, 0, relearn=False)
    plain, threshold = bench._online(det, case)
    np.testing.assert_allclose(scores[100:], plain[100:])
    assert np.all(thresholds[100:] == threshold)


def test_fine_tuning_changes_later_scores_but_not_the_first_block(case_and_detector):
    case, det = case_and_detector
    before = [p.detach().clone() for p in det.net_.parameters()]
    runs = bench.finetuned_online(det, case, [{}, {"alerts": True}], 3, 0)
    plain, _ = bench._online(det, case)
    np.testing.assert_allclose(runs[0][0][100:200], plain[100:200])  # fitted networks
    assert not np.allclose(runs[0][0][200:], plain[200:])
    alerting = bench._online(det.set_params(alerts=True), case)[0]
    det.set_params(alerts=False)
    np.testing.assert_allclose(runs[1][0][100:200], alerting[100:200])
    assert not np.allclose(runs[1][0][100:200], runs[0][0][100:200])
    # the detector passed in is left as it was
    assert all(torch_equal(a, b) for a, b in zip(before, det.net_.parameters(), strict=True))


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_without_level_check_scores_as_before_it(case_and_detector):
    case, det = case_and_detector
    fitted = {(id(case.train), repr([])): det}
    results = {"tsrnn": bench._online(det, case)}
    (name, (scores, threshold)), = bench.without_level_check(case, {"tsrnn": {}}, fitted,
                                                             results).items()
    kept, det.level_range_ = det.level_range_, None
    before = bench._online(det, case)[0]
    det.level_range_ = kept
    assert name == "tsrnn no level" and threshold == results["tsrnn"][1]
    np.testing.assert_array_equal(scores, before)
    assert det.level_range_ is kept  # the detector is left as it was
    # the shift of 3 (the sine's swing: 2) for 10 steps is beyond the training levels
    assert (results["tsrnn"][0][205:210] > scores[205:210]).all()


def test_kind_recall_per_series_reads_each_series_own_false_alarm_rate():
    n = 200
    test = pd.DataFrame({"sensor": ["a"] * n + ["b"] * n})
    labels = np.zeros(2 * n, dtype=np.int64)
    labels[[50, n + 50]] = 1
    scores = np.r_[np.linspace(0, 1, n), np.linspace(10, 11, n)]
    scores[50], scores[n + 50] = 5.0, 12.0  # a's incident stands out only on a's scale
    case = bench.Case("toy", test, test, np.ones(2 * n, bool), labels, {},
                      kinds=np.where(labels == 1, "spike", ""))
    assert bench.kind_recall(case, scores, 0.0) == {"spike": 0.5}  # b's normal rows set it
    assert bench.kind_recall(case, scores, 0.0, per_series=True) == {"spike": 1.0}
    text = bench.false_alarms_by_series(case, scores)
    normal = labels == 0
    above = int((scores[normal] > np.quantile(scores[normal], 0.99)).sum())
    assert text.startswith("a 0 (0.1 to 0.9)") and f"b {above} (10.1 to 10.9)" in text


def test_mixed_windows_of_one_length_score_as_the_ensemble(case_and_detector, tmp_path):
    # window="8+8" takes the members of the cached two-network fit: the same scores
    case, _ = case_and_detector
    model = dict(window=8, n_models=2, max_epochs=2, hidden_size=8, calendar=None,
                 verbose=False)
    whole = bench._fit_tsrnn(case, model, 0, tmp_path)
    mixed = bench._fit_tsrnn(case, model | {"window": "8+8"}, 0, tmp_path)
    assert isinstance(mixed, bench._MixedWindows) and len(mixed.members_) == 2
    for online in (False, True):
        np.testing.assert_allclose(mixed.decision_function(case.test, online=online),
                                   whole.decision_function(case.test, online=online))
    assert mixed.threshold_ == pytest.approx(whole.threshold_, rel=1e-6)  # float32 sums


def test_mixed_windows_average_their_members_errors_from_the_longest_window(
        case_and_detector, tmp_path):
    case, _ = case_and_detector
    model = dict(max_epochs=2, hidden_size=8, calendar=None, verbose=False)
    mixed = bench._fit_tsrnn(case, model | {"window": "4+8"}, 0, tmp_path)
    assert [m.window for m in mixed.members_] == [4, 8] and mixed.window == 8
    data = mixed._read(case.test)
    inputs = mixed._inputs(data, mixed._scaled(data))
    errors, valid = mixed._step_errors(data, inputs, online=True)
    parts = [m._step_errors(data, inputs, online=True) for m in mixed.members_]
    assert not valid[:7].any() and valid[7:].all()  # warming up as the longest window
    np.testing.assert_allclose(errors[valid], (parts[0][0] + parts[1][0])[valid] / 2)
    assert (mixed.decision_function(case.test, online=True).to_numpy()[:7] == 0).all()


def test_scaled_members_average_errors_in_each_members_own_scale(case_and_detector, tmp_path):
    case, _ = case_and_detector
    model = dict(max_epochs=2, hidden_size=8, calendar=None, verbose=False)
    mixed = bench._fit_tsrnn(case, model | {"window": "4+8", "scale_members": True}, 0,
                             tmp_path)
    data = mixed._read(case.test)
    inputs = mixed._inputs(data, mixed._scaled(data))
    errors, valid = mixed._step_errors(data, inputs, online=True)
    scaled = [m._normalised(m._step_errors(data, inputs, online=True)[0], data, True)
              for m in mixed.members_]
    assert not np.allclose(mixed.members_[0].error_scale_, mixed.members_[1].error_scale_)
    np.testing.assert_allclose(errors[valid], (scaled[0] + scaled[1])[valid] / 2)
    assert mixed._normalised(errors, data, True) is errors  # not scaled twice


def test_a_cached_fit_serves_another_likelihood_window(tmp_path):
    """likelihood_window changes what is learnt from the networks' errors, not the
    networks: one cached file, the prior learnt anew for each window."""
    frame = pd.DataFrame({"value": np.sin(np.arange(200) / 5)})
    case = bench.Case("toy", frame.iloc[:150], frame, np.ones(200, bool),
                      np.zeros(200, np.int64), {})
    small = dict(window=8, n_models=1, max_epochs=1, hidden_size=8, calendar=None,
                 verbose=False)
    first = bench._fit_tsrnn(case, small, 0, tmp_path)
    other = bench._fit_tsrnn(case, small | {"likelihood_window": 3}, 0, tmp_path)
    assert len(list(tmp_path.glob("*.pt"))) == 1
    assert other.likelihood_window == 3 and first.likelihood_window == 20
    assert all(torch_equal(a, b) for a, b in zip(first.net_.parameters(),
                                                 other.net_.parameters(), strict=True))
    assert not np.allclose(other.likelihood_prior_, first.likelihood_prior_)


def test_nab_halves_are_the_alternate_files_each_at_its_own_threshold():
    from tsrnn.metrics import nab_benchmark

    times = pd.date_range("2020-01-01", periods=100, freq="h")
    rng = np.random.default_rng(0)
    cases, results = [], []
    for k in range(4):
        windows = [(times[50 + k], times[60 + k])]
        cases.append(bench.Case(f"f{k}", None, None, None, None, {}, times=times,
                                windows=windows))
        scores = rng.random(100)
        scores[55 + k] += k  # later files' anomalies stand out more
        results.append((scores, 0.0))
    got = bench.nab_transfer(cases, results)
    for name, idx in (("NAB even", [0, 2]), ("NAB odd", [1, 3])):
        runs = {cases[i].name: (times, results[i][0], cases[i].windows) for i in idx}
        assert got[name] == nab_benchmark(runs)["score"]
    assert got["NAB own"] == (got["NAB even"] + got["NAB odd"]) / 2
    assert got["NAB moved"] <= got["NAB own"]  # a threshold optimised elsewhere


def test_nab_moved_between_synthetic_and_real_files():
    from tsrnn.metrics import nab_benchmark, nab_score

    times = pd.date_range("2020-01-01", periods=100, freq="h")
    rng = np.random.default_rng(1)
    cases, results = [], []
    for k, name in enumerate(["artificialWithAnomaly/a", "artificialWithAnomaly/b",
                              "realAWSCloudwatch/c", "realAWSCloudwatch/d"]):
        cases.append(bench.Case(name, None, None, None, None, {}, times=times,
                                windows=[(times[50], times[60])]))
        scores = rng.random(100)
        scores[55] += 3 if k < 2 else 0.5  # the real files' anomalies stand out less
        results.append((scores, 0.0))
    got = bench.nab_transfer(cases, results)

    def runs(idx):
        return {cases[i].name: (times, results[i][0], cases[i].windows) for i in idx}

    assert got["NAB art own"] == nab_benchmark(runs([0, 1]))["score"]
    assert got["NAB real own"] == nab_benchmark(runs([2, 3]))["score"]
    threshold = nab_benchmark(runs([0, 1]))["threshold"]  # the synthetic files'
    target = nab_benchmark(runs([2, 3]))
    raw = sum(nab_score(t, s, w, threshold=threshold) for t, s, w in runs([2, 3]).values())
    assert got["NAB art->real"] == pytest.approx(
        100 * (raw - target["null"]) / (target["perfect"] - target["null"]))
    assert got["NAB art->real"] <= got["NAB real own"]
    assert got["NAB real->art"] <= got["NAB art own"]
    only_real = bench.nab_transfer(cases[2:], results[2:])
    assert "NAB art->real" not in only_real and "NAB moved" in only_real


def test_reconstruction_and_forecast_members_average_errors_in_their_own_scales(
        case_and_detector, tmp_path):
    # members="reconstruction+forecast": the networks of both cached fits, each
    # member's errors in its own scale, hosted by a reconstruction member
    case, _ = case_and_detector
    model = dict(window=8, n_models=2, max_epochs=2, hidden_size=8, calendar=None,
                 verbose=False)
    mixed = bench._fit_tsrnn(case, model | {"members": "reconstruction+forecast",
                                            "scale_members": True}, 0, tmp_path)
    assert [m.score for m in mixed.members_] == ["reconstruction"] * 2 + ["forecast"] * 2
    assert mixed.score == "reconstruction" and len(list(tmp_path.iterdir())) == 2
    whole = bench._fit_tsrnn(case, model, 0, tmp_path)  # the cached reconstruction fit
    for k in range(2):
        for a, b in zip(mixed.members_[k].net_.parameters(),
                        whole.net_.members[k].parameters(), strict=True):
            assert torch.equal(a, b)
    data = mixed._read(case.test)
    inputs = mixed._inputs(data, mixed._scaled(data))
    errors, valid = mixed._step_errors(data, inputs, online=True)
    scaled = [m._normalised(m._step_errors(data, inputs, online=True)[0], data, True)
              for m in mixed.members_]
    assert not valid[:8].any() and valid[8:].all()  # the forecasts start a window in
    np.testing.assert_allclose(errors[valid], np.mean(scaled, axis=0)[valid], rtol=1e-6)
    scores = mixed.decision_function(case.test, online=True).to_numpy()
    assert scores[200:210].max() > mixed.threshold_  # the injected shift is flagged


def test_blips_are_placed_outside_nab_windows_and_scored_with_the_normal_rows():
    n = 2000
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=n, freq="5min"),
                          "value": np.sin(np.arange(n) / 20)})
    nab_labels = np.zeros(n, dtype=np.int64)
    nab_labels[1000:1200] = 1  # a NAB window
    scored = np.arange(n) >= 300
    case = bench.Case("f", frame.iloc[:300], frame, scored, nab_labels, {})
    out = bench.with_blips(case, 4.0, np.random.default_rng(0))
    onsets = np.flatnonzero(np.diff(np.r_[0, out.labels]) == 1)
    assert len(onsets) == bench.BLIPS_PER_FILE
    moved = out.test["value"].to_numpy() != frame["value"].to_numpy()
    np.testing.assert_array_equal(moved, out.labels == 1)  # the blips, and only they
    assert not out.labels[:300].any() and not out.labels[950:1250].any()
    assert not out.scored[1000:1200].any() and out.scored[out.labels == 1].all()
    assert out.train is case.train  # the networks fitted for NAB serve
    spread = np.abs(out.test["value"].to_numpy() - frame["value"].to_numpy())[moved]
    q1, q3 = np.quantile(frame["value"][:300], [0.25, 0.75])
    np.testing.assert_allclose(spread, 4.0 * max(q3 - q1, frame["value"][:300].std()))
    again = bench.with_blips(case, 4.0, np.random.default_rng(0))
    np.testing.assert_array_equal(again.labels, out.labels)  # seeded
