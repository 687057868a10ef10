"""``tsrnn export``: write a saved model as an ONNX graph for serving with
onnxruntime alone (see :mod:`tsrnn.export.onnx`)."""

from __future__ import annotations

from pathlib import Path

from tsrnn.cli._options import UsageError, common_options
from tsrnn.cli._runs import _check_writable

EXAMPLES = """\
examples (s1.tsrnn and detector.tsrnn: as the forecast and detect examples make them):
  tsrnn export --model s1.tsrnn --out s1.onnx               # also writes s1.onnx.json
  tsrnn export --model detector.tsrnn --out detector.onnx

The graph takes values in original units and each series' scaling statistics
(loc, spread: in the .json metadata, per fitted series), and has a dynamic batch
(series) axis. A forecaster's gives its forecast in original units; a detector's
gives the network's raw squared errors (a stateful detector's: one step of its
stream, with the recurrent state in and out). The metadata list the inputs and
outputs with their shapes. Needs the onnx extra: pip install 'tsrnn[onnx]'.
"""


def add_parser(command) -> None:
    """Add ``tsrnn export`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    p = command("export", "Export a saved forecaster or detector as an ONNX graph, with "
                "its metadata beside it (OUT.json).", [common_options()], EXAMPLES)
    p.add_argument("--model", type=Path, required=True, help="saved forecaster or detector "
                   "(.tsrnn)")
    p.add_argument("--out", type=Path, required=True, help="ONNX file to write (.onnx)")
    p.set_defaults(run=run_export)


def run_export(args) -> int:
    """``tsrnn export``: load ``--model`` and write ``--out`` and ``--out``.json."""
    from tsrnn.files import read_model

    if str(args.out) == "-" or args.out.suffix != ".onnx":
        raise UsageError(f"--out {args.out}: expected a file name ending in .onnx")
    if not args.out.parent.is_dir():
        raise FileNotFoundError(f"--out {args.out}: folder {args.out.parent} does not exist")
    _check_writable("--out", args.out)
    if not args.model.is_file():
        raise FileNotFoundError(f"--model {args.model}: no such file")
    model = read_model(args.model)
    from tsrnn.export.onnx import export_onnx

    meta = export_onnx(model, args.out)
    if not args.quiet:
        inputs = ", ".join(f"{k} {v}" for k, v in meta["inputs"].items())
        print(f"wrote {args.out} ({meta['kind']}; inputs: {inputs}) and {args.out}.json")
    return 0
