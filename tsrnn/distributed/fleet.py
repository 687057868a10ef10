"""Fan-out: one model over many series, files or Parquet partitions, on Ray or in
this process (:func:`map_series`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from tsrnn.distributed.engine import model_bytes, model_from_bytes, resolve_engine, run_each

__all__ = ["FailedItemsError", "MapResult", "map_series"]

HOWS = ("predict", "decision_function", "fit_predict")
DATA_SUFFIXES = (".csv", ".tsv", ".parquet")


class MapResult(NamedTuple):
    """What :func:`map_series` returns.

    Attributes
    ----------
    results
        Item name -> the model's output for it, in input order; failed items are
        left out.
    failures
        Item name -> a one-line reason, in input order; empty when all finished.
    """

    results: dict
    failures: dict


class FailedItemsError(ValueError):
    """Some items of :func:`map_series` failed; raised once every item has run.

    Its message names each failed item with its reason; ``result`` holds the
    :class:`MapResult` of the whole run, the finished items included.
    """

    def __init__(self, result: MapResult, total: int):
        self.result = result
        shown = "; ".join(f"{name}: {why}" for name, why in list(result.failures.items())[:5])
        more = len(result.failures) - 5
        super().__init__(f"{len(result.failures)} of {total} items failed: {shown}"
                         + (f"; and {more} more" if more > 0 else ""))


def map_series(model, data, how: str = "predict", *, engine: str = "auto",
               address: str | None = None, fit_params: dict | None = None,
               errors: str = "raise", batch_size: int | None = None) -> MapResult:
    """Run ``model`` over many series, files or Parquet partitions, each on its own.

    Each item gets the call ``how`` names, and its output is what that call returns
    for it in one process: ``model.predict(frame)`` (a forecast frame, or a
    detector's 0/1 labels), ``model.decision_function(frame)`` (a detector's
    scores), or for ``"fit_predict"`` a fresh ``sklearn.clone(model)`` fitted on
    the item (``fit(frame, **fit_params)``) and then its ``predict(frame)``.

    Parameters
    ----------
    model
        A fitted :class:`~tsrnn.Forecaster` or :class:`~tsrnn.AnomalyDetector` (for
        ``"fit_predict"``, fitted or not: only its parameters are used). It travels
        to the workers as the bytes of its model file, never pickled.
    data
        The items, each named in the result:

        - a DataFrame with the model's id column (``fit_params['id_col']`` for
          ``"fit_predict"``): each series, named by its id;
        - a mapping of names to DataFrames or file paths;
        - a list of DataFrames (named 0, 1, ...) or of paths (named as given);
        - a folder: its ``.csv``, ``.tsv`` and ``.parquet`` files, and its
          subfolders of ``.parquet`` files (Parquet partitions: the files are read
          in name order and joined; a folder called ``key=value`` adds a ``key``
          column holding ``value``, an integer where it is one, unless the files
          have that column).

        Files are read by the workers (with :func:`tsrnn.files.read_table`), so on
        a cluster the paths must reach the same files from every node.
    how
        ``"predict"``, ``"decision_function"`` or ``"fit_predict"``.
    engine
        ``"ray"``: Ray tasks (``pip install 'tsrnn[ray]'``); ``"local"``: one after
        the other in this process; ``"auto"``: Ray when it is installed. Both give
        the same results, value for value. A Ray this call starts is left running
        for the next call, as Ray's own libraries leave it (``ray.shutdown()``
        stops it).
    address
        A Ray cluster's address (``"auto"``, ``"ray://head:10001"``); default: the
        running Ray, else ``RAY_ADDRESS``, else a new local one.
    fit_params
        For ``"fit_predict"``: the keyword arguments of ``fit`` (``time_col``,
        ``id_col``, ``target``, ...).
    errors
        ``"raise"``: once every item has run, raise :class:`FailedItemsError` naming
        the failed ones (its ``result`` holds the rest). ``"collect"``: return them
        in :attr:`MapResult.failures`.
    batch_size
        Items per Ray task (default: about four tasks per CPU).

    Returns
    -------
    MapResult
        ``results`` and ``failures``, both keyed by item name, in input order.
    """
    if how not in HOWS:
        raise ValueError(f"how must be one of {HOWS}, got {how!r}")
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', got {errors!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    engine = resolve_engine(engine, address)
    shared = _shared(model, how, fit_params)
    names, items = _items(data, model, how, fit_params)
    outcomes = run_each(_run_item, shared, items, engine=engine, address=address,
                        batch_size=batch_size)
    result = MapResult({}, {})
    for name, (ok, value) in zip(names, outcomes, strict=True):
        (result.results if ok else result.failures)[name] = value
    if result.failures and errors == "raise":
        raise FailedItemsError(result, len(names))
    return result


def _shared(model, how: str, fit_params: dict | None) -> dict:
    """What every worker needs: the model as its file's bytes, or for
    ``fit_predict`` its class and parameters (plain values, as a model file keeps
    them)."""
    from sklearn.utils.validation import check_is_fitted

    from tsrnn import AnomalyDetector, Forecaster
    from tsrnn.persistence import _plain

    kinds = (Forecaster, AnomalyDetector)
    if not isinstance(model, kinds):
        raise TypeError(f"model must be a Forecaster or an AnomalyDetector, got "
                        f"{type(model).__name__}")
    if how == "decision_function" and not isinstance(model, AnomalyDetector):
        raise ValueError("how='decision_function' scores anomalies: it needs an "
                         "AnomalyDetector")
    if fit_params is not None and how != "fit_predict":
        raise ValueError("fit_params are for how='fit_predict'; a fitted model knows its "
                         "columns")
    if how == "fit_predict":
        return {"how": how, "kind": type(model).__name__,
                "params": _plain(model.get_params(deep=False), "parameters"),
                "fit_params": _plain(dict(fit_params or {}), "fit_params")}
    check_is_fitted(model, "net_")
    return {"how": how, "model": model_bytes(model)}


def _items(data, model, how: str, fit_params: dict | None) -> tuple[list, list]:
    """The items' names, and the items as workers take them: ``("frame", df)`` or
    ``("path", str)``."""
    if isinstance(data, pd.DataFrame):
        id_col = (fit_params or {}).get("id_col") if how == "fit_predict" else \
            model.roles_["id_col"]
        if id_col is None:
            raise ValueError("a single DataFrame is split into its series by the id "
                             "column, and the model has none: pass a list or a dict of "
                             "frames")
        if id_col not in data:
            raise ValueError(f"id column {id_col!r} not found; columns are "
                             f"{list(data.columns)}")
        groups = data.groupby(id_col, sort=False)
        return list(groups.groups), [("frame", frame) for _, frame in groups]
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if path.is_dir():
            found = _folder_items(path)
            if not found:
                raise FileNotFoundError(f"no {', '.join(DATA_SUFFIXES)} files or Parquet "
                                        f"partitions in folder {path}")
            return [str(p) for p in found], [("path", str(p)) for p in found]
        data = [path]
    if isinstance(data, Mapping):
        pairs = list(data.items())
    else:
        pairs = [(k, v) for k, v in enumerate(data)]
    names, items = [], []
    for name, value in pairs:
        if isinstance(value, pd.DataFrame):
            names.append(name)
            items.append(("frame", value))
        elif isinstance(value, str | os.PathLike):
            names.append(str(value) if not isinstance(data, Mapping) else name)
            items.append(("path", str(value)))
        else:
            raise TypeError(f"item {name!r} must be a DataFrame or a file path, got "
                            f"{type(value).__name__}")
    if not items:
        raise ValueError("no items to run: data is empty")
    return names, items


def _folder_items(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if (p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
                  or (p.is_dir() and any(p.glob("*.parquet"))))


# -------------------------------------------------------------- in a worker
def _run_item(shared: dict, item: tuple[str, Any]) -> Any:
    kind, value = item
    frame = value if kind == "frame" else read_item(value)
    how = shared["how"]
    if how == "fit_predict":
        from sklearn.base import clone

        import tsrnn

        model = clone(getattr(tsrnn, shared["kind"])(**shared["params"]))
        model.fit(frame, **shared["fit_params"])
        return model.predict(frame)
    model = model_from_bytes(shared["model"])
    return getattr(model, how)(frame)


def read_item(path: str | os.PathLike) -> pd.DataFrame:
    """A file (:func:`tsrnn.files.read_table`), or a Parquet partition: a folder's
    ``.parquet`` files in name order, with the ``key=value`` of its name as a
    column."""
    from tsrnn.files import read_table

    path = Path(path)
    if not path.is_dir():
        return read_table(path)
    parts = sorted(path.glob("*.parquet"))
    if not parts:
        raise FileNotFoundError(f"{path}: no .parquet files in this partition")
    frame = pd.concat([read_table(p) for p in parts], ignore_index=True)
    key, sep, value = path.name.partition("=")
    if sep and key and key not in frame:
        frame.insert(0, key, int(value) if value.lstrip("-").isdigit() else value)
    return frame
