"""Synthetic multi-sensor data with labelled anomalies.

The generator makes a small, realistic-looking stream that needs no download:
every sensor has a level, a trend, a daily and a weekly cycle and noise, and
labelled anomalies of four kinds are injected after a clean stretch of
history. The default dataset shipped with tsrnn (``sensors.csv``) is
``make_sensor_data()`` with its defaults, rounded to 4 decimals; see
:func:`load_sensors`.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

import numpy as np
import pandas as pd

from tsrnn._checks import is_integer

__all__ = [
    "ANOMALY_KINDS",
    "SENSORS_CSV",
    "load_sensors",
    "make_sensor_data",
    "to_wide",
]

#: The anomaly kinds that :func:`make_sensor_data` injects, as written in
#: its ``anomaly_kind`` column.
ANOMALY_KINDS: tuple[str, ...] = ("spike", "level_shift", "drift", "stuck")

#: File name of the shipped default dataset inside ``tsrnn.datasets``.
SENSORS_CSV = "sensors.csv"

COLUMNS = ("timestamp", "sensor", "value", "is_anomaly", "anomaly_kind")

# Detectors need clean history to learn "normal" from, so nothing is injected
# in the first 30% of each series.
_CLEAN_FRACTION = 0.3
# Below four weeks the weekly cycle is seen too few times to be learnable, and
# the windowed anomalies no longer fit apart from each other.
_MIN_DAYS = 28
# Coarser than 2 h and a day has fewer than 12 points: the daily cycle and
# the short anomalies would be barely resolved.
_MAX_STEP = pd.Timedelta(hours=2)
# Anomalies that last a while, with their duration range in hours. Spikes are
# always one timestep, whatever the frequency.
_WINDOW_KINDS: dict[str, tuple[float, float]] = {
    "level_shift": (12.0, 36.0),
    "drift": (24.0, 48.0),
    "stuck": (6.0, 24.0),
}
# Steps kept free around each anomaly so that two never touch, and a "stuck"
# sensor always freezes at a normal value.
_MARGIN_HOURS = 6.0


def make_sensor_data(
    n_sensors: int = 4,
    n_days: int = 120,
    freq: str = "h",
    seed: int | None = 0,
    *,
    start: str = "2024-01-01",
    anomalies: bool = True,
) -> pd.DataFrame:
    """Generate a seeded multi-sensor stream with labelled anomalies.

    Each sensor is ``level + trend + daily cycle + weekly cycle + noise``, with
    its own level, amplitudes, phases and noise. In the last 70% of each
    series the generator injects:

    - ``"spike"``: 2 to 4 single-step outliers per sensor, 2.5 to 4 standard
      deviations of the clean series up or down;
    - ``"level_shift"``: a jump of 0.8 to 1.5 standard deviations lasting
      12 to 36 hours, then back to normal (e.g. a temporary offset);
    - ``"drift"``: a linear ramp to 1 to 2 standard deviations over
      24 to 48 hours, then back to normal (e.g. a decalibrating sensor);
    - ``"stuck"``: the value frozen at its last normal reading for
      6 to 24 hours.

    Every sensor gets two of the three windowed kinds (three when
    ``n_sensors == 1``), rotated across sensors, so every kind appears at
    least once in the dataset. About 2% of timesteps are anomalous.

    Parameters
    ----------
    n_sensors
        Number of sensors, named ``"sensor_1"`` to ``"sensor_<n_sensors>"``.
    n_days
        Length of every series in days; at least 28.
    freq
        A fixed sampling interval of at most 2 hours, as a pandas offset
        alias: ``"h"``, ``"30min"``, ``"15min"``...
    seed
        Seed of the random generator; ``None`` draws fresh entropy. The
        clean signal of sensor ``k`` depends only on ``seed`` and ``k``, not
        on ``n_sensors``.
    start
        First timestamp.
    anomalies
        If False, return the clean series: with the same seed they equal the
        series with anomalies everywhere except at the labelled timesteps.

    Returns
    -------
    pandas.DataFrame
        Long format, one row per sensor and timestamp, sorted by sensor then
        time, with columns

        - ``timestamp``: naive datetime64, regular at ``freq``;
        - ``sensor``: the sensor id (str);
        - ``value``: the reading (float64);
        - ``is_anomaly``: 1 where an anomaly affects the reading, else 0
          (int64);
        - ``anomaly_kind``: one of :data:`ANOMALY_KINDS`, or ``""`` where
          ``is_anomaly`` is 0.

    Raises
    ------
    ValueError
        If an argument is out of range or ``freq`` is not a fixed interval.

    Examples
    --------
    >>> df = make_sensor_data(n_sensors=2, n_days=30, seed=1)
    >>> sorted(df["sensor"].unique())
    ['sensor_1', 'sensor_2']
    """
    if not is_integer(n_sensors):
        raise ValueError(f"n_sensors must be an int, got {n_sensors!r}")
    if n_sensors < 1:
        raise ValueError(f"n_sensors must be at least 1, got {n_sensors}")
    if not is_integer(n_days):
        raise ValueError(f"n_days must be an int, got {n_days!r}")
    if n_days < _MIN_DAYS:
        raise ValueError(
            f"n_days must be at least {_MIN_DAYS}, so that the weekly cycle repeats "
            f"and the anomalies fit after the clean history; got {n_days}"
        )
    step = _parse_step(freq)
    n_steps = int(pd.Timedelta(days=int(n_days)) // step)
    timestamps = pd.date_range(start=start, periods=n_steps, freq=step)
    hours = np.arange(n_steps, dtype=np.float64) * (step / pd.Timedelta(hours=1))
    steps_per_hour = pd.Timedelta(hours=1) / step

    # One independent stream per sensor, split in two: the anomalies never
    # consume draws from the signal's stream, so anomalies=False gives the
    # exact same clean series.
    sensor_seeds = np.random.SeedSequence(seed).spawn(n_sensors)
    n_windows = 3 if n_sensors == 1 else 2
    window_kinds = list(_WINDOW_KINDS)
    frames = []
    for k, sensor_seed in enumerate(sensor_seeds):
        signal_seed, anomaly_seed = sensor_seed.spawn(2)
        values = _clean_signal(hours, np.random.default_rng(signal_seed))
        kinds = np.full(n_steps, "", dtype=object)
        if anomalies:
            # Rotate through the windowed kinds across sensors so each one
            # appears in the dataset even with few sensors.
            own = [window_kinds[(k * n_windows + j) % len(window_kinds)] for j in range(n_windows)]
            values, kinds = _inject_anomalies(
                values, own, steps_per_hour, np.random.default_rng(anomaly_seed)
            )
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": timestamps,
                    "sensor": f"sensor_{k + 1}",
                    "value": values,
                    "is_anomaly": (kinds != "").astype(np.int64),
                    "anomaly_kind": kinds.astype(str),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def to_wide(data: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Pivot a long sensor frame to one column per sensor.

    Parameters
    ----------
    data
        Long frame with columns ``timestamp``, ``sensor`` and ``value``, as
        returned by :func:`make_sensor_data` or :func:`load_sensors`.
    value
        Column to spread, e.g. ``"is_anomaly"`` to get the labels in the same
        shape as the values.

    Returns
    -------
    pandas.DataFrame
        Index: ``timestamp`` (DatetimeIndex, sorted); columns: the sensor
        ids, in order of first appearance; a missing reading is NaN.

    Raises
    ------
    ValueError
        If a column is missing or a sensor has the same timestamp twice.
    """
    missing = [c for c in ("timestamp", "sensor", value) if c not in data.columns]
    if missing:
        raise ValueError(
            f"to_wide needs columns 'timestamp', 'sensor' and {value!r}; "
            f"missing {missing}, got {list(data.columns)}"
        )
    duplicated = data.duplicated(["sensor", "timestamp"])
    if duplicated.any():
        first = data.loc[duplicated, ["sensor", "timestamp"]].iloc[0]
        raise ValueError(
            f"{int(duplicated.sum())} duplicated (sensor, timestamp) pairs, e.g. "
            f"{first['sensor']!r} at {first['timestamp']}; a wide frame needs one "
            "reading per sensor and timestamp"
        )
    wide = data.pivot(index="timestamp", columns="sensor", values=value)
    # pivot sorts columns lexically (sensor_10 before sensor_2); keep the
    # order the sensors come in instead.
    wide = wide[list(pd.unique(data["sensor"]))].sort_index()
    wide.columns.name = None
    return wide


