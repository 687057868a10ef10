"""Tests for tsrnn/data/sequences.py: reading sequence inputs and padding batches."""

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tsrnn.data import DataError
from tsrnn.data.sequences import (
    IGNORE_INDEX,
    SequenceDataset,
    read_labels,
    read_sequences,
)


def _list(lengths=(3, 5, 2), features=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, features)) for n in lengths]


# ------------------------------------------------------------------ the three inputs
def test_array_list_and_frame_stack_the_same_way():
    seqs = _list((4, 4, 4))
    from_array = read_sequences(np.stack(seqs))
    from_list = read_sequences(seqs)
    frame = pd.concat([pd.DataFrame({"id": i, "a": s[:, 0], "b": s[:, 1]})
                       for i, s in enumerate(seqs)], ignore_index=True)
    from_frame = read_sequences(frame, id_col="id")
    for data in (from_array, from_list, from_frame):
        np.testing.assert_array_equal(data.offsets, [0, 4, 8, 12])
        np.testing.assert_allclose(data.values, np.concatenate(seqs), rtol=1e-6)
    assert from_array.steps == 4 and from_array.kind == "array"
    assert from_frame.feature_names == ("a", "b") and from_frame.ids == [0, 1, 2]


def test_frame_rows_need_not_be_contiguous_and_keep_their_order():
    frame = pd.DataFrame({"id": ["a", "b", "a", "b", "a"], "x": [1.0, 10, 2, 20, 3]},
                         index=[7, 3, 9, 1, 100])  # an index that is no time axis
    data = read_sequences(frame, id_col="id")
    np.testing.assert_array_equal(data.values[:, 0], [1, 2, 3, 10, 20])
    np.testing.assert_array_equal(data.rows, [0, 2, 4, 1, 3])


def test_frame_time_column_orders_steps_and_is_no_feature():
    frame = pd.DataFrame({"id": [0, 0, 1, 1], "t": [1, 0, 0, 1], "x": [2.0, 1, 3, 4]})
    with pytest.raises(DataError, match="row"):  # unsorted times are refused, as for series
        read_sequences(frame, id_col="id", time_col="t")
    data = read_sequences(frame.sort_values(["id", "t"]), id_col="id", time_col="t")
    assert data.feature_names == ("x",)


def test_list_of_1d_floats_is_one_feature_and_of_ints_is_tokens():
    assert read_sequences([np.ones(3), np.ones(2)]).values.shape == (5, 1)
    tokens = read_sequences([np.array([1, 2, 3]), np.array([4])])
    assert tokens.tokens and tokens.values.dtype == np.int64 and tokens.n_features == 1
    assert read_sequences(np.array([[1, 2], [3, 4]])).tokens


# --------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_missing_value_names_sequence_step_and_feature(bad):
    seqs = _list()
    seqs[1][3, 1] = bad
    with pytest.raises(DataError, match=r"feature 1 is (missing|infinite).*sequence 1 at step 3"
                                        r".*fill="):
        read_sequences(seqs)
    array = np.stack([s[:2] for s in _list()])
    array[2, 1, 0] = bad
    with pytest.raises(DataError, match="feature 0 .* sequence 2 at step 1"):
        read_sequences(array)


@pytest.mark.parametrize("fill", ["ffill", "interpolate"])
def test_fill_fills_within_each_sequence(fill):
    seqs = [np.array([[1.0], [np.nan], [3.0]]), np.array([[np.nan], [5.0]])]
    data = read_sequences(seqs, fill=fill)
    expected = [1, 1 if fill == "ffill" else 2, 3, 5, 5]
    np.testing.assert_allclose(data.values[:, 0], expected)
    with pytest.raises(DataError, match="nothing to fill"):
        read_sequences([np.ones((2, 1)), np.full((2, 1), np.nan)], fill=fill)


def test_frame_missing_value_names_the_column_and_row():
    frame = pd.DataFrame({"id": [0, 0, 1, 1], "x": [1.0, np.nan, 3, 4]})
    with pytest.raises(DataError, match=r"column 'x' is missing.*row 1.*fill="):
        read_sequences(frame, id_col="id")


