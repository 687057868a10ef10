"""tsrnn: time-series forecasting and anomaly detection with recurrent neural networks.

``import tsrnn`` is kept cheap: subpackages (and torch, and Lightning, which only
loads when something trains) are imported on first use.
"""

from importlib import import_module

__version__ = "0.1.0.dev0"

_SUBPACKAGES = ("data", "datasets", "metrics", "nn")
_EXPORTS = {"Forecaster": "forecaster", "Backtest": "backtest",
            "InSampleBacktestWarning": "backtest", "AnomalyDetector": "detector",
            "SequenceClassifier": "classifier"}

__all__ = ["__version__", *_SUBPACKAGES, *_EXPORTS]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
