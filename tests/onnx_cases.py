"""Real data and tiny fitted models for the ONNX tests (tests/test_onnx.py,
tests/test_onnx_serving.py): ETTh1 for forecasters, a NAB file and a SKAB
experiment for detectors and classifiers. Read on first use, never at import."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FIT = dict(hidden_size=8, max_epochs=1, accelerator="cpu", random_state=0, verbose=False)
TOL = dict(rtol=1e-4, atol=1e-5)


def _read(relative: str, **options) -> pd.DataFrame:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"shared data file {path} is absent")
    return pd.read_csv(path, **options)


@cache
def ett(rows: int = 300) -> pd.DataFrame:
    """ETTh1's first rows: oil temperature and two loads, hourly."""
    df = _read("ett/ETTh1.csv", parse_dates=["date"], index_col="date")
    return df[["OT", "HUFL", "MUFL"]].iloc[:rows]


@cache
def nab(rows: int = 600) -> pd.DataFrame:
    """A NAB series (EC2 CPU, every 5 minutes): one target; two days, so a detector
    takes a daily calendar."""
    df = _read("nab/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
               parse_dates=["timestamp"], index_col="timestamp")
    return df.iloc[:rows]


@cache
def skab(rows: int = 400) -> pd.DataFrame:
    """SKAB valve1/0: three sensors about once a second, in row order (its clock
    jitters: the rows are the time axis), and the anomaly label."""
    df = _read("skab/valve1/0.csv", sep=";")
    return df[["Accelerometer1RMS", "Current", "Pressure", "anomaly"]].iloc[:rows] \
        .reset_index(drop=True)


def skab_sequences(length: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SKAB cut into sequences ``[N, length, 3]``, each labelled 1 when any of its
    rows is anomalous, and the per-row labels ``[N, length]``."""
    df = skab(1000)
    n = len(df) // length
    values = df.iloc[:n * length, :3].to_numpy().reshape(n, length, 3)
    rows = df["anomaly"].iloc[:n * length].to_numpy().astype(int).reshape(n, length)
    return values, rows.max(axis=1), rows
