"""Windowing and loading benchmark: memory and throughput of the lazy WindowDataset.

One float32 series of 10,000,000 rows x 8 features (320 MB), input_len=512,
horizon=96, one epoch of batches of 256 through the DataLoader. Prints a table.
Target: windowing and loading add less than 1x the input array's size in peak RSS.

    .venv/bin/python benchmarks/windowing.py [--rows 10000000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--input-len", type=int, default=512)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)

    import torch

    from tsrnn.data import WindowDataset, make_loader, make_windows

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    # Drawn straight into float32, so that no float64 copy inflates the peak.
    values = rng.standard_normal((args.rows, args.features), dtype=np.float32)
    array_mb = values.nbytes / 2**20
    base_mb = peak_rss_mb()

    rows = []
    t = time.perf_counter()
    inputs, targets = make_windows(values, args.input_len, args.horizon, targets=1)
    rows.append(("make_windows (views)", inputs.shape[0], time.perf_counter() - t, None))
    assert np.shares_memory(inputs, values) and np.shares_memory(targets, values)

    dataset = WindowDataset(values, np.array([0, args.rows]), args.input_len, args.horizon,
                            n_targets=1)
    for shuffle in (False, True):
        loader = make_loader(dataset, args.batch_size, shuffle=shuffle, seed=0)
        t = time.perf_counter()
        n_batches = 0
        checksum = 0.0
        for batch in loader:
            n_batches += 1
            checksum += float(batch.inputs[0, 0, 0])  # touch the data
        seconds = time.perf_counter() - t
        rows.append((f"DataLoader epoch, shuffle={shuffle}", n_batches, seconds,
                     n_batches / seconds))

    added = peak_rss_mb() - base_mb
    print(f"rows={args.rows:,} features={args.features} input_len={args.input_len} "
          f"horizon={args.horizon} batch_size={args.batch_size} windows={len(dataset):,}")
    print(f"{'step':<32} {'count':>10} {'seconds':>9} {'batches/s':>10}")
    for name, count, seconds, rate in rows:
        rate_s = f"{rate:10.0f}" if rate is not None else f"{'':>10}"
        print(f"{name:<32} {count:>10,} {seconds:9.2f} {rate_s}")
    print(f"input array: {array_mb:.0f} MB; peak RSS before windowing: {base_mb:.0f} MB; "
          f"added by windowing + loading: {added:.0f} MB = {added / array_mb:.2f}x the array "
          f"(target < 1x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