def load_sensors(format: Literal["long", "wide"] = "long") -> pd.DataFrame:
    """Load the sample sensor dataset shipped with tsrnn.

    It is ``make_sensor_data()`` with the defaults (4 sensors, 120 days,
    hourly, seed 0), values rounded to 4 decimals: 11,520 rows, no missing
    values. ``datasets/README.md`` in the source tree says how it was made.

    Parameters
    ----------
    format
        ``"long"``: the frame :func:`make_sensor_data` returns, labels
        included. ``"wide"``: the values only, one column per sensor, indexed
        by ``timestamp`` (see :func:`to_wide`); take the labels from the long
        format, e.g. ``to_wide(load_sensors(), "is_anomaly")``.

    Returns
    -------
    pandas.DataFrame
        The dataset in the requested format.

    Raises
    ------
    ValueError
        If ``format`` is neither ``"long"`` nor ``"wide"``.
    """
    if format not in ("long", "wide"):
        raise ValueError(f"format must be 'long' or 'wide', got {format!r}")
    with resources.files(__package__).joinpath(SENSORS_CSV).open("rb") as f:
        # keep_default_na=False: an empty anomaly_kind means "no anomaly",
        # not a missing value.
        data = pd.read_csv(f, keep_default_na=False, dtype={"sensor": str, "anomaly_kind": str})
    data["timestamp"] = pd.to_datetime(data["timestamp"], format="%Y-%m-%d %H:%M:%S")
    data["is_anomaly"] = data["is_anomaly"].astype(np.int64)
    data = data[list(COLUMNS)]
    return to_wide(data) if format == "wide" else data


