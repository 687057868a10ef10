"""Loader for SKAB, the Skoltech Anomaly Benchmark.

SKAB records a water-circulation test rig: 8 sensors (two accelerometers,
current, pressure, temperature, thermocouple, voltage and volume flow)
sampled about once a second. ``anomaly-free/anomaly-free.csv`` is normal
operation only; each other file is one experiment of about 20 minutes in
which a fault is induced partway through (``valve1/``: the inlet valve is
closed; ``valve2/``: the outlet valve; ``other/``: other faults).

Protocol (the SKAB leaderboard's outlier detection): each experiment's first
rows are normal and serve as training data; a detector labels every row and
is scored as per-row binary classification (F1, false-alarm rate,
missed-alarm rate) on the rest. ``anomaly`` is the per-row label;
``changepoint`` is 1 on the rows where the rig's state changes.

Licence: GPL-3.0, from the waico/SKAB repository (folder ``data/``). tsrnn
never ships these files: like :mod:`tsrnn.datasets.ett`, the loader finds
a local copy or downloads one into a cache, with a sha256 check. Where it
looks, in order (see :mod:`tsrnn.datasets._download`):

1. ``path``: a file, or a folder holding the files directly or in ``skab/``,
   ``data/`` or ``skab/data/`` (a SKAB checkout works). Nothing is downloaded.
2. ``cache_dir``, else the environment variable ``TSRNN_DATA_DIR``, else
   ``~/.cache/tsrnn``, in the same places.
3. With ``download=True``, the canonical URL, saved under that cache
   folder's ``skab/``.

``anomaly-free.csv`` may sit in its upstream folder ``anomaly-free/`` or
directly beside ``valve1/`` (tsrnn's cache and the shared copy); both places
are held to the same checksum.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
import pandas as pd

from tsrnn.datasets._download import StrPath, _parse_times, cache_root, fetch_file

__all__ = [
    "SKAB_SENSORS",
    "SKAB_SHA256",
    "SKAB_URL",
    "load_skab",
    "skab_files",
]

SKAB_URL = "https://raw.githubusercontent.com/waico/SKAB/master/data/{name}"

_ANOMALY_FREE = "anomaly-free/anomaly-free.csv"

#: sha256 of the SKAB files tsrnn knows, by their path under upstream
#: ``data/``: the anomaly-free run and the 16 ``valve1`` experiments. Other
#: SKAB files (``valve2/N.csv``, ``other/N.csv``) load too, with a warning on
#: download that they could not be verified.
SKAB_SHA256: dict[str, str] = {
    _ANOMALY_FREE: "7641a8742957100ef424dd97adfb3eeab27d4d180645fe2b3c49b7f7146ae9a6",
    "valve1/0.csv": "16af3f71313a23dd33d9b7b8065d836d05c3f9257588881cc7fbe07c076d9dc8",
    "valve1/1.csv": "fe4493bf805baef4e6dfb864094275d8cc2ea80a16b3735e2752b18b6aefd812",
    "valve1/2.csv": "90492413469261886c8896c327241448df5da73fd7739cabfec8dd82de3c0ce4",
    "valve1/3.csv": "cb6afea108eddfd8447307e405f86bbb764b8d8e9130d7849a46e1303e19b8b2",
    "valve1/4.csv": "983aed9dc09991a57911091373c580e1b86d06aa983cd51678f108fd8d709654",
    "valve1/5.csv": "78974991ec87b7f9b9b6b2944f4b525468a9beb36c59b06cd7650d9a15eca14a",
    "valve1/6.csv": "97469c0e0c9c0e0ee5d30794f1f36c6785df5816a112a8b16c59637e8c894685",
    "valve1/7.csv": "ca2c9c6d6fa302c642acec6fbedac495bd12fececeee0a755d45a54e340e0f30",
    "valve1/8.csv": "0c4afb92248b5b35b4c9d734a91ed8318346901f04579074903730569e60416c",
    "valve1/9.csv": "2aa1ae1b2ff505caecda24802b877dc686924bbbeeb7e7db4faa261efb5ed5bd",
    "valve1/10.csv": "ee16be8e4b870c779491e3d1dc9e0ecbfaf29eb013e032abff7a33f2cbbfe2ad",
    "valve1/11.csv": "89660fae4ed5c918db014409bbbc29f498fd99c7e956fab2620d18dea700a973",
    "valve1/12.csv": "90adfa9bc86d4556e6a4ce734436fd5685af79c189cd9828f8df75a7f468ce07",
    "valve1/13.csv": "d6cb6a97437215d3066a87e1fcc5fa4e68017629c043c5315920e3cf1060841c",
    "valve1/14.csv": "5f0bb9bc33c5e6c259263e32e25915c4d24c82b0a94554d48808626da05c1d71",
    "valve1/15.csv": "75cc86ab25d7091eee024739fa06d048753480d5d7d1507077231cab4f1b7a7e",
}

#: The 8 sensor columns of every SKAB file, in file order.
SKAB_SENSORS: tuple[str, ...] = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)

_LABELS = ("anomaly", "changepoint")
# A SKAB checkout keeps the files under data/; tsrnn's cache and the shared
# copy keep them under skab/.
_SUBDIRS = ("skab", "data", "skab/data")
# anomaly-free.csv is looked for under its bare name, directly in each of those
# places and in anomaly-free/ below them, so that every copy is checksummed
# (fetch_file's aliases would skip the check). The first entry, skab/, is
# where a download goes: the shared layout.
_ANOMALY_FREE_SUBDIRS = (
    "skab",
    "anomaly-free",
    "skab/anomaly-free",
    "data/anomaly-free",
    "skab/data/anomaly-free",
)
# "folder/N.csv" and nothing else: the name becomes part of a URL and of a
# path in the cache, so "..", absolute paths and backslashes must not pass.
_EXPERIMENT = re.compile(r"(valve1|valve2|other)/(0|[1-9][0-9]*)\.csv")


@overload
def load_skab(
    name: str,
    *,
    path: StrPath | None = ...,
    cache_dir: StrPath | None = ...,
    download: bool = ...,
    verify: bool = ...,
) -> pd.DataFrame: ...
@overload
def load_skab(
    name: Sequence[str] | None = ...,
    *,
    path: StrPath | None = ...,
    cache_dir: StrPath | None = ...,
    download: bool = ...,
    verify: bool = ...,
) -> dict[str, pd.DataFrame]: ...
def load_skab(
    name: str | Sequence[str] | None = None,
    *,
    path: StrPath | None = None,
    cache_dir: StrPath | None = None,
    download: bool = True,
    verify: bool = True,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Load files of the Skoltech Anomaly Benchmark (SKAB).

    Licence: GPL-3.0 (waico/SKAB). Each experiment starts with normal rows,
    which serve as training data; ``anomaly`` labels every row.

    Parameters
    ----------
    name
        A file as ``"folder/N.csv"`` under upstream ``data/``: ``"valve1/0.csv"``
        to ``"valve1/15.csv"``, ``"valve2/N.csv"``, ``"other/N.csv"``, or
        ``"anomaly-free/anomaly-free.csv"`` (also accepted as
        ``"anomaly-free.csv"``); a list of such names; or None for the 17
        files in :data:`SKAB_SHA256`. To load whatever a local copy holds,
        pass ``name=skab_files(path)``.
    path
        A CSV file, or a folder holding ``valve1/N.csv`` and
        ``anomaly-free.csv`` (or ``anomaly-free/anomaly-free.csv``) directly
        or in ``skab/``, ``data/`` or ``skab/data/``. Nothing is downloaded
        when it is given.
    cache_dir
        Folder to look in and to download into (under ``skab/``); default:
        ``$TSRNN_DATA_DIR``, else ``~/.cache/tsrnn``.
    download
        Whether to download from the SKAB GitHub repository when no local
        copy is found.
    verify
        Whether to check a local copy's sha256 where tsrnn knows it.
        Downloads are always checked where it is known, else a warning says
        they could not be.

    Returns
    -------
    pandas.DataFrame or dict of str to pandas.DataFrame
        For one name, the file's frame in file order: ``datetime``
        (datetime64, kept as a column), the 8 :data:`SKAB_SENSORS` (float64)
        and, in the experiments, ``anomaly`` and ``changepoint`` (int64, 0 or
        1); ``anomaly-free.csv`` has no label columns. For a list, a dict
        from each name as given to its frame, in the order given; for None,
        keyed by the names of :data:`SKAB_SHA256` in the order of
        :func:`skab_files`: the anomaly-free run first, then ``valve1/0.csv``
        to ``valve1/15.csv`` in numeric order.

    Raises
    ------
    ValueError
        If a name is not a SKAB file name, a checksum does not match, or a
        file lacks the SKAB columns or has labels other than 0 and 1.
    FileNotFoundError
        If a file is not found and could not be downloaded; the message says
        where it looked.
    """
    options = {"path": path, "cache_dir": cache_dir, "download": download, "verify": verify}
    if isinstance(name, str):
        return _load_skab_file(_check_skab_name(name), **options)
    names = sorted(SKAB_SHA256, key=_order) if name is None else list(name)
    canonical = [_check_skab_name(n) for n in names]
    return {n: _load_skab_file(c, **options) for n, c in zip(names, canonical, strict=True)}


