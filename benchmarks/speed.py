"""Training and prediction speed of the Forecaster. Prints tables; not a test.

1. Lightning overhead: seconds per optimizer step of ``Forecaster.fit`` against a
   plain PyTorch loop over the same network and the same batches (target <= 1.15).
2. The peers' setting: univariate ETTh1 OT, input 96, hidden 64, one layer,
   batch 32, one torch thread: seconds per 100 optimizer steps, for each cell,
   step-wise (``segment_len=1``, as Darts and NeuralForecast run) and with tsrnn's
   default segments. ``benchmarks/peers.py`` times the peers themselves beside these,
   in one run, at horizon 96.
3. Seconds per epoch on ETTh1 (7 channels, defaults) for each cell.
4. Latency of one ``predict`` call on a fitted model.
5. ``--decoders``: only this: milliseconds per training step of the network alone,
   direct head against parallel decoding, at ETTh1's long horizons with the
   ``"auto"`` inputs (64 windows of 7 channels, GRU of 128, segments of 48).

Step times come from the difference of two runs (N and N + 100 steps), so the
fixed cost of starting the Trainer cancels out. Compare ratios within one run:
this machine is noisy.

    .venv/bin/python benchmarks/speed.py
    .venv/bin/python benchmarks/speed.py --decoders
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TRAIN = 12 * 30 * 24


def _ett(columns):
    from tsrnn.datasets import load_ett

    df = load_ett("ETTh1", path=SHARED / "ett", download=False)
    return df.iloc[:TRAIN][["date", *columns]]


def fit_seconds(df, target, steps: int, **params) -> float:
    from tsrnn import Forecaster

    model = Forecaster(val_size=0, max_epochs=1, random_state=0,
                       trainer_kwargs={"limit_train_batches": steps}, **params)
    started = time.perf_counter()
    model.fit(df, time_col="date", target=target)
    return time.perf_counter() - started


def per_100_steps(df, target, **params) -> float:
    """Seconds per 100 optimizer steps through Forecaster.fit (Lightning)."""
    fit_seconds(df, target, 5, **params)  # warm-up: imports, allocator
    return fit_seconds(df, target, 120, **params) - fit_seconds(df, target, 20, **params)


def plain_per_100_steps(df, target, **params) -> float:
    """The same network and batches, trained by a bare PyTorch loop."""
    from tsrnn import Forecaster
    from tsrnn.data import Scaler, SeriesData, WindowDataset, chronological_split, make_loader
    from tsrnn.nn import ForecastNet

    model = Forecaster(**params)
    data = SeriesData.from_dataframe(df, time_col="date", target=target)
    split = chronological_split(data, model.input_len, model.horizon, val_size=0, test_size=0)
    scaled = Scaler("standard").fit(data.values, data.offsets).transform(data.values,
                                                                         data.offsets)
    ds = WindowDataset.from_series(data, model.input_len, model.horizon, starts=split.train,
                                   values=scaled)

    def run(steps: int) -> float:
        torch.manual_seed(0)
        net = ForecastNet(data.values.shape[1], data.n_targets, model.input_len,
                          model.horizon, cell=model.cell, hidden_size=model.hidden_size,
                          segment_len=model._segment_len())
        opt = torch.optim.Adam(net.parameters(), lr=model.lr)
        started = time.perf_counter()
        for i, batch in enumerate(make_loader(ds, model.batch_size, shuffle=True, seed=0)):
            if i == steps:
                break
            loss = torch.nn.functional.mse_loss(net(batch.inputs)[..., 0], batch.targets)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        return time.perf_counter() - started

    run(5)
    return run(120) - run(20)


def decoder_steps_ms(input_len: int, horizon: int, repeats: int = 6) -> dict[str, float]:
    """Milliseconds per Adam step of a bare ForecastNet, per strategy; the two are
    timed in turns so the machine's load falls on both alike."""
    from tsrnn.nn import ForecastNet

    torch.manual_seed(0)
    x, y = torch.randn(64, input_len, 7), torch.randn(64, horizon, 7)
    nets = {s: ForecastNet(7, 7, input_len, horizon, strategy=s, segment_len=48)
            for s in ("direct", "parallel")}
    optimizers = {s: torch.optim.Adam(net.parameters()) for s, net in nets.items()}
    took = dict.fromkeys(nets, 0.0)
    for repeat in range(repeats):
        for s, net in nets.items():
            started = time.perf_counter()
            for _ in range(5):
                loss = (net(x)[..., 0] - y).abs().mean()
                optimizers[s].zero_grad()
                loss.backward()
                optimizers[s].step()
            if repeat:  # the first turn warms up
                took[s] += time.perf_counter() - started
    return {s: 1e3 * t / (5 * (repeats - 1)) for s, t in took.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-epochs", action="store_true")
    parser.add_argument("--decoders", action="store_true",
                        help="only: direct against parallel decoding at long horizons")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.decoders:
        print(f"ms per training step, {torch.get_num_threads()} thread(s)")
        print(f"{'input':>5} {'horizon':>7} {'direct':>8} {'parallel':>9} {'ratio':>6}")
        for input_len, horizon in ((672, 336), (720, 720)):
            ms = decoder_steps_ms(input_len, horizon)
            print(f"{input_len:>5} {horizon:>7} {ms['direct']:8.0f} {ms['parallel']:9.0f} "
                  f"{ms['parallel'] / ms['direct']:6.2f}")
        return 0
    cells = ("rnn", "lstm", "gru")
    uni = _ett(["OT"])
    peer = dict(input_len=96, horizon=24, hidden_size=64, num_layers=1, batch_size=32)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print("\n1. Lightning overhead (univariate OT, peers' setting, segment_len=1)")
    print(f"{'cell':<6} {'plain s/100':>12} {'fit s/100':>10} {'ratio':>7}")
    for cell in cells:
        plain = plain_per_100_steps(uni, "OT", cell=cell, segment_len=1, **peer)
        fit = per_100_steps(uni, "OT", cell=cell, segment_len=1, **peer)
        print(f"{cell:<6} {plain:12.3f} {fit:10.3f} {fit / plain:7.2f}")

    print("\n2. Seconds per 100 optimizer steps, peers' setting (Darts and NeuralForecast "
          "side by side: benchmarks/peers.py)")
    print(f"{'cell':<6} {'segment_len=1':>14} {'default segments':>17}")
    for cell in cells:
        step = per_100_steps(uni, "OT", cell=cell, segment_len=1, **peer)
        seg = per_100_steps(uni, "OT", cell=cell, **peer)
        print(f"{cell:<6} {step:14.3f} {seg:17.3f}")

    if not args.skip_epochs:
        from tsrnn import Forecaster

        multi = _ett(["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"])
        targets = list(multi.columns[1:])
        print("\n3. Seconds per training epoch, ETTh1 train part, 7 channels, defaults")
        print(f"{'cell':<6} {'s/epoch':>8} {'predict ms':>11}")
        for cell in cells:
            took = []
            for epochs in (1, 2):  # the difference is one epoch, without the set-up
                model = Forecaster(cell, val_size=0, max_epochs=epochs, random_state=0)
                started = time.perf_counter()
                model.fit(multi, time_col="date", target=targets)
                took.append(time.perf_counter() - started)
            epoch = took[1] - took[0]
            model.predict()
            lat = []
            for _ in range(50):
                started = time.perf_counter()
                model.predict()
                lat.append(time.perf_counter() - started)
            print(f"{cell:<6} {epoch:8.2f} {1e3 * float(np.median(lat)):11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
