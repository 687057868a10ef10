"""One command run over a file or a folder of files: inputs, output checks before
any training, per-file errors, the summary table, and writing outputs."""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tsrnn.cli._config import _columns, _params, _training_flags_given, read_config
from tsrnn.cli._options import (
    EXIT_FAILED,
    EXIT_OK,
    TASKS,
    UsageError,
    _in_flags,
    _one_line,
    flags_of,
)


def _fit(model, df, columns: dict, *, progress: bool, checkpoint_dir=None, resume=False):
    """Train ``model`` on ``df``; Lightning is imported here, by the first fit.

    With ``--distributed ddp`` Lightning runs the command again in each extra
    process; those end here, once they have trained: the first process writes
    the outputs."""
    from tsrnn.files import is_main_process
    from tsrnn.training import fit_options

    try:
        with fit_options(checkpoint_dir=checkpoint_dir, resume=resume, progress=progress):
            model.fit(df, **columns)
    except KeyboardInterrupt:  # fit_module turns Lightning's exit back into this
        hint = ""
        if checkpoint_dir is not None:
            hint = (f"the last finished epoch is kept in {checkpoint_dir}; run the same "
                    "command with --resume to continue from it")
        raise KeyboardInterrupt(hint) from None
    if not is_main_process():
        raise SystemExit(EXIT_OK)
    return model


def _regular(run: _Run, path: Path, attempt: Callable[[dict], Any]) -> Any:
    """``attempt(extra)``, where ``extra`` are estimator parameters for reading the
    file. A file with gaps in its time axis is, unless the run chose with
    ``--resample`` / ``--no-resample``, tried again on the regular grid with the
    empty steps filled (``--fill``, default interpolation), and a warning says so:
    real sensor files have gaps, and refusing them serves no one."""
    from tsrnn.data import GapError

    try:
        return _warning_lines(run, path, lambda: attempt({}))
    except GapError as err:
        if "resample" in run.params:
            raise GapError(err.detail, "Use --resample (with --fill ffill or interpolate) to "
                           "put the series on a regular grid, or --freq if the frequency was "
                           "inferred wrongly") from None
        fill = run.params.get("fill") or "interpolate"
        # (evaluate reads a saved model's data and has no --no-resample)
        refuse = " (--no-resample refuses such files)" if hasattr(run.args, "resample") else ""
        run.warn(path, f"resampled onto a regular grid, empty steps filled by {fill}"
                 f"{refuse}; first gap: {err.detail}")
        return _warning_lines(run, path, lambda: attempt({"resample": True, "fill": fill}))


def _warning_lines(run: _Run, path: Path, call: Callable[[], Any]) -> Any:
    """``call()``, each warning it gives printed once as one line about ``path``
    (``tsrnn forecast: warning: ...``), never as Python's two lines with a source
    line of tsrnn's."""
    from tsrnn.backtest import InSampleBacktestWarning

    with warnings.catch_warnings(record=True) as caught:  # the filters set still apply
        result = call()
    said = set()
    for w in caught:
        if isinstance(w.message, InSampleBacktestWarning):
            note = (f"{w.message.n_in_sample} of the {w.message.n_origins} backtest origins "
                    "forecast values the model was trained on (up to "
                    f"{w.message.training_end}): in-sample errors. Use --retrain, or a model "
                    "trained on data before --start")
        else:
            note = _in_flags(str(w.message).strip().split("\n")[0], run.flags)
        if note not in said:
            said.add(note)
            run.warn(path, note)
    return result


def _read(run: _Run, path: Path):
    """``path``'s table, with its id column's text kept where reading it as numbers
    would change it (:func:`tsrnn.files.read_csv`)."""
    from tsrnn.files import read_table

    roles = getattr(run.model, "roles_", None) or {}
    id_col = roles.get("id_col") if run.model is not None else run.columns.get("id_col")
    return read_table(path, text_cols=[] if id_col is None else [id_col])


def _use(model, extra: dict, call: Callable[[Any], Any]) -> Any:
    """``call(model)``, with ``model`` reading data with ``extra`` parameters (put
    back afterwards: a loaded model is shared by every file of a folder run)."""
    before = {name: getattr(model, name) for name in extra}
    model.set_params(**extra)
    try:
        return call(model)
    finally:
        model.set_params(**before)


