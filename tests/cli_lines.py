"""Run shell command lines as the README and the ``--help`` examples show them:
``tsrnn ...`` lines in-process through :func:`tsrnn.cli.main` (with ``<`` and ``>``
redirections), any other line in bash with the venv's scripts on ``PATH``."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import sysconfig


def command_lines(code: str) -> list[str]:
    """A shell block's command lines: continuations joined, comment-only lines dropped."""
    lines, current = [], ""
    for raw in code.splitlines():
        current = f"{current} {raw.strip()}" if current else raw.strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        if shlex.split(current, comments=True):
            lines.append(current)
        current = ""
    assert not current, f"a continuation with nothing after it: {current!r}"
    return lines


def run_command(line: str, where: str) -> None:
    from tsrnn.cli import main

    words = shlex.split(line, comments=True)
    if words[0] != "tsrnn":
        env = dict(os.environ)
        env["PATH"] = sysconfig.get_path("scripts") + os.pathsep + env.get("PATH", "")
        done = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True)
        assert done.returncode == 0, (
            f"{where}: `{line}` exited with {done.returncode}:\n{done.stderr}"
        )
        return
    stdin = stdout = None
    argv = []
    it = iter(words[1:])
    for word in it:
        if word == "<":
            stdin = next(it)
        elif word == ">":
            stdout = next(it)
        else:
            assert word not in {"|", "&&", ";", ">>", "2>"}, (
                f"{where}: `{line}`: only < and > are understood here"
            )
            argv.append(word)
    with contextlib.ExitStack() as stack:
        if stdin is not None:
            stack.enter_context(replaced_stdin(stdin))
        if stdout is not None:
            out = stack.enter_context(open(stdout, "w", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(out))
        code = main(argv)
    assert code == 0, f"{where}: `{line}` exited with {code}"


@contextlib.contextmanager
def replaced_stdin(path: str):
    old = sys.stdin
    with open(path, encoding="utf-8") as f:
        sys.stdin = f
        try:
            yield
        finally:
            sys.stdin = old
