"""Tests for tsrnn/data/dataset.py: the lazy window Dataset and its loader."""

import numpy as np
import pandas as pd
import pytest
import torch

from tsrnn.data import (
    Batch,
    DataError,
    SeriesData,
    WindowDataset,
    chronological_split,
    make_loader,
    make_windows,
)

LENGTHS = {"a": 9, "b": 14, "c": 7}
INPUT_LEN, HORIZON = 3, 2


@pytest.fixture
def data() -> SeriesData:
    """A long frame of 3 series of different lengths, rows interleaved in time.

    Columns: targets y1, y2; past covariate p; future covariate f. Each value encodes
    its series, time step and column, so that any mix-up shows.
    """
    rows = []
    for t in range(max(LENGTHS.values())):
        for k, (sid, n) in enumerate(LENGTHS.items()):
            if t < n:
                base = 1000 * (k + 1) + 10 * t
                rows.append({"id": sid, "t": t, "f": base + 4, "y2": base + 2, "p": base + 3,
                             "y1": base + 1})
    return SeriesData.from_dataframe(pd.DataFrame(rows), time_col="t", id_col="id",
                                     target=["y1", "y2"], past_covariates=["p"],
                                     future_covariates=["f"])


def _expected(data: SeriesData):
    """Every stride-1 window of every series, by make_windows series by series."""
    inputs, after, series = [], [], []
    for i in range(data.n_series):
        x, y = make_windows(data.series(i), INPUT_LEN, HORIZON)
        inputs.append(x)
        after.append(y)
        series.append(np.full(len(x), i))
    return np.concatenate(inputs), np.concatenate(after), np.concatenate(series)


def test_windows_match_make_windows_per_series(data):
    ds = WindowDataset.from_series(data, INPUT_LEN, HORIZON)
    inputs, after, series = _expected(data)
    assert len(ds) == len(inputs) == sum(n - INPUT_LEN - HORIZON + 1 for n in LENGTHS.values())

    batch = ds[list(range(len(ds)))]
    assert isinstance(batch, Batch)
    np.testing.assert_array_equal(batch.inputs.numpy(), inputs)
    np.testing.assert_array_equal(batch.targets.numpy(), after[..., :2])
    np.testing.assert_array_equal(batch.future.numpy(), after[..., 3:])
    np.testing.assert_array_equal(batch.series.numpy(), series)
    for j in (0, 4, 5, len(ds) - 1, np.int64(7)):  # single windows, series borders included
        one = ds[j]
        assert one.inputs.shape == (INPUT_LEN, 4)
        np.testing.assert_array_equal(one.inputs.numpy(), inputs[j])
        np.testing.assert_array_equal(one.targets.numpy(), after[j, :, :2])
        np.testing.assert_array_equal(one.future.numpy(), after[j, :, 3:])
        assert int(one.series) == series[j]


def test_values_decode_to_the_right_series_step_and_column(data):
    # Independent of make_windows: decode each value back to (series, step, column).
    ds = WindowDataset.from_series(data, INPUT_LEN, HORIZON)
    batch = ds[np.arange(len(ds))]
    assert data.ids == ["a", "b", "c"]
    assert data.feature_names == ("y1", "y2", "p", "f")
    k = batch.series.numpy()[:, None]  # [B, 1]
    first_step = (batch.inputs[:, 0, 0].numpy() - 1000 * (k[:, 0] + 1) - 1) / 10
    steps = first_step[:, None] + np.arange(INPUT_LEN + HORIZON)  # [B, L]
    base = 1000 * (k + 1) + 10 * steps
    np.testing.assert_array_equal(batch.inputs.numpy(),
                                  base[:, :INPUT_LEN, None] + [1, 2, 3, 4])
    np.testing.assert_array_equal(batch.targets.numpy(), base[:, INPUT_LEN:, None] + [1, 2])
    np.testing.assert_array_equal(batch.future.numpy(), base[:, INPUT_LEN:, None] + [4])
    # Every window lies inside its series.
    lengths = np.array(list(LENGTHS.values()))
    assert np.all(first_step >= 0)
    assert np.all(first_step + INPUT_LEN + HORIZON <= lengths[k[:, 0]])