def skab_files(path: StrPath | None = None, *, cache_dir: StrPath | None = None) -> list[str]:
    """List the SKAB files available locally, as names :func:`load_skab` takes.

    Useful to run a benchmark over whatever a local copy holds:
    ``load_skab(skab_files(path), path=path)``.

    Parameters
    ----------
    path
        A folder holding ``valve1/`` and the other SKAB folders directly or in
        ``skab/``, ``data/`` or ``skab/data/``. If None, the cache folder
        (``cache_dir``, else ``$TSRNN_DATA_DIR``, else ``~/.cache/tsrnn``).
    cache_dir
        Used when ``path`` is None.

    Returns
    -------
    list of str
        ``"anomaly-free/anomaly-free.csv"`` first if present (under either of
        its local names), then ``"folder/N.csv"`` by folder and by number
        (``valve1/2.csv`` before ``valve1/10.csv``); empty if the folder holds
        no SKAB files.

    Raises
    ------
    FileNotFoundError
        If ``path`` is given and is not a folder.
    """
    if path is not None:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"SKAB folder {root} does not exist or is not a folder")
    else:
        root = cache_root(cache_dir)
    # Subfolders first: a folder holding several datasets (skab/ next to nab/)
    # has CSVs one level down that are not SKAB files.
    for folder in (*(root / sub for sub in _SUBDIRS), root):
        found = [
            name
            for p in folder.glob("*/*.csv")
            if _EXPERIMENT.fullmatch(name := p.relative_to(folder).as_posix())
        ]
        if (folder / "anomaly-free.csv").is_file() or (folder / _ANOMALY_FREE).is_file():
            found.append(_ANOMALY_FREE)
        if found:
            return sorted(found, key=_order)
    return []


