"""Every case of the three suites, in one list: the catalogue's own cases, then
the held-out ones (``held_out.py``, ids starting ``ho-``), which keep their
suite's outcome names."""

from __future__ import annotations


def all_cases():
    from . import bad_inputs, faults, held_out, model_files

    return [*bad_inputs.CASES, *model_files.CASES, *faults.CASES, *held_out.CASES]
