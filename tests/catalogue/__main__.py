"""``python -m tests.catalogue``: run every case and print the counts per suite and
outcome, then each case that did not pass with its message (``KNOWN_FAILING`` is
ignored: these are today's raw counts).

Options: ``--suite NAME`` runs one suite; ``-k TEXT`` runs the cases whose id
contains TEXT; ``--held-out`` runs only the held-out cases (``held_out.py``, ids
starting ``ho-``). The held-out cases are counted apart from the others.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None) -> int:
    from .core import NAMES, SUITES, run_all
    from .held_out import PREFIX
    from .tables import all_cases

    parser = argparse.ArgumentParser(prog="python -m tests.catalogue")
    parser.add_argument("--suite", choices=SUITES)
    parser.add_argument("-k", dest="keyword")
    parser.add_argument("--held-out", action="store_true")
    args = parser.parse_args(argv)
    cases = [c for c in all_cases() if (args.suite in (None, c.suite))
             and (args.keyword is None or args.keyword in c.id)
             and (not args.held_out or c.id.startswith(PREFIX))]
    start = time.perf_counter()
    outcomes = run_all(cases)
    took = time.perf_counter() - start
    for title, part in (("catalogue", [o for o in outcomes if not o.case.id.startswith(PREFIX)]),
                        ("held out", [o for o in outcomes if o.case.id.startswith(PREFIX)])):
        if not part:
            continue
        counts = Counter((o.case.suite, o.name) for o in part)
        print(f"{title}: {len(part)} cases")
        print(f"  {'suite':<12} {'cases':>5}  outcomes")
        for suite in SUITES:
            names = list(dict.fromkeys(NAMES[suite].values()))
            total = sum(counts[(suite, n)] for n in names)
            if total:
                print(f"  {suite:<12} {total:>5}  "
                      + ", ".join(f"{counts[(suite, n)]} {n}" for n in names))
    print(f"{len(outcomes)} cases in {took:.0f} s")
    failing = [o for o in outcomes if not o.passed]
    if failing:
        print(f"\nnot passing ({len(failing)}):")
        for o in failing:
            print(f"  {o.case.suite}/{o.case.id} [{o.name}]: {o.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
