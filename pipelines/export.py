"""`python -m pipelines.export`: ``tsrnn export`` as a script.

The command itself (arguments, files, outputs) lives in ``tsrnn/cli/``, so the
script and the installed ``tsrnn`` command never drift apart.
"""

from __future__ import annotations

import sys

from tsrnn.cli import main as tsrnn


def main(argv: list[str] | None = None) -> int:
    return tsrnn(["export", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
