"""A torch Dataset that cuts windows lazily, batch by batch.

The stacked series stay one array in memory; the dataset holds only the start row
of each window. A batch is gathered on request, so a long series is never
materialised as ``B x input_len`` copies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tsrnn.data.frames import DataError, SeriesData
from tsrnn.data.windowing import _check_sizes, window_starts

__all__ = ["Batch", "BatchIndices", "WindowDataset", "make_loader"]


class Batch(NamedTuple):
    """One batch of windows.

    Attributes
    ----------
    inputs
        ``[B, input_len, F]`` every column over the input steps.
    targets
        ``[B, horizon, n_targets]`` the target columns over the horizon.
    future
        ``[B, horizon, n_future]`` known-future covariates over the horizon
        (``n_future`` may be 0).
    series
        ``[B]`` int64 index of the series each window comes from.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    future: torch.Tensor
    series: torch.Tensor


class WindowDataset(Dataset):
    """Windows of stacked series, indexed lazily.

    ``dataset[i]`` gives one window (tensors without a batch axis);
    ``dataset[list_or_array]`` gives a whole `Batch` in one gather, which is what
    :func:`make_loader` asks for.

    Parameters
    ----------
    values
        ``[N, F]`` stacked series, columns ordered targets, past, future covariates.
        Shared with the dataset, not copied (a float32 C-contiguous array is used
        as is).
    offsets
        ``[S + 1]`` row offsets of the series.
    input_len, horizon
        Window sizes.
    n_targets
        The first ``n_targets`` columns are targets.
    n_future
        The last ``n_future`` columns are known-future covariates.
    starts
        ``[B]`` window start rows (e.g. one part of a `Split`). Default: every
        stride-1 window of every series.
    """

    def __init__(
        self,
        values: np.ndarray,
        offsets: np.ndarray,
        input_len: int,
        horizon: int,
        n_targets: int,
        n_future: int = 0,
        starts: np.ndarray | None = None,
    ):
        _check_sizes(input_len, horizon, 1)
        values = np.ascontiguousarray(values, dtype=np.float32)
        self.values = torch.from_numpy(values)  # shares memory with `values`
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.input_len, self.horizon = input_len, horizon
        self.n_targets, self.n_future = n_targets, n_future
        if starts is None:
            starts = window_starts(self.offsets, input_len, horizon)
        self.starts = torch.as_tensor(np.asarray(starts, dtype=np.int64))
        self._offsets = torch.as_tensor(self.offsets)
        span = input_len + horizon
        if len(values) < span:
            if len(self.starts):
                raise DataError(f"the series have {len(values)} rows in all, fewer than "
                                f"input_len + horizon = {span}: there is no window")
            values = np.zeros((span, values.shape[1]), dtype=np.float32)  # empty dataset
        self._windows = torch.from_numpy(values).unfold(0, span, 1).transpose(1, 2)
        # [N-L+1, L, F], a view of the stacked series

    @classmethod
    def from_series(cls, data: SeriesData, input_len: int, horizon: int,
                    starts: np.ndarray | None = None, values: np.ndarray | None = None):
        """Windows of `SeriesData` (``values`` overrides ``data.values``, e.g. scaled)."""
        return cls(data.values if values is None else values, data.offsets, input_len,
                   horizon, data.n_targets, len(data.future_names), starts)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index) -> Batch:
        single = isinstance(index, int | np.integer)
        if not isinstance(index, torch.Tensor):
            index = torch.as_tensor(np.asarray([index] if single else index, dtype=np.int64))
        return self._gather(self.starts[index], squeeze=single)

    def _gather(self, starts: torch.Tensor, squeeze: bool) -> Batch:
        # The series of each window is looked up per batch rather than stored per
        # window: on a long series that table would cost as much as the starts.
        series = torch.searchsorted(self._offsets, starts, right=True) - 1  # [B]
        # index_select copies whole windows; plain advanced indexing on the strided
        # view gathers element by element and is about twice as slow.
        window = torch.index_select(self._windows, 0, starts)  # [B, L, F], this batch only
        inputs = window[:, : self.input_len]  # [B, input_len, F]
        after = window[:, self.input_len :]  # [B, horizon, F]
        targets = after[..., : self.n_targets]  # [B, horizon, n_targets]
        future = after[..., after.shape[-1] - self.n_future :]  # [B, horizon, n_future]
        batch = Batch(inputs, targets, future, series)
        if squeeze:
            return Batch(*(t[0] for t in batch))
        return batch


def make_loader(
    dataset: WindowDataset,
    batch_size: int = 256,
    *,
    shuffle: bool = False,
    drop_last: bool = False,
    seed: int | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader that fetches whole batches from ``dataset`` in one gather.

    The sampler hands the dataset a tensor of indices per batch, so there is no
    per-window Python call and no collate step. ``seed`` makes the shuffle order
    reproducible: the same seed gives the same sequence of epochs.
    """
    return DataLoader(
        dataset,
        sampler=BatchIndices(len(dataset), batch_size, shuffle=shuffle, drop_last=drop_last,
                             seed=seed),
        batch_size=None,  # the sampler already batches
        num_workers=num_workers,
        pin_memory=pin_memory,
    )


class BatchIndices(Sampler):
    """Yields one ``[batch_size]`` index tensor per batch.

    torch's ``RandomSampler`` turns its permutation into a Python list, which for
    ten million windows costs more memory than the data; this keeps one int64
    tensor instead.

    In a distributed training (:mod:`tsrnn.ddp` sets ``rank`` and ``world``), each
    of the ``world`` processes takes its own part of every batch, about
    ``batch_size / world`` windows, so the processes together train on the batches
    one process would. A part that would be empty (a last batch of fewer windows
    than processes) repeats the batch's last window when shuffling (training: every
    process must take the same number of steps), and is left out otherwise.
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.n, self.batch_size = n, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rank, self.world = 0, 1
        self.generator = None
        if seed is not None:
            self.generator = torch.Generator()
            self.generator.manual_seed(int(seed))

    def _batches(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (rest > 0 and not self.drop_last)

    def __len__(self) -> int:
        batches = self._batches()
        last = self.n - (batches - 1) * self.batch_size if batches else 0
        skipped = not self.shuffle and 0 < last <= self.rank  # its part of the last is empty
        return batches - skipped

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.n, generator=self.generator)
        else:
            order = torch.arange(self.n)
        for k in range(self._batches()):
            batch = order[k * self.batch_size : (k + 1) * self.batch_size]
            if self.world > 1:
                part = batch.tensor_split(self.world)[self.rank]  # [~batch_size / world]
                if not len(part) and not self.shuffle:
                    continue
                batch = part if len(part) else batch[-1:]
            yield batch
