"""Exporting fitted estimators for serving without the training stack.

The exporters sit on top of the estimators and import their optional
dependencies lazily: ``import tsrnn`` never imports ``onnx`` or ``onnxruntime``,
and ``tsrnn.export.scores`` (a detector's post-processing) needs neither torch.
"""

from importlib import import_module

__all__ = ["OnnxModel", "detector_scores", "export_onnx", "load_onnx"]
_WHERE = {"OnnxModel": "onnx", "export_onnx": "onnx", "load_onnx": "onnx",
          "detector_scores": "scores"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
