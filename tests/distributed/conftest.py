"""Shared set-up of the tsrnn.distributed tests: one local Ray for the session
(starting one costs seconds), and small fitted models."""

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray with two CPUs, shut down after the session."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install "
                              "'tsrnn[ray]' (make test installs it)")
    # Ray's workers import this checkout's tsrnn through PYTHONPATH (tests/conftest.py).
    if ray.is_initialized():  # one an earlier test left running (map_series leaves it)
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    yield ray
    ray.shutdown()


def sensors(n_series: int, n_rows: int, seed: int = 0) -> pd.DataFrame:
    """Hourly sensors, long format: daily sines with noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    values = 10 * np.sin(2 * np.pi * (t[None] + rng.integers(0, 24, (n_series, 1))) / 24) \
        + rng.uniform(0, 50, (n_series, 1)) + rng.standard_normal((n_series, n_rows))
    return pd.DataFrame({
        "sensor": np.repeat([f"s{k}" for k in range(n_series)], n_rows),
        "timestamp": np.tile(pd.date_range("2024-01-01", periods=n_rows, freq="h"), n_series),
        "value": values.ravel()})


COLUMNS = {"time_col": "timestamp", "id_col": "sensor", "target": "value"}


@pytest.fixture(scope="session")
def fleet():
    return sensors(5, 120)


@pytest.fixture(scope="session")
def detector(fleet):
    from tsrnn import AnomalyDetector

    return AnomalyDetector(stateful=True, window=8, hidden_size=8, n_models=1, max_epochs=1,
                           random_state=0).fit(fleet, **COLUMNS)


@pytest.fixture(scope="session")
def forecaster(fleet):
    from tsrnn import Forecaster

    return Forecaster(input_len=12, horizon=4, hidden_size=8, max_epochs=1,
                      random_state=0).fit(fleet, **COLUMNS)
