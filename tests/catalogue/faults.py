"""Fault injections: interrupts, kills, full disks, malformed and broken streams,
concurrent writers, resuming. Each checks that nothing written is lost and
nothing half-written is left."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .core import Behaviour, Case, CliResult, folder_with_a_bad_file

SUITE = "faults"
CASES: list[Case] = []
ROOT = Path(__file__).resolve().parents[2]


def held(id, run, check, slow=False):
    CASES.append(Case(id, SUITE, run, Behaviour(check), slow=slow))


@contextlib.contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


FAST = ["--hidden-size", "4", "--epochs", "2", "--set", "batch_size=16", "--set",
        "accelerator='cpu'", "-q"]
COLS = ["--time-col", "timestamp", "--id-col", "sensor", "--target", "value"]


# ------------------------------------------------------------ interrupts
@contextlib.contextmanager
def _ctrl_c_in_training():
    """Ctrl+C arrives during the first training step."""
    from tsrnn.training import ForecastingModule, ReconstructionModule

    def ctrl_c(self, *args):
        raise KeyboardInterrupt

    with patched(ForecastingModule, "_loss", ctrl_c), \
            patched(ReconstructionModule, "_loss", ctrl_c):
        yield


def _interrupt_training(command):
    def run(ctx):
        folder = ctx.tmp()
        out, model = folder / "out.csv", folder / "m.tsrnn"
        extra = ["--input-len", "8", "--horizon", "2"] if command == "forecast" else \
            ["--window", "8", "--set", "n_models=1"]

        with _ctrl_c_in_training():
            res = ctx.cli(command, ctx.sensors_csv, *COLS, *extra, *FAST, "--out", out,
                          "--save-model", model)
        return res, folder

    def check(result, ctx):
        res, folder = result
        assert res.rc == 130, f"exit {res.rc}: {res.err[-200:]}"
        assert "interrupted" in res.err, res.err[-200:]
        left = sorted(p.name for p in folder.iterdir())
        assert left == [], f"left behind: {left}"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, \
            "Ctrl+C no longer interrupts"
    return run, check


held("ctrl-c-during-forecast-training", *_interrupt_training("forecast"))
held("ctrl-c-during-detect-training", *_interrupt_training("detect"))


def _api_interrupt(ctx):
    model = ctx.forecaster()
    try:
        with _ctrl_c_in_training():
            model.fit(ctx.wide())
    except KeyboardInterrupt:
        caught = "KeyboardInterrupt"
    except SystemExit as exit_:
        caught = f"SystemExit({exit_.code})"
    else:
        caught = "nothing"
    handler = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # for the cases after
    return caught, handler, model


def _api_interrupt_check(result, ctx):
    caught, handler, model = result
    assert caught == "KeyboardInterrupt", f"Ctrl+C in fit() raised {caught}"
    assert handler is signal.default_int_handler, f"SIGINT handler left as {handler!r}"
    assert not hasattr(model, "net_"), "a half-trained network was kept"


held("ctrl-c-during-api-fit", _api_interrupt, _api_interrupt_check)


def _interrupted_write(what, exc):
    def run(ctx):
        folder = ctx.tmp()
        out = folder / ("out.csv" if what == "out" else "m.tsrnn")
        out.write_bytes(b"an older, good result\n")

        def power_cut(obj, f, *a, **kw):
            f.write(b"half" if "b" in getattr(f, "mode", "") else "half")
            raise exc()

        if what == "out":
            with patched(pd.DataFrame, "to_csv", power_cut):
                res = ctx.cli("forecast", ctx.sensors_csv, "--model", ctx.forecaster_file,
                              "--out", out)
        else:
            with patched(torch, "save", power_cut):
                res = ctx.cli("forecast", ctx.sensors_csv, *COLS, "--input-len", "8",
                              "--horizon", "2", *FAST, "--out", folder / "f.csv",
                              "--save-model", out)
        return res, folder, out

    def check(result, ctx):
        res, folder, out = result
        assert res.rc != 0, "exit 0 after a failed write"
        assert "Traceback" not in res.err, res.err[-300:]
        assert out.read_bytes() == b"an older, good result\n", "the older output was lost"
        assert _hidden(folder) == [], f"temporary files left: {_hidden(folder)}"
    return run, check


held("ctrl-c-while-writing-out", *_interrupted_write("out", KeyboardInterrupt))
held("ctrl-c-while-saving-model", *_interrupted_write("model", KeyboardInterrupt))
held("disk-full-while-writing-out", *_interrupted_write(
    "out", lambda: OSError(28, "No space left on device")))
held("disk-full-while-saving-model", *_interrupted_write(
    "model", lambda: OSError(28, "No space left on device")))


def _folder_interrupt(ctx):
    folder = ctx.tmp()
    inputs = folder / "in"
    inputs.mkdir()
    for k in range(3):
        ctx.sensors(seed=k).drop(columns="is_anomaly").to_csv(inputs / f"f{k}.csv",
                                                               index=False)
    outs = folder / "out"
    calls = []
    real = pd.DataFrame.to_csv

    def second_write_dies(frame, f=None, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(frame, f, *a, **kw)

    with patched(pd.DataFrame, "to_csv", second_write_dies):
        res = ctx.cli("forecast", inputs, "--model", ctx.forecaster_file, "--out", outs, "-q")
    return res, outs


def _folder_interrupt_check(result, ctx):
    res, outs = result
    assert res.rc == 130, f"exit {res.rc}: {res.err[-200:]}"
    names = sorted(p.name for p in outs.iterdir())
    assert names == ["f0.csv"], f"outputs after the interrupt: {names}"
    assert len(pd.read_csv(outs / "f0.csv")) == 4


held("ctrl-c-in-a-folder-run-keeps-finished-files", _folder_interrupt, _folder_interrupt_check)


def _folder_bad_file(ctx):
    return folder_with_a_bad_file(ctx, "forecast", ctx.forecaster_file,
                                  "timestamp,sensor,value\n2024-01-01,s0,abc\n")


def _folder_bad_file_check(result, ctx):
    res, outs = result
    assert res.rc == 1, f"exit {res.rc}"
    assert sorted(p.name for p in outs.iterdir()) == ["f0.csv", "f2.csv"]
    assert "f1.csv" in res.err + res.out


held("folder-run-with-one-bad-file-does-the-others", _folder_bad_file, _folder_bad_file_check)


# ------------------------------------------------------------ kills
def _python(code: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, text=True, **kw)


KILL_MID_WRITE = """
import os, signal, sys
import pandas as pd, torch
from tsrnn.cli import main
what = sys.argv[1] if len(sys.argv) > 1 else {what!r}
def die(obj, f, *a, **kw):
    f.write(b"half" if "b" in getattr(f, "mode", "") else "half")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
