"""Parameter checks, and the wording of their messages, shared across the package
(numpy only, so any module may use them)."""

from __future__ import annotations

from typing import Any

import numpy as np


def a_or_an(name: str) -> str:
    """``name`` with its article: "a Forecaster", "an AnomalyDetector" (by the first
    letter, which is right for the class and type names messages give it)."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def is_integer(value: Any) -> bool:
    """An int or numpy integer, and not a bool (``True`` is an int to Python)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_integer(value: Any, name: str, minimum: int, maximum: int | None = None) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer >= ``minimum``
    (and <= ``maximum``, if given)."""
    if not is_integer(value) or value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")


def check_bool(value: Any, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is True or False (a
    string such as ``"no"`` would read as true)."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def is_number(value: Any) -> bool:
    """A real, finite number, and not a bool."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool) and bool(np.isfinite(value)))


def check_positive(value: Any, name: str, *, optional: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a finite number > 0
    (or None, when ``optional``)."""
    if optional and value is None:
        return
    if not is_number(value) or value <= 0:
        allowed = "a number > 0" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_fraction(value: Any, name: str, *, high: float = 1.0) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a number in [0, high)."""
    if not is_number(value) or not 0 <= value < high:
        raise ValueError(f"{name} must be a number in [0, {high:g}), got {value!r}")