def _parse_step(freq: str) -> pd.Timedelta:
    """Turn ``freq`` into a fixed timestep, or raise a clear ValueError."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as err:
        raise ValueError(f"freq={freq!r} is not a pandas frequency alias: {err}") from None
    if not isinstance(offset, pd.offsets.Tick):
        # Month or business-day offsets have no fixed length, so "hours since
        # start" would not be well defined.
        raise ValueError(f"freq must be a fixed interval such as 'h' or '15min', got {freq!r}")
    step = pd.Timedelta(offset)
    if step <= pd.Timedelta(0) or step > _MAX_STEP:
        raise ValueError(
            f"freq must be a positive interval of at most {_MAX_STEP}, so that a day "
            f"has at least 12 points; got {freq!r}"
        )
    return step


def _clean_signal(hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Level, trend, daily and weekly cycles and noise, sensor-specific."""
    level = rng.uniform(10.0, 100.0)
    daily_amp = level * rng.uniform(0.08, 0.25)
    weekly_amp = level * rng.uniform(0.03, 0.10)
    noise_sd = level * rng.uniform(0.01, 0.04)
    # Total change over the series, as a share of the level: mostly upward,
    # like slowly growing load.
    trend = level * rng.uniform(-0.10, 0.20) * hours / max(hours[-1], 1.0)
    day = 2 * np.pi * hours / 24.0
    week = 2 * np.pi * hours / (24.0 * 7)
    phase_day, phase_day2, phase_week = rng.uniform(0.0, 2 * np.pi, size=3)
    # A second harmonic makes the daily profile asymmetric, like a busy
    # morning and a quiet night, rather than a pure sine.
    daily = daily_amp * (np.sin(day + phase_day) + 0.35 * np.sin(2 * day + phase_day2))
    weekly = weekly_amp * np.sin(week + phase_week)
    noise = rng.normal(0.0, noise_sd, size=hours.shape)
    return level + trend + daily + weekly + noise


def _inject_anomalies(
    values: np.ndarray,
    window_kinds: list[str],
    steps_per_hour: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a copy of ``values`` with anomalies and the kind per step."""
    n = len(values)
    values = values.copy()
    kinds = np.full(n, "", dtype=object)
    scale = float(values.std())
    margin = max(1, round(_MARGIN_HOURS * steps_per_hour))

    events = ["spike"] * int(rng.integers(2, 5)) + list(window_kinds)
    rng.shuffle(events)
    # Split the anomalous part into one slot per event and put each event at
    # a random place inside its slot: events spread over the series and never
    # overlap, with no rejection sampling.
    first = int(np.ceil(_CLEAN_FRACTION * n))
    bounds = np.linspace(first, n, len(events) + 1).astype(int)
    for kind, lo, hi in zip(events, bounds[:-1], bounds[1:], strict=True):
        if kind == "spike":
            length = 1
        else:
            low_h, high_h = _WINDOW_KINDS[kind]
            length = max(1, round(rng.uniform(low_h, high_h) * steps_per_hour))
        latest = hi - margin - length
        if latest < lo + margin:  # pragma: no cover - guarded by _MIN_DAYS
            raise ValueError("series too short to place the anomalies; use more n_days")
        s = int(rng.integers(lo + margin, latest + 1))
        e = s + length
        sign = rng.choice([-1.0, 1.0])
        if kind == "spike":
            values[s] += sign * rng.uniform(2.5, 4.0) * scale
        elif kind == "level_shift":
            values[s:e] += sign * rng.uniform(0.8, 1.5) * scale
        elif kind == "drift":
            # Starts one step in, so the first labelled step already differs
            # from the clean value.
            ramp = np.arange(1, length + 1) / length
            values[s:e] += sign * rng.uniform(1.0, 2.0) * scale * ramp
        else:  # stuck
            values[s:e] = values[s - 1]
        kinds[s:e] = kind
    return values, kinds
