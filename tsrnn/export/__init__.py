"""Exporting fitted estimators for serving without the training stack.

The exporters sit on top of the estimators and import their optional
dependencies lazily: ``import tsrnn`` never imports ``onnx`` or ``onnxruntime``.
"""

from tsrnn.export.onnx import OnnxModel, export_onnx, load_onnx

__all__ = ["OnnxModel", "export_onnx", "load_onnx"]
