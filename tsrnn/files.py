"""Files in and out for scripts: CSVs read with clear errors, outputs written
atomically, and model files opened without knowing which estimator wrote them.

An atomic write goes to a temporary file in the destination's folder, then
``os.replace`` puts it in place: a run killed half-way leaves the older file as it
was, never a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd

from tsrnn.data import DataError

__all__ = ["atomic_write", "read_csv", "read_model", "write_csv"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    On any error, KeyboardInterrupt included, the temporary file is removed and
    ``path`` is left untouched.

    Examples
    --------
    >>> with atomic_write("scores.csv", newline="") as f:  # doctest: +SKIP
    ...     frame.to_csv(f, index=False)
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); the output should get the
        # permissions any other new file of this user gets.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it the real file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` (without its index) to ``path`` atomically."""
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        frame.to_csv(f, index=False)


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV file, turning pandas' parser errors into one-line ``DataError``\\ s
    that name the file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a CSV file")
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path} is not a readable CSV file: {first}") from None
    if df.empty:
        raise DataError(f"{path} has a header but no rows")
    return df


def read_model(path: str | os.PathLike):
    """Load a model file written by ``Forecaster.save`` or ``AnomalyDetector.save``,
    whichever it holds.

    Raises ``FileNotFoundError`` for a missing file and a one-line ``ValueError``
    naming the file for anything else that is not a sound model file (see
    :func:`tsrnn.persistence.load`).
    """
    from tsrnn import AnomalyDetector, Forecaster, persistence

    payload = persistence.read(path)
    kinds = {"Forecaster": Forecaster, "AnomalyDetector": AnomalyDetector}
    if payload["estimator"] not in kinds:
        raise ValueError(f"{path} is not a tsrnn forecaster or detector model file")
    return persistence.build(kinds[payload["estimator"]], payload, path)
