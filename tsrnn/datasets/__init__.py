"""Sample data and loaders for public benchmark data.

- :func:`load_sensors`: the small multi-sensor dataset shipped with tsrnn,
  with labelled anomalies; no download needed.
- :func:`make_sensor_data`: the seeded generator behind it, for other sizes.
- :func:`make_machine_runs`: seeded machine runs of different lengths, normal or
  faulty, for sequence classification.
- :func:`load_ett`: the ETT forecasting datasets (ETTh1, ETTh2, ETTm1, ETTm2).
- :func:`load_nab`, :func:`load_nab_labels`, :func:`nab_files`: the Numenta
  Anomaly Benchmark series and their labelled windows.
- :func:`load_skab`, :func:`skab_files`: the Skoltech Anomaly Benchmark, a
  test rig's 8 sensors with per-row anomaly labels.

The real-data loaders look for a local copy first (``path=``, then
``cache_dir=``, ``$TSRNN_DATA_DIR`` or ``~/.cache/tsrnn``) and otherwise
download from the canonical URL with a sha256 check.

This package imports only numpy, pandas and the standard library, so that
``import tsrnn.datasets`` stays fast.
"""

from tsrnn.datasets._download import DATA_DIR_ENV
from tsrnn.datasets.ett import ETT_NAMES, load_ett
from tsrnn.datasets.machine_runs import FAULT_KINDS, make_machine_runs
from tsrnn.datasets.nab import load_nab, load_nab_labels, nab_files
from tsrnn.datasets.skab import SKAB_SENSORS, SKAB_SHA256, load_skab, skab_files
from tsrnn.datasets.synthetic import (
    ANOMALY_KINDS,
    load_sensors,
    make_sensor_data,
    to_wide,
)

__all__ = [
    "ANOMALY_KINDS",
    "DATA_DIR_ENV",
    "ETT_NAMES",
    "FAULT_KINDS",
    "SKAB_SENSORS",
    "SKAB_SHA256",
    "load_ett",
    "load_nab",
    "load_nab_labels",
    "load_sensors",
    "load_skab",
    "make_machine_runs",
    "make_sensor_data",
    "nab_files",
    "skab_files",
    "to_wide",
]
