"""Chronological train / validation / test splits of stacked series.

Each series is cut in time into three consecutive parts. A part owns the target
steps that fall in it: a window belongs to a part when all its targets do, and its
inputs may look back into the previous part. So no target leaks across parts, and
the first validation window forecasts the very first validation step: no window is
lost at a border.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsrnn.data.frames import DataError, SeriesData
from tsrnn.data.windowing import window_starts

__all__ = ["Split", "chronological_split", "split_borders"]


@dataclass(frozen=True)
class Split:
    """Window start rows of each part, plus the part borders.

    Attributes
    ----------
    train, val, test
        ``[B_part]`` global start rows of the windows of each part (see
        :func:`tsrnn.data.window_starts`).
    borders
        ``[S, 4]`` rows within each series: train is ``[b0, b1)``, validation
        ``[b1, b2)``, test ``[b2, b3)``. Rows from ``b3`` on belong to no part.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    borders: np.ndarray

    @property
    def train_end(self) -> np.ndarray:
        """``[S]`` rows each series contributes to training (to fit scalers on)."""
        return self.borders[:, 1]


def _part_rows(size, n: np.ndarray, name: str) -> np.ndarray:
    if isinstance(size, bool) or size is None:
        raise ValueError(f"{name} must be a fraction in [0, 1) or a row count, got {size!r}")
    if isinstance(size, float):
        if not 0.0 <= size < 1.0:
            raise ValueError(f"{name} as a fraction must be in [0, 1), got {size}")
        return np.round(n * size).astype(np.int64)
    if int(size) != size or size < 0:
        raise ValueError(f"{name} must be a fraction in [0, 1) or a row count, got {size!r}")
    return np.full(len(n), int(size), dtype=np.int64)


def split_borders(
    lengths: np.ndarray,
    *,
    val_size: float | int = 0.2,
    test_size: float | int = 0.2,
    train_size: float | int | None = None,
    ids=None,
) -> np.ndarray:
    """Part borders ``[S, 4]`` for series of the given lengths.

    Sizes are fractions of each series' length (floats) or row counts (ints).
    With ``train_size=None`` training takes every row before validation.
    ``ids`` name the series in errors (default: their positions).
    """
    n = np.asarray(lengths, dtype=np.int64)
    n_val = _part_rows(val_size, n, "val_size")
    n_test = _part_rows(test_size, n, "test_size")
    n_train = (n - n_val - n_test if train_size is None
               else _part_rows(train_size, n, "train_size"))
    if np.any(n_train + n_val + n_test > n) or np.any(n_train <= 0):
        i = int(np.flatnonzero((n_train + n_val + n_test > n) | (n_train <= 0))[0])
        name = (f"series {i}" if ids is None
                else "the series" if ids[i] is None else f"series {ids[i]!r}")
        # The sizes that take rows (a test part of 0, as estimators ask, is not the user's)
        sizes = ([] if train_size is None else [f"train_size={train_size!r}"]) + [
            f"{k}={v!r}" for k, v in (("val_size", val_size), ("test_size", test_size)) if v]
        held = [f"{int(k)} {part}" for k, part in ((n_val[i], "validation"), (n_test[i], "test"))
                if k]
        raise DataError(
            f"{name} has {n[i]} rows: too few for {' and '.join(sizes)} "
            f"({' and '.join(held) or 'no held-out'} rows leave "
            f"{max(int(n[i] - n_val[i] - n_test[i]), 0)} to train on)"
        )
    b1 = n_train
    b2 = b1 + n_val
    return np.stack([np.zeros_like(n), b1, b2, b2 + n_test], axis=1)


def chronological_split(
    data: SeriesData,
    input_len: int,
    horizon: int,
    *,
    val_size: float | int = 0.2,
    test_size: float | int = 0.2,
    train_size: float | int | None = None,
    val_start=None,
    test_start=None,
    stride: int = 1,
    length_name: str = "input_len + horizon",
) -> Split:
    """Split every series of ``data`` in time, then window each part.

    Parameters
    ----------
    data
        Validated series.
    input_len, horizon, stride
        The windows to cut (see :func:`tsrnn.data.make_windows`).
    val_size, test_size, train_size
        Part sizes per series, as fractions (floats) or row counts (ints). The ETT
        protocol is ``train_size=8640, val_size=2880, test_size=2880``.
    val_start, test_start
        Split by timestamp instead: validation starts at the first row at or after
        ``val_start``, test at ``test_start``, and test runs to the end. Overrides
        the sizes.
    length_name
        What the caller calls ``input_len + horizon``, for the error when no
        series has a training window.

    Returns
    -------
    Split
        The window start rows of each part. A part too short for one window has
        none; training must have at least one.
    """
    lengths = data.lengths
    if val_start is not None or test_start is not None:
        borders = _borders_at(data, val_start, test_start)
    else:
        borders = split_borders(lengths, val_size=val_size, test_size=test_size, ids=data.ids,
                                train_size=train_size)
    parts = [
        window_starts(data.offsets, input_len, horizon, stride,
                      target_from=borders[:, k], target_to=borders[:, k + 1])
        for k in range(3)
    ]
    if parts[0].size == 0:
        raise DataError(
            f"no training window: every series' training part is shorter than "
            f"{length_name} = {input_len + horizon} rows "
            f"(training rows per series: {borders[:, 1].tolist()[:5]})"
        )
    return Split(train=parts[0], val=parts[1], test=parts[2], borders=borders)


def _borders_at(data: SeriesData, val_start, test_start) -> np.ndarray:
    rows = []
    for i in range(data.n_series):
        t = data.series_times(i)
        n = len(t)
        b1 = n if val_start is None else _position(t, val_start, "val_start")
        b2 = n if test_start is None else _position(t, test_start, "test_start")
        if val_start is None:
            b1 = b2
        if b2 < b1:
            raise ValueError(f"test_start ({test_start}) comes before val_start ({val_start})")
        rows.append((0, b1, b2, n))
    return np.asarray(rows, dtype=np.int64)


def _position(times: pd.Index, when, name: str) -> int:
    if isinstance(times, pd.DatetimeIndex):
        when = pd.Timestamp(when)
        if (when.tzinfo is None) != (times.tz is None):
            raise ValueError(f"{name}={when} and the data disagree on having a timezone")
    return int(times.searchsorted(when, side="left"))
