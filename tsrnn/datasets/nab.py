"""Loaders for NAB, the Numenta Anomaly Benchmark: its series and labels.

tsrnn never needs these files to run; the loaders find a local copy or
download one into a cache, with a sha256 check. Where they look, in order
(see :mod:`tsrnn.datasets._download` for the details):

1. ``path``: a file, or a folder holding the file directly or in ``nab/``
   (or, as in a NAB checkout, ``data/`` and ``labels/``). Nothing is
   downloaded.
2. ``cache_dir``, else the environment variable ``TSRNN_DATA_DIR``, else
   ``~/.cache/tsrnn``, directly or in ``nab/``.
3. With ``download=True``, the canonical URL, saved into that cache folder's
   ``nab/`` subfolder.

Licence: MIT (numenta/NAB). tsrnn does not redistribute it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
import pandas as pd

from tsrnn.datasets._download import StrPath, _parse_times, cache_root, fetch_file

__all__ = [
    "NAB_LABELS_SHA256",
    "NAB_SHA256",
    "load_nab",
    "load_nab_labels",
    "nab_files",
]

Window = tuple[pd.Timestamp, pd.Timestamp]

NAB_DATA_URL = "https://raw.githubusercontent.com/numenta/NAB/master/data/{name}"
NAB_LABELS_URL = "https://raw.githubusercontent.com/numenta/NAB/master/labels/combined_windows.json"

#: sha256 of the NAB v1.1 files tsrnn knows, by ``"category/file.csv"``: the
#: artificial series and the AWS CloudWatch ones. Other NAB files load too,
#: with a warning on download that they could not be verified.
NAB_SHA256: dict[str, str] = {
    "artificialNoAnomaly/art_daily_no_noise.csv": (
        "ccb7743ac2de8ca110db4af796d11ba31a23ad448a28e353a935c15f637756bc"
    ),
    "artificialNoAnomaly/art_daily_perfect_square_wave.csv": (
        "662ff0a295b81eb0ff8e81116a54a497cd6f6b07c19c7a5ea72cce494913ce62"
    ),
    "artificialNoAnomaly/art_daily_small_noise.csv": (
        "c4b304229f69f108eaa024fb2406fcd4510c5c5d95cd0053e2da6989682e4e6d"
    ),
    "artificialNoAnomaly/art_flatline.csv": (
        "1cc10761ddd6d55fb5f0d9cfc73610416abbb120ee14bb65eff288509a463397"
    ),
    "artificialNoAnomaly/art_noisy.csv": (
        "ad455adeaf06852222500955f2aefe6bd389cc762ef68e7102ee543209c8607f"
    ),
    "artificialWithAnomaly/art_daily_flatmiddle.csv": (
        "ea5df125947e9ee2b977ac3d341f3c2a029588862af97cae4a654fc56e838702"
    ),
    "artificialWithAnomaly/art_daily_jumpsdown.csv": (
        "4af31802e87dff4b4ba3ceb21714ba9d905f7888e1f53d47cc6dd4f856f9debc"
    ),
    "artificialWithAnomaly/art_daily_jumpsup.csv": (
        "f79f92b93ee4f9c10e2dc552505e8880b0c618639ed5e0f9816e044b75c26456"
    ),
    "artificialWithAnomaly/art_daily_nojump.csv": (
        "65c85d1834376ed5e622f01721d478609577ea0df0a067c5a5ebe5edea03b077"
    ),
    "artificialWithAnomaly/art_increase_spike_density.csv": (
        "0959d8871d5c1a3fc3120fb7421e4ef113fffb434af2889085b52aebdb69360c"
    ),
    "artificialWithAnomaly/art_load_balancer_spikes.csv": (
        "99f7130e54c7c3e818df8e3bdc0974cd241914bb14a10a9c3fa7c1374125d224"
    ),
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv": (
        "ab446fbd8b9f37507eb2fdb06315826d8daeef02e241133ce06e0ee571ba53d9"
    ),
    "realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv": (
        "8942e498de7b40f1b4a6d802755592c09b8fb73ce8f658763a09cb9ea1ea94ac"
    ),
    "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv": (
        "01613e6f632d067f11a5dfd40a188b0789752b388d9bc77a398bd06333878a76"
    ),
    "realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv": (
        "90ceabd570b449241ee24ff8a116a793979b7671ce4490707311bfea0e0aae1f"
    ),
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv": (
        "d768419037c9db269343822957314f57ee21a7d9a4d41df2add0d1ba45ba84de"
    ),
    "realAWSCloudwatch/ec2_cpu_utilization_ac20cd.csv": (
        "749a15c2e1a4543c21fee9cbf3338cd8a7ed5f5f8a1308b9b099b06c2c66e66b"
    ),
    "realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv": (
        "d936cea74682ed43ac96b778352d7de294c0b0c168f4a7e6817162346cdb28c1"
    ),
    "realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv": (
        "f3433f8171f4dcea86c0c7af9996d0f166f812fa0f4567f1d5cd85d2d2cd69b4"
    ),
    "realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv": (
        "ce3d6c6a652ed7c31a6dd3727a36e128fcac6fb2381c63267ad0fbc02eccd9df"
    ),
    "realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv": (
        "a0e734a66098bb81833835f0839dadafbc8ae829c51494670ee8849e46eb5b63"
    ),
    "realAWSCloudwatch/ec2_network_in_257a54.csv": (
        "39104b08f2e0a673b5137eb7681897fcadf0955fedf565740a6a94edc63a81a4"
    ),
    "realAWSCloudwatch/ec2_network_in_5abac7.csv": (
        "c27ef93f582af63bf42e80d804764cbe64ae987620f3cfab5477d6ebb3c6157e"
    ),
    "realAWSCloudwatch/elb_request_count_8c0756.csv": (
        "74c26574a01ca9fb89dddb5021e2e13c3a93eb25dc640438a9acb1ceb00f1021"
    ),
    "realAWSCloudwatch/grok_asg_anomaly.csv": (
        "86a0abe9d58e376858d2fd4f4a438f1997e24c64a09e5af03accd4e1b372ac47"
    ),
    "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv": (
        "f115fbe6542159eed5612445bfa620708a28ab6b41349d1432bb15c3a3b8414d"
    ),
    "realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv": (
        "d5df979ef85928769a016cd0f935919d8c2a113926e21e1eb3a5001d688760e2"
    ),
    "realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv": (
        "6b712b922ab3b3404c5a629d64a570c390c99471ee8b9b0ff7665f553fda92c1"
    ),
}

#: sha256 of upstream ``labels/combined_windows.json`` (NAB v1.1; its md5
#: d2ec0ef3652beca9e4847fe4f3815529 matches the one PyADTS pins).
NAB_LABELS_SHA256: str | None = "1e1fbc4601321aad8d0f8b3784c8134299379f68f6c1f7777565f8ffd57ab6b1"

# NAB's own checkout keeps the series under data/ and the labels under
# labels/; tsrnn's cache and the shared copy keep both directly under nab/.
_NAB_DATA_SUBDIRS = ("nab", "data", "nab/data")
_NAB_LABEL_SUBDIRS = ("nab", "labels", "nab/labels")
# The shared copy stores a subset of combined_windows.json under this name.
_NAB_LABEL_ALIASES = ("labels_windows.json",)
# "category/file.csv" and nothing else: the name becomes part of a URL and of
# a path in the cache, so "..", absolute paths and backslashes must not pass.
_NAB_NAME = re.compile(r"[A-Za-z0-9_]+/[A-Za-z0-9_.\-]+\.csv")


@overload
def load_nab(
    name: str,
    *,
    path: StrPath | None = ...,
    cache_dir: StrPath | None = ...,
    download: bool = ...,
    verify: bool = ...,
) -> pd.DataFrame: ...
@overload
def load_nab(
    name: Sequence[str] | None = ...,
    *,
    path: StrPath | None = ...,
    cache_dir: StrPath | None = ...,
    download: bool = ...,
    verify: bool = ...,
) -> dict[str, pd.DataFrame]: ...
def load_nab(
    name: str | Sequence[str] | None = None,
    *,
    path: StrPath | None = None,
    cache_dir: StrPath | None = None,
    download: bool = True,
    verify: bool = True,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Load series of the Numenta Anomaly Benchmark (NAB v1.1).

    Licence: MIT. The labels are in :func:`load_nab_labels`. NAB scores
    detectors online and leaves the first 15% of each file unscored, as a
    probationary period.

    Parameters
    ----------
    name
        A file as ``"category/file.csv"``, e.g.
        ``"realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv"``; a list of
        such names; or None for the 28 files in :data:`NAB_SHA256` (the
        artificial and AWS CloudWatch series). To load whatever a local copy
        holds, pass ``name=nab_files(path)``.
    path
        A CSV file, or a folder holding ``category/file.csv`` directly or in
        ``nab/``, ``data/`` or ``nab/data/`` (a NAB checkout works). Nothing
        is downloaded when it is given.
    cache_dir
        Folder to look in and to download into (under ``nab/``); default:
        ``$TSRNN_DATA_DIR``, else ``~/.cache/tsrnn``.
    download
        Whether to download from the NAB GitHub repository when no local copy
        is found.
    verify
        Whether to check a local copy's sha256 where tsrnn knows it.

    Returns
    -------
    pandas.DataFrame or dict of str to pandas.DataFrame
        For one name, a frame with ``timestamp`` (datetime64) and ``value``
        (float64); otherwise a dict from name to frame, in the order given
        (sorted for None).

    Raises
    ------
    ValueError
        If a name is not of the form ``"category/file.csv"``, a checksum
        does not match, or a file lacks the NAB columns.
    FileNotFoundError
        If a file is not found and could not be downloaded.
    """
    if isinstance(name, str):
        return _load_nab_file(
            _check_nab_name(name),
            path=path,
            cache_dir=cache_dir,
            download=download,
            verify=verify,
        )
    names = sorted(NAB_SHA256) if name is None else [_check_nab_name(n) for n in name]
    return {
        n: _load_nab_file(n, path=path, cache_dir=cache_dir, download=download, verify=verify)
        for n in names
    }


