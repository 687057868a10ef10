"""Files in and out for scripts: CSVs read with clear errors, outputs written
atomically, and model files opened without knowing which estimator wrote them.

An atomic write goes to a temporary file in the destination's folder, then
``os.replace`` puts it in place: a run killed half-way leaves the older file as it
was, never a half-written one.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import pandas as pd

from tsrnn.data import DataError

__all__ = ["atomic_write", "check_writable", "is_main_process", "read_csv", "read_model",
           "read_table", "write_csv"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_main_process() -> bool:
    """False in the processes of a distributed training other than its first
    (rank 0): with ``distributed="ddp"`` (or torchrun) every process runs the whole
    script, and only the first one writes model files and checkpoints."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    On any error, KeyboardInterrupt included, the temporary file is removed and
    ``path`` is left untouched. Only regular files are replaced:

    - a symlink is followed, and its target replaced atomically (the link stays);
    - anything else that is not a regular file (``/dev/null``, a FIFO, a terminal)
      is written to directly, as ``open`` would: replacing it would swap a device
      for a plain file.

    Temporary files that a killed run left beside ``path`` are removed first.

    Examples
    --------
    >>> with atomic_write("scores.csv", newline="") as f:  # doctest: +SKIP
    ...     frame.to_csv(f, index=False)
    """
    path = Path(os.path.realpath(path))  # through symlinks, to the file they name
    if path.exists() and not path.is_file() and not path.is_dir():
        with open(path, mode, **open_kwargs) as f:  # a device or a FIFO: write through
            yield f
        return
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_temp_prefix(path)}{os.getpid()}.",
                               suffix=".tmp")
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


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale_temporaries(path: Path) -> None:
    """Remove ``.<name>.<pid>.*.tmp`` files beside ``path`` whose writer process is
    gone (a SIGKILL leaves them behind). A live writer's temporary file is kept:
    another run may be writing the same output right now."""
    prefix = _temp_prefix(path)
    try:
        candidates = [p for p in path.parent.iterdir()
                      if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except OSError:
        return  # an unreadable folder: mkstemp will give the real error
    for tmp in candidates:
        pid = tmp.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, and belongs to someone else
        return True
    return True


def check_writable(path: str | os.PathLike) -> None:
    """Raise a one-line ``OSError`` naming ``path`` unless :func:`atomic_write` to it
    can succeed: run before hours of training, not after.

    The folder is tried by creating (and removing) a file in it, which also catches
    read-only file systems and the cases where a permission check says yes to root.
    """
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file")
    if real.exists() and not real.is_file():  # a device or a FIFO: written through
        if not os.access(real, os.W_OK):
            raise PermissionError(f"{path} is not writable")
        return
    if not real.parent.is_dir():
        raise FileNotFoundError(f"folder {real.parent} does not exist")
    try:  # the same call atomic_write makes, so that it fails here, not after training
        fd, probe = tempfile.mkstemp(dir=real.parent, prefix=_temp_prefix(real), suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise PermissionError(f"cannot write in folder {real.parent}: "
                              f"{err.strerror or err}") from None


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` (without its index) to ``path`` atomically."""
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        frame.to_csv(f, index=False)


SEPARATORS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16


def read_table(path: str | os.PathLike, *, text_cols: Sequence = ()) -> pd.DataFrame:
    """Read a data file for the command line: Parquet (``.parquet``, with the
    ``parquet`` extra) or delimited text (:func:`read_csv`)."""
    path = Path(path)
    if path.suffix.lower() != ".parquet":
        return read_csv(path, text_cols=text_cols)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        import pyarrow  # noqa: F401  (pandas' Parquet engine)
    except ImportError:
        raise ImportError(f"{path}: reading Parquet needs pyarrow: pip install "
                          "'tsrnn[parquet]'") from None
    try:
        df = pd.read_parquet(path)
    except Exception as err:  # pyarrow's errors have no common base worth naming
        raise DataError(f"{path} is not a readable Parquet file: {_first_line(err)}") from None
    _check_header(path, [str(c) for c in df.columns])
    if df.empty:
        raise DataError(f"{path} has columns but no rows")
    return df


