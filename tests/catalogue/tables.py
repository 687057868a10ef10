"""Every case of the three suites, in one list."""

from __future__ import annotations


def all_cases():
    from . import bad_inputs, faults, model_files

    return [*bad_inputs.CASES, *model_files.CASES, *faults.CASES]
