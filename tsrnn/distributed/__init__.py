"""Work beyond one process, over engines that exist: Ray fans series, files and
sensor streams out over cores and machines, and runs hyperparameter searches (Ray
Tune; Optuna in one process when Ray is absent).

Ray is an optional extra (``pip install 'tsrnn[ray]'``), imported only when a
function here runs on it; every function also runs in this process, with the same
results, without it. The estimators never import this package.
"""

from importlib import import_module

_EXPORTS = {"map_series": "fleet", "MapResult": "fleet", "FailedItemsError": "fleet",
            "PartitionedStream": "streams", "partition_of": "streams",
            "tune": "tuning", "TuneResult": "tuning"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
