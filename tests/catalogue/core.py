"""The catalogue's machinery: a case, what it expects, and the classifier.

A case performs one thing a user might do (a call, a command line, a file handed
over, a fault) and says what should happen: a clear ``Error`` naming the culprit,
or a ``Behaviour`` whose check asserts the documented correct result. ``classify``
runs it and names the outcome.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

import tsrnn

TSRNN_DIR = Path(tsrnn.__file__).resolve().parent
SUITES = ("bad_inputs", "model_files", "faults")
# What each suite calls a pass and a failure (an expected error that is clear, a
# behaviour that holds; an error that is raised but unclear; nothing raised, or a
# broken behaviour).
NAMES = {
    "bad_inputs": {"clear": "clear", "handled": "handled", "unclear": "unclear",
                   "silent": "silent"},
    "model_files": {"clear": "refused", "handled": "refused", "unclear": "unclear",
                    "silent": "unsafe"},
    "faults": {"clear": "held", "handled": "held", "unclear": "lost", "silent": "lost"},
}
PASSING = {"clear", "handled", "refused", "held"}
API_ERRORS = (ValueError, TypeError, FileNotFoundError)  # DataError, NotFittedError too


@dataclass(frozen=True)
class Error:
    """An error is expected; its message must name every culprit.

    ``culprit``: words the one-line message must contain (case-insensitive); an
    item that is a tuple is satisfied by any of its words. ``warn_ok``: a warning
    naming the culprit is as good as an error. ``check``: a further assertion on
    the ``CliResult`` or the exception (e.g. that nothing was trained first).
    """

    culprit: tuple = ()
    warn_ok: bool = False
    check: Callable[[Any, Context], None] | None = None


@dataclass(frozen=True)
class Behaviour:
    """No error is the documented behaviour; ``check(result, ctx)`` asserts it is right."""

    check: Callable[[Any, Context], None]


@dataclass(frozen=True)
class Case:
    id: str
    suite: str
    run: Callable[[Context], Any]
    expect: Error | Behaviour
    slow: bool = False


@dataclass
class CliResult:
    rc: int
    out: str
    err: str


@dataclass
class Outcome:
    case: Case
    verdict: str  # clear, handled, unclear, silent
    message: str = ""

    @property
    def name(self) -> str:
        return NAMES[self.case.suite][self.verdict]

    @property
    def passed(self) -> bool:
        return self.name in PASSING


# ------------------------------------------------------------------ the context
class Context:
    """Shared, lazily built resources: tiny data, fitted models and their files
    (trained once per session), and a fresh folder per case."""

    FAST_F = dict(input_len=8, horizon=2, hidden_size=4, max_epochs=1, batch_size=16,
                  accelerator="cpu", random_state=0, patience=None)
    FAST_D = dict(window=8, hidden_size=4, max_epochs=1, batch_size=16, n_models=1,
                  accelerator="cpu", random_state=0, patience=None)

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[str, Any] = {}
        self._n = 0

    def tmp(self) -> Path:
        self._n += 1
        path = self.root / f"case-{self._n}"
        path.mkdir()
        return path

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # --- data
    @staticmethod
    def wide(n: int = 80, seed: int = 0) -> pd.DataFrame:
        """One hourly series ``y`` on a DatetimeIndex."""
        rng = np.random.default_rng(seed)
        t = np.arange(n)
        return pd.DataFrame({"y": 10 + np.sin(t / 3) + 0.1 * rng.standard_normal(n)},
                            index=pd.date_range("2024-01-01", periods=n, freq="h"))

    @staticmethod
    def sensors(n: int = 80, seed: int = 0, spike: bool = True) -> pd.DataFrame:
        """Two hourly sensors, long format, with a labelled spike in the first."""
        rng = np.random.default_rng(seed)
        parts = []
        for k in range(2):
            value = 10 * k + np.sin(np.arange(n) / 4) + 0.1 * rng.standard_normal(n)
            label = np.zeros(n, dtype=int)
            if spike and k == 0:
                value[n // 2] += 8
                label[n // 2] = 1
            parts.append(pd.DataFrame({
                "timestamp": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
                "sensor": f"s{k}", "value": value.round(4), "is_anomaly": label}))
        return pd.concat(parts, ignore_index=True)

    def forecaster(self, **params):
        from tsrnn import Forecaster

        return Forecaster(**{**self.FAST_F, **params})

    def detector(self, **params):
        from tsrnn import AnomalyDetector

        return AnomalyDetector(**{**self.FAST_D, **params})

    # --- fitted once
    @property
    def fitted_forecaster(self):
        return self._once("ff", lambda: self.forecaster().fit(self.wide()))

    @property
    def fitted_detector(self):
        return self._once("fd", lambda: self.detector().fit(self.wide()))

    @property
    def long_detector(self):
        """A detector of the two sensors (time, id and target columns)."""
        return self._once("ld", lambda: self.detector().fit(
            self.sensors().drop(columns=["is_anomaly"]), time_col="timestamp",
            id_col="sensor", target="value"))

    @property
    def stateful_detector(self):
        """The same, fitted with ``stateful=True``."""
        return self._once("sd", lambda: self.detector(stateful=True).fit(
            self.sensors().drop(columns=["is_anomaly"]), time_col="timestamp",
            id_col="sensor", target="value"))

    @property
    def sensors_csv(self) -> Path:
        def make():
            path = self.root / "sensors.csv"
            self.sensors().to_csv(path, index=False)
            return path
        return self._once("csv", make)

    @property
    def forecaster_file(self) -> Path:
        def make():
            path = self.root / "forecaster.tsrnn"
            self.forecaster().fit(self.sensors().drop(columns=["is_anomaly"]),
                                  time_col="timestamp", id_col="sensor",
                                  target="value").save(path)
            return path
        return self._once("ffile", make)

    @property
    def detector_file(self) -> Path:
        def make():
            path = self.root / "detector.tsrnn"
            self.long_detector.save(path)
            return path
        return self._once("dfile", make)

    @property
    def payload(self) -> dict:
        """The forecaster file's payload, to corrupt (a fresh copy each time)."""
        import torch

        return torch.load(self.forecaster_file, weights_only=True)

    # --- the command line
    def cli(self, *argv: Any, stdin: str | None = None) -> CliResult:
        """Run ``tsrnn ARGV`` in this process, as a user would in a shell."""
        from tsrnn.cli import main

        out, err = io.StringIO(), io.StringIO()
        old_in = sys.stdin
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main([str(a) for a in argv])
        finally:
            sys.stdin = old_in
        return CliResult(rc, out.getvalue(), err.getvalue())


