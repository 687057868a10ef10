"""Tests for tsrnn/data/windowing.py: sliding windows as views, and window starts of
stacked series that never cross a series border."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tsrnn.data import DataError, make_windows, n_windows, window_starts

FAST = settings(max_examples=60, deadline=None)


def _values(n_rows: int, n_features: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n_rows, n_features)).astype(np.float32)


def _as(backend: str, values: np.ndarray):
    return values if backend == "numpy" else torch.from_numpy(values)


def _np(x) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else x.numpy()


def _shares_memory(window, values) -> bool:
    if isinstance(values, np.ndarray):
        return np.shares_memory(window, values)
    return window.untyped_storage().data_ptr() == values.untyped_storage().data_ptr()


@st.composite
def window_cases(draw):
    input_len = draw(st.integers(1, 6))
    horizon = draw(st.integers(0, 4))
    stride = draw(st.integers(1, 4))
    n_rows = draw(st.integers(input_len + horizon, input_len + horizon + 20))
    n_features = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["none", "int", "slice", "contiguous", "scattered"]))
    if kind == "none":
        targets, cols = None, list(range(n_features))
    elif kind == "int":
        k = draw(st.integers(1, n_features))
        targets, cols = k, list(range(k))
    elif kind == "slice":
        a = draw(st.integers(0, n_features - 1))
        b = draw(st.integers(a + 1, n_features))
        targets, cols = slice(a, b), list(range(a, b))
    else:
        cols = draw(st.lists(st.integers(0, n_features - 1), min_size=1, max_size=4))
        if kind == "contiguous":
            cols = list(range(cols[0], n_features))
        targets = cols
    seed = draw(st.integers(0, 2**16))
    return n_rows, n_features, input_len, horizon, stride, targets, cols, seed


# ------------------------------------------------------------------ properties
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@FAST
@given(case=window_cases())
def test_every_window_is_the_matching_slice(backend, case):
    n_rows, n_features, input_len, horizon, stride, targets, cols, seed = case
    raw = _values(n_rows, n_features, seed)
    inputs, y = make_windows(_as(backend, raw), input_len, horizon, stride, targets=targets)
    inputs, y = _np(inputs), _np(y)

    n = (n_rows - input_len - horizon) // stride + 1
    assert inputs.shape == (n, input_len, n_features)
    assert y.shape == (n, horizon, len(cols))
    for b in range(n):
        s = b * stride
        np.testing.assert_array_equal(inputs[b], raw[s : s + input_len])
        np.testing.assert_array_equal(y[b], raw[s + input_len : s + input_len + horizon][:, cols])


@FAST
@given(
    n_rows=st.integers(0, 40),
    input_len=st.integers(1, 8),
    horizon=st.integers(0, 5),
    stride=st.integers(1, 5),
)
def test_window_count_formula(n_rows, input_len, horizon, stride):
    span = input_len + horizon
    expected = (n_rows - span) // stride + 1 if n_rows >= span else 0
    assert n_windows(n_rows, input_len, horizon, stride) == expected
    starts = window_starts(np.array([0, n_rows]), input_len, horizon, stride)
    np.testing.assert_array_equal(starts, np.arange(expected) * stride)
    if n_rows >= span:
        inputs, _ = make_windows(np.zeros((n_rows, 1), np.float32), input_len, horizon, stride)
        assert len(inputs) == expected


@FAST
@given(
    lengths=st.lists(st.integers(0, 25), min_size=1, max_size=6),
    input_len=st.integers(1, 6),
    horizon=st.integers(0, 4),
    stride=st.integers(1, 4),
)
def test_no_window_spans_two_series(lengths, input_len, horizon, stride):
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    span = input_len + horizon
    starts = window_starts(offsets, input_len, horizon, stride)

    assert starts.dtype == np.int64
    assert np.all(np.diff(starts) > 0)  # series by series, in time order
    # Brute force: every start that keeps [s, s + span) inside series i.
    expected = [s for i, n in enumerate(lengths)
                for s in range(offsets[i], offsets[i] + n - span + 1, stride)]
    np.testing.assert_array_equal(starts, expected)
    for s in starts:
        i = np.searchsorted(offsets, s, side="right") - 1
        assert offsets[i] <= s and s + span <= offsets[i + 1]
    for i, n in enumerate(lengths):
        inside = (starts >= offsets[i]) & (starts < offsets[i + 1])
        assert inside.sum() == ((n - span) // stride + 1 if n >= span else 0)


@FAST
@given(data=st.data(), input_len=st.integers(1, 5), horizon=st.integers(0, 4))
def test_window_starts_keeps_targets_inside_the_range(data, input_len, horizon):
    lengths = data.draw(st.lists(st.integers(0, 20), min_size=1, max_size=4))
    lo = [data.draw(st.integers(0, n)) for n in lengths]
    hi = [data.draw(st.integers(a, n)) for a, n in zip(lo, lengths, strict=True)]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    starts = window_starts(offsets, input_len, horizon, target_from=np.array(lo),
                           target_to=np.array(hi))
    expected = []
    for i, n in enumerate(lengths):
        for t in range(input_len, n - horizon + 1):  # t: first target step
            # Without targets (horizon 0) the last input step t - 1 decides.
            keep = lo[i] <= t and t + horizon <= hi[i] if horizon else lo[i] <= t - 1 < hi[i]
            if keep:
                expected.append(offsets[i] + t - input_len)
    np.testing.assert_array_equal(starts, expected)


# ---------------------------------------------------------------------- views
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("targets", [None, 2, slice(1, 3), [1, 2], [-1]])
def test_windows_are_views(backend, targets):
    raw = _values(12, 3)
    values = _as(backend, raw)
    inputs, y = make_windows(values, 4, 2, stride=2, targets=targets)
    assert _shares_memory(inputs, values)
    assert _shares_memory(y, values)
    # A view sees a later write to the source: row 4 is the first target step of
    # window 0 and input step 2 of window 1 (stride 2).
    raw[4] = 1000.0
    assert np.all(_np(inputs)[1, 2] == 1000.0)
    assert np.all(_np(y)[0, 0] == 1000.0)
    assert not np.any(_np(inputs)[0] == 1000.0)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_scattered_targets_give_the_right_columns(backend):
    raw = _values(10, 4)
    _, y = make_windows(_as(backend, raw), 3, 2, targets=[3, 0])
    y = _np(y)
    assert y.shape == (6, 2, 2)
    for b in range(6):
        np.testing.assert_array_equal(y[b], raw[b + 3 : b + 5][:, [3, 0]])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_shapes(backend):
    inputs, y = make_windows(_as(backend, _values(20, 5)), 6, 3, stride=4, targets=2)
    assert tuple(inputs.shape) == (3, 6, 5)  # (20 - 9) // 4 + 1
    assert tuple(y.shape) == (3, 3, 2)
    if backend == "torch":
        assert isinstance(inputs, torch.Tensor) and isinstance(y, torch.Tensor)
    else:
        assert isinstance(inputs, np.ndarray) and isinstance(y, np.ndarray)


def test_one_dimensional_series_is_one_feature():
    inputs, y = make_windows(np.arange(6.0), 2, 1)
    assert inputs.shape == (4, 2, 1) and y.shape == (4, 1, 1)
    np.testing.assert_array_equal(y[:, 0, 0], [2.0, 3.0, 4.0, 5.0])


def test_horizon_zero_gives_input_windows_alone():
    inputs, y = make_windows(_values(5, 2), 3, 0)
    assert inputs.shape == (3, 3, 2)
    assert y.shape == (3, 0, 2)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_too_short_series_names_its_length(backend):
    with pytest.raises(DataError, match=r"3 rows.*input_len \+ horizon = 5"):
        make_windows(_as(backend, _values(3, 1)), 3, 2)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"input_len": 0}, "input_len"),
        ({"input_len": -2}, "input_len"),
        ({"input_len": 2.0}, "input_len"),
        ({"input_len": True}, "input_len"),
        ({"horizon": -1}, "horizon"),
        ({"horizon": 1.5}, "horizon"),
        ({"stride": 0}, "stride"),
        ({"stride": None}, "stride"),
    ],
)
def test_bad_sizes_raise_value_error(kwargs, name):
    args = {"input_len": 2, "horizon": 1, "stride": 1} | kwargs
    with pytest.raises(ValueError, match=name):
        make_windows(_values(10, 2), **args)
    with pytest.raises(ValueError, match=name):
        window_starts(np.array([0, 10]), **args)


@pytest.mark.parametrize(
    ("targets", "match"),
    [(0, "targets=0"), (3, "targets=3"), ([], "empty"), ([2], "column 2"),
     ([-3], "column -3")],
)
def test_bad_targets_raise_value_error(targets, match):
    with pytest.raises(ValueError, match=match):
        make_windows(_values(10, 2), 2, 1, targets=targets)


def test_bad_values_raise():
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        make_windows([[1.0], [2.0], [3.0]], 1, 1)
    with pytest.raises(ValueError, match=r"shape \(4, 2, 2\)"):
        make_windows(np.zeros((4, 2, 2)), 1, 1)
