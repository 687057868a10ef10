"""Synthetic machine runs for sequence classification: normal or faulty, variable length.

Each run is a machine working through a random load schedule, sampled once a
second by three sensors:

- ``current``: the load (a few random plateaus) plus noise;
- ``temperature``: the load seen through a first-order thermal lag, plus noise;
- ``vibration``: noise whose level follows the load, plus the rotation's hum.

A faulty run has one of three faults, chosen so that a run's summary statistics
(mean, spread, extremes, trend) say little and the order of the steps says much:

- ``"hunting"``: the speed controller oscillates, a small periodic ripple on the
  current (period 5-9 s) not much larger than the noise;
- ``"cooling"``: the temperature follows the load far more slowly (time constant
  about 5x longer), to the same levels;
- ``"bearing"``: short vibration bursts that recur at a regular interval in the
  second half of the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FAULT_KINDS", "make_machine_runs"]

#: The faults that :func:`make_machine_runs` injects, as written in its ``fault`` column.
FAULT_KINDS: tuple[str, ...] = ("hunting", "cooling", "bearing")

_NOISE = 0.3  # sensor noise, in units of the load's spread


def make_machine_runs(
    n_runs: int = 600,
    *,
    fault_fraction: float = 0.5,
    min_length: int = 60,
    max_length: int = 240,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Make a long frame of machine runs, one row per second.

    Parameters
    ----------
    n_runs
        Runs to make.
    fault_fraction
        Share of faulty runs; the faults are spread evenly over :data:`FAULT_KINDS`.
    min_length, max_length
        Each run's length is drawn uniformly from this range (steps).
    random_state
        Seed: the same seed gives the same frame.

    Returns
    -------
    DataFrame
        Columns ``run`` (``"run_0000"``, ...), ``step`` (seconds since the run
        started), ``current``, ``temperature``, ``vibration``, ``label``
        (``"normal"`` or ``"faulty"``, constant within a run) and ``fault`` (the
        fault kind, or ``"none"``).
    """
    if n_runs < 1:
        raise ValueError(f"n_runs must be >= 1, got {n_runs}")
    if not 0 <= fault_fraction <= 1:
        raise ValueError(f"fault_fraction must be in [0, 1], got {fault_fraction}")
    if not 8 <= min_length <= max_length:
        raise ValueError(f"need 8 <= min_length <= max_length, got {min_length}, {max_length}")
    rng = np.random.default_rng(random_state)
    n_faulty = int(round(fault_fraction * n_runs))
    faults = np.array(["none"] * (n_runs - n_faulty)
                      + [FAULT_KINDS[i % len(FAULT_KINDS)] for i in range(n_faulty)])
    rng.shuffle(faults)
    parts = []
    for i, fault in enumerate(faults):
        steps = int(rng.integers(min_length, max_length + 1))
        current, temperature, vibration = _run(steps, fault, rng)
        parts.append(pd.DataFrame({
            "run": f"run_{i:04d}", "step": np.arange(steps), "current": current,
            "temperature": temperature, "vibration": vibration,
            "label": "normal" if fault == "none" else "faulty", "fault": fault,
        }))
    return pd.concat(parts, ignore_index=True)


def _run(steps: int, fault: str, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    t = np.arange(steps)
    # Load: 2-5 plateaus at random levels.
    cuts = np.sort(rng.choice(np.arange(5, steps - 5), size=int(rng.integers(1, 5)),
                              replace=False))
    levels = rng.uniform(0.5, 2.0, size=len(cuts) + 1)
    load = levels[np.searchsorted(cuts, t, side="right")]  # [T]
    current = load + _NOISE * rng.standard_normal(steps)
    if fault == "hunting":
        period = rng.uniform(5, 9)
        current += 0.4 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))

    tau = rng.uniform(4, 8) * (5 if fault == "cooling" else 1)  # thermal time constant, s
    alpha = 1 - np.exp(-1 / tau)
    heat = np.empty(steps)
    level = load[0]
    for k in range(steps):  # a first-order lag: an IIR filter, one run at a time
        level += alpha * (load[k] - level)
        heat[k] = level
    temperature = 40 + 10 * heat + 2 * _NOISE * rng.standard_normal(steps)

    hum = 0.2 * np.sin(2 * np.pi * t / 3.3 + rng.uniform(0, 2 * np.pi))
    vibration = hum + _NOISE * load * np.abs(rng.standard_normal(steps))
    if fault == "bearing":
        every = int(rng.integers(12, 20))
        for start in range(steps // 2 + int(rng.integers(0, every)), steps - 2, every):
            vibration[start : start + 2] += 0.6
    return current, temperature, vibration
