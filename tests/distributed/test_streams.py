"""PartitionedStream: sensors hashed to partitions score as one stream does."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tsrnn.data import DataError
from tsrnn.distributed import PartitionedStream, partition_of


@pytest.fixture(scope="module")
def live(fleet):
    """Points after the fitted ones, rows shuffled: a batch comes in any order."""
    from conftest import sensors

    later = sensors(5, 160)
    later = later[later["timestamp"] > fleet["timestamp"].max()]
    return later.sample(frac=1, random_state=0)


def _close(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal but for float32 rounding: numpy's float32 matrix products round a row
    differently in a batch of another size, so one stream is not bitwise the same
    when its series come in other groups either."""
    pd.testing.assert_frame_equal(got.drop(columns="score"), want.drop(columns="score"))
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-6, atol=1e-9)


@pytest.mark.slow  # starts three actors (processes importing torch): about 15 s
def test_ray_partitions_score_as_one_stream(ray_cluster, detector, live):
    one = detector.stream()
    local = PartitionedStream(detector, 3, engine="local")
    parted = PartitionedStream(detector, 3, engine="ray")
    try:
        first, rest = live[live["timestamp"] < "2024-01-07"], live[live["timestamp"]
                                                                   >= "2024-01-07"]
        scored = parted.update_frame(first)
        pd.testing.assert_frame_equal(scored, local.update_frame(first))  # bit for bit
        _close(scored, one.update_frame(first))
        assert scored["ready"].any()
        stamp = rest["timestamp"].min()
        now = rest[rest["timestamp"] == stamp]
        points = dict(zip(now["sensor"], now["value"], strict=True))
        got, same, want = (s.update(stamp, points) for s in (parted, local, one))
        assert got.series == same.series == want.series
        for name in ("score", "label", "ready", "gap"):
            np.testing.assert_array_equal(getattr(got, name), getattr(same, name))
            np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-6)
    finally:
        parted.close()


def test_local_partitions_score_as_one_stream(detector, live):
    one, parted = detector.stream(), PartitionedStream(detector, 4, engine="local")
    _close(parted.update_frame(live), one.update_frame(live))
    assert len(np.unique(parted.partitions(detector.ids_))) > 1  # really spread


def test_partitions_read_text_times_once_for_all(detector):
    # One partition's rows stop before the 13th: read on their own, in one format,
    # "12/01/2024" would be month-first (December), while the frame is day-first.
    from conftest import sensors

    parted = PartitionedStream(detector, 4, engine="local")
    ids = np.array(detector.ids_)
    alone = ids[parted.partitions(ids) == parted.partitions(ids)[0]]
    later = sensors(5, 340)  # to 15 January, straight on from the fitted rows
    later = later[(later["timestamp"] >= "2024-01-06")
                  & (~later["sensor"].isin(alone) | (later["timestamp"] < "2024-01-13"))]
    text = later.assign(timestamp=later["timestamp"].dt.strftime("%d/%m/%Y %H:%M"))
    scored = parted.update_frame(text)
    _close(scored, detector.stream().update_frame(later))
    assert not scored["gap"].any()  # month-first, 6 to 12 January jump a month a day


def test_refusals_name_the_series(detector, live):
    parted = PartitionedStream(detector, 2, engine="local")
    stamp = live["timestamp"].min()
    parted.update(stamp, {"s0": 1.0, "s1": 2.0})
    with pytest.raises(DataError, match="for series 's1' is not after its last one"):
        parted.update(stamp, {"s1": 2.0})
    with pytest.raises(DataError, match=r"shape \[1, 1\], got shape \[2, 1\]"):
        parted.update(stamp, [1.0, 2.0], series=["s3"])
    with pytest.raises(ValueError, match="n_partitions must be a positive integer"):
        PartitionedStream(detector, 0, engine="local")


def test_a_detector_changed_after_shipping_is_refused(detector, live):
    # The partitions hold copies: a new threshold or score scales here would be
    # followed by a stream in this process and not by them.
    from tests.rescoring import scored_differently

    det = scored_differently(detector)
    parted = PartitionedStream(det, 2, engine="local")
    first = live[live["timestamp"] == live["timestamp"].min()]
    parted.update_frame(first)
    det.score_scale_ = det.score_scale_ * 2.0
    for call in (lambda: parted.update_frame(first),
                 lambda: parted.update(live["timestamp"].max(), {"s0": 1.0})):
        with pytest.raises(ValueError, match="make a new PartitionedStream"):
            call()
    PartitionedStream(det, 2, engine="local").update_frame(first)  # as it is now


def test_partition_of_is_stable_across_processes():
    ids = [f"s{k}" for k in range(50)] + list(range(50))
    here = [partition_of(s, 4) for s in ids]
    code = (f"from tsrnn.distributed import partition_of\n"
            f"print([partition_of(s, 4) for s in {ids!r}])")
    # Python's own hash of a string changes with the seed (this process has a random one).
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "1"}).stdout
    assert out.strip() == str(here)
    assert set(here) == {0, 1, 2, 3}
    assert partition_of(np.int64(7), 4) == partition_of(7, 4)
