"""``tsrnn export``: write a saved model as an ONNX graph for serving with
onnxruntime alone (see :mod:`tsrnn.export.onnx`)."""

from __future__ import annotations

from pathlib import Path

from tsrnn.cli._options import UsageError, common_options
from tsrnn.cli._runs import _check_writable

EXAMPLES = """\
examples (s1.tsrnn and detector.tsrnn: as the forecast and detect examples make them):
  tsrnn export s1.tsrnn --onnx s1.onnx               # also writes s1.onnx.json
  tsrnn export detector.tsrnn --onnx detector.onnx

The graph takes values in original units and has a dynamic batch (series) axis.
A forecaster's also takes each series' scaling statistics (loc, spread: in the
.json metadata, per fitted series) and gives its forecast in original units; a
detector's gives the network's raw squared errors (a stateful detector's: one
step of its stream, with the recurrent state in and out), which
tsrnn.export.scores.detector_scores turns into scores with numpy alone; a
classifier's gives class probabilities. The metadata list the inputs and
outputs with their shapes. Needs the onnx extra: pip install 'tsrnn[onnx]'.
--model and --out are the older spellings of MODEL and --onnx.
"""


def add_parser(command) -> None:
    """Add ``tsrnn export`` through ``command`` (:func:`add_command` bound to the
    subparsers)."""
    p = command("export", "Export a saved forecaster, detector or classifier as an ONNX "
                "graph, with its metadata beside it (ONNX.json).", [common_options()], EXAMPLES)
    p.add_argument("model", type=Path, nargs="?", metavar="MODEL",
                   help="saved model (.tsrnn)")
    p.add_argument("--model", type=Path, dest="model_option", help="the same as MODEL")
    p.add_argument("--onnx", "--out", type=Path, required=True, help="ONNX file to write "
                   "(.onnx)")
    p.set_defaults(run=run_export)


def run_export(args) -> int:
    """``tsrnn export``: load MODEL and write ``--onnx`` and ``--onnx``.json."""
    from tsrnn.files import read_model

    if (args.model is None) == (args.model_option is None):
        raise UsageError("give the saved model once: as MODEL or --model")
    model_path, flag = (args.model, "MODEL") if args.model else (args.model_option, "--model")
    out = args.onnx
    if str(out) == "-" or out.suffix != ".onnx":
        raise UsageError(f"--onnx {out}: expected a file name ending in .onnx")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--onnx {out}: folder {out.parent} does not exist")
    _check_writable("--onnx", out)
    if not model_path.is_file():
        raise FileNotFoundError(f"{flag} {model_path}: no such file")
    model = read_model(model_path, classifier=True)
    meta = model.to_onnx(out)
    if not args.quiet:
        inputs = ", ".join(f"{k} {v}" for k, v in meta["inputs"].items())
        print(f"wrote {out} ({meta['kind']}; inputs: {inputs}) and {out}.json")
    return 0
