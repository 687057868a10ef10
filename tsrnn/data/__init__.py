"""Data layer: DataFrames in, validated arrays, windows, splits and scalers out.

Submodules load on first use, so ``import tsrnn.data`` stays cheap and only the
Datasets (``WindowDataset``, ``make_loader``, and ``sequences``, the input side
of sequence classification) import torch.
"""

from importlib import import_module

_EXPORTS = {
    "DataError": "errors",
    "GapError": "errors",
    "SeriesData": "frames",
    "check_length": "frames",
    "make_windows": "windowing",
    "n_windows": "windowing",
    "window_starts": "windowing",
    "calendar_features": "calendar",
    "resolve_calendar": "calendar",
    "Split": "split",
    "chronological_split": "split",
    "split_borders": "split",
    "Scaler": "scaling",
    "Batch": "dataset",
    "WindowDataset": "dataset",
    "make_loader": "dataset",
    "SequenceData": "sequences",
    "SequenceDataset": "sequences",
    "read_labels": "sequences",
    "read_sequences": "sequences",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
