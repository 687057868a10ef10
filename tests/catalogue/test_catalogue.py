"""The reliability catalogue under pytest: every case must be clear, handled,
refused or held. Today's failures are strict xfails listed in ``KNOWN_FAILING``
(``tests/catalogue/__init__.py``); a fix turns one into an XPASS, which fails the
run until its id is removed there."""

from __future__ import annotations

import pytest

from . import KNOWN_FAILING
from .core import Context, classify
from .tables import all_cases

CASES = all_cases()


def _param(case):
    marks = []
    if case.id in KNOWN_FAILING:
        marks.append(pytest.mark.xfail(strict=True, reason=f"issue 13: {KNOWN_FAILING[case.id]}"))
    if case.slow:
        marks.append(pytest.mark.slow)
    return pytest.param(case, id=f"{case.suite}/{case.id}", marks=marks)


@pytest.fixture(scope="session")
def catalogue_ctx(tmp_path_factory):
    return Context(tmp_path_factory.mktemp("catalogue"))


def test_ids_are_unique_and_known_failures_exist():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert set(KNOWN_FAILING) <= set(ids), set(KNOWN_FAILING) - set(ids)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case, catalogue_ctx):
    outcome = classify(case, catalogue_ctx)
    assert outcome.passed, f"{outcome.name}: {outcome.message}"
