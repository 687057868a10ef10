"""Sequences in: whole sequences as samples, for classification and tagging.

:func:`read_sequences` turns the three shapes sequence data comes in into one
:class:`SequenceData` (every sequence stacked row-wise in one array, like
:class:`tsrnn.data.SeriesData`), and is where that input is validated:

- a 3-D array ``[n_sequences, timesteps, features]`` (a 2-D array is one feature
  per step);
- a list of 2-D arrays ``[timesteps_i, features]`` of different lengths (1-D
  arrays: one feature per step);
- a long DataFrame, one row per step, told apart by a sequence-id column (read
  through :meth:`SeriesData.from_dataframe`, so frames get its checks and messages).

Integer 2-D arrays and lists of 1-D integer arrays are token sequences (one token id
per step), for an embedding layer. :func:`read_labels` checks labels against the
sequences; :class:`SequenceDataset` pads a batch at a time.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from tsrnn.data.frames import DataError, SeriesData, _default_time_col

__all__ = ["IGNORE_INDEX", "SequenceBatch", "SequenceData", "SequenceDataset", "names_a_column",
           "read_labels", "read_sequences"]

#: The label of padded steps in a tagging batch: ``cross_entropy`` skips it.
IGNORE_INDEX = -100


@dataclass(frozen=True, eq=False)
class SequenceData:
    """Validated sequences, stacked row-wise in one array.

    Sequence ``i`` occupies rows ``offsets[i]:offsets[i + 1]`` of ``values``.

    Attributes
    ----------
    values
        ``[n_rows, n_features]`` float32, every value finite; or ``[n_rows]`` int64
        token ids (``tokens``).
    offsets
        ``[n_sequences + 1]`` int64 row offsets.
    kind
        ``"array"``, ``"list"`` or ``"frame"``: what the input was, so that per-step
        outputs can be given back in the same shape.
    tokens
        Token ids rather than features.
    feature_names
        A frame's feature columns; None for arrays.
    ids
        A frame's sequence ids in order of first appearance; None for arrays.
    rows
        ``[n_rows]`` the frame row of each stacked row; None for arrays.
    steps
        The padded length of a 3-D (or 2-D) array input; None otherwise.
    """

    values: np.ndarray
    offsets: np.ndarray
    kind: str
    tokens: bool = False
    feature_names: tuple[str, ...] | None = None
    ids: list | None = None
    rows: np.ndarray | None = None
    steps: int | None = None

    @property
    def n_sequences(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n_features(self) -> int:
        return 1 if self.tokens else self.values.shape[1]

    def name(self, i: int) -> str:
        """How error messages name sequence ``i``."""
        return f"sequence {i}" if self.ids is None else f"sequence {self.ids[i]!r}"

    def locate(self, row: int) -> str:
        """How error messages name stacked row ``row``."""
        i = int(np.searchsorted(self.offsets, row, side="right") - 1)
        where = f"{self.name(i)} at step {row - self.offsets[i]}"
        return where if self.rows is None else f"{where} (row {self.rows[row]})"


def read_sequences(
    X: Any,
    *,
    id_col: Hashable | None = None,
    time_col: Hashable | None = None,
    features: Sequence[Hashable] | None = None,
    exclude: Sequence[Hashable] = (),
    fill: str | None = None,
) -> SequenceData:
    """Validate sequences given as an array, a list of arrays or a long DataFrame.

    Parameters
    ----------
    X
        ``[n_sequences, timesteps, features]`` array; list of ``[timesteps_i,
        features]`` arrays; or a DataFrame with one row per step.
    id_col
        The frame's sequence-id column; None: the frame is one sequence.
    time_col
        The frame's time column, which orders the steps of each sequence and must be
        regular (see :meth:`SeriesData.from_dataframe`). Default: a ``DatetimeIndex``,
        the only datetime column or a column called ``timestamp``/``date``/...; with
        none of them, the steps of a sequence are its rows in frame order.
    features
        The frame's feature columns. Default: every column but the id, time and
        ``exclude`` columns.
    exclude
        Frame columns that are not features (e.g. the label column).
    fill
        Missing values (NaN, ±inf) raise by default; ``"ffill"`` or
        ``"interpolate"`` fill them within each sequence.

    Raises
    ------
    DataError
        Empty input, an empty sequence, a non-numeric sequence or column, missing
        values, sequences with different feature counts, negative token ids; the
        message names the sequence, step, row or column at fault.
    TypeError
        ``id_col``/``time_col``/``features`` with an input that is not a DataFrame,
        or an input that is none of the three shapes.
    """
    if fill not in (None, "ffill", "interpolate"):
        raise ValueError(f"fill must be None, 'ffill' or 'interpolate', got {fill!r}")
    if isinstance(X, pd.DataFrame):
        return _from_frame(X, id_col, time_col, features, exclude, fill)
    if id_col is not None or time_col is not None or features is not None:
        raise TypeError(f"id_col, time_col and features need a pandas DataFrame; got "
                        f"{type(X).__name__}. Pass a DataFrame, or a 3-D array or a list "
                        "of 2-D arrays without them")
    if isinstance(X, list | tuple):
        return _from_list(list(X), fill)
    if isinstance(X, np.ndarray | torch.Tensor):
        return _from_array(np.asarray(X), fill)
    raise TypeError(f"expected a 3-D array [n_sequences, timesteps, features], a list of 2-D "
                    f"arrays or a pandas DataFrame, got {type(X).__name__}")


def _from_array(X: np.ndarray, fill: str | None) -> SequenceData:
    if X.ndim not in (2, 3):
        raise DataError(f"expected a 3-D array [n_sequences, timesteps, features] (or 2-D: one "
                        f"feature per step), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0 or (X.ndim == 3 and X.shape[2] == 0):
        raise DataError(f"X is empty (shape {X.shape})")
    _check_numeric(X, "X")
    n, steps = X.shape[:2]
    offsets = np.arange(n + 1, dtype=np.int64) * steps
    if X.ndim == 2 and X.dtype.kind in "iu":
        return _tokens(X.reshape(-1), offsets, "array", steps=steps)
    values = X.reshape(n * steps, -1)  # [N, F]
    return _finite(values, offsets, "array", fill, steps=steps)


def _from_list(X: list, fill: str | None) -> SequenceData:
    if not X:
        raise DataError("X is an empty list: there is no sequence")
    arrays = []
    for i, seq in enumerate(X):
        a = np.asarray(seq)
        if a.ndim not in (1, 2):
            raise DataError(f"sequence {i} has shape {a.shape}; expected [timesteps, features] "
                            "(or 1-D: one value per step)")
        if a.shape[0] == 0 or a.size == 0:
            raise DataError(f"sequence {i} is empty (shape {a.shape})")
        _check_numeric(a, f"sequence {i}")
        arrays.append(a)
    tokens = [a.ndim == 1 and a.dtype.kind in "iu" for a in arrays]
    if any(tokens) and not all(tokens):
        i, j = tokens.index(True), tokens.index(False)
        raise DataError(f"sequence {i} holds token ids (1-D integers) but sequence {j} does "
                        "not: pass all sequences as tokens or all as features")
    widths = [1 if a.ndim == 1 else a.shape[1] for a in arrays]
    for i, w in enumerate(widths):
        if w != widths[0]:
            raise DataError(f"sequence {i} has {w} features per step, sequence 0 has "
                            f"{widths[0]}: every sequence needs the same features")
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
    if tokens[0]:
        return _tokens(np.concatenate(arrays), offsets, "list")
    values = np.concatenate([a.reshape(len(a), -1) for a in arrays])  # [N, F]
    return _finite(values, offsets, "list", fill)


def _from_frame(df: pd.DataFrame, id_col, time_col, features, exclude, fill) -> SequenceData:
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataError(f"the DataFrame is empty (shape {df.shape})")
    for col in (id_col, time_col):
        if col is not None and col not in df.columns:
            raise DataError(f"column {col!r} is not in the DataFrame. "
                            f"Columns: {[str(c) for c in df.columns]}")
    if time_col is None:
        time_col = _default_time_col(df)
    if time_col is None and not isinstance(df.index, pd.DatetimeIndex):
        # No timestamps: the steps of a sequence are its rows, in frame order.
        codes = pd.factorize(df[id_col])[0] if id_col is not None else np.zeros(len(df))
        step = pd.Series(codes).groupby(codes).cumcount().to_numpy()
        time_col = "__step__"
        while time_col in df.columns:
            time_col = f"_{time_col}_"
        df = df.assign(**{time_col: step})
    if features is None:
        taken = {c for c in (id_col, time_col, *exclude) if c is not None}
        features = [c for c in df.columns if c not in taken]
        if not features:
            raise DataError("no feature column left besides the id, time and label columns")
    data = SeriesData.from_dataframe(df, time_col=time_col, id_col=id_col,
                                     target=list(features), fill=fill)
    return SequenceData(values=data.values, offsets=data.offsets, kind="frame",
                        feature_names=data.target_names,
                        ids=data.ids if id_col is not None else [None], rows=data.rows)


def _check_numeric(a: np.ndarray, what: str) -> None:
    if a.dtype.kind not in "biuf":
        raise DataError(f"{what} is not numeric (dtype {a.dtype})")


def _tokens(values: np.ndarray, offsets: np.ndarray, kind: str,
            steps: int | None = None) -> SequenceData:
    data = SequenceData(values=values.astype(np.int64), offsets=offsets, kind=kind, tokens=True,
                        steps=steps)
    negative = np.flatnonzero(data.values < 0)
    if negative.size:
        row = int(negative[0])
        raise DataError(f"token ids must be >= 0; {data.locate(row)} has {data.values[row]}")
    return data


def _finite(values: np.ndarray, offsets: np.ndarray, kind: str, fill: str | None,
            steps: int | None = None) -> SequenceData:
    values = np.asarray(values, dtype=np.float32)
    data = SequenceData(values=values, offsets=offsets, kind=kind, steps=steps)
    bad = ~np.isfinite(values)
    if not bad.any():
        return data
    if fill is None:
        row, col = (int(i[0]) for i in np.nonzero(bad))
        kind_of = "missing" if np.isnan(values[row, col]) else f"infinite ({values[row, col]})"
        raise DataError(
            f"feature {col} is {kind_of} in {data.locate(row)}; {int(bad.sum())} values in all "
            "are missing or infinite. Pass fill='ffill' or fill='interpolate' to fill them."
        )
    values = np.where(bad, np.nan, values)
    for i in np.unique(np.searchsorted(offsets, np.nonzero(bad)[0], side="right") - 1):
        part = pd.DataFrame(values[offsets[i] : offsets[i + 1]])
        if part.isna().all().any():
            col = int(np.flatnonzero(part.isna().all().to_numpy())[0])
            raise DataError(f"feature {col} has no finite value in {data.name(i)}: there is "
                            "nothing to fill from")
        part = (part.interpolate(method="linear", limit_direction="both")
                if fill == "interpolate" else part.ffill().bfill())
        values[offsets[i] : offsets[i + 1]] = part.to_numpy(dtype=np.float32)
    return SequenceData(values=values, offsets=offsets, kind=kind, steps=steps)


def read_labels(y: Any, data: SequenceData, *, per_step: bool,
                frame: pd.DataFrame | None = None) -> np.ndarray:
    """Labels in the stacked order of ``data``: ``[n_sequences]``, or ``[n_rows]`` with
    ``per_step`` (one label per step).

    ``y`` is an array or list of labels; per step, a ``[n_sequences, timesteps]``
    array (with an array ``X``) or a list of 1-D arrays (with a list). With a frame,
    ``y`` may be a column name: per sequence its value must be constant within each
    sequence. Per-step labels of a frame are one per row, in the frame's order.
    """
    if frame is not None and names_a_column(y, frame):
        column = frame[y]
        if column.isna().any():
            row = int(np.flatnonzero(column.isna().to_numpy())[0])
            raise DataError(f"label column {y!r} is missing at row {row}")
        labels = column.to_numpy()[data.rows]  # [N], stacked order
        if per_step:
            return labels
        starts = labels[data.offsets[:-1]]  # [S]
        changed = np.flatnonzero(labels != np.repeat(starts, data.lengths))
        if changed.size:
            row = int(changed[0])
            raise DataError(f"label column {y!r} changes within {data.locate(row)}: a "
                            "sequence has one label (use output='sequence' to label steps)")
        return starts
    if y is None:
        raise ValueError("y is required: the labels, or with a DataFrame the label column")
    if isinstance(y, pd.DataFrame):
        raise DataError("y must be one label per sequence (or per step), not a DataFrame")
    if per_step:
        return _per_step_labels(y, data)
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise DataError(f"y must be 1-D, one label per sequence; got shape {labels.shape}")
    if len(labels) != data.n_sequences:
        raise DataError(f"y has {len(labels)} labels for {data.n_sequences} sequences")
    _check_labels(labels)
    return labels


def _per_step_labels(y, data: SequenceData) -> np.ndarray:
    if data.kind == "frame":
        labels = np.asarray(y)
        if labels.ndim != 1 or len(labels) != len(data.values):
            raise DataError(f"y must have one label per row: {len(data.values)} rows, got "
                            f"shape {labels.shape}")
        labels = labels[data.rows]
    elif data.kind == "array":
        labels = np.asarray(y)
        want = (data.n_sequences, data.steps)
        if labels.shape != want:
            raise DataError(f"y must have one label per step, shape {want}; got {labels.shape}")
        labels = labels.reshape(-1)
    else:
        if not isinstance(y, list | tuple) or len(y) != data.n_sequences:
            raise DataError(f"y must be a list of {data.n_sequences} label arrays, one per "
                            "sequence, with one label per step")
        parts = [np.asarray(part).reshape(-1) for part in y]
        for i, (part, n) in enumerate(zip(parts, data.lengths, strict=True)):
            if len(part) != n:
                raise DataError(f"y for sequence {i} has {len(part)} labels for {n} steps")
        labels = np.concatenate(parts)
    _check_labels(labels)
    return labels


def names_a_column(y, frame: pd.DataFrame) -> bool:
    """Whether ``y`` is the name of a column of ``frame`` (rather than labels)."""
    try:
        return isinstance(y, Hashable) and not isinstance(y, np.ndarray) and y in frame.columns
    except TypeError:
        return False


def _check_labels(labels: np.ndarray) -> None:
    missing = pd.isna(labels)
    if missing.any():
        raise DataError(f"y is missing at position {int(np.flatnonzero(missing)[0])}")


class SequenceBatch(NamedTuple):
    """One padded batch.

    Attributes
    ----------
    inputs
        ``[B, T, F]`` float32 features, or ``[B, T]`` int64 token ids; zero after each
        sequence's end. ``T`` is the batch's longest sequence.
    lengths
        ``[B]`` int64 true lengths.
    targets
        ``[B]`` class indices, or ``[B, T]`` per step with :data:`IGNORE_INDEX` on padding.
    state
        ``[B, num_layers * num_directions, hidden_size]`` initial hidden states, or
        ``[B, 0]`` for zeros.
    """

    inputs: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    state: torch.Tensor


class SequenceDataset(Dataset):
    """Stacked sequences, padded a batch at a time (only to that batch's longest).

    ``dataset[index_tensor]`` gives a whole :class:`SequenceBatch`, which is what
    :func:`tsrnn.data.make_loader` asks for.

    Parameters
    ----------
    values
        ``[N, F]`` float32 or ``[N]`` int64 stacked sequences (shared, not copied).
    offsets
        ``[S + 1]`` row offsets.
    targets
        ``[S]`` or ``[N]`` (per step) int64 class indices; None at prediction.
    state
        ``[S, L*D, H]`` initial states; None for zeros.
    per_step
        ``targets`` has one label per step (``[N]``), not one per sequence.
    sequences
        The sequences this dataset holds (e.g. the training part); default: all.
    """

    def __init__(self, values: np.ndarray, offsets: np.ndarray,
                 targets: np.ndarray | None = None, state: np.ndarray | None = None, *,
                 per_step: bool = False, sequences: np.ndarray | None = None):
        offsets = np.asarray(offsets, dtype=np.int64)
        picked = slice(None) if sequences is None else np.asarray(sequences, dtype=np.int64)
        self.values = torch.from_numpy(np.ascontiguousarray(values))  # shared, not copied
        self.starts = torch.as_tensor(offsets[:-1][picked])  # [S]
        self.lengths = torch.as_tensor(np.diff(offsets)[picked])  # [S]
        self.per_step = per_step
        self.targets = None
        if targets is not None:
            targets = torch.as_tensor(np.asarray(targets, dtype=np.int64))
            # Per-step targets are gathered by row, per-sequence ones by sequence.
            self.targets = targets if per_step else targets[picked]
        self.state = None if state is None else \
            torch.as_tensor(np.asarray(state, dtype=np.float32)[picked])

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index) -> SequenceBatch:
        index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        lengths = self.lengths[index]  # [B]
        steps = int(lengths.max())
        t = torch.arange(steps)  # [T]
        alive = t[None, :] < lengths[:, None]  # [B, T]
        rows = self.starts[index, None] + torch.minimum(t[None, :], lengths[:, None] - 1)
        inputs = self.values[rows]  # [B, T, F] or [B, T]
        inputs = inputs * (alive.unsqueeze(-1) if inputs.dim() == 3 else alive).to(inputs.dtype)
        if self.targets is None:
            targets = torch.zeros(len(index), dtype=torch.long)
        elif self.per_step:
            targets = self.targets[rows].masked_fill(~alive, IGNORE_INDEX)  # [B, T]
        else:
            targets = self.targets[index]  # [B]
        state = torch.zeros(len(index), 0) if self.state is None else self.state[index]
        return SequenceBatch(inputs, lengths, targets, state)