def _order(name: str) -> tuple[int, str, int]:
    """Sort key: the anomaly-free run, then by folder, then by number."""
    if name == _ANOMALY_FREE:
        return (0, "", 0)
    folder, _, file = name.partition("/")
    return (1, folder, int(file.removesuffix(".csv")))


def _check_skab_name(name: str) -> str:
    """Return the upstream name for ``name``, or raise a ValueError."""
    if name in (_ANOMALY_FREE, "anomaly-free.csv"):
        return _ANOMALY_FREE
    if isinstance(name, str) and _EXPERIMENT.fullmatch(name):
        return name
    hint = ""
    if isinstance(name, str) and re.fullmatch(r"[0-9]+\.csv", name):
        hint = f"; did you mean 'valve1/{name}', 'valve2/{name}' or 'other/{name}'?"
    raise ValueError(
        "SKAB file names look like 'valve1/0.csv', 'valve2/3.csv', 'other/9.csv' or "
        f"'anomaly-free/anomaly-free.csv' (alias 'anomaly-free.csv'); got {name!r}{hint}"
    )


def _load_skab_file(
    name: str,
    *,
    path: StrPath | None,
    cache_dir: StrPath | None,
    download: bool,
    verify: bool,
) -> pd.DataFrame:
    if name == _ANOMALY_FREE:
        relpath, subdirs = "anomaly-free.csv", _ANOMALY_FREE_SUBDIRS
    else:
        relpath, subdirs = name, _SUBDIRS
    file = fetch_file(
        relpath,
        SKAB_URL.format(name=name),
        sha256=SKAB_SHA256.get(name),
        subdirs=subdirs,
        path=path,
        cache_dir=cache_dir,
        download=download,
        verify=verify,
        what=f"SKAB {name!r}",
    )
    try:
        data = pd.read_csv(file, sep=";", dtype=dict.fromkeys(SKAB_SENSORS, np.float64))
    except ValueError as err:
        raise ValueError(f"{file} is not a SKAB file: {err}") from None
    missing = [c for c in ("datetime", *SKAB_SENSORS) if c not in data.columns]
    if missing:
        raise ValueError(
            f"{file} is not a SKAB file: missing columns {missing} "
            f"(it has {list(data.columns)}; the separator is ';')"
        )
    data["datetime"] = _parse_times(data["datetime"], file, "2020-03-09 10:14:33")
    for label in _LABELS:
        if label in data.columns:
            data[label] = _binary(data[label], label, file)
    return data


def _binary(column: pd.Series, label: str, file: Path) -> pd.Series:
    # Upstream writes the labels as 0.0 and 1.0.
    values = pd.to_numeric(column, errors="coerce")
    bad = ~values.isin((0, 1))
    if bad.any():
        raise ValueError(
            f"{file}: column {label!r} should hold 0 or 1 on every row; "
            f"row {int(np.argmax(bad.to_numpy()))} holds {column[bad].iloc[0]}"
        )
    return values.astype(np.int64)