@overload
def load_nab_labels(
    name: str,
    *,
    path: StrPath | None = ...,
    cache_dir: StrPath | None = ...,
    download: bool = ...,
    verify: bool = ...,
) -> list[Window]: ...
@overload
def load_nab_labels(
    name: Sequence[str] | None = ...,
    *,
    path: StrPath | None = ...,
    cache_dir: StrPath | None = ...,
    download: bool = ...,
    verify: bool = ...,
) -> dict[str, list[Window]]: ...
def load_nab_labels(
    name: str | Sequence[str] | None = None,
    *,
    path: StrPath | None = None,
    cache_dir: StrPath | None = None,
    download: bool = True,
    verify: bool = True,
) -> list[Window] | dict[str, list[Window]]:
    """Load NAB's labelled anomaly windows.

    Each window is centred on a labelled anomaly; a detection inside it is a
    true positive. Files without anomalies have no windows.

    Parameters
    ----------
    name
        One ``"category/file.csv"``, a list of them, or None for every file
        in the labels file.
    path
        The labels JSON file, or a folder holding ``combined_windows.json``
        (upstream name) or ``labels_windows.json`` directly or in ``nab/``,
        ``labels/`` or ``nab/labels/``. Nothing is downloaded when it is
        given.
    cache_dir
        Folder to look in and to download into (under ``nab/``); default:
        ``$TSRNN_DATA_DIR``, else ``~/.cache/tsrnn``.
    download
        Whether to download ``labels/combined_windows.json`` from the NAB
        GitHub repository when no local copy is found.
    verify
        Whether to check a local ``combined_windows.json``'s sha256 where
        tsrnn knows it (it does not yet). ``labels_windows.json`` is never
        checked: it may be a subset.

    Returns
    -------
    list of (pandas.Timestamp, pandas.Timestamp) or dict
        For one name, its windows as (start, end) pairs, both inclusive;
        otherwise a dict from name to windows.

    Raises
    ------
    ValueError
        If a requested name has no entry in the labels file, or the file is
        not in NAB's format.
    FileNotFoundError
        If the labels are not found and could not be downloaded.
    """
    file = fetch_file(
        "combined_windows.json",
        NAB_LABELS_URL,
        sha256=NAB_LABELS_SHA256,
        subdirs=_NAB_LABEL_SUBDIRS,
        aliases=_NAB_LABEL_ALIASES,
        path=path,
        cache_dir=cache_dir,
        download=download,
        verify=verify,
        what="NAB labels",
    )
    with open(file, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError(f"{file} is not a NAB labels file: expected a JSON object at the top")
    windows = {key: _parse_windows(value, key, file) for key, value in raw.items()}
    if name is None:
        return windows
    wanted = [name] if isinstance(name, str) else list(name)
    unknown = [n for n in wanted if n not in windows]
    if unknown:
        raise ValueError(
            f"no labels for {unknown} in {file}; it has labels for {len(windows)} files, "
            "named like 'realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv'"
        )
    return windows[name] if isinstance(name, str) else {n: windows[n] for n in wanted}


def nab_files(path: StrPath | None = None, *, cache_dir: StrPath | None = None) -> list[str]:
    """List the NAB series available locally, as ``"category/file.csv"``.

    Useful to run a benchmark over whatever a local copy holds:
    ``load_nab(nab_files(path), path=path)``.

    Parameters
    ----------
    path
        A folder holding the category folders directly or in ``nab/``,
        ``data/`` or ``nab/data/``. If None, the cache folder
        (``cache_dir``, else ``$TSRNN_DATA_DIR``, else ``~/.cache/tsrnn``).
    cache_dir
        Used when ``path`` is None.

    Returns
    -------
    list of str
        Sorted names; empty if the folder holds no NAB series.

    Raises
    ------
    FileNotFoundError
        If ``path`` is given and is not a folder.
    """
    if path is not None:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"NAB folder {root} does not exist or is not a folder")
    else:
        root = cache_root(cache_dir)
    # Subfolders first: a folder holding several datasets (nab/ next to
    # ett/) has CSVs one level down that are not NAB series.
    for folder in (*(root / sub for sub in _NAB_DATA_SUBDIRS), root):
        found = sorted(p.relative_to(folder).as_posix() for p in folder.glob("*/*.csv"))
        if found:
            return found
    return []


