"""``--engine ray``: the files of a folder run as Ray tasks, each doing what the
local engine does with that file (the same function), so the outputs are the same.

The tasks write their outputs themselves, from the command's working folder: on a
cluster, that folder and the inputs and outputs must be on a file system every
node shares. A saved model (``--model``) travels as its model file's bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tsrnn.cli._options import UsageError, _in_flags
from tsrnn.cli._runs import _about, _for_each_file, _Run


def engine_options() -> argparse.ArgumentParser:
    """--engine and --ray-address, for commands that run over a folder."""
    engine = argparse.ArgumentParser(add_help=False)
    g = engine.add_argument_group("engine (a folder of inputs)")
    g.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="run the files one after the other in this process (local, the "
                   "default), or as Ray tasks over the cores of this machine or a cluster "
                   "(ray: pip install 'tsrnn[ray]'); the outputs are the same")
    g.add_argument("--ray-address", metavar="ADDRESS", help="the Ray cluster to run on "
                   "(e.g. auto, ray://head:10001; default: RAY_ADDRESS, or a Ray started "
                   "for this command on this machine)")
    return engine


def for_each_file(run: _Run, work: Callable[[_Run, Path], dict], what: str) -> list[dict]:
    """``work(run, path)`` for every input file, on the engine ``--engine`` names:
    the rows of the summary table, in the files' order."""
    args = run.args
    if args.engine == "local":
        if args.ray_address is not None:
            raise UsageError("--ray-address names a Ray cluster: it needs --engine ray")
        return _for_each_file(run, lambda path: work(run, path), what)
    if not run.folder:
        raise UsageError("--engine ray runs the files of a folder as Ray tasks: give a "
                         "folder (one file runs in this process, without --engine)")
    from tqdm import tqdm

    from tsrnn.distributed.engine import model_bytes, ray_session, reachable, run_each

    try:
        reachable(args.ray_address)
    except ConnectionError as err:
        raise UsageError(f"--ray-address {args.ray_address}: {err}") from None
    shared = {"work": work, "cwd": os.getcwd(), "params": run.params, "columns": run.columns,
              "flags": run.flags,
              "args": {k: v for k, v in vars(args).items() if k not in ("parser", "run")},
              "model": None if run.model is None else model_bytes(run.model)}
    bar = tqdm(total=len(run.files), desc=what, unit="file", disable=args.quiet,
               file=sys.stderr, dynamic_ncols=True)

    def done(k: int, outcome) -> None:
        path = run.files[k]
        ok, value = outcome
        if ok:
            for note in value["notes"].values():
                bar.write(f"tsrnn {args.command}: warning: {path}: {note}", file=sys.stderr)
            run.notes.update(value["notes"])
        else:
            bar.write(_about(path, _in_flags(value, run.flags)), file=sys.stderr)
        bar.update()

    # A Ray this command starts is stopped when it ends.
    with ray_session(args.ray_address, keep=False):
        outcomes = run_each(_work_file, shared, [str(p) for p in run.files], engine="ray",
                            on_done=done)
    bar.close()
    return [{"file": path.name, "result": "ok", **value["result"]} if ok
            else {"file": path.name, "result": "FAILED", "detail": _in_flags(value, run.flags)}
            for path, (ok, value) in zip(run.files, outcomes, strict=True)]


def _work_file(shared: dict, path: str) -> dict:
    """In a Ray worker: one file, as the local engine runs it."""
    from tsrnn.distributed.engine import model_from_bytes

    if not os.path.isdir(shared["cwd"]):
        raise FileNotFoundError(f"the command's working folder {shared['cwd']} is not on this "
                                "Ray node: run from a file system every node shares")
    os.chdir(shared["cwd"])  # relative inputs and outputs mean what they mean to the user
    args = argparse.Namespace(**shared["args"])
    args.quiet = True  # a worker has no terminal; the summary reports each file
    run = _Run(args, [Path(path)], folder=True, params=shared["params"],
               columns=shared["columns"], flags=shared["flags"])
    if shared["model"] is not None:
        run.model = model_from_bytes(shared["model"], str(args.model))
    result = shared["work"](run, Path(path))
    return {"result": result, "notes": run.notes}
