"""Hostile and corrupt model files, handed to the loaders a user would use. Each
must be refused with a clear error naming the file: never loaded, never running
code, never allocating absurd memory."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import signal
import zipfile
from pathlib import Path

import numpy as np
import torch

from .core import Case, CliResult, Context, Error

SUITE = "model_files"
CASES: list[Case] = []
NAME = "given.tsrnn"


def _write(ctx: Context, make) -> Path:
    """``make(ctx)`` -> bytes or a payload for torch.save; written to a fresh folder."""
    path = ctx.tmp() / NAME
    data = make(ctx)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        buf = io.BytesIO()
        torch.save(data, buf)
        path.write_bytes(buf.getvalue())
    return path


def _forecaster_load(path):
    from tsrnn import Forecaster

    return Forecaster.load(path)


def _detector_load(path):
    from tsrnn import AnomalyDetector

    return AnomalyDetector.load(path)


def _read_model(path):
    from tsrnn.files import read_model

    return read_model(path)


LOADERS = {"load": _forecaster_load, "read_model": _read_model}


def add(id, make, loaders=("load", "read_model"), *culprit):
    for name in loaders:
        def run(ctx, make=make, name=name):
            if name == "cli":
                return ctx.cli("forecast", ctx.sensors_csv, "--model", _write(ctx, make),
                               "--out", ctx.tmp() / "f.csv")
            return LOADERS[name](_write(ctx, make))
        CASES.append(Case(f"{id}[{name}]", SUITE, run, Error(culprit or (NAME,))))


def _bytes(ctx) -> bytes:
    return ctx.forecaster_file.read_bytes()


def _payload(change):
    def make(ctx):
        payload = ctx.payload
        change(payload)
        return payload
    return make


# --- not a model file at all
add("empty-file", lambda ctx: b"", ("load", "read_model", "cli"))
for _frac in (0.01, 0.1, 0.5, 0.9, 0.999):
    add(f"truncated-at-{_frac:g}",
        lambda ctx, f=_frac: _bytes(ctx)[: int(len(_bytes(ctx)) * f)])
add("random-bytes", lambda ctx: np.random.default_rng(0).bytes(4096), ("load", "read_model",
                                                                      "cli"))
add("csv-renamed", lambda ctx: ctx.sensors_csv.read_bytes())


def _zip(ctx) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


add("zip-not-torch", _zip)
add("torch-plain-tensor", lambda ctx: torch.zeros(3))
add("torch-list", lambda ctx: [1, 2, 3])
add("torch-dict-not-tsrnn", lambda ctx: {"weights": torch.zeros(3)})

# --- a payload missing each key, or with a wrong type per key
for _key in ("format", "format_version", "estimator", "params", "state_dict", "fitted",
             "versions"):
    add(f"missing-{_key}", _payload(lambda p, k=_key: p.pop(k)))
for _key, _value in [("format", 1), ("format_version", "1"), ("format_version", 99),
                     ("estimator", 5), ("estimator", "Bogus"), ("params", []),
                     ("params", "cell=gru"), ("state_dict", []), ("state_dict", {}),
                     ("fitted", []), ("fitted", {}), ("versions", None)]:
    add(f"{_key}-is-{_value!r}", _payload(lambda p, k=_key, v=_value: p.__setitem__(k, v)))
add("params-unknown-name", _payload(lambda p: p["params"].__setitem__("colour", "red")))
add("params-hidden-size-text", _payload(lambda p: p["params"].__setitem__("hidden_size", "x")))
add("params-cell-foo", _payload(lambda p: p["params"].__setitem__("cell", "foo")))


def _first_weight(p):
    return next(iter(p["state_dict"]))


add("state-dict-missing-weight", _payload(lambda p: p["state_dict"].pop(_first_weight(p))))
add("state-dict-wrong-shape", _payload(lambda p: p["state_dict"].__setitem__(
    _first_weight(p), torch.zeros(3, 3))))
add("state-dict-text-value", _payload(lambda p: p["state_dict"].__setitem__(
    _first_weight(p), "weights")))
add("state-dict-extra-weight", _payload(lambda p: p["state_dict"].__setitem__(
    "extra.weight", torch.zeros(2))))
add("nan-weights", _payload(lambda p: p["state_dict"].__setitem__(
    _first_weight(p), torch.full_like(p["state_dict"][_first_weight(p)], float("nan")))))
add("zero-scaler-spread", _payload(lambda p: p["fitted"].__setitem__(
    "scaler_spread", torch.zeros_like(p["fitted"]["scaler_spread"]))))
add("nan-scaler-loc", _payload(lambda p: p["fitted"].__setitem__(
    "scaler_loc", torch.full_like(p["fitted"]["scaler_loc"], float("nan")))))
add("fitted-missing-roles", _payload(lambda p: p["fitted"].pop("roles")))
add("fitted-freq-garbage", _payload(lambda p: p["fitted"].__setitem__("freq", "every tuesday")))
add("fitted-context-wrong-shape", _payload(
    lambda p: [p["fitted"].__setitem__(k, torch.zeros(1)) for k in list(p["fitted"])
               if k.startswith("context") and isinstance(p["fitted"][k], torch.Tensor)]))

# --- bytes overwritten in the middle (a bad disk, a bad copy)
for _frac in (0.25, 0.5, 0.75, 0.95):
    def _overwrite(ctx, f=_frac):
        data = bytearray(_bytes(ctx))
        at = int(len(data) * f)
        data[at: at + 64] = np.random.default_rng(1).bytes(64)
        return bytes(data)
    add(f"64-bytes-overwritten-at-{_frac:g}", _overwrite)

# --- the wrong kind of model
CASES.append(Case("forecaster-file-as-detector[load]", SUITE,
                  lambda ctx: _detector_load(ctx.forecaster_file),
                  Error(("forecaster.tsrnn", "Forecaster"))))
CASES.append(Case("detector-file-as-forecaster[load]", SUITE,
                  lambda ctx: _forecaster_load(ctx.detector_file),
                  Error(("detector.tsrnn", "AnomalyDetector"))))


# --- files that would run code or allocate
class _Code:
    """Unpickling this creates the marker file: code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _code_case(id, where, loaders=("load", "read_model", "cli"), force_pickle=False):
    for name in loaders:
        def run(ctx, name=name):
            marker = ctx.root / f"marker-{id}-{name}"

            def make(ctx):
                payload = ctx.payload
                where(payload, _Code(marker))
                return payload
            path = _write(ctx, make)
            env = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"} if force_pickle else {}
            with _env(env):
                try:
                    if name == "cli":
                        result = ctx.cli("forecast", ctx.sensors_csv, "--model", path, "--out",
                                         ctx.tmp() / "f.csv")
                    else:
                        result = LOADERS[name](path)
                finally:
                    ran = marker.exists()
            if ran:
                return "code from the file ran"
            return result
        CASES.append(Case(f"{id}[{name}]", SUITE, run, Error((NAME,))))


