"""``tsrnn datasets``: the sample data shipped with tsrnn, as CSV files to try the
other commands on (their ``--help`` examples use them)."""

from __future__ import annotations

import sys

from tsrnn.cli._options import EXIT_OK, UsageError, common_options

EXAMPLES = """\
examples:
  tsrnn datasets list
  tsrnn datasets export sensors sensors.csv            # long: one row per sensor and hour
  tsrnn datasets export sensors-wide sensors-wide.csv  # wide: one column per sensor
"""

# name -> (what it is, how to load it); all ship inside the package: no download.
DATASETS = {
    "sensors": ("4 hourly sensors over 120 days, long format (timestamp, sensor, value, "
                "is_anomaly, anomaly_kind): 11,520 rows with labelled anomalies",
                lambda: _sensors("long")),
    "sensors-wide": ("the same 4 sensors, wide format (timestamp, sensor_1 ... sensor_4): "
                     "2,880 rows", lambda: _sensors("wide").reset_index()),
}


def _sensors(form: str):
    from tsrnn.datasets import load_sensors

    return load_sensors(form)


def add_parser(command) -> None:
    """Add ``tsrnn datasets`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    p = command("datasets", "List the sample datasets shipped with tsrnn, or write one to a "
                "CSV file.", [common_options()], EXAMPLES)
    p.add_argument("action", choices=["list", "export"], help="list the datasets, or export one")
    p.add_argument("name", nargs="?", help="the dataset to export (see `tsrnn datasets list`)")
    p.add_argument("out", nargs="?", help="the CSV file to write ('-': standard output)")
    p.set_defaults(run=run_datasets)


def run_datasets(args) -> int:
    """``tsrnn datasets list`` / ``tsrnn datasets export NAME OUT``."""
    if args.action == "list":
        if args.name is not None:
            raise UsageError("list takes no dataset name")
        width = max(map(len, DATASETS))
        for name, (about, _) in DATASETS.items():
            print(f"{name:<{width}}  {about}")
        return EXIT_OK
    if args.name is None or args.out is None:
        raise UsageError("export needs a dataset name and an output file, e.g. "
                         "`tsrnn datasets export sensors sensors.csv`")
    if args.name not in DATASETS:
        raise UsageError(f"no dataset {args.name!r}; choose from {sorted(DATASETS)}")
    frame = DATASETS[args.name][1]()
    if args.out == "-":
        frame.to_csv(sys.stdout, index=False)
        return EXIT_OK
    from tsrnn.cli._runs import _check_writable
    from tsrnn.files import write_csv

    _check_writable("OUT", args.out)
    write_csv(frame, args.out)
    if not args.quiet:
        print(f"wrote {args.out} ({len(frame):,} rows)", file=sys.stderr)
    return EXIT_OK
