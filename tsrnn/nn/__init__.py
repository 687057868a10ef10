"""Recurrent networks as plain ``torch.nn.Module``s. This package never imports Lightning."""

from tsrnn.nn.autoencoder import RecurrentAutoencoder
from tsrnn.nn.classify import OUTPUTS, SequenceNet
from tsrnn.nn.encoder import CELLS, RecurrentEncoder
from tsrnn.nn.ensemble import MeanEnsemble, MedianEnsemble
from tsrnn.nn.forecast import STRATEGIES, WINDOW_NORMS, ForecastNet, WindowNorm

__all__ = ["CELLS", "OUTPUTS", "STRATEGIES", "WINDOW_NORMS", "ForecastNet",
           "MeanEnsemble", "MedianEnsemble", "RecurrentAutoencoder", "RecurrentEncoder",
           "SequenceNet", "WindowNorm"]
