"""Input checks and helpers shared by the anomaly-detection metrics.

Conversion to a 1-D float64 array; the length, emptiness, NaN/inf and 0/1 checks,
whose errors name the argument at fault; checks of numeric and string arguments;
and `_segments`, the runs of 1s of a 0/1 series. The conventions they enforce are
described in `tsrnn.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


# ------------------------------------------------------------------ validation
def _as_1d_float(x: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype.kind not in "biufO":
        raise TypeError(f"{name} must be numeric, got an array of dtype {array.dtype}")
    try:
        array = array.astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:  # object arrays holding None, strings, pd.NA
        raise TypeError(f"{name} must be numeric: {err}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one series), got shape {array.shape}")
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} contains NaN or inf ({int(bad.sum())} of {array.size} values; "
            f"first at index {first}: {array[first]})"
        )


def _check_binary(array: np.ndarray, name: str, hint: str = "") -> np.ndarray:
    not_binary = (array != 0) & (array != 1)
    if not_binary.any():
        first = int(np.flatnonzero(not_binary)[0])
        raise ValueError(
            f"{name} must hold only 0 and 1, got {float(array[first])!r} at index {first}{hint}"
        )
    return array == 1


def _check_series(
    arrays: Sequence[tuple[ArrayLike, str]], binary: Sequence[str] = ()
) -> list[np.ndarray]:
    """Convert, then check lengths, emptiness, finiteness and 0/1-ness, in that order."""
    converted = [(_as_1d_float(x, name), name) for x, name in arrays]
    (first, first_name), *rest = converted
    for array, name in rest:
        if array.shape != first.shape:
            raise ValueError(
                f"{first_name} and {name} must have the same length, got {first_name} "
                f"{first.shape[0]} and {name} {array.shape[0]}"
            )
    if first.size == 0:
        names = " and ".join(name for _, name in converted)
        raise ValueError(f"{names} are empty")
    out = []
    for array, name in converted:
        _check_finite(array, name)
        out.append(_check_binary(array, name) if name in binary else array)
    return out


def _labels_and_scores(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = _check_series([(labels, "labels"), (scores, "scores")], binary=["labels"])
    return labels, scores


def _require_positive(labels: np.ndarray, what: str) -> None:
    if not labels.any():
        raise ValueError(f"labels hold no anomaly (no 1): {what} is undefined")


def _check_choice(value: Any, name: str, choices: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _check_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return float(value)


def _segments(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index (inclusive) of every run of True in a 1-D bool array."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
