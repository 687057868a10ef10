"""Parameter checks shared across the package (numpy only, so any module may use them)."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_integer(value: Any) -> bool:
    """An int or numpy integer, and not a bool (``True`` is an int to Python)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_integer(value: Any, name: str, minimum: int) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer >= ``minimum``."""
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_bool(value: Any, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is True or False (a
    string such as ``"no"`` would read as true)."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