def test_batch_fields_shapes_and_dtypes(data):
    ds = WindowDataset.from_series(data, INPUT_LEN, HORIZON)
    batch = ds[[0, 3, 9]]
    assert batch.inputs.shape == (3, INPUT_LEN, 4)
    assert batch.targets.shape == (3, HORIZON, 2)
    assert batch.future.shape == (3, HORIZON, 1)
    assert batch.series.shape == (3,)
    assert batch.inputs.dtype == batch.targets.dtype == batch.future.dtype == torch.float32
    assert batch.series.dtype == torch.int64


def test_no_future_covariates_gives_an_empty_future():
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    ds = WindowDataset(values, np.array([0, 10]), 4, 2, n_targets=1)
    batch = ds[[0, 1]]
    assert batch.future.shape == (2, 2, 0)
    np.testing.assert_array_equal(batch.targets[:, :, 0].numpy(), [[8, 10], [10, 12]])


def test_starts_restrict_the_windows(data):
    split = chronological_split(data, INPUT_LEN, HORIZON, val_size=3, test_size=2)
    ds = WindowDataset.from_series(data, INPUT_LEN, HORIZON, starts=split.val)
    assert len(ds) == len(split.val)
    batch = ds[list(range(len(ds)))]
    np.testing.assert_array_equal(batch.inputs[:, 0].numpy(), data.values[split.val])
    np.testing.assert_array_equal(batch.series.numpy(),
                                  np.searchsorted(data.offsets, split.val, side="right") - 1)


def test_dataset_does_not_copy_values():
    values = np.arange(40, dtype=np.float32).reshape(20, 2)
    ds = WindowDataset(values, np.array([0, 8, 20]), 3, 1, n_targets=1)
    assert ds.values.data_ptr() == values.__array_interface__["data"][0]
    values[4, 0] = -1.0  # seen through the dataset: no copy was made
    assert ds[2].inputs[2, 0] == -1.0


def test_scaled_values_override(data):
    scaled = data.values * 2
    ds = WindowDataset.from_series(data, INPUT_LEN, HORIZON, values=scaled)
    assert ds.values.data_ptr() == scaled.__array_interface__["data"][0]
    np.testing.assert_array_equal(ds[0].inputs.numpy(), scaled[:INPUT_LEN])


def _row_ids(n_rows: int, offsets) -> WindowDataset:
    """Column 0 holds the row number, so a window's first input names its start."""
    values = np.arange(n_rows, dtype=np.float32)[:, None]
    return WindowDataset(values, offsets, 2, 1, n_targets=1)


def _epoch(loader) -> list[int]:
    return [int(s) for batch in loader for s in batch.inputs[:, 0, 0]]


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_yields_every_window_once_per_epoch(shuffle):
    ds = _row_ids(60, np.array([0, 25, 60]))
    loader = make_loader(ds, batch_size=9, shuffle=shuffle, seed=3)
    for _ in range(2):  # two epochs
        seen = _epoch(loader)
        assert sorted(seen) == ds.starts.tolist()
    if not shuffle:
        assert _epoch(loader) == ds.starts.tolist()
    batches = list(loader)
    assert [len(b.series) for b in batches] == [9] * 6 + [2]
    assert all(isinstance(b, Batch) for b in batches)


def test_loader_drop_last():
    ds = _row_ids(60, np.array([0, 25, 60]))
    batches = list(make_loader(ds, batch_size=9, drop_last=True))
    assert [len(b.series) for b in batches] == [9] * 6


def test_loader_seed_fixes_the_order():
    ds = _row_ids(60, np.array([0, 25, 60]))
    first = _epoch(make_loader(ds, batch_size=8, shuffle=True, seed=0))
    again = _epoch(make_loader(ds, batch_size=8, shuffle=True, seed=0))
    other = _epoch(make_loader(ds, batch_size=8, shuffle=True, seed=1))
    assert first == again
    assert first != other
    assert first != ds.starts.tolist()  # it does shuffle


def test_too_few_rows_for_one_window_is_a_clear_error_or_an_empty_dataset():
    values = np.zeros((5, 2), dtype=np.float32)
    empty = WindowDataset(values, np.array([0, 5]), input_len=4, horizon=3, n_targets=1)
    assert len(empty) == 0
    with pytest.raises(DataError, match="5 rows in all, fewer than input_len \\+ horizon = 7"):
        WindowDataset(values, np.array([0, 5]), input_len=4, horizon=3, n_targets=1,
                      starts=np.array([0]))