# ------------------------------------------------------------------ classifying
def _has(text: str, culprit: tuple) -> list[str]:
    """The culprit items ``text`` lacks."""
    low = text.lower()
    missing = []
    for item in culprit:
        options = item if isinstance(item, tuple) else (item,)
        if not any(str(o).lower() in low for o in options):
            missing.append(" or ".join(repr(o) for o in options))
    return missing


ERROR_LINE = re.compile(r"^tsrnn( \w+)?: (error|interrupted)")


def _judge_cli(res: CliResult, expect: Error) -> tuple[str, str]:
    if res.rc == 0:
        return "silent", f"exit 0; stderr: {res.err.strip()[-200:]!r}"
    if "Traceback" in res.err:
        return "unclear", f"exit {res.rc} with a traceback: {res.err.strip()[-300:]!r}"
    lines = [ln for ln in res.err.splitlines() if ERROR_LINE.match(ln)]
    if len(lines) != 1:
        return "unclear", f"exit {res.rc}, no one-line error: {res.err.strip()[-300:]!r}"
    line = lines[0]
    if "--debug shows the traceback" in line:
        return "unclear", f"an unexpected error: {line}"
    missing = _has(line, expect.culprit)
    if missing:
        return "unclear", f"does not name {', '.join(missing)}: {line}"
    return "clear", line