@contextlib.contextmanager
def _env(values: dict):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_code_case("pickled-code-in-params", lambda p, code: p["params"].__setitem__("cell", code))
_code_case("pickled-code-as-payload", lambda p, code: p.__setitem__("versions", code))
_code_case("pickled-code-forced-no-weights-only",
           lambda p, code: p["params"].__setitem__("cell", code), force_pickle=True)


class _TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise _TooSlow


def _limited(load, extra_bytes=1_500_000_000, seconds=3.0):
    """Run ``load`` with the address space capped a little above today's and a few
    seconds of time: an absurd allocation or build fails at once instead of
    exhausting the machine (a good file loads in hundredths of a second)."""
    def run(ctx):
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (size + extra_bytes, hard))
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return load(ctx)
        except _TooSlow:
            return f"still building after {seconds:g} s"
        except (MemoryError, RuntimeError) as err:
            if isinstance(err, MemoryError) or "alloc" in str(err) or "memory" in str(err):
                return f"tried to allocate: {str(err).splitlines()[0][:120]}"
            raise
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return run


for _param, _value in [("hidden_size", 60_000), ("num_layers", 100_000),
                       ("input_len", 10**12)]:
    for _name in ("load", "read_model"):
        CASES.append(Case(
            f"tiny-file-{_param}={_value}[{_name}]", SUITE,
            _limited(lambda ctx, p=_param, v=_value, n=_name: LOADERS[n](_write(
                ctx, _payload(lambda pl: pl["params"].__setitem__(p, v))))),
            Error((NAME,))))


# --- checkpoints for `tsrnn train --resume`
TOML = ('task = "forecast"\n[data]\npath = "d.csv"\ntime_col = "timestamp"\n'
        'id_col = "sensor"\ntarget = "value"\n[model]\ninput_len = 8\nhorizon = 2\n'
        'hidden_size = 4\nmax_epochs = 1\naccelerator = "cpu"\n[output]\nmodel = "m.tsrnn"\n')


def _resume_with(make_ckpt, force_pickle=False):
    def run(ctx):
        folder = ctx.tmp()
        (folder / "d.csv").write_text(ctx.sensors_csv.read_text())
        (folder / "run.toml").write_text(TOML)
        (folder / "m.tsrnn.ckpt").mkdir()
        marker = folder / "marker"
        make_ckpt(folder / "m.tsrnn.ckpt" / "last.ckpt", marker)
        env = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"} if force_pickle else {}
        with _env(env):
            result: CliResult = ctx.cli("train", "--config", folder / "run.toml", "--resume",
                                        "-q")
        if marker.exists():
            return "code from the checkpoint ran"
        return result
    return run


def _ckpt_code(path: Path, marker: Path):
    torch.save({"epoch": 0, "state_dict": {}, "hook": _Code(marker)}, path)


def _ckpt_garbage(path: Path, marker: Path):
    path.write_bytes(b"\x00garbage" * 50)


def _ckpt_tensor(path: Path, marker: Path):
    torch.save(torch.zeros(4), path)


for _id, _make, _force in [("resume-last-ckpt-with-code", _ckpt_code, False),
                           ("resume-last-ckpt-with-code-forced", _ckpt_code, True),
                           ("resume-last-ckpt-garbage", _ckpt_garbage, False),
                           ("resume-last-ckpt-plain-tensor", _ckpt_tensor, False)]:
    CASES.append(Case(f"{_id}[cli]", SUITE, _resume_with(_make, _force),
                      Error(("last.ckpt",))))
