"""Recurrent networks as plain ``torch.nn.Module``s. This package never imports Lightning."""