def _judge_exception(exc: BaseException, expect: Error) -> tuple[str, str]:
    text = str(exc).strip()
    frames = traceback.extract_tb(exc.__traceback__)
    where = Path(frames[-1].filename) if frames else None
    head = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:300]
    if isinstance(exc, NotFittedError):  # sklearn's check_is_fitted: the contract
        return "clear", head
    if not isinstance(exc, API_ERRORS):
        return "unclear", f"{head} (a {type(exc).__name__})"
    if where is None or not where.is_absolute() or TSRNN_DIR not in where.resolve().parents:
        return "unclear", f"{head} (raised in {where})"
    if not text or len(text.splitlines()) > 1:
        return "unclear", f"{head} (not one line)"
    missing = _has(text, expect.culprit)
    if missing:
        return "unclear", f"does not name {', '.join(missing)}: {head}"
    return "clear", head


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def classify(case: Case, ctx: Context) -> Outcome:
    """Perform ``case`` and name its outcome."""
    expect = case.expect
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = case.run(ctx)
        except Exception as exc:  # noqa: BLE001 - every error is a finding
            if isinstance(expect, Behaviour):
                return Outcome(case, "silent" if case.suite != "bad_inputs" else "unclear",
                               f"raised {_one_line(exc)}")
            verdict, message = _judge_exception(exc, expect)
            if verdict == "clear" and expect.check is not None:
                verdict, message = _extra(expect.check, exc, ctx, message)
            return Outcome(case, verdict, message)
    if isinstance(expect, Behaviour):
        try:
            expect.check(result, ctx)
        except AssertionError as err:
            return Outcome(case, "silent", f"check failed: {str(err).strip()[:300]}")
        return Outcome(case, "handled")
    if isinstance(result, CliResult):
        verdict, message = _judge_cli(result, expect)
        if verdict == "clear" and expect.check is not None:
            verdict, message = _extra(expect.check, result, ctx, message)
        return Outcome(case, verdict, message)
    if expect.warn_ok:
        for w in caught:
            if not _has(str(w.message), expect.culprit):
                return Outcome(case, "clear", f"warned: {str(w.message)[:200]}")
    shown = "" if result is None else f": returned {type(result).__name__}"
    return Outcome(case, "silent", f"no error{shown}")


def _extra(check, result, ctx, message) -> tuple[str, str]:
    try:
        check(result, ctx)
    except AssertionError as err:
        return "silent", f"{message}; but {str(err).strip()[:200]}"
    return "clear", message


def run_all(cases, root: Path | None = None) -> list[Outcome]:
    with contextlib.ExitStack() as stack:
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        ctx = Context(root)
        cwd = os.getcwd()
        try:
            return [classify(case, ctx) for case in cases]
        finally:
            os.chdir(cwd)


@contextlib.contextmanager
def denied_writes(folder: Path):
    """Inside the block no file can be created in ``folder``, and a write-access
    check of it says no: what a non-root user meets in a folder not theirs (as
    root every folder is writable)."""
    real_open, real_access = os.open, os.access

    def deny_open(path, flags, *a, **kw):
        if flags & os.O_CREAT and Path(path).parent == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a, **kw)

    def deny_access(path, mode, *a, **kw):
        if Path(path) == folder and mode & os.W_OK:
            return False
        return real_access(path, mode, *a, **kw)

    os.open, os.access = deny_open, deny_access
    try:
        yield
    finally:
        os.open, os.access = real_open, real_access


def folder_with_a_bad_file(ctx, command: str, model, bad: str):
    """A folder run of ``command`` with ``--model``: three sensors files, the middle
    one replaced by the text ``bad``. Returns the CLI result and the output folder."""
    folder = ctx.tmp()
    inputs = folder / "in"
    inputs.mkdir()
    for k in range(3):
        ctx.sensors(seed=k).drop(columns="is_anomaly").to_csv(inputs / f"f{k}.csv",
                                                               index=False)
    (inputs / "f1.csv").write_text(bad)
    return ctx.cli(command, inputs, "--model", model, "--out", folder / "out", "-q"), \
        folder / "out"
