"""Find a data file locally, or download it once into a cache, with a checksum.

The real-data loaders (:mod:`tsrnn.datasets.ett`, :mod:`tsrnn.datasets.nab`,
:mod:`tsrnn.datasets.skab`) all go through :func:`fetch_file`. The rules, in
order:

1. ``path`` given: use that file, or look inside that folder (see
   :func:`candidate_paths`). Nothing is downloaded: a user who names a
   location means that copy, so a miss is an error.
2. Otherwise look in the cache folder: ``cache_dir``, else the environment
   variable ``TSRNN_DATA_DIR``, else ``~/.cache/tsrnn``, and in its
   conventional subfolder (``ett/``, ``nab/``). This is how
   ``TSRNN_DATA_DIR=../shared/data`` finds the shared copies.
3. Not found and ``download=True``: download from the canonical URL into the
   cache subfolder, through a temporary file in the same folder that is
   renamed into place only once complete and verified.

Checksums are sha256 by default; ``"md5:<hex>"`` names an md5 where only that is
published upstream. A download whose checksum is known is verified before it
is renamed into place, and a bad one is deleted; one whose checksum is not
known yet is kept with a :class:`UserWarning`. A local file is verified too
when ``verify=True`` (the default) and its checksum is known: hashing a few
MB costs milliseconds and catches a truncated or edited copy. Pass
``verify=False`` to use a copy you changed on purpose. Local files are never
deleted.

The loaders also share their path type and timestamp parsing from here.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import warnings
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import pandas as pd

__all__ = [
    "DATA_DIR_ENV",
    "StrPath",
    "cache_root",
    "candidate_paths",
    "fetch_file",
    "sha256_file",
]

#: Environment variable naming the folder where data is looked for and
#: downloaded to, when a loader gets no ``cache_dir``.
DATA_DIR_ENV = "TSRNN_DATA_DIR"

_DEFAULT_CACHE = Path("~") / ".cache" / "tsrnn"
_CHUNK = 1 << 16
# Generous, but a dead connection must not hang a test run forever.
_TIMEOUT_S = 60.0

StrPath = str | os.PathLike[str]
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder where data is looked for and downloaded to.

    Parameters
    ----------
    cache_dir
        Explicit folder; if None, the environment variable
        ``TSRNN_DATA_DIR``, else ``~/.cache/tsrnn``.

    Returns
    -------
    pathlib.Path
        The folder, with ``~`` expanded. It may not exist yet.
    """
    if cache_dir is None:
        cache_dir = os.environ.get(DATA_DIR_ENV) or _DEFAULT_CACHE
    return Path(cache_dir).expanduser()


def _algorithm(checksum: str | None) -> tuple[str, str | None]:
    """``"md5:<hex>"`` -> ("md5", hex); a bare hex digest is sha256."""
    if checksum is None:
        return "sha256", None
    algo, _, hexdigest = checksum.rpartition(":")
    return (algo or "sha256"), hexdigest


