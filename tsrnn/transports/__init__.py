"""Transports: adapters that feed a live source into an :class:`~tsrnn.AnomalyStream`
and send its scores on. Each lives in its own module and imports its client
library lazily; the detector and the stream never import a transport.

- :mod:`tsrnn.transports.mqtt`: an MQTT broker (``pip install 'tsrnn[mqtt]'``).
"""