@dataclass
class _Run:
    """What every file of one command run shares."""

    args: argparse.Namespace
    files: list[Path]
    folder: bool
    info: TextIO = field(default_factory=lambda: sys.stdout)
    model: Any = None  # a loaded model (--model), shared by every file
    params: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # file name -> a warning for the summary
    flags: dict | None = None  # the messages' settings as flags: flags_of(args.parser)

    def __post_init__(self) -> None:
        if self.flags is None:
            self.flags = flags_of(self.args.parser)

    def say(self, message: str) -> None:
        if not self.args.quiet:
            print(message, file=sys.stderr, flush=True)

    def warn(self, path: Path, note: str) -> None:
        """A warning about one file: printed now (even with -q: it is no progress
        message), and kept for the folder summary's ``note`` column."""
        print(f"tsrnn {self.args.command}: warning: {path}: {note}", file=sys.stderr,
              flush=True)
        self.notes[path.name] = note

    def output(self, option, path: Path, suffix: str) -> Path | None:
        """Where ``path``'s output goes: ``option`` itself for one file, or
        ``<option>/<stem><suffix>`` for a folder run (or when it names a folder)."""
        if option is None or str(option) == "-":
            return None
        option = Path(option)
        if self.folder or option.is_dir():
            return option / f"{path.stem}{suffix}"
        return option


DATA_SUFFIXES = (".csv", ".tsv", ".parquet")


def _inputs(args) -> tuple[list[Path], bool]:
    data: Path = args.data
    if data.is_dir():
        files = sorted(p for p in data.iterdir()
                       if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"no {', '.join(DATA_SUFFIXES)} files in folder {data}")
        return files, True
    if not data.exists():
        raise FileNotFoundError(f"{data}: no such file")
    return [data], False


def _check_destinations(run: _Run, options: dict[str, tuple[Any, str]]) -> None:
    """Fail before any training when an output cannot be written where asked, or would
    overwrite an input. ``options``: flag -> (its value, the suffix of its files)."""
    inputs = {p.resolve() for p in run.files}
    taken: dict[Path, str] = {}  # where each output goes, and which flag sends it there
    for flag, (option, suffix) in options.items():
        if option is None or str(option) == "-":
            continue
        option = Path(option)
        if run.folder:
            if option.exists() and not option.is_dir():
                raise UsageError(f"{flag} {option}: with a folder of inputs, give a folder")
            option.mkdir(parents=True, exist_ok=True)
        for path in run.files:
            target = run.output(option, path, suffix)
            if not target.parent.is_dir():
                raise FileNotFoundError(f"{flag} {option}: folder {target.parent} does not "
                                        "exist")
            if target.resolve() in inputs:
                raise UsageError(f"{flag} {option} would overwrite the input file {path}")
            if target.resolve() in taken:  # the second write would replace the first
                raise UsageError(f"{flag} {option} and {taken[target.resolve()]} both "
                                 f"write {target}")
            taken[target.resolve()] = flag
            if suffix.endswith(".png"):
                _check_image_format(flag, target)
            _check_writable(flag, target)


def _check_image_format(flag: str, target: Path) -> None:
    """A figure's file ending names a format matplotlib writes (none: PNG); else the
    forecast would be written, then the figure fail."""
    ending = target.suffix.lstrip(".").lower()
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:  # drawing says what it needs to be installed
        return
    formats = FigureCanvasBase.get_supported_filetypes()
    if ending and ending not in formats:
        raise UsageError(f"{flag} {target}: .{ending} is not an image format (use one of "
                         f"{', '.join('.' + f for f in sorted(formats))})")


def _check_writable(flag: str, target: Path) -> None:
    from tsrnn.files import check_writable

    try:
        check_writable(target)
    except OSError as err:
        raise type(err)(f"{flag} {target}: {err}") from None


def _about(path: Path, text: str) -> str:
    """``text`` naming ``path``, once: many messages name their file already."""
    return text if str(path) in text else f"{path}: {text}"


@contextlib.contextmanager
def _naming(path: Path):
    """Errors about the data (a ValueError, as DataError is) name the file at fault."""
    try:
        yield
    except (ValueError, OSError) as err:
        text = _one_line(err)
        if str(path) not in text:
            err.args = (f"{path}: {text}",)
        raise


def _for_each_file(run: _Run, work: Callable[[Path], dict], what: str) -> list[dict]:
    """Run ``work`` on every input file. One file: errors propagate (one line,
    naming the file). A folder: a failing file is reported and skipped."""
    if not run.folder:
        path = run.files[0]
        with _naming(path):
            return [{"file": path.name, "result": "ok", **work(path)}]
    from tqdm import tqdm

    results = []
    bar = tqdm(run.files, desc=what, unit="file", disable=run.args.quiet, file=sys.stderr,
               dynamic_ncols=True)
    for path in bar:
        bar.set_postfix_str(path.name)
        try:
            results.append({"file": path.name, "result": "ok", **work(path)})
        except Exception as err:
            if run.args.debug:
                traceback.print_exc()
            bar.write(_about(path, _one_line(err, run.flags)), file=sys.stderr)
            results.append({"file": path.name, "result": "FAILED",
                            "detail": _one_line(err, run.flags)})
    bar.close()
    return results


