"""Regenerate the sample dataset shipped with tsrnn.

Usage, from the repository root::

    python datasets/make_sensors.py                  # rewrites tsrnn/datasets/sensors.csv
    python datasets/make_sensors.py --output out.csv

The data is ``tsrnn.datasets.make_sensor_data()`` with its defaults; only
the values are rounded, to 4 decimals, to keep the file small.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tsrnn.datasets import make_sensor_data

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "tsrnn" / "datasets" / "sensors.csv"


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``make_sensor_data()`` to a CSV file; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"CSV file to write (default: {DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)

    data = make_sensor_data()
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    # Temporary file in the same folder, then an atomic rename: an
    # interrupted run never leaves a half-written dataset behind. Not
    # tempfile.mkstemp, whose 0600 mode would end up in the package data.
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            # "\n" on every platform, so regenerating on Windows gives the
            # same file.
            data.to_csv(
                f,
                index=False,
                float_format="%.4f",
                date_format="%Y-%m-%d %H:%M:%S",
                lineterminator="\n",
            )
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    size_kb = output.stat().st_size / 1024
    print(f"wrote {len(data)} rows, {size_kb:.0f} KiB, to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
