"""Recurrent networks as plain ``torch.nn.Module``s. This package never imports Lightning."""

from tsrnn.nn.encoder import CELLS, RecurrentEncoder
from tsrnn.nn.forecast import STRATEGIES, WINDOW_NORMS, ForecastNet, WindowNorm

__all__ = ["CELLS", "STRATEGIES", "WINDOW_NORMS", "ForecastNet", "RecurrentEncoder", "WindowNorm"]