def _summary(run: _Run, results: list[dict], columns: list[str]) -> int:
    """Print the per-file table of a folder run; exit code 1 if any file failed."""
    failed = sum(r["result"] != "ok" for r in results)
    if run.folder:
        for r in results:
            if r["file"] in run.notes:
                r["note"] = run.notes[r["file"]]
        print(_table(results, ["file", "result", *columns, "detail", "note"]), file=run.info)
        print(f"{len(results)} files: {len(results) - failed} ok, {failed} failed",
              file=run.info, flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def _table(rows: list[dict], columns: list[str]) -> str:
    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    columns = [c for c in columns if any(c in r for r in rows)]
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
              for row in cells]
    return "\n".join(lines)


def _write_frame(run: _Run, frame, option, path: Path, suffix: str) -> str:
    from tsrnn.files import write_csv

    if str(option) == "-":
        frame.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
        return "standard output"
    out = run.output(option, path, suffix)
    write_csv(frame, out)
    return str(out)


def _save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from tsrnn.files import atomic_write

    try:
        with atomic_write(path, "wb") as f:
            fig.savefig(f, format=path.suffix.lstrip(".").lower() or "png", dpi=110,
                        bbox_inches="tight")
    finally:
        plt.close(fig)  # a folder run draws many figures


def _prepare(args, task: str, flags: dict) -> _Run:
    """Inputs, the shared model or training settings, and output checks."""
    files, folder = _inputs(args)
    run = _Run(args, files, folder, info=sys.stderr if str(args.out) == "-" else sys.stdout)
    if str(args.out) == "-" and folder:
        raise UsageError("--out - (standard output) takes one input file, not a folder")
    if args.model is not None:
        if _training_flags_given(args, flags):
            raise UsageError("--model uses a saved model as it was trained: training options "
                             "(--config, --set, --cell, --alerts, columns, ...) are set when "
                             "a model is trained")
        if args.save_model is not None:
            raise UsageError("--save-model saves a model trained here; with --model nothing "
                             "is trained")
        from tsrnn._checks import a_or_an
        from tsrnn.files import read_model

        run.model = read_model(args.model)
        if type(run.model).__name__ != TASKS[task]:
            raise ValueError(f"{args.model} holds {a_or_an(type(run.model).__name__)}; "
                             f"`tsrnn {task}` needs {a_or_an(TASKS[task])}")
    else:
        config = read_config(args.config) if args.config else {}
        if config.get("task", task) != task:
            raise UsageError(f"{args.config} is a {config['task']} config, not {task}")
        run.params = _params(args, task, config, flags)
        run.columns = _columns(args, config)
        if folder and run.params.get("distributed") == "ddp":
            raise UsageError("--distributed ddp runs the command again in each process, "
                             "for one training: for a folder use --distributed ddp_spawn")
    _check_destinations(run, {
        "--out": (args.out, ".csv"), "--plot": (args.plot, ".png"),
        "--plot-attention": (getattr(args, "plot_attention", None), ".attention.png"),
        "--save-model": (args.save_model, ".tsrnn")})
    return run


def _times(frame, model):
    """``frame``'s time axis (its index when there is no time column), parsed as
    ``model`` parses it: integers stay integers, anything else becomes timestamps
    (in UTC when their offsets differ, as across a DST change; text that reads
    either way, as the training text was)."""
    from tsrnn.data.time_axis import _parse_times

    return _parse_times(frame, model.roles_["time_col"], model.dayfirst_)[0].to_numpy()


METRIC_NAMES = {
    "mse": "MSE", "mae": "MAE", "rmse": "RMSE",
    # MAPE and sMAPE in one unit; MASE says what its 1 is (tsrnn.metrics.mase).
    "mape": "MAPE (percent; actual values of 0 left out)",
    "smape": "sMAPE (percent, 0 to 200)",
    "mase": "MASE (1 = in-sample one-step naive MAE, m=1)",
    "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC",
    "labelled_share": "share of labelled anomalies (PR-AUC by chance)",
    "vus_pr": "VUS-PR", "best_f1": "F1 at the best threshold",
    "precision": "precision of the 0/1 labels", "recall": "recall of the 0/1 labels",
    "f1": "F1 of the 0/1 labels",
}


def _print_metrics(result: dict, stream: TextIO) -> None:
    for key, name in METRIC_NAMES.items():
        if key in result:
            print(f"{name:<48} {result[key]:.4f}", file=stream)
    stream.flush()
