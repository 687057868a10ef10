"""Loader for ETT, the Electricity Transformer Temperature datasets.

tsrnn never needs these files to run; the loader finds a local copy or
downloads one into a cache, with a sha256 check. Where it looks, in order
(see :mod:`tsrnn.datasets._download` for the details):

1. ``path``: a file, or a folder holding the file directly or in ``ett/``.
   Nothing is downloaded.
2. ``cache_dir``, else the environment variable ``TSRNN_DATA_DIR``, else
   ``~/.cache/tsrnn``, directly or in ``ett/``.
3. With ``download=True``, the canonical URL, saved into that cache folder's
   ``ett/`` subfolder.

Licence: CC BY-ND 4.0 (zhouhaoyi/ETDataset). tsrnn does not redistribute it.
"""

from __future__ import annotations

import pandas as pd

from tsrnn.datasets._download import StrPath, _parse_times, fetch_file

__all__ = [
    "ETT_COLUMNS",
    "ETT_NAMES",
    "ETT_SHA256",
    "load_ett",
]

ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{name}.csv"

#: Checksums of the upstream ETT-small files: sha256, or ``"md5:<hex>"`` where
#: only the md5 that darts and torch-timeseries pin is known (their ETTh1 md5
#: matches ours). None where not known yet: such a file still downloads, with a
#: warning that it could not be verified.
ETT_SHA256: dict[str, str | None] = {
    "ETTh1": "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
    "ETTh2": "md5:51a229a3fc13579dd939364fefe9c7ab",
    "ETTm1": None,
    "ETTm2": None,
}

#: The ETT variants: hourly (h) or 15-minute (m), from transformer 1 or 2.
ETT_NAMES: tuple[str, ...] = tuple(ETT_SHA256)

#: Columns of every ETT file: the timestamp, six loads and the oil
#: temperature ``OT``, the usual target.
ETT_COLUMNS: tuple[str, ...] = ("date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")


def load_ett(
    name: str = "ETTh1",
    *,
    path: StrPath | None = None,
    cache_dir: StrPath | None = None,
    download: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load an Electricity Transformer Temperature (ETT) dataset.

    ETTh1/ETTh2 are hourly (17,420 rows, 2016-07-01 to 2018-06-26),
    ETTm1/ETTm2 every 15 minutes. Licence: CC BY-ND 4.0.

    Parameters
    ----------
    name
        One of ``"ETTh1"``, ``"ETTh2"``, ``"ETTm1"``, ``"ETTm2"``.
    path
        The CSV file itself, or a folder holding ``<name>.csv`` directly or
        in ``ett/``. Nothing is downloaded when it is given.
    cache_dir
        Folder to look in (directly or in ``ett/``) and to download into;
        default: ``$TSRNN_DATA_DIR``, else ``~/.cache/tsrnn``.
    download
        Whether to download from the ETDataset GitHub repository when no
        local copy is found.
    verify
        Whether to check a local copy's sha256 where tsrnn knows it.
        Downloads are always checked where it is known, else a warning says
        they could not be.

    Returns
    -------
    pandas.DataFrame
        The file as is, in the same column order as the CSV: ``date``
        (datetime64, kept as a column rather than an index) and the float
        columns ``HUFL``, ``HULL``, ``MUFL``, ``MULL``, ``LUFL``, ``LULL``
        and ``OT``.

    Raises
    ------
    ValueError
        If ``name`` is unknown, the checksum does not match, or the file
        does not have the ETT columns.
    FileNotFoundError
        If no copy is found and none could be downloaded; the message says
        where it looked.
    """
    if name not in ETT_SHA256:
        raise ValueError(f"unknown ETT dataset {name!r}; choose one of {list(ETT_NAMES)}")
    file = fetch_file(
        f"{name}.csv",
        ETT_URL.format(name=name),
        sha256=ETT_SHA256[name],
        subdirs=("ett",),
        path=path,
        cache_dir=cache_dir,
        download=download,
        verify=verify,
        what=f"ETT {name!r}",
    )
    data = pd.read_csv(file)
    if tuple(data.columns) != ETT_COLUMNS:
        raise ValueError(
            f"{file} is not an ETT file: expected columns {list(ETT_COLUMNS)}, "
            f"got {list(data.columns)}"
        )
    data["date"] = _parse_times(data["date"], file)
    return data