def _check_nab_name(name: str) -> str:
    if not isinstance(name, str) or not _NAB_NAME.fullmatch(name):
        hint = ""
        if isinstance(name, str):
            matches = [known for known in NAB_SHA256 if known.split("/")[1] == name]
            if matches:
                hint = f"; did you mean {matches[0]!r}?"
        raise ValueError(
            f"NAB file names look like 'category/file.csv', e.g. "
            f"'realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv'; got {name!r}{hint}"
        )
    return name


def _load_nab_file(
    name: str,
    *,
    path: StrPath | None,
    cache_dir: StrPath | None,
    download: bool,
    verify: bool,
) -> pd.DataFrame:
    file = fetch_file(
        name,
        NAB_DATA_URL.format(name=name),
        sha256=NAB_SHA256.get(name),
        subdirs=_NAB_DATA_SUBDIRS,
        path=path,
        cache_dir=cache_dir,
        download=download,
        verify=verify,
        what=f"NAB {name!r}",
    )
    data = pd.read_csv(file, dtype={"value": np.float64})
    if tuple(data.columns) != ("timestamp", "value"):
        raise ValueError(
            f"{file} is not a NAB file: expected columns ['timestamp', 'value'], "
            f"got {list(data.columns)}"
        )
    data["timestamp"] = _parse_times(data["timestamp"], file)
    return data


def _parse_windows(value: object, key: str, file: Path) -> list[Window]:
    if not isinstance(value, list) or not all(isinstance(w, list) and len(w) == 2 for w in value):
        raise ValueError(
            f"{file} is not a NAB labels file: {key!r} should map to a list of "
            f"[start, end] pairs, got {value!r}"
        )
    # Upstream writes "2014-04-10 07:15:00.000000"; pandas parses it exactly.
    return [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in value]