if what == "out":
    pd.DataFrame.to_csv = die
else:
    torch.save = die
main({argv!r})
"""


def _killed(ctx, what):
    """Run a command in a subprocess that is SIGKILLed half-way through writing."""
    key = f"killed-{what}"
    if key in ctx._cache:
        return ctx._cache[key]
    folder = ctx.tmp()
    target = folder / ("out.csv" if what == "out" else "m.tsrnn")
    target.write_bytes(b"an older, good result\n")
    if what == "out":
        argv = ["forecast", str(ctx.sensors_csv), "--model", str(ctx.forecaster_file),
                "--out", str(target)]
    else:
        argv = ["forecast", str(ctx.sensors_csv), *COLS, "--input-len", "8", "--horizon", "2",
                *FAST, "--out", str(folder / "f.csv"), "--save-model", str(target)]
    proc = _python(KILL_MID_WRITE.format(what=what, argv=argv), stderr=subprocess.DEVNULL)
    rc = proc.wait(timeout=120)
    ctx._cache[key] = (rc, folder, target, argv)
    return ctx._cache[key]


def _kill_keeps_older(what):
    def check(result, ctx):
        rc, folder, target, _ = result
        assert rc == -signal.SIGKILL, f"the subprocess was not killed (exit {rc})"
        assert target.read_bytes() == b"an older, good result\n", "a half-written file"
    return lambda ctx: _killed(ctx, what), check


def _stale_cleaned(what):
    def run(ctx):
        rc, folder, target, argv = _killed(ctx, what)
        stale = _hidden(folder)
        if what == "out":
            res = ctx.cli(*argv)
        else:
            res = ctx.cli("forecast", ctx.sensors_csv, "--model", ctx.forecaster_file,
                          "--out", folder / "f.csv")
            from tsrnn import Forecaster

            Forecaster.load(ctx.forecaster_file).save(target)
        return res, stale, folder

    def check(result, ctx):
        res, stale, folder = result
        assert res.rc == 0, res.err[-200:]
        assert stale, "the kill left no temporary file (nothing to clean)"
        assert _hidden(folder) == [], f"stale temporary files kept: {_hidden(folder)}"
    return run, check


held("sigkill-while-writing-out-keeps-older", *_kill_keeps_older("out"), slow=True)
held("sigkill-while-saving-model-keeps-older", *_kill_keeps_older("model"), slow=True)
held("stale-temp-from-killed-out-cleaned-next-run", *_stale_cleaned("out"), slow=True)
held("stale-temp-from-killed-save-cleaned-next-save", *_stale_cleaned("model"), slow=True)


STREAM_LINES = [f"2024-01-10 {h:02d}:00:00,s0,{1.0 + h / 10}" for h in range(24)]


def _stream_killed(ctx):
    proc = _python("from tsrnn.cli import main; import sys; "
                   f"sys.exit(main(['stream', '--model', {str(ctx.detector_file)!r}]))",
                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    guard = threading.Timer(120, proc.kill)  # only against a hang
    guard.start()
    got = []
    try:
        proc.stdin.write("timestamp,sensor,value\n")
        proc.stdin.flush()
        for line in STREAM_LINES[:10]:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        while len(got) < 11:
            line = proc.stdout.readline()
            if not line:
                break
            got.append(line)
        proc.kill()
        proc.wait(timeout=30)
        rest = proc.stdout.read()
    finally:
        guard.cancel()
        proc.kill()
    return got, rest


def _stream_killed_check(result, ctx):
    got, rest = result
    assert len(got) == 11, f"{len(got)} lines before the kill, expected 11"
    assert all(g.count(",") == 4 for g in got[1:]), got
    assert rest == "", f"output after the kill: {rest!r}"


held("stream-sigkill-keeps-lines-written", _stream_killed, _stream_killed_check, slow=True)


def _stream_broken_pipe(ctx):
    feed = "timestamp,sensor,value\n" + "\n".join(STREAM_LINES) + "\n"
    proc = subprocess.run(
        f"{sys.executable} -c \"from tsrnn.cli import main; import sys; "
        f"sys.exit(main(['stream', '--model', '{ctx.detector_file}']))\" | head -n 3",
        shell=True, input=feed, capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    return proc


def _broken_pipe_check(proc, ctx):
    assert len(proc.stdout.splitlines()) == 3
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr, proc.stderr[-300:]


held("stream-reader-goes-away", _stream_broken_pipe, _broken_pipe_check, slow=True)


# ------------------------------------------------------ malformed streams
def _stream(text, stdin=None):
    return lambda ctx: ctx.cli("stream", "--model", ctx.detector_file, stdin=text)


def _scored(n, rc=0):
    def check(res: CliResult, ctx):
        assert "Traceback" not in res.err, res.err[-300:]
        rows = res.out.splitlines()
        assert len(rows) == 1 + n, f"{len(rows) - 1} lines scored, expected {n}: {res.err[-200:]}"
        assert res.rc == rc, f"exit {res.rc}, expected {rc}"
    return check


HEADER = "timestamp,sensor,value"
held("stream-blank-lines", _stream(HEADER + "\n" + "\n\n".join(STREAM_LINES[:6]) + "\n"),
     _scored(6))
held("stream-crlf-lines", _stream(HEADER + "\r\n" + "\r\n".join(STREAM_LINES[:6]) + "\r\n"),
     _scored(6))
held("stream-bom-header", _stream("\ufeff" + HEADER + "\n" + "\n".join(STREAM_LINES[:6])
                                  + "\n"), _scored(6))
held("stream-header-with-spaces", _stream("timestamp, sensor, value\n"
                                          + "\n".join(STREAM_LINES[:6]) + "\n"), _scored(6))
held("stream-last-line-without-newline", _stream(HEADER + "\n" + "\n".join(STREAM_LINES[:6])),
     _scored(6))
held("stream-quoted-fields", _stream(HEADER + "\n" + "\n".join(
    '"{}","{}","{}"'.format(*ln.split(",")) for ln in STREAM_LINES[:6]) + "\n"), _scored(6))
held("stream-header-only", _stream(HEADER + "\n"), _scored(0))
held("stream-columns-reordered", _stream("value,timestamp,sensor\n" + "\n".join(
    "{2},{0},{1}".format(*ln.split(",")) for ln in STREAM_LINES[:6]) + "\n"), _scored(6))
held("stream-nan-line-skipped", _stream(HEADER + "\n" + "\n".join(
    STREAM_LINES[:3] + ["2024-01-10 03:00:00,s0,nan"] + STREAM_LINES[4:7]) + "\n"),
    _scored(6, rc=1))
held("stream-unterminated-quote", _stream(HEADER + "\n" + "\n".join(
    STREAM_LINES[:3] + ['2024-01-10 03:30:00,s0,"1.0'] + STREAM_LINES[4:7]) + "\n"),
    _scored(6, rc=1))


def _stream_interrupted(ctx):
    class Feed(io.StringIO):
        """Four lines, then Ctrl+C, however the stream reads (lines or iteration)."""

        lines = iter([HEADER + "\n", *(line + "\n" for line in STREAM_LINES[:4])])

        def readline(self, size=-1):
            for line in self.lines:
                return line
            raise KeyboardInterrupt

        def __iter__(self):
            return iter(self.readline, "")

    from tsrnn.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = Feed()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["stream", "--model", str(ctx.detector_file)])
    finally:
        sys.stdin = old
    return CliResult(rc, out.getvalue(), err.getvalue())


def _interrupted_check(res, ctx):
    assert res.rc == 130, f"exit {res.rc}"
    assert len(res.out.splitlines()) == 5, res.out


held("stream-ctrl-c-keeps-lines-written", _stream_interrupted, _interrupted_check)


def _failed_update_changes_nothing(ctx):
    from tsrnn.data import DataError

    det = ctx.long_detector
    points = [(f"2024-01-10 {h:02d}:00:00", [[1.0 + h / 10], [11.0 - h / 10]]) for h in range(12)]
    a, b = det.stream(), det.stream()
    for t, v in points[:6]:
        a.update(t, v, series=["s0", "s1"])
        b.update(t, v, series=["s0", "s1"])
    with contextlib.suppress(DataError):  # s1's value is bad: the whole call is refused
        a.update(points[6][0], [[1.6], [float("nan")]], series=["s0", "s1"])
    scores = []
    for t, v in points[6:]:
        scores.append((a.update(t, v, series=["s0", "s1"]).score,
                       b.update(t, v, series=["s0", "s1"]).score))
    return scores


def _same_scores(scores, ctx):
    for x, y in scores:
        np.testing.assert_allclose(x, y, err_msg="a refused update changed the stream")


held("stream-refused-update-changes-nothing", _failed_update_changes_nothing, _same_scores)


def _gap_then_scores(ctx):
    s = ctx.long_detector.stream()
    res = [s.update(f"2024-01-10 {h:02d}:00:00", [1.0 + h / 10], series=["s0"])
           for h in list(range(10)) + list(range(12, 24))]
    return res


def _gap_check(res, ctx):
    assert res[10].gap[0], "the skipped hours were not flagged as a gap"
    assert not res[10].ready[0] and res[-1].ready[0], "no warm-up after the gap"


held("stream-gap-warms-up-again", _gap_then_scores, _gap_check)


# ------------------------------------------------------ concurrent writers
def _concurrent_out(ctx):
    folder = ctx.tmp()
    a = folder / "a.csv"
    b = folder / "b.csv"
    ctx.sensors(seed=1).drop(columns="is_anomaly").to_csv(a, index=False)
    ctx.sensors(seed=2, n=90).drop(columns="is_anomaly").to_csv(b, index=False)
    out = folder / "out.csv"
    from tsrnn.cli import main

    codes = []

    def write(src):
        for _ in range(3):
            codes.append(main(["forecast", str(src), "--model", str(ctx.forecaster_file),
                               "--out", str(out), "-q"]))

    threads = [threading.Thread(target=write, args=(src,)) for src in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = []
    for src in (a, b):
        main(["forecast", str(src), "--model", str(ctx.forecaster_file), "--out",
              str(folder / f"{src.stem}.expected"), "-q"])
        expected.append((folder / f"{src.stem}.expected").read_text())
    return codes, out.read_text(), expected, folder


def _concurrent_check(result, ctx):
    codes, text, expected, folder = result
    assert codes == [0] * 6, codes
    assert text in expected, "the output is a mix of the two writers"
    assert _hidden(folder) == [], _hidden(folder)


held("two-writers-one-out", _concurrent_out, _concurrent_check)


def _concurrent_save(ctx):
    from tsrnn import Forecaster

    folder = ctx.tmp()
    path = folder / "m.tsrnn"
    models = [Forecaster.load(ctx.forecaster_file), ctx.fitted_forecaster]

    def save(m):
        for _ in range(5):
            m.save(path)

    threads = [threading.Thread(target=save, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Forecaster.load(path), models, folder


def _concurrent_save_check(result, ctx):
    loaded, models, folder = result
    assert any(loaded.target_names_ == m.target_names_ and loaded.input_len == m.input_len
               for m in models)
    assert _hidden(folder) == [], _hidden(folder)


held("two-savers-one-model-file", _concurrent_save, _concurrent_save_check)


# ------------------------------------------------------------ resuming
TOML = ('task = "forecast"\n[data]\npath = "d.csv"\ntime_col = "timestamp"\n'
        'id_col = "sensor"\ntarget = "value"\n[model]\ninput_len = 8\nhorizon = 2\n'
        'hidden_size = 4\nmax_epochs = 4\npatience = 10\naccelerator = "cpu"\n'
        'batch_size = 16\n[output]\nmodel = "m.tsrnn"\n')


def _resume(ctx):
    from tsrnn import Forecaster
    from tsrnn.callbacks import LastCheckpoint

    runs = {}
    for name in ("whole", "cut"):
        folder = ctx.tmp()
        ctx.sensors().drop(columns="is_anomaly").to_csv(folder / "d.csv", index=False)
        (folder / "run.toml").write_text(TOML)
        train = ["train", "--config", folder / "run.toml", "-q"]
        if name == "cut":
            save = LastCheckpoint.on_train_epoch_end

            def ctrl_c(self, trainer, pl_module, save=save):
                save(self, trainer, pl_module)
                if trainer.current_epoch == 1:
                    raise KeyboardInterrupt

            with patched(LastCheckpoint, "on_train_epoch_end", ctrl_c):
                first = ctx.cli(*train)
            assert first.rc == 130, f"the interrupted run exited {first.rc}: {first.err}"
            signal.signal(signal.SIGINT, signal.default_int_handler)
            train.append("--resume")
        res = ctx.cli(*train)
        assert res.rc == 0, res.err[-300:]
        runs[name] = Forecaster.load(folder / "m.tsrnn")
    return runs


def _resume_check(runs, ctx):
    whole, cut = runs["whole"].training_summary_, runs["cut"].training_summary_
    assert cut["epochs"] == whole["epochs"], (cut, whole)
    assert cut["best_val_loss"] == whole["best_val_loss"], \
        f"best val loss {cut['best_val_loss']} after resuming, {whole['best_val_loss']} uncut"
    pd.testing.assert_frame_equal(runs["cut"].predict(), runs["whole"].predict())


held("resume-reproduces-the-uninterrupted-run", _resume, _resume_check)
