"""The detector's stateful mode, estimator side: whole series as training batches
(truncated BPTT over each series' history) and batch scoring that runs each
series once from its start, carrying the state, as the stream does point by point.

A stateful score only ever sees the past: the prediction error of step t comes
from the state after step t - 1, which has read every earlier step of the series
(since its start, or its last gap in a stream) and nothing after.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from tsrnn.data import SeriesData, make_loader
from tsrnn.nn.ensemble import members_of

__all__ = ["SeriesBatch", "SeriesBatches", "next_step_errors", "train_next_step"]

# Steps run in one forward pass when scoring: a longer series is run in pieces of
# this many steps, the state carried, so memory stays bounded however long it is.
SCORE_STEPS = 16384
# Series scored together: about this many padded rows per pass.
SCORE_ROWS = 2**20


class SeriesBatch(NamedTuple):
    """Whole series, padded at the end to the longest."""

    inputs: torch.Tensor  # [B, T, I]
    train_end: torch.Tensor  # [B] rows of each series in the training part
    lengths: torch.Tensor  # [B] true rows of each series


class SeriesBatches(torch.utils.data.Dataset):
    """Series of stacked inputs ``[N, I]`` (rows ``offsets[i]:offsets[i + 1]``) as
    :class:`SeriesBatch`es: indexed by a tensor of series, as
    :func:`tsrnn.data.make_loader`'s sampler asks."""

    def __init__(self, inputs: np.ndarray, offsets: np.ndarray, train_end: np.ndarray,
                 series: np.ndarray | None = None):
        self.inputs = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.train_end = np.asarray(train_end, dtype=np.int64)
        self.series = (np.arange(len(self.offsets) - 1) if series is None
                       else np.asarray(series, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.series)

    def __getitem__(self, index) -> SeriesBatch:
        rows = self.series[np.asarray(index, dtype=np.int64).reshape(-1)]  # [B]
        starts, stops = self.offsets[rows], self.offsets[rows + 1]
        lengths = stops - starts
        out = self.inputs.new_zeros(len(rows), int(lengths.max()), self.inputs.shape[1])
        for k, (a, b) in enumerate(zip(starts, stops, strict=True)):
            out[k, :b - a] = self.inputs[a:b]  # [B, T, I]
        return SeriesBatch(out, torch.from_numpy(self.train_end[rows]),
                           torch.from_numpy(lengths))


def train_next_step(det, net: nn.Module, data: SeriesData, inputs: np.ndarray,
                    train_end: np.ndarray, seed: int):
    """Train one next-step network with the detector's settings: batches of whole
    series (shuffled by ``seed``), TBPTT over each one's training rows; early
    stopping and best weights on the validation rows, the series' ends. Returns
    the trained network (CPU, eval mode) and the training summary."""
    from tsrnn.training import NextStepModule, fit_module  # imports Lightning

    train = SeriesBatches(inputs, data.offsets, train_end)
    with_val = np.flatnonzero(data.lengths > train_end)
    val = SeriesBatches(inputs, data.offsets, train_end, with_val)
    train_loader = make_loader(train, det.batch_size, shuffle=True, seed=seed)
    val_loader = make_loader(val, max(det.batch_size, 256)) if len(val) else None
    module = NextStepModule(net, lr=det.lr, tbptt_steps=det.tbptt_steps,
                            gradient_clip=det.gradient_clip, max_epochs=det.max_epochs,
                            monitor="val_loss" if val_loader else "train_loss")
    summary = fit_module(
        module, train_loader, val_loader, max_epochs=det.max_epochs, patience=det.patience,
        gradient_clip=None,  # the module clips each chunk's step itself
        accelerator=det.accelerator, devices=det.devices, precision=det.precision,
        verbose=det.verbose, log_dir=det.log_dir, trainer_kwargs=det.trainer_kwargs)
    return module.net.cpu().eval(), summary


def next_step_errors(net: nn.Module, data: SeriesData, inputs: np.ndarray, n_targets: int,
                     warm_up: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-step squared errors ``[N, F]`` of the targets (the first ``n_targets``
    input columns) of stacked series, each series run once from its start, and
    which steps have one ``[N]``: not the first ``warm_up`` of each series. An
    ensemble's errors are the mean of its members'."""
    members = members_of(net)
    errors = np.zeros((len(inputs), n_targets))
    ds = SeriesBatches(inputs, data.offsets, np.zeros(data.n_series, dtype=np.int64))
    for group in _groups(data.lengths):
        batch = ds[group]
        x = batch.inputs  # [B, T, I]
        err = torch.zeros(x.shape[0], x.shape[1] - 1, n_targets)  # [B, T - 1, F]
        with torch.inference_mode():
            for member in members:
                state = None
                for start in range(0, x.shape[1] - 1, SCORE_STEPS):
                    stop = min(start + SCORE_STEPS, x.shape[1] - 1)
                    pred, state = member(x[:, start:stop], state)  # [B, k, I]
                    err[:, start:stop] += (pred[..., :n_targets]
                                           - x[:, start + 1:stop + 1, :n_targets]).square()
        err = (err / len(members)).numpy()
        for k, i in enumerate(group):
            a, b = data.offsets[i], data.offsets[i + 1]
            errors[a + 1:b] = err[k, :b - a - 1]  # the step each prediction is for
    position = np.arange(len(inputs)) - np.repeat(data.offsets[:-1], data.lengths)
    return errors, position >= warm_up


def _groups(lengths: np.ndarray) -> list[np.ndarray]:
    """Series scored together, in order: about :data:`SCORE_ROWS` padded rows each."""
    groups, current, longest = [], [], 0
    for i, n in enumerate(lengths):
        longest_with = max(longest, min(int(n), SCORE_STEPS))
        if current and longest_with * (len(current) + 1) > SCORE_ROWS:
            groups.append(np.array(current))
            current, longest_with = [], min(int(n), SCORE_STEPS)
        current.append(i)
        longest = longest_with
    if current:
        groups.append(np.array(current))
    return groups