def sha256_file(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Return the hex digest (sha256 by default) of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def candidate_paths(
    folder: Path, relpath: str, subdirs: Sequence[str], aliases: Sequence[str] = ()
) -> list[tuple[Path, bool]]:
    """Places a file may sit in under ``folder``, most direct first.

    ``relpath`` and then each alias are tried directly under ``folder`` and
    under each of ``subdirs``, so a folder that is the dataset's own folder
    (``.../ett``) works as well as one that holds several datasets
    (``.../data`` with ``ett/`` and ``nab/`` inside).

    Returns
    -------
    list of (pathlib.Path, bool)
        Each candidate, and whether it is the upstream name (False for an
        alias).
    """
    names = [(relpath, True)] + [(alias, False) for alias in aliases]
    return [(folder / sub / name, upstream) for sub in ("", *subdirs) for name, upstream in names]


def fetch_file(
    relpath: str,
    url: str,
    *,
    sha256: str | None,
    subdirs: Sequence[str],
    aliases: Sequence[str] = (),
    path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool = True,
    what: str | None = None,
) -> Path:
    """Return the path of a local copy of a data file, downloading if needed.

    Parameters
    ----------
    relpath
        The file's path relative to a dataset folder, e.g. ``"ETTh1.csv"``
        or ``"artificialNoAnomaly/art_flatline.csv"``; a download is saved
        under this name.
    url
        Canonical download URL.
    sha256
        Expected hex sha256 of the upstream file (or ``"md5:<hex>"``), or None
        if not known.
    subdirs
        Conventional subfolders to look in under ``path`` or the cache
        folder; the first one is where a download goes (e.g. ``["ett"]``).
    aliases
        Other names a local copy may have, tried after ``relpath`` in each
        folder. They are never checksum-verified, because such a copy may
        legitimately differ from upstream (e.g. a subset of NAB's labels).
    path
        A file to use as is, or a folder to look in. Never downloads.
    cache_dir
        Folder to look in and download to when ``path`` is None; see
        :func:`cache_root`.
    download
        Whether to download when no local copy is found.
    verify
        Whether to check the checksum of a local copy (downloads are always
        checked when the checksum is known).
    what
        Name of the dataset for messages, e.g. ``"ETT 'ETTh1'"``.

    Returns
    -------
    pathlib.Path
        An existing file.

    Raises
    ------
    FileNotFoundError
        If no local copy exists and downloading is off, failed, or not
        allowed because ``path`` was given. The message lists where it looked.
    ValueError
        If a checksum does not match.
    """
    what = what or relpath
    hint = (
        f"Pass path=<file or folder> to use a local copy, set cache_dir= or the "
        f"{DATA_DIR_ENV} environment variable to the folder that holds it, "
        f"or download it from {url}"
    )

    if path is not None:
        given = Path(path).expanduser()
        if given.is_file():
            # The user named the file itself: hold it to the upstream checksum
            # unless it carries one of the alias names, whose content may
            # differ from upstream.
            alias_names = {PurePosixPath(a).name for a in aliases}
            upstream = given.name == PurePosixPath(relpath).name or given.name not in alias_names
            return _check_local(given, upstream, sha256, verify, what)
        looked = candidate_paths(given, relpath, subdirs, aliases)
        found = _first_file(looked)
        if found is None:
            raise FileNotFoundError(
                f"{what} not found; looked in: {_listing(looked)}. "
                "Nothing is downloaded when path= is given. " + hint
            )
        return _check_local(*found, sha256, verify, what)

    root = cache_root(cache_dir)
    looked = candidate_paths(root, relpath, subdirs, aliases)
    found = _first_file(looked)
    if found is not None:
        return _check_local(*found, sha256, verify, what)
    if not download:
        raise FileNotFoundError(
            f"{what} not found and download=False; looked in: {_listing(looked)}. " + hint
        )
    target = root / (subdirs[0] if subdirs else "") / relpath
    try:
        _download(url, target, sha256, what)
    except OSError as err:
        # URLError, timeouts, DNS failures and an unwritable cache are all
        # OSErrors; say what to do instead, not only what went wrong.
        raise FileNotFoundError(
            f"{what} not found locally (looked in: {_listing(looked)}) and downloading "
            f"it from {url} to {target} failed: {err}. If you are offline or cannot "
            "write there: " + hint
        ) from err
    return target


def _first_file(candidates: Sequence[tuple[Path, bool]]) -> tuple[Path, bool] | None:
    return next(((p, upstream) for p, upstream in candidates if p.is_file()), None)


def _check_local(file: Path, upstream: bool, sha256: str | None, verify: bool, what: str) -> Path:
    """Return ``file`` after checking its checksum when asked and known.

    A copy under an alias (``upstream=False``) is not checked.
    """
    algo, expected = _algorithm(sha256)
    if verify and upstream and expected is not None:
        actual = sha256_file(file, algo)
        if actual != expected:
            raise ValueError(
                f"checksum mismatch for {what} at {file}: expected {algo} {expected}, "
                f"got {actual}. The file is truncated, corrupted or not the "
                "upstream version. Delete it to download it again, or pass "
                "verify=False to use it anyway."
            )
    return file


def _download(url: str, target: Path, sha256: str | None, what: str) -> None:
    """Download ``url`` to ``target`` atomically, verifying ``sha256``."""
    # Imported here: urllib.request pulls in http.client and email, which
    # ``import tsrnn.datasets`` should not pay for when nothing is downloaded.
    import urllib.request

    target.parent.mkdir(parents=True, exist_ok=True)
    # Temporary file in the target's own folder, so os.replace is an atomic
    # rename: a crash or a concurrent reader never sees a half-written file.
    # Opened with "x" under a unique name rather than via tempfile.mkstemp,
    # which would make it 0600 and unreadable to others in a shared
    # TSRNN_DATA_DIR; "x" honours the umask like any other new file.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        algo, expected = _algorithm(sha256)
        digest = hashlib.new(algo)
        request = urllib.request.Request(url, headers={"User-Agent": "tsrnn"})
        with (
            open(tmp, "xb") as out,
            urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response,
        ):
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if expected is None:
            warnings.warn(
                f"downloaded {what} from {url} but could not verify it: tsrnn has no "
                f"checksum for this file yet (its {algo} is {actual})",
                UserWarning,
                stacklevel=4,
            )
        elif actual != expected:
            raise ValueError(
                f"checksum mismatch for {what} downloaded from {url}: expected {algo} "
                f"{expected}, got {actual}. The download was deleted; try again, or the "
                "upstream file has changed."
            )
        os.replace(tmp, target)
    finally:
        # On success tmp was renamed away; on any failure (bad checksum,
        # network error, KeyboardInterrupt) it must not be left behind.
        tmp.unlink(missing_ok=True)


def _listing(candidates: Sequence[tuple[Path, bool]]) -> str:
    return ", ".join(str(p) for p, _ in candidates)


def _parse_times(column: pd.Series, file: Path,
                 example: str = "2016-07-01 00:00:00") -> pd.Series:
    """The benchmark files' timestamps (``_TIME_FORMAT``); a file that holds others
    is named, with an ``example`` of the form expected."""
    try:
        return pd.to_datetime(column, format=_TIME_FORMAT)
    except (ValueError, TypeError) as err:
        first = str(err).splitlines()[0]  # (pandas adds lines of hints about format=)
        raise ValueError(f"{file}: timestamps should look like {example}; {first}") from None
