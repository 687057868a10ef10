"""Windows out: sliding (input, target) windows as views, never copies.

A window of length ``input_len + horizon`` starting at row ``s`` has inputs
``values[s : s + input_len]`` and targets ``values[s + input_len : s + input_len + horizon]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tsrnn._checks import check_integer
from tsrnn.data.frames import DataError

if TYPE_CHECKING:
    import torch

__all__ = ["make_windows", "n_windows", "window_starts"]


def _check_sizes(input_len: int, horizon: int, stride: int) -> None:
    for name, value, low in (("input_len", input_len, 1), ("horizon", horizon, 0),
                             ("stride", stride, 1)):
        check_integer(value, name, low)


def n_windows(length: int, input_len: int, horizon: int, stride: int = 1) -> int:
    """Windows a series of ``length`` rows yields: ``(length - L) // stride + 1``, or 0."""
    span = input_len + horizon
    return 0 if length < span else (length - span) // stride + 1


def make_windows(
    values: np.ndarray | torch.Tensor,
    input_len: int,
    horizon: int,
    stride: int = 1,
    *,
    targets: int | slice | Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]:
    """Cut one series into sliding windows.

    Parameters
    ----------
    values
        One series, ``[T, F]`` (or ``[T]``, read as one feature), as a numpy array or
        a torch tensor. For many series use :class:`tsrnn.data.WindowDataset`, which
        never lets a window cross from one series into the next.
    input_len, horizon
        Steps the model sees, and steps it predicts. ``horizon=0`` gives input
        windows alone (for reconstruction).
    stride
        Steps between the starts of consecutive windows.
    targets
        Columns to return as targets: the first ``k`` columns for an int ``k``, a
        slice, or a list of column indices. Default: every column.

    Returns
    -------
    inputs, targets
        ``[B, input_len, F]`` and ``[B, horizon, F_target]`` with
        ``B = (T - input_len - horizon) // stride + 1``. Both are views of ``values``
        (numpy ``sliding_window_view`` / torch ``unfold``): no data is copied, so do
        not write to them. A target list that is not a contiguous run of columns is
        the one exception: those columns are copied once (``[T, F_target]``) before
        windowing.
    """
    _check_sizes(input_len, horizon, stride)
    is_numpy = isinstance(values, np.ndarray)
    if not is_numpy and not _is_tensor(values):
        raise TypeError(f"values must be a numpy array or a torch tensor, got {type(values)}")
    if values.ndim == 1:
        values = values[:, None]  # [T, 1]
    if values.ndim != 2:
        raise ValueError(f"values must be [T, F] or [T], got shape {tuple(values.shape)}")
    length, span = values.shape[0], input_len + horizon
    if length < span:
        raise DataError(f"the series has {length} rows, fewer than input_len + horizon = {span}")

    target_cols = _as_columns(targets, values.shape[1])
    if is_numpy:
        windows = sliding_window_view(values, span, axis=0).transpose(0, 2, 1)  # [T-L+1, L, F]
    else:
        windows = values.unfold(0, span, 1).transpose(1, 2)  # [T-L+1, L, F]
    windows = windows[::stride]  # [B, L, F]
    inputs = windows[:, :input_len]  # [B, input_len, F]
    if isinstance(target_cols, slice):
        return inputs, windows[:, input_len:, target_cols]  # [B, horizon, F_target]
    # Scattered columns: copy them once, [T, F_target], then window that copy.
    picked = values[:, target_cols]
    if is_numpy:
        tw = sliding_window_view(picked, span, axis=0).transpose(0, 2, 1)
    else:
        tw = picked.unfold(0, span, 1).transpose(1, 2)
    return inputs, tw[::stride, input_len:]  # [B, horizon, F_target]


def window_starts(
    offsets: np.ndarray,
    input_len: int,
    horizon: int,
    stride: int = 1,
    *,
    target_from: np.ndarray | None = None,
    target_to: np.ndarray | None = None,
) -> np.ndarray:
    """First rows of every window of stacked series, never crossing a series border.

    Parameters
    ----------
    offsets
        ``[S + 1]`` row offsets: series ``i`` holds rows ``offsets[i]:offsets[i+1]``.
    input_len, horizon, stride
        As in :func:`make_windows`.
    target_from, target_to
        Optional ``[S]`` row positions within each series. Only windows whose every
        target step lies in ``[target_from, target_to)`` are kept; their inputs may
        reach back before ``target_from``. This is how a chronological split keeps
        targets apart without losing windows at its borders. With ``horizon=0`` a
        window is kept when its last input step lies in ``[target_from, target_to)``.

    Returns
    -------
    ``[B]`` int64 global start rows, series by series, in time order.
    """
    _check_sizes(input_len, horizon, stride)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    lo = np.full(len(lengths), input_len, dtype=np.int64)  # first target step allowed
    hi = lengths.copy()  # one past the last target step allowed
    if target_from is not None:
        # A window without targets (horizon 0) belongs to the part that holds its
        # last input step, t - 1; else the window ending at a border lands in both.
        lo = np.maximum(lo, np.asarray(target_from, dtype=np.int64) + (horizon == 0))
    if target_to is not None:
        hi = np.minimum(hi, np.asarray(target_to, dtype=np.int64))
    # A window's targets are [t, t + horizon), its inputs [t - input_len, t):
    # t runs from lo to hi - horizon.
    last = hi - horizon
    first_start = offsets[:-1] + lo - input_len
    last_start = offsets[:-1] + last - input_len
    # One arange per series: no temporaries the size of the output, which matters
    # when a single series has tens of millions of windows.
    parts = [np.arange(a, b + 1, stride, dtype=np.int64)
             for a, b in zip(first_start.tolist(), last_start.tolist(), strict=True) if b >= a]
    if not parts:
        return np.empty(0, dtype=np.int64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _as_columns(targets, n_features: int) -> slice | list[int]:
    if targets is None:
        return slice(0, n_features)
    if isinstance(targets, slice):
        return targets
    if isinstance(targets, int | np.integer):
        if not 0 < targets <= n_features:
            raise ValueError(f"targets={targets} but values have {n_features} columns")
        return slice(0, int(targets))
    cols = [int(c) for c in targets]
    if not cols:
        raise ValueError("targets is an empty list")
    bad = [c for c in cols if not -n_features <= c < n_features]
    if bad:
        raise ValueError(f"target column {bad[0]} is out of range for {n_features} columns")
    cols = [c % n_features for c in cols]
    if cols == list(range(cols[0], cols[0] + len(cols))):
        return slice(cols[0], cols[0] + len(cols))  # contiguous: stays a view
    return cols


def _is_tensor(x) -> bool:
    # Checked by name so that numpy users never pay for importing torch.
    return type(x).__module__.startswith("torch") and hasattr(x, "unfold")
