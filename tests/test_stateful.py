"""Tests for the detector's stateful mode (tsrnn/stateful.py, tsrnn/nn/next_step.py)
and its stream (tsrnn/stateful_stream.py): the stream equals the batch scores by
construction, on NAB and on the bundled sensors; bounded state; persistence.

The estimator contract (clone, seeding, save/load, bad input) for a stateful
detector is in tests/test_contract.py."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from rescoring import scored_differently

from tsrnn import AnomalyDetector, model_checks
from tsrnn.data import DataError
from tsrnn.datasets import load_sensors
from tsrnn.nn.next_step import NextStepNet
from tsrnn.stateful_stream import StatefulStream
from tsrnn.streaming import AnomalyStream, load_stream

NAB = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nab"
W = 8  # the warm-up
TINY = dict(stateful=True, window=W, hidden_size=8, max_epochs=2, batch_size=32,
            accelerator="cpu", random_state=0, n_models=1, tbptt_steps=32)
SENSORS = dict(time_col="timestamp", id_col="sensor", target="value")
TOL = dict(rtol=1e-4, atol=1e-5)


def _stream_rows(stream, df: pd.DataFrame, sid=None):
    """Feed a wide frame point by point: scores, ready flags, results."""
    results = [stream.update(t, row, series=[sid])
               for t, row in zip(df.index, df.to_numpy(), strict=True)]
    return (np.array([r.score[0] for r in results]), np.array([r.ready[0] for r in results]),
            results)


def _nab(n: int = 3000) -> pd.DataFrame:
    path = NAB / "realAWSCloudwatch" / "ec2_cpu_utilization_825cb1.csv"
    if not path.exists():
        path = sorted(NAB.glob("realAWSCloudwatch/*.csv"))[0]
    return pd.read_csv(path, parse_dates=["timestamp"]).set_index("timestamp").iloc[:n]


def _sine(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"a": np.sin(2 * np.pi * t / 24) + 0.05 * rng.standard_normal(n),
                         "b": 3 + np.cos(2 * np.pi * t / 12) + 0.05 * rng.standard_normal(n)},
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


@pytest.fixture(scope="module")
def nab_det() -> AnomalyDetector:
    if not NAB.exists():
        pytest.skip(f"NAB data not found at {NAB}")
    return AnomalyDetector(**{**TINY, "n_models": 2}).fit(_nab().iloc[:1000])


@pytest.fixture(scope="module")
def sensors() -> pd.DataFrame:
    return load_sensors()[["timestamp", "sensor", "value"]]


@pytest.fixture(scope="module")
def sensor_det(sensors) -> AnomalyDetector:
    train = sensors.groupby("sensor").head(800)
    return AnomalyDetector(**{**TINY, "cell": "gru"}).fit(train, **SENSORS)


@pytest.fixture(scope="module")
def three_det(sensors) -> AnomalyDetector:
    """Fitted on three of the four sensors: sensor_4 is new to it."""
    train = sensors[sensors.sensor != "sensor_4"].groupby("sensor").head(600)
    return AnomalyDetector(**{**TINY, "cell": "lstm"}).fit(train, **SENSORS)


@pytest.fixture(scope="module")
def sine_det() -> AnomalyDetector:
    return AnomalyDetector(**{**TINY, "smoothing": 0}).fit(_sine())


# ---------------------------------------------------------------- the network
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_next_step_net_chunks_equal_one_pass(cell):
    torch.manual_seed(0)
    net = NextStepNet(3, cell=cell, hidden_size=5, num_layers=2).eval()
    x = torch.randn(2, 50, 3)
    whole, _ = net(x)
    pieces = torch.cat([p for _, p in net.chunks(x, 7)], dim=1)
    torch.testing.assert_close(pieces, whole)


# ------------------------------------------------------------------- training
def test_fit_trains_a_next_step_network(nab_det):
    assert isinstance(nab_det.net_.members[0], NextStepNet)
    summary = nab_det.training_summary_
    assert summary["epochs"] == 2 and np.isfinite(summary["best_val_loss"])
    assert len(nab_det.decision_scores_) == 1000


def test_training_learns_the_next_step():
    df = _sine(400)
    det = AnomalyDetector(**{**TINY, "max_epochs": 15, "hidden_size": 16, "lr": 1e-2,
                             "smoothing": 0}).fit(df)
    scores = det.decision_function(df).to_numpy()
    shifted = df.copy()
    shifted.iloc[300:310, 0] += 3.0  # a level shift of three amplitudes
    anomalous = det.decision_function(shifted).to_numpy()
    assert anomalous[300] > 10 * np.median(scores[W:])


@pytest.mark.parametrize("value", [0, -1, 2.5, "64", True])
def test_bad_tbptt_steps_is_refused_at_fit(value):
    det = AnomalyDetector(**{**TINY, "tbptt_steps": value})  # __init__ stores it
    with pytest.raises((ValueError, TypeError), match="tbptt_steps"):
        det.fit(_sine())


def test_stateful_needs_a_unidirectional_encoder():
    with pytest.raises(ValueError, match="bidirectional"):
        AnomalyDetector(**{**TINY, "bidirectional": True}).fit(_sine())


def test_the_same_seed_gives_the_same_scores():
    a = AnomalyDetector(**TINY).fit(_sine()).decision_function(_sine(seed=1))
    b = AnomalyDetector(**TINY).fit(_sine()).decision_function(_sine(seed=1))
    c = AnomalyDetector(**{**TINY, "random_state": 1}).fit(_sine()).decision_function(
        _sine(seed=1))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# -------------------------------------------------------------- batch scoring
def test_online_and_offline_are_the_same(sine_det):
    df = _sine(seed=2)
    np.testing.assert_array_equal(sine_det.decision_function(df, online=True),
                                  sine_det.decision_function(df, online=False))


def test_a_score_only_sees_the_past(sine_det):
    df = _sine(seed=2)
    full = sine_det.decision_function(df).to_numpy()
    changed = df.copy()
    changed.iloc[150:] += 5.0
    np.testing.assert_array_equal(sine_det.decision_function(changed).to_numpy()[:150],
                                  full[:150])


def test_warm_up_steps_get_no_score(sine_det):
    scores = sine_det.decision_function(_sine(seed=2)).to_numpy()
    assert (scores[:W] == 0).all() and (scores[W:] > 0).all()


# ------------------------------------------------------ stream equals batch
def test_stream_equals_batch_on_nab(nab_det):
    df = _nab()
    batch = nab_det.decision_function(df).to_numpy()
    stream = nab_det.stream()
    assert isinstance(stream, StatefulStream)
    scores, ready, results = _stream_rows(stream, df)
    np.testing.assert_allclose(scores, batch, **TOL)
    assert not ready[:W].any() and ready[W:].all()
    labels = np.array([r.label[0] for r in results])
    np.testing.assert_array_equal(labels, nab_det.predict(df).to_numpy())


def test_alerting_stream_equals_batch_on_nab(nab_det):
    det = scored_differently(nab_det, alerts=True)
    df = _nab(2000)
    np.testing.assert_allclose(_stream_rows(det.stream(), df)[0],
                               det.decision_function(df).to_numpy(), **TOL)


def _stream_sensors(det, frame: pd.DataFrame) -> pd.Series:
    """Every sensor of a timestamp in one update, as a fleet streams."""
    stream, out = det.stream(), []
    for t, rows in frame.groupby("timestamp", sort=True):
        res = stream.update(t, rows["value"].to_numpy()[:, None], series=list(rows["sensor"]))
        out.append(pd.Series(res.score, index=rows.index))
    return pd.concat(out).reindex(frame.index)


@pytest.mark.parametrize("alerts", [False, True])
def test_stream_equals_batch_on_the_sensors(sensor_det, sensors, alerts):
    det = scored_differently(sensor_det, alerts=alerts)
    frame = sensors.groupby("sensor").head(2000)
    batch = det.decision_function(frame, **{}).to_numpy()
    np.testing.assert_allclose(_stream_sensors(det, frame).to_numpy(), batch, **TOL)


def test_stream_divides_by_each_sensors_score_scale(sensor_det, sensors):
    det = scored_differently(sensor_det)
    det.score_scale_ = np.arange(2.0, 3.0 + len(det.ids_))  # one per sensor, then pooled
    frame = sensors.groupby("sensor").head(1000)
    batch = det.decision_function(frame)
    raw = scored_differently(sensor_det)
    raw.score_scale_ = None  # as a file from before it scores
    position = frame["sensor"].map({sid: i for i, sid in enumerate(det.ids_)})
    np.testing.assert_allclose(batch * det.score_scale_[position.to_numpy()],
                               raw.decision_function(frame), rtol=1e-6)
    np.testing.assert_allclose(_stream_sensors(det, frame).to_numpy(), batch.to_numpy(), **TOL)


def test_a_stream_made_before_fit_threshold_follows_its_score_scales(sensor_det, sensors):
    # fit_threshold learns score scales anew; a stream made before it folded the
    # old ones into its error scales, and must score as the batch does now.
    det = scored_differently(sensor_det)
    frame = sensors.groupby("sensor").head(1000)
    times = np.sort(frame["timestamp"].unique())
    stream, out = det.stream(), []
    for t, rows in frame.groupby("timestamp", sort=True):
        if t == times[500]:  # halfway: new scales, as fit_threshold sets them
            det.fit_threshold(sensors.groupby("sensor").head(800))
            det.score_scale_ = det.score_scale_ * np.arange(2.0, 3.0 + len(det.ids_))
        res = stream.update(t, rows["value"].to_numpy()[:, None], series=list(rows["sensor"]))
        out.append(pd.Series(res.score, index=rows.index))
    streamed = pd.concat(out).reindex(frame.index)
    later = (frame["timestamp"] >= times[500]).to_numpy()
    batch = det.decision_function(frame).to_numpy()
    np.testing.assert_allclose(streamed.to_numpy()[later], batch[later], **TOL)
    assert not np.allclose(streamed.to_numpy()[later],
                           _stream_sensors(sensor_det, frame).to_numpy()[later], **TOL)


@pytest.mark.parametrize("how", ["saved", "in place"])
def test_a_stream_follows_score_scales_saved_or_changed_in_place(sensor_det, sensors, how,
                                                                 tmp_path):
    det = scored_differently(sensor_det)
    frame = sensors.groupby("sensor").head(600)
    times = np.sort(frame["timestamp"].unique())
    stream, out = det.stream(), []
    for t, rows in frame.groupby("timestamp", sort=True):
        if t == times[300]:
            if how == "saved":  # new scales, then saved before any update
                det.score_scale_ = np.arange(2.0, 3.0 + len(det.ids_))
                stream.save(tmp_path / "state.tsrnn")
                stream = load_stream(tmp_path / "state.tsrnn")
                det = stream.detector
            else:
                det.score_scale_ *= np.arange(2.0, 3.0 + len(det.ids_))
        res = stream.update(t, rows["value"].to_numpy()[:, None], series=list(rows["sensor"]))
        out.append(pd.Series(res.score, index=rows.index))
    later = (frame["timestamp"] >= times[300]).to_numpy()
    np.testing.assert_allclose(pd.concat(out).reindex(frame.index).to_numpy()[later],
                               det.decision_function(frame).to_numpy()[later], **TOL)


@pytest.fixture(scope="module")
def windowed_sensor_det(sensors) -> AnomalyDetector:
    train = sensors.groupby("sensor").head(800)
    return AnomalyDetector(**{**TINY, "stateful": False}).fit(train, **SENSORS)


@pytest.mark.parametrize("fitted", ["sensor_det", "windowed_sensor_det"])
def test_a_stream_refuses_updates_once_the_detectors_scoring_changed(request, sensors,
                                                                     fitted):
    # Its state (the smoothing's past scores, the likelihood's history) was made
    # under the old settings: after set_params and fit_threshold it would mix them.
    det = scored_differently(request.getfixturevalue(fitted))
    frame = sensors.groupby("sensor").head(40)
    t0, rows = next(iter(frame.groupby("timestamp", sort=True)))
    stream = det.stream()
    stream.update(t0, rows["value"].to_numpy()[:, None], series=list(rows["sensor"]))
    det.set_params(smoothing=8).fit_threshold(sensors.groupby("sensor").head(800))
    t1 = t0 + pd.Timedelta(det.freq_)
    with pytest.raises(ValueError, match=r"smoothing=50 when the stream was made, now 8.*"
                                         r"detector\.stream\(\)") as err:
        stream.update(t1, rows["value"].to_numpy()[:, None], series=list(rows["sensor"]))
    assert "\n" not in str(err.value)
    det.stream().update(t1, rows["value"].to_numpy()[:, None], series=list(rows["sensor"]))
    det.set_params(smoothing=50)  # set back: the old stream goes on
    stream.update(t1, rows["value"].to_numpy()[:, None], series=list(rows["sensor"]))


def test_stream_takes_sensors_in_any_order_and_subset(sensor_det, sensors):
    frame = sensors.groupby("sensor").head(300)
    batch = sensor_det.decision_function(frame)
    stream = sensor_det.stream()
    rng = np.random.default_rng(0)
    got = pd.Series(np.nan, index=frame.index)
    for t, rows in frame.groupby("timestamp", sort=True):
        for part in np.array_split(rng.permutation(len(rows)), 2):  # two calls, any order
            if len(part):
                sub = rows.iloc[part]
                got[sub.index] = stream.update(t, sub["value"].to_numpy()[:, None],
                                               series=list(sub["sensor"])).score
    np.testing.assert_allclose(got.to_numpy(), batch.to_numpy(), **TOL)


@pytest.mark.parametrize("alerts", [False, True])
def test_a_new_sensor_joins_and_scores_as_batch_does(three_det, sensors, alerts):
    det = scored_differently(three_det, alerts=alerts)
    frame = sensors.groupby("sensor").head(600).reset_index(drop=True)
    batch = det.decision_function(frame).to_numpy()
    result = det.stream().update_frame(frame)
    np.testing.assert_allclose(result["score"], batch, **TOL)
    new = (frame.sensor == "sensor_4").to_numpy()
    ready, score = result["ready"].to_numpy()[new], result["score"].to_numpy()[new]
    assert not ready[:det._warmup - 1].any() and ready[det._warmup - 1:].all()
    if not alerts:
        assert (score[:det._warmup - 1] == 0).all() and (score[ready] > 0).all()


def test_batch_scores_wait_for_a_new_series_scaling(three_det, sensors):
    """An unseen series is scaled by its first points: the steps before the last of
    them have no score, in batch stateful scores as in the stream (which cannot
    look further), online or not."""
    new = sensors[sensors.sensor == "sensor_4"].head(300)
    for online in (False, True):
        scores = three_det.decision_function(new, online=online).to_numpy()
        warm = three_det._warmup
        assert (scores[:warm - 1] == 0).all() and (scores[warm - 1:] > 0).all()


def test_sensors_leave_and_their_slots_are_reused(three_det, sensors):
    frame = sensors.groupby("sensor").head(150).reset_index(drop=True)
    stream = three_det.stream()
    stream.update_frame(frame.groupby("sensor").head(120))
    assert stream.series == ["sensor_1", "sensor_2", "sensor_3", "sensor_4"]
    stream.remove("sensor_2", "sensor_4")
    assert stream.series == ["sensor_1", "sensor_3"]
    assert len(stream._ids) == 2  # private, on purpose: the used slots stay the first
    with pytest.raises(KeyError, match="'sensor_2' is not in the stream"):
        stream.remove("sensor_1", "sensor_2")
    assert stream.series == ["sensor_1", "sensor_3"]  # a refused remove removes nothing
    rest = frame.groupby("sensor").nth(range(120, 150))
    got = stream.update_frame(rest)
    # The ones that stayed score on; the ones that left start afresh.
    np.testing.assert_allclose(got["score"], three_det.stream().update_frame(
        pd.concat([frame.groupby("sensor").head(120)[lambda f: f.sensor.isin(
            ["sensor_1", "sensor_3"])], rest])).loc[rest.index, "score"], **TOL)
    back = got["ready"][rest.sensor == "sensor_2"].to_numpy()
    assert not back[:W].any() and back[W:].all()


def test_a_new_id_of_another_kind_is_refused(three_det):
    stream = three_det.stream()
    with pytest.raises(DataError, match="needs an id of the same kind"):
        stream.update("2024-01-01", {"sensor_1": 1.0, 5: 2.0})
    assert stream.series == []


@pytest.mark.parametrize("cell,layers,layer_norm", [("lstm", 2, False), ("gru", 1, True),
                                                    ("rnn", 2, True)])
def test_stream_equals_batch_for_every_cell(cell, layers, layer_norm):
    det = AnomalyDetector(**{**TINY, "cell": cell, "num_layers": layers,
                             "layer_norm": layer_norm, "max_epochs": 1}).fit(_sine())
    df = _sine(500, seed=4)
    np.testing.assert_allclose(_stream_rows(det.stream(), df)[0],
                               det.decision_function(df).to_numpy(), **TOL)


def test_stream_gap_clears_the_state(sine_det):
    df = _sine(200, seed=3)
    before, after = df.iloc[:100], df.iloc[105:]  # five hours missing
    stream = sine_det.stream()
    _stream_rows(stream, before)
    scores, ready, results = _stream_rows(stream, after)
    gaps = np.array([r.gap[0] for r in results])
    assert gaps[0] and not gaps[1:].any()
    assert not ready[:W].any() and ready[W:].all()
    # After the gap the series scores as if it started there.
    np.testing.assert_allclose(scores, sine_det.decision_function(after).to_numpy(), **TOL)


def test_stream_gap_with_smoothing_and_alerts_carries_the_post_processing(sine_det):
    df = _sine(200, seed=3)
    for params in (dict(smoothing=20), dict(alerts=True)):
        det = scored_differently(sine_det, **params)
        with_gap = det.stream()
        _stream_rows(with_gap, df.iloc[:100])
        scores, ready, _ = _stream_rows(with_gap, df.iloc[105:])
        assert not ready[:W].any() and (scores[:W] == 0).all()
        assert np.isfinite(scores).all()


def test_stream_refuses_bad_points_and_changes_nothing(sine_det):
    df = _sine(seed=5)
    stream = sine_det.stream()
    first, _, _ = _stream_rows(stream, df.iloc[:50])
    # The one series of a wide fit is "the series", not "series None".
    for stamp, value, message in (
            (df.index[49], [0.0, 3.0], "for the series is not after"),
            (df.index[10], [0.0, 3.0], "for the series is not after"),
            (df.index[50], [np.nan, 3.0], "column 'a' of the series is missing")):
        with pytest.raises(DataError, match=message):
            stream.update(stamp, value)
    with pytest.raises(DataError, match="missing or infinite"):  # a new series too
        stream.update(df.index[50], [[0.0, 3.0], [np.nan, 1.0]], series=[None, "new"])
    assert stream.series == [None]
    with pytest.raises(ValueError, match="shape"):
        stream.update(df.index[50], [0.0, 3.0, 4.0])
    rest, _, _ = _stream_rows(stream, df.iloc[50:])
    np.testing.assert_allclose(np.concatenate([first, rest]),
                               sine_det.decision_function(df).to_numpy(), **TOL)


def test_stream_with_ffill_carries_the_last_value_forward():
    df = _sine()
    det = AnomalyDetector(**{**TINY, "fill": "ffill"}).fit(df)
    holes = df.copy()
    holes.iloc[[40, 41, 90], 1] = np.nan
    np.testing.assert_allclose(_stream_rows(det.stream(), holes)[0],
                               det.decision_function(holes).to_numpy(), **TOL)
    with pytest.raises(DataError, match="fill='ffill' has no earlier value of the series"):
        det.stream().update(df.index[0], [np.nan, 1.0])  # nothing to carry yet


def test_a_value_whose_error_overflows_scores_infinite_in_batch_as_in_the_stream(sine_det):
    # Batch scored that step 0 (its feature share was inf / inf), and numpy warned.
    df = _sine(seed=5)
    df.iloc[60, 0] = 1e37
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = sine_det.decision_function(df).to_numpy()
        streamed, _, _ = _stream_rows(sine_det.stream(), df)
    assert np.isinf(batch[60]) and np.isinf(streamed[60])
    np.testing.assert_allclose(streamed, batch, **TOL)


def test_stream_state_stays_bounded(sine_det):
    stream = sine_det.stream()
    df = _sine(2000, seed=6)
    _stream_rows(stream, df.iloc[:100])
    size = stream.memory_bytes()
    arrays = {k: v.shape for k, v in stream._arrays.items()}
    _stream_rows(stream, df.iloc[100:])
    assert stream.memory_bytes() == size
    assert {k: v.shape for k, v in stream._arrays.items()} == arrays  # private, on purpose


# ---------------------------------------------------------------- persistence
def test_save_load_scores_the_same(nab_det, tmp_path):
    nab_det.save(tmp_path / "det.tsrnn")
    restored = AnomalyDetector.load(tmp_path / "det.tsrnn")
    assert restored.get_params()["stateful"] is True
    assert restored.get_params()["tbptt_steps"] == TINY["tbptt_steps"]
    df = _nab(1500)
    np.testing.assert_array_equal(restored.decision_function(df), nab_det.decision_function(df))
    np.testing.assert_array_equal(_stream_rows(restored.stream(), df.iloc[:300])[0],
                                  _stream_rows(nab_det.stream(), df.iloc[:300])[0])


def test_a_file_whose_weights_do_not_fit_stateful_is_refused(sine_det, tmp_path):
    windowed = AnomalyDetector(**{**TINY, "stateful": False}).fit(_sine())
    windowed.save(tmp_path / "w.tsrnn")
    payload = torch.load(tmp_path / "w.tsrnn", weights_only=True)
    payload["params"]["stateful"] = True  # the weights are a windowed network's
    from tsrnn import model_checks

    payload["checksum"] = model_checks.checksum(payload)
    torch.save(payload, tmp_path / "bad.tsrnn")
    with pytest.raises(ValueError, match="weight"):
        AnomalyDetector.load(tmp_path / "bad.tsrnn")


# ------------------------------------------------------- stream state files
@pytest.mark.parametrize("alerts", [False, True])
def test_a_stream_saved_and_loaded_scores_as_the_uninterrupted_one(three_det, sensors,
                                                                    alerts, tmp_path):
    det = scored_differently(three_det, alerts=alerts)
    frame = sensors.groupby("sensor").head(300).reset_index(drop=True)
    first = frame.groupby("sensor").head(60)  # sensor_4 is mid-warm-up here
    rest = frame.drop(first.index)
    stream = det.stream()
    stream.update_frame(first)
    stream.save(tmp_path / "state.tsrnn")
    restored = load_stream(tmp_path / "state.tsrnn")
    assert isinstance(restored, StatefulStream) and restored.series == stream.series
    assert isinstance(AnomalyStream.load(tmp_path / "state.tsrnn"), StatefulStream)
    np.testing.assert_array_equal(restored.update_frame(rest)["score"],
                                  stream.update_frame(rest)["score"])


@pytest.mark.parametrize("name, value", [("average", "median"), ("average", "squared"),
                                         ("history", 5), ("cooldown", 100.0)])
def test_a_score_filter_with_other_settings_is_refused(three_det, sensors, tmp_path, name,
                                                       value):
    stream = scored_differently(three_det, alerts=True).stream()
    stream.update_frame(sensors.groupby("sensor").head(20))
    path = tmp_path / "state.tsrnn"
    stream.save(path)
    payload = torch.load(path, weights_only=True)
    payload["state"]["__dict__"]["filters"][1]["attrs"][name] = value
    payload["checksum"] = model_checks.checksum(payload)  # crafted, not damaged
    torch.save(payload, path)
    with pytest.raises(ValueError, match=f"series 'sensor_2': its score filter's {name} "
                                         "is not the detector's") as err:
        load_stream(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_damaged_edited_or_hostile_stream_file_is_refused(three_det, sensors, tmp_path,
                                                            pickled_code):
    stream = three_det.stream()
    stream.update_frame(sensors.groupby("sensor").head(20))
    path = tmp_path / "state.tsrnn"
    stream.save(path)
    payload = torch.load(path, weights_only=True)

    def written(name: str, change) -> Path:
        edited = torch.load(path, weights_only=True)
        new = change(edited["state"]["__dict__"])
        if isinstance(new, list):  # a whole state in place of this one
            edited["state"] = new
        edited["checksum"] = model_checks.checksum(edited)  # an edit that passes it
        torch.save(edited, tmp_path / name)
        return tmp_path / name

    arrays = "arrays"
    cases = {
        "count": (lambda st: st[arrays]["__dict__"]["count"]["__ndarray__"].fill_(10_000),
                  r"array 'count' holds counts out of \[0, 8\]"),
        "nan": (lambda st: st[arrays]["__dict__"]["h"]["__ndarray__"].fill_(float("nan")),
                "array 'h': holds NaN or inf"),
        "shape": (lambda st: st[arrays]["__dict__"].update(
            h={"__ndarray__": torch.zeros(1, 1, 4, 3)}),
            r"arrays.h: an array of float32 \(1, 1, 4, 3\)"),
        "warm": (lambda st: st["warming"][3]["__dict__"].update(n=500),
                 "count of warm-up points 500 is out of range"),
        "known": (lambda st: st["warming"].__setitem__(0, st["warming"][3]),
                  "warm-up points for a series seen at fit"),
        "parts": (lambda st: st.pop("filters"), "not a stateful stream's state"),
        "windowed": (lambda st: [{"__dict__": {"count": 0}}] * 4,  # as AnomalyStream's
                     "not a stateful stream's state"),
    }
    for name, (change, message) in cases.items():
        bad = written(f"{name}.tsrnn", change)
        with pytest.raises(ValueError, match=message) as err:
            load_stream(bad)
        assert str(bad) in str(err.value) and "\n" not in str(err.value)
    payload["state"]["__dict__"]["arrays"]["__dict__"]["count"]["__ndarray__"].fill_(3)
    torch.save(payload, tmp_path / "edited.tsrnn")  # its checksum now disagrees
    with pytest.raises(ValueError, match="edited.tsrnn is damaged: its content does not"):
        load_stream(tmp_path / "edited.tsrnn")
    three_det.save(tmp_path / "model.tsrnn")
    with pytest.raises(ValueError, match="model.tsrnn is not a tsrnn stream state file"):
        load_stream(tmp_path / "model.tsrnn")
    (tmp_path / "cut.tsrnn").write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.tsrnn"):
        load_stream(tmp_path / "cut.tsrnn")
    code, marker = pickled_code
    torch.save({"x": code}, tmp_path / "code.tsrnn")
    with pytest.raises(ValueError, match="refused: it contains code"):
        load_stream(tmp_path / "code.tsrnn")
    assert not marker.exists()


# ------------------------------------------------------------- input forms
def test_the_forms_of_input_are_the_windowed_streams(three_det):
    t, ids = "2024-02-01 00:00", ["sensor_1", "sensor_2", "sensor_3"]
    forms = [([40.0, 80.0, 30.0], ids), ([[40.0], [80.0], [30.0]], None),
             (dict(zip(ids, [40.0, 80.0, 30.0], strict=True)), None)]
    for values, series in forms:
        result = three_det.stream().update(t, values, series=series)
        assert result.series == ids
    one = three_det.stream().update(t, 40.0, series="sensor_1")
    assert one.series == ["sensor_1"] and len(one.score) == 1
    with pytest.raises(DataError, match=r"got shape \[1, 2\]"):
        three_det.stream().update(t, {"sensor_1": [1.0, 2.0]})


def test_the_timezone_rule_is_the_detectors(three_det):
    """A naive detector refuses aware times (and the reverse), from the first point,
    as batch scores do; aware times in any zone are the same instants."""
    with pytest.raises(DataError, match="has a timezone, but the detector's times were naive"):
        three_det.stream().update("2024-02-01 00:00+00:00", [1.0], series="sensor_1")
    aware = _sine().tz_localize("Europe/Paris")
    det = AnomalyDetector(**TINY).fit(aware)
    stream = det.stream()
    with pytest.raises(DataError, match="has no timezone"):
        stream.update("2024-02-01 00:00", [0.0, 3.0])
    utc = aware.tz_convert("UTC")
    np.testing.assert_allclose(_stream_rows(stream, utc)[0],
                               det.decision_function(aware).to_numpy(), **TOL)
