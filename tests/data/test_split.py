"""Tests for tsrnn/data/split.py: chronological train / validation / test splits."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tsrnn.data import DataError, SeriesData, chronological_split, split_borders, window_starts

FAST = settings(max_examples=60, deadline=None)


def _stacked(lengths, start=None) -> SeriesData:
    """A long frame of series with the given lengths; y is the global row number."""
    ids = np.repeat([f"s{i}" for i in range(len(lengths))], lengths)
    t = np.concatenate([np.arange(n) for n in lengths])
    frame = pd.DataFrame({"id": ids, "y": np.arange(sum(lengths), dtype=float)})
    frame["t"] = t if start is None else pd.Timestamp(start) + pd.to_timedelta(t, unit="h")
    return SeriesData.from_dataframe(frame, time_col="t", id_col="id")


def _target_rows(split, data, input_len, horizon):
    """{part: {(series, row within series) of every target step}}, checking each window."""
    out = {}
    for k, name in enumerate(("train", "val", "test")):
        rows = set()
        for s in getattr(split, name):
            i = int(np.searchsorted(data.offsets, s, side="right") - 1)
            t = int(s - data.offsets[i]) + input_len  # first target step
            assert t - input_len >= 0 and t + horizon <= data.lengths[i]  # inside the series
            lo, hi = split.borders[i, k], split.borders[i, k + 1]
            assert lo <= t and t + horizon <= hi, (name, i, t)  # targets inside the part
            rows |= {(i, r) for r in range(t, t + horizon)}
        out[name] = rows
    return out


# ------------------------------------------------------------------ properties
@st.composite
def covering_cases(draw):
    """Sizes where every part holds at least one window in every series."""
    input_len, horizon = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    n_val, n_test = draw(st.integers(horizon, horizon + 5)), draw(st.integers(horizon, horizon + 5))
    n_series = draw(st.integers(1, 3))
    if draw(st.booleans()):  # fixed training rows, and rows after the test part
        n_train = draw(st.integers(input_len + horizon, input_len + horizon + 5))
        tails = [draw(st.integers(0, 4)) for _ in range(n_series)]
        lengths = [n_train + n_val + n_test + tail for tail in tails]
    else:
        n_train = None
        lengths = [draw(st.integers(input_len + horizon, input_len + horizon + 8)) + n_val
                   + n_test for _ in range(n_series)]
    return lengths, input_len, horizon, n_train, n_val, n_test


@FAST
@given(case=covering_cases())
def test_split_parts_are_disjoint_ordered_and_cover_every_target_once(case):
    lengths, input_len, horizon, n_train, n_val, n_test = case
    data = _stacked(lengths)
    split = chronological_split(data, input_len, horizon, train_size=n_train, val_size=n_val,
                                test_size=n_test)

    for i, n in enumerate(lengths):
        b1 = n - n_val - n_test if n_train is None else n_train
        np.testing.assert_array_equal(split.borders[i], [0, b1, b1 + n_val, b1 + n_val + n_test])
    np.testing.assert_array_equal(split.train_end, split.borders[:, 1])

    rows = _target_rows(split, data, input_len, horizon)
    assert not rows["train"] & rows["val"]
    assert not rows["val"] & rows["test"]
    assert not rows["train"] & rows["test"]
    for i, n in enumerate(lengths):
        b = split.borders[i]
        # Every row from input_len to b3 is a target of exactly one part: no window is
        # lost at a border. Rows before input_len, and from b3 on, are targets of none.
        for r in range(n):
            parts = [name for name, got in rows.items() if (i, r) in got]
            assert len(parts) == (1 if input_len <= r < b[3] else 0), (i, r, parts)
        # Parts come in time order.
        steps = [sorted(r for j, r in rows[name] if j == i) for name in ("train", "val", "test")]
        assert steps[0][-1] < steps[1][0] and steps[1][-1] < steps[2][0]
        # Validation and test inputs look back into the part before.
        off = data.offsets[i]
        for name, k in (("val", 1), ("test", 2)):
            starts = getattr(split, name)
            first = starts[(starts >= off) & (starts < off + n)].min() - off
            assert first == b[k] - input_len < b[k]
    for part in (split.train, split.val, split.test):
        assert np.all(np.diff(part) > 0)


@FAST
@given(
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    input_len=st.integers(1, 5),
    horizon=st.integers(1, 4),
    stride=st.integers(1, 3),
    val_size=st.floats(0.0, 0.4),
    test_size=st.floats(0.0, 0.4),
)
def test_split_with_fractions_and_strides_never_mixes_parts(lengths, input_len, horizon, stride,
                                                             val_size, test_size):
    data = _stacked(lengths)
    try:
        split = chronological_split(data, input_len, horizon, val_size=val_size,
                                    test_size=test_size, stride=stride)
    except DataError:
        assume(False)  # too short for the sizes: tested below
    for i, n in enumerate(lengths):
        n_val, n_test = round(n * val_size), round(n * test_size)
        np.testing.assert_array_equal(split.borders[i],
                                      [0, n - n_val - n_test, n - n_test, n])
    rows = _target_rows(split, data, input_len, horizon)
    assert not rows["train"] & rows["val"]
    assert not rows["val"] & rows["test"]
    assert not rows["train"] & rows["test"]
    for i in range(len(lengths)):
        off, end = data.offsets[i], data.offsets[i + 1]
        for k, name in enumerate(("train", "val", "test")):
            starts = getattr(split, name)
            mine = starts[(starts >= off) & (starts < end)] - off
            room = split.borders[i, k + 1] - max(input_len, split.borders[i, k]) - horizon
            # A part too short for one window has none; else every stride-th one.
            assert len(mine) == (room // stride + 1 if room >= 0 else 0)
            assert np.all(np.diff(mine) == stride)


@FAST
@given(
    lengths=st.lists(st.integers(9, 30), min_size=1, max_size=3),
    input_len=st.integers(1, 4),
)
def test_reconstruction_windows_land_in_exactly_one_part(lengths, input_len):
    # horizon 0 has no target steps: a window belongs to the part of its last input
    # step, so no window is in two parts and none is lost.
    data = _stacked(lengths)
    split = chronological_split(data, input_len, 0, val_size=2, test_size=2)
    parts = [set(split.train.tolist()), set(split.val.tolist()), set(split.test.tolist())]
    assert not parts[0] & parts[1] and not parts[1] & parts[2] and not parts[0] & parts[2]
    everything = window_starts(data.offsets, input_len, 0)
    assert set().union(*parts) == set(everything.tolist())
    for k, part in enumerate(parts):
        for s in part:
            i = int(np.searchsorted(data.offsets, s, side="right") - 1)
            last = s - data.offsets[i] + input_len - 1
            assert split.borders[i, k] <= last < split.borders[i, k + 1]


# -------------------------------------------------------------------- examples
def test_fractions_give_borders_per_series():
    borders = split_borders(np.array([100, 50]), val_size=0.2, test_size=0.1)
    np.testing.assert_array_equal(borders, [[0, 70, 90, 100], [0, 35, 45, 50]])


def test_fixed_row_counts_leave_the_tail_out():
    data = _stacked([30])
    split = chronological_split(data, 3, 2, train_size=10, val_size=5, test_size=5)
    np.testing.assert_array_equal(split.borders, [[0, 10, 15, 20]])
    # Last test window: targets 18, 19; its start is 18 - 3.
    assert split.test.max() == 15
    np.testing.assert_array_equal(split.train, np.arange(0, 6))  # targets 3..9
    np.testing.assert_array_equal(split.val, np.arange(7, 11))  # targets 10..14


def test_split_by_timestamp():
    data = _stacked([20, 15], start="2024-01-01")
    split = chronological_split(data, 2, 1, val_start="2024-01-01 10:00",
                                test_start=pd.Timestamp("2024-01-01 13:00"))
    np.testing.assert_array_equal(split.borders, [[0, 10, 13, 20], [0, 10, 13, 15]])
    only_test = chronological_split(data, 2, 1, test_start="2024-01-01 12:00")
    np.testing.assert_array_equal(only_test.borders, [[0, 12, 12, 20], [0, 12, 12, 15]])
    assert only_test.val.size == 0


def test_split_by_timestamp_errors():
    data = _stacked([20], start="2024-01-01")
    with pytest.raises(ValueError, match="test_start .* comes before val_start"):
        chronological_split(data, 2, 1, val_start="2024-01-01 12:00",
                            test_start="2024-01-01 10:00")
    with pytest.raises(ValueError, match="val_start=.*timezone"):
        chronological_split(data, 2, 1, val_start=pd.Timestamp("2024-01-01 10:00", tz="UTC"))


def test_series_too_short_for_the_sizes_is_named():
    with pytest.raises(DataError, match=r"series 1 has 3 rows: too few for train_size=2 and "
                                        r"val_size=1 and test_size=1 \(1 validation and 1 test"):
        split_borders(np.array([10, 3]), train_size=2, val_size=1, test_size=1)
    with pytest.raises(DataError, match=r"series 0 has 4 rows.*leave 0 to train on"):
        split_borders(np.array([4]), val_size=2, test_size=2)
    # By its id, and without the test part of 0 an estimator asks for: it was
    # "series 0 ... sizes -900/1000/0 (val_size=1000, test_size=0)".
    with pytest.raises(DataError, match=r"^series 'pump 2' has 100 rows: too few for "
                                        r"val_size=1000 \(1000 validation rows leave 0 to "
                                        r"train on\)$"):
        split_borders(np.array([5000, 100]), val_size=1000, test_size=0, ids=["pump 1", "pump 2"])
    with pytest.raises(DataError, match=r"^the series has 100 rows"):  # no id column
        split_borders(np.array([100]), val_size=1000, test_size=0, ids=[None])


def test_no_training_window_raises():
    data = _stacked([12, 12])
    with pytest.raises(DataError, match=r"no training window.*input_len \+ horizon = 6.*\[4, 4\]"):
        chronological_split(data, 4, 2, val_size=4, test_size=4)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"val_size": 1.0}, "val_size"), ({"test_size": -0.1}, "test_size"),
     ({"val_size": -1}, "val_size"), ({"val_size": 2.5}, "val_size"),
     ({"test_size": True}, "test_size"), ({"val_size": None}, "val_size"),
     ({"train_size": 1.5}, "train_size")],
)
def test_bad_sizes_raise_value_error(kwargs, name):
    with pytest.raises(ValueError, match=name):
        split_borders(np.array([100]), **kwargs)