@pytest.mark.parametrize(
    ("X", "match"),
    [
        ([np.ones((3, 2)), np.ones((4, 3))], "sequence 1 has 3 features per step, sequence 0 "
                                             "has 2"),
        ([np.ones((3, 2)), np.array([["a", "b"]])], "sequence 1 is not numeric"),
        (np.array([[["a"]]]), "X is not numeric"),
        ([], "empty list"),
        (np.ones((0, 3, 2)), "empty"),
        ([np.ones((3, 2)), np.ones((0, 2))], "sequence 1 is empty"),
        (np.ones(5), "3-D array"),
        ([np.ones((2, 2, 2))], "sequence 0 has shape"),
        ([np.array([1, 2]), np.array([-3, 1])], r"token ids must be >= 0; sequence 1 at step 0"),
        ([np.array([1, 2]), np.ones(3)], "sequence 0 holds token ids.*sequence 1 does not"),
    ],
)
def test_bad_input_names_what_is_wrong(X, match):
    with pytest.raises(DataError, match=match):
        read_sequences(X)


def test_frame_only_options_need_a_frame_and_other_types_are_refused():
    with pytest.raises(TypeError, match="DataFrame"):
        read_sequences(np.ones((2, 3, 1)), id_col="id")
    with pytest.raises(TypeError, match="3-D array"):
        read_sequences("abc")


# ------------------------------------------------------------------------ labels
def test_labels_per_sequence():
    data = read_sequences(_list())
    np.testing.assert_array_equal(read_labels(["a", "b", "a"], data, per_step=False),
                                  ["a", "b", "a"])
    with pytest.raises(DataError, match="y has 2 labels for 3 sequences"):
        read_labels([0, 1], data, per_step=False)
    with pytest.raises(DataError, match="missing at position 1"):
        read_labels([0.0, np.nan, 1.0], data, per_step=False)


def test_label_column_must_be_constant_within_a_sequence():
    frame = pd.DataFrame({"id": [5, 5, 6, 6], "x": [1.0, 2, 3, 4], "y": ["a", "a", "b", "c"]})
    data = read_sequences(frame, id_col="id", exclude=["y"])
    with pytest.raises(DataError, match=r"changes within sequence 6 at step 1 \(row 3\)"):
        read_labels("y", data, per_step=False, frame=frame)
    np.testing.assert_array_equal(read_labels("y", data, per_step=True, frame=frame),
                                  ["a", "a", "b", "c"])


def test_labels_per_step_must_match_every_length():
    data = read_sequences(_list((3, 2)))
    labels = read_labels([np.array([0, 1, 1]), np.array([1, 0])], data, per_step=True)
    np.testing.assert_array_equal(labels, [0, 1, 1, 1, 0])
    with pytest.raises(DataError, match="y for sequence 1 has 3 labels for 2 steps"):
        read_labels([np.array([0, 1, 1]), np.array([1, 0, 0])], data, per_step=True)
    array = read_sequences(np.ones((2, 4, 1)))
    with pytest.raises(DataError, match=r"shape \(2, 4\)"):
        read_labels(np.ones((2, 3)), array, per_step=True)


# ----------------------------------------------------------------------- batches
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=6), st.data())
def test_batches_hold_each_sequence_then_zeros(lengths, draw):
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    values = np.arange(offsets[-1] * 2, dtype=np.float32).reshape(-1, 2) + 1  # never zero
    targets = np.arange(offsets[-1])
    dataset = SequenceDataset(values, offsets, targets, per_step=True)
    index = draw.draw(st.lists(st.integers(0, len(lengths) - 1), min_size=1, max_size=4))
    batch = dataset[torch.tensor(index)]
    assert batch.inputs.shape == (len(index), max(lengths[i] for i in index), 2)
    for b, i in enumerate(index):
        n = lengths[i]
        assert batch.lengths[b] == n
        np.testing.assert_array_equal(batch.inputs[b, :n], values[offsets[i] : offsets[i + 1]])
        assert (batch.inputs[b, n:] == 0).all()
        np.testing.assert_array_equal(batch.targets[b, :n], targets[offsets[i] : offsets[i + 1]])
        assert (batch.targets[b, n:] == IGNORE_INDEX).all()


def test_subset_dataset_and_initial_state():
    offsets = np.array([0, 2, 5, 6])
    values = np.arange(6, dtype=np.int64)
    state = np.arange(3 * 2, dtype=np.float32).reshape(3, 1, 2)
    dataset = SequenceDataset(values, offsets, np.array([0, 1, 2]), state, sequences=[2, 0])
    assert len(dataset) == 2
    batch = dataset[torch.tensor([0, 1])]
    assert batch.inputs.tolist() == [[5, 0], [0, 1]]
    assert batch.targets.tolist() == [2, 0]
    assert batch.state[:, 0].tolist() == [[4, 5], [0, 1]]
