"""AnomalyStream: the forms of input a user passes, sensors that join and leave,
and state that survives a restart. (Equality with batch scores for the fitted
series is tested in test_detector.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tsrnn import AnomalyDetector
from tsrnn.data import DataError
from tsrnn.datasets import load_sensors
from tsrnn.streaming import AnomalyStream

TINY = dict(window=8, hidden_size=8, max_epochs=1, n_models=1, accelerator="cpu",
            random_state=0)


@pytest.fixture(scope="module")
def sensors() -> pd.DataFrame:
    return load_sensors().drop(columns=["is_anomaly", "anomaly_kind"]).groupby(
        "sensor").head(400).reset_index(drop=True)


@pytest.fixture(scope="module")
def det(sensors) -> AnomalyDetector:
    """Fitted on three of the four sensors: sensor_4 is new to it."""
    train = sensors[sensors.sensor != "sensor_4"]
    return AnomalyDetector(**TINY).fit(train, time_col="timestamp", id_col="sensor")


@pytest.fixture(scope="module")
def one() -> AnomalyDetector:
    """One series, one target."""
    y = np.sin(np.arange(300) / 4) + 0.05 * np.random.default_rng(0).standard_normal(300)
    frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=300, freq="h"), "y": y})
    return AnomalyDetector(**TINY).fit(frame, time_col="t")


def test_a_new_sensor_joins_and_scores_as_batch_does(det, sensors):
    batch = det.decision_function(sensors, online=True).to_numpy()
    result = det.stream().update_frame(sensors)
    np.testing.assert_allclose(result["score"], batch, rtol=1e-4, atol=1e-5)
    new = (sensors.sensor == "sensor_4").to_numpy()
    ready = result["ready"].to_numpy()[new]
    assert not ready[:det._warmup - 1].any() and ready[det._warmup - 1:].all()
    assert (result["score"].to_numpy()[new][:det._warmup - 1] == 0).all()
    assert ready.sum() > 0 and (result["score"].to_numpy()[new][ready] > 0).all()


def test_update_frame_reads_day_first_text_as_the_batch_does(det, sensors):
    # Read value by value, "12/01/2024" was December and "13/01/2024" January.
    text = sensors.assign(timestamp=pd.to_datetime(sensors.timestamp).dt.strftime(
        "%d/%m/%Y %H:%M"))
    batch = det.decision_function(sensors, online=True).to_numpy()
    result = det.stream().update_frame(text)
    np.testing.assert_allclose(result["score"], batch, rtol=1e-4, atol=1e-5)
    assert not result["gap"].any()


def test_update_frame_refuses_bad_times_in_one_line(one):
    frame = pd.DataFrame({"t": pd.date_range("2024-01-13", periods=6, freq="h"),
                          "y": np.zeros(6)})
    text = frame.assign(t=frame.t.dt.strftime("%d/%m/%Y %H:%M").astype(object))
    text.loc[4, "t"] = "31/02/2024 00:00"
    with pytest.raises(DataError, match=r"^time column 't' is not a timestamp at row 4: "
                                        r"'31/02/2024 00:00'$"):
        one.stream().update_frame(text)
    # epoch seconds in an object column are numbers, not nanoseconds since 1970
    seconds = frame.assign(t=pd.Series((frame.t.astype("int64") // 10**9).tolist(),
                                       dtype=object))
    with pytest.raises(DataError, match="is a number, but the detector's times are dates"):
        one.stream().update_frame(seconds)


def test_points_that_read_either_way_are_read_as_the_training_text_was():
    times = pd.date_range("2024-01-01", periods=400, freq="h")  # to 17 January
    frame = pd.DataFrame({"t": times.strftime("%d/%m/%Y %H:%M"),
                          "y": np.sin(np.arange(400) / 4)})
    det = AnomalyDetector(**TINY).fit(frame, time_col="t")
    assert det.dayfirst_ is True
    stream = det.stream()
    later = pd.date_range("2024-02-12 20:00", periods=8, freq="h")  # across the 12th
    gaps = [stream.update(t.strftime("%d/%m/%Y %H:%M"), [np.sin(k / 4)]).gap[0]
            for k, t in enumerate(later)]
    # Month-first, "12/02/2024 23:00" was 2 December, and "13/02/2024 00:00" (13
    # February, the only reading) was refused as earlier than it.
    assert not any(gaps[1:])
    text = pd.DataFrame({"t": later.strftime("%d/%m/%Y %H:%M"), "y": np.zeros(8)})
    assert det.stream().update_frame(text.iloc[:4])["gap"].sum() == 0


def test_sensors_leave_and_their_memory_is_returned(det, sensors):
    stream = det.stream()
    stream.update_frame(sensors.groupby("sensor").head(20))
    assert stream.series == ["sensor_1", "sensor_2", "sensor_3", "sensor_4"]
    stream.remove("sensor_2", "sensor_4")
    assert stream.series == ["sensor_1", "sensor_3"]
    with pytest.raises(KeyError, match="'sensor_2' is not in the stream"):
        stream.remove("sensor_2")
    result = stream.update("2024-01-01 20:00", [1.0], series="sensor_2")  # back: afresh
    assert not result.ready[0] and stream.series[-1] == "sensor_2"


def test_state_is_bounded_however_long_the_stream(det, sensors):
    def size(stream):
        return sum(st["buffer"].nbytes for st in stream._state.values())

    stream = det.stream()
    stream.update_frame(sensors.groupby("sensor").head(150))
    after_150 = size(stream), stream._state["sensor_1"]["filter"]._recent.size
    stream.update_frame(sensors.groupby("sensor").nth(range(150, 400)))
    assert (size(stream), stream._state["sensor_1"]["filter"]._recent.size) == after_150


@pytest.mark.parametrize(("values", "series"), [
    (0.5, None), ([0.5], None), ([[0.5]], None), ({0: 0.5}, None), (np.float32(0.5), None),
])
def test_the_forms_of_one_point(one, values, series):
    stream = one.stream()
    result = stream.update("2024-02-01 00:00", values, series=series)
    assert len(result.score) == 1


def test_the_forms_of_many_points(det):
    t = "2024-02-01 00:00"
    ids = ["sensor_1", "sensor_2", "sensor_3"]
    a = det.stream().update(t, [40.0, 80.0, 30.0], series=ids)  # one target: a value each
    b = det.stream().update(t, [[40.0], [80.0], [30.0]])  # every fitted series, in order
    c = det.stream().update(t, dict(zip(ids, [40.0, 80.0, 30.0], strict=True)))
    assert a.series == b.series == c.series == ids


@pytest.mark.parametrize(("values", "series", "message"), [
    ([1.0, 2.0], ["sensor_1"], r"values: expected one value for each of the targets "
                               r"\['value'\] of each of 1 series, shape \[1, 1\], got "
                               r"shape \[2, 1\]"),
    ([[1.0, 2.0]], ["sensor_1"], r"got shape \[1, 2\]"),
    ("high", ["sensor_1"], "values must be numbers, got 'high'"),
    ({"sensor_1": [1.0, 2.0]}, None, r"got shape \[1, 2\]"),
    ([1.0, 2.0], None, "got values for 2 series: pass series= with their ids"),
    ({"sensor_1": 1.0}, ["sensor_1"], "not both"),
    # Batch scores refuse it; the stream took it, as inf once in float32.
    ([1.0, 1e300], ["sensor_1", "sensor_2"], "column 'value' of series 'sensor_2' holds "
                                             r"1e\+300, beyond the range of float32"),
    # The id as the user wrote it, not numpy's repr (np.int64(7)).
    ([1.0], np.array([7]), "series 7 is an integer, but the detector's series ids are text"),
])
def test_points_that_do_not_fit_the_detector_are_named(det, values, series, message):
    stream = det.stream()
    with pytest.raises(ValueError, match=message):
        stream.update("2024-02-01 00:00", values, series=series)
    assert stream.series == []  # a refused update changes nothing


def test_update_frame_names_missing_columns_and_keeps_the_row_order(det, sensors):
    chunk = sensors.groupby("sensor").head(30).sample(frac=1.0, random_state=0)
    result = det.stream().update_frame(chunk)
    assert result.index.equals(chunk.index)
    ordered = det.stream().update_frame(chunk.sort_index())
    np.testing.assert_array_equal(result.sort_index()["score"], ordered["score"])
    with pytest.raises(DataError, match=r"lacks column\(s\) \['value'\]"):
        det.stream().update_frame(chunk.drop(columns="value"))


def test_update_frame_takes_an_empty_chunk_and_names_a_value_that_is_not_a_number(det,
                                                                                  sensors):
    # An empty chunk (a poll that found nothing) failed with numpy's IndexError; a
    # value as text with pandas' "could not convert string to float".
    stream = det.stream()
    empty = stream.update_frame(sensors.iloc[:0])
    assert list(empty.columns) == ["score", "label", "ready", "gap"] and empty.empty
    chunk = sensors.iloc[:8].astype({"value": object})
    chunk.loc[chunk.index[5], "value"] = "n/a"
    with pytest.raises(DataError, match="column 'value' must hold numbers; row 5 holds 'n/a'"):
        stream.update_frame(chunk)
    assert stream.series == []


def test_a_stream_saved_and_loaded_scores_as_the_uninterrupted_one(det, sensors, tmp_path):
    first = sensors.groupby("sensor").head(150)  # sensor_4 is mid-warm-up here ...
    rest = sensors.drop(first.index)
    stream = det.stream()
    stream.update_frame(first)
    stream.save(tmp_path / "state.tsrnn")
    restored = AnomalyStream.load(tmp_path / "state.tsrnn")
    np.testing.assert_array_equal(restored.update_frame(rest)["score"],
                                  stream.update_frame(rest)["score"])
    assert restored.series == stream.series


def test_a_damaged_or_hostile_state_file_is_refused(det, sensors, tmp_path, pickled_code):
    stream = det.stream()
    stream.update_frame(sensors.groupby("sensor").head(20))
    path = tmp_path / "state.tsrnn"
    stream.save(path)
    payload = torch.load(path, weights_only=True)
    payload["state"][0]["__dict__"]["count"] = 10_000  # edited: the checksum sees it
    torch.save(payload, tmp_path / "edited.tsrnn")
    with pytest.raises(ValueError, match="does not match its checksum"):
        AnomalyStream.load(tmp_path / "edited.tsrnn")
    (tmp_path / "model.tsrnn").write_bytes(b"")
    det.save(tmp_path / "model.tsrnn")
    with pytest.raises(ValueError, match="is not a tsrnn stream state file"):
        AnomalyStream.load(tmp_path / "model.tsrnn")
    code, marker = pickled_code
    torch.save({"x": code}, tmp_path / "code.tsrnn")
    with pytest.raises(ValueError, match="refused: it contains code"):
        AnomalyStream.load(tmp_path / "code.tsrnn")
    assert not marker.exists()