def read_csv(path: str | os.PathLike, *, text_cols: Sequence = ()) -> pd.DataFrame:
    """Read a delimited text file, turning pandas' parser errors into one-line
    ``DataError``\\ s that name the file.

    The separator is found from the first lines: comma, semicolon, tab or ``|``
    (with a semicolon, a decimal comma as in ``1,5`` is read as 1.5). A header
    that names a column twice or leaves one unnamed, or rows with more fields than
    the header, are refused rather than renamed (``OT.1``, ``Unnamed: 1``) or
    shifted into an index. Spaces around a column's name are dropped. A column of
    ``text_cols`` (an id column) keeps its text where reading it as numbers would
    change it: "007" is not 7, nor is "07" the series "7".
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a CSV file")
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    sep, decimal, header = _sniff(head)
    _check_header(path, header)
    try:
        df = pd.read_csv(path, sep=sep, decimal=decimal)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except pd.errors.ParserError as err:
        raise DataError(f"{path} is not a readable CSV file: {_parser_message(err, header)}"
                        ) from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text (byte {err.start + 1}); save it as UTF-8"
                        ) from None
    if not df.index.equals(pd.RangeIndex(len(df))):
        # pandas makes the first fields an index when every row has more fields than
        # the header: the data would sit under the wrong column names.
        raise DataError(f"{path}: the rows have more fields ({len(df.columns) + df.index.nlevels})"
                        f" than the header ({len(df.columns)} columns)")
    if df.empty:
        raise DataError(f"{path} has a header but no rows")
    # Names as the header check read them (and as `tsrnn stream` reads a header):
    # ' value ' is the column value.
    df = df.rename(columns=lambda c: c.strip() if isinstance(c, str) else c)
    for col in text_cols:
        if col in df and pd.api.types.is_numeric_dtype(df[col].dtype):
            text = pd.read_csv(path, sep=sep, dtype=str,
                               usecols=[df.columns.get_loc(col)]).iloc[:, 0].str.strip()
            if (text.notna() & (text != df[col].astype(str))).any():
                df[col] = text
    return df


def _sniff(head: bytes) -> tuple[str, str, list[str]]:
    """The separator, the decimal mark and the header fields, from a file's first
    bytes: the separator that splits the first lines into the same number (> 1) of
    fields, the one with the most fields if several do."""
    text = head.decode("utf-8-sig", errors="replace")
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    if not lines:
        return ",", ".", []
    best, best_fields = ",", 1
    for sep in SEPARATORS:
        rows = list(csv.reader(lines, delimiter=sep))
        counts = {len(r) for r in rows}
        if len(counts) == 1 and (n := counts.pop()) > best_fields:
            best, best_fields = sep, n
    header = next(csv.reader(lines[:1], delimiter=best))
    decimal = "."
    if best == ";" and any(_DECIMAL_COMMA.match(field.strip())
                           for row in csv.reader(lines[1:], delimiter=";") for field in row):
        decimal = ","
    return best, decimal, [h.strip() for h in header]


_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for k, name in enumerate(header, start=1):
        if not name and len(header) > 1:  # pandas would name it 'Unnamed: k'
            raise DataError(f"{path}: column {k} has no name in the header; name it")
        if name in seen:
            raise DataError(f"{path}: column {name!r} appears twice in the header (columns "
                            f"{seen[name]} and {k}); rename one")
        seen[name] = k


def _parser_message(err: Exception, header: list[str]) -> str:
    text = _first_line(err)
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if found:
        expected, line, saw = found.groups()
        return f"line {line} has {saw} fields, the header has {len(header) or expected}"
    return text


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def read_model(path: str | os.PathLike, *, classifier: bool = False):
    """Load a model file written by ``Forecaster.save`` or ``AnomalyDetector.save``
    (or, with ``classifier``, ``SequenceClassifier.save``), whichever it holds.

    Raises ``FileNotFoundError`` for a missing file and a one-line ``ValueError``
    naming the file for anything else that is not a sound model file (see
    :func:`tsrnn.persistence.load`).
    """
    from tsrnn import persistence

    return model_of_payload(persistence.read(path), path, classifier=classifier)


def model_of_payload(payload: dict, path: str | os.PathLike, *, classifier: bool = False):
    """The estimator of a verified model file payload (see :func:`read_model`);
    errors name ``path``."""
    from tsrnn import AnomalyDetector, Forecaster, SequenceClassifier, persistence

    kinds = {"Forecaster": Forecaster, "AnomalyDetector": AnomalyDetector}
    if classifier:
        kinds["SequenceClassifier"] = SequenceClassifier
    if payload["estimator"] not in kinds:
        what = "forecaster, detector or classifier" if classifier else "forecaster or detector"
        raise ValueError(f"{path} is not a tsrnn {what} model file")
    return persistence.build(kinds[payload["estimator"]], payload, path)
