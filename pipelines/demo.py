"""`make demo`: the main job tsrnn can run so far, on the embedded default dataset.

Loads the synthetic multi-sensor stream that ships with tsrnn, validates it, splits
it in time, scales it on the training part, windows it, and prints what a model
would be trained on. Later issues grow this into the full tour (train, forecast,
detect).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-len", type=int, default=168, help="steps of history (1 week)")
    parser.add_argument("--horizon", type=int, default=24, help="steps to forecast (1 day)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    from tsrnn.data import Scaler, SeriesData, WindowDataset, chronological_split, make_loader
    from tsrnn.datasets import load_sensors

    df = load_sensors()
    print(f"default dataset: {len(df):,} rows, columns {list(df.columns)}")
    data = SeriesData.from_dataframe(df, time_col="timestamp", id_col="sensor", target="value")
    print(f"{data.n_series} series {data.ids}, frequency {data.freq.freqstr}, "
          f"lengths {data.lengths.tolist()}, features {list(data.feature_names)}")

    split = chronological_split(data, args.input_len, args.horizon, val_size=0.15,
                                test_size=0.15)
    scaler = Scaler("standard").fit(data.values, data.offsets, fit_rows=split.train_end)
    scaled = scaler.transform(data.values, data.offsets)

    print(f"\nwindows of input_len={args.input_len}, horizon={args.horizon} "
          "(inputs may look back across a border, targets never cross one):")
    print(f"{'part':<6} {'windows':>8} {'from':>20} {'to (target end)':>20}  batch shapes")
    for name, starts in (("train", split.train), ("val", split.val), ("test", split.test)):
        ds = WindowDataset.from_series(data, args.input_len, args.horizon, starts=starts,
                                       values=scaled)
        first = next(iter(make_loader(ds, args.batch_size)))
        last_row = int(starts[-1]) + args.input_len + args.horizon - 1
        print(f"{name:<6} {len(ds):>8,} {str(data.times[int(starts[0])]):>20} "
              f"{str(data.times[last_row]):>20}  inputs {tuple(first.inputs.shape)} "
              f"targets {tuple(first.targets.shape)}")
    loc = scaler.loc_[:, 0].round(2).tolist()
    print(f"\nscaler fitted on the training rows only: mean per sensor {loc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
