"""Shared test set-up."""

import os

import pytest

# The tests train tiny models: one thread is as fast as two here (51 s against
# 50 s for the suite), and it stays fast on a busy machine, where two spinning
# OpenMP threads per process slowed the suite 20-fold. Set before torch is
# imported, so subprocesses (the command-line tests) inherit it too.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Ray's workers (tests/distributed, the README's Ray section) are new processes that
# start in other folders: they find this checkout's tsrnn only through an absolute
# PYTHONPATH entry (``PYTHONPATH=.`` would name their own folder).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(
    [_ROOT, *(os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
              if p)]))


class _PickledCode:
    """Unpickles as a call that creates ``marker``: stands for the code a hostile
    file would run. Harmless, and the marker shows whether it ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from pathlib import Path

        return (Path.touch, (Path(self.marker),))


@pytest.fixture
def pickled_code(tmp_path):
    """``(code, marker)``: an object to hide in a file, and the file that appears
    if loading that file ever runs it."""
    marker = tmp_path / "code-ran"
    return _PickledCode(marker), marker
