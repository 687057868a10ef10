"""ONNX export of fitted estimators (``pip install 'tsrnn[onnx]'``).

:func:`export_onnx` writes one ONNX graph per estimator, and beside it a JSON
sidecar ``<path>.json`` (also stored in the graph's ``metadata_props`` under
``"tsrnn"``) with what a runtime needs: the graph's inputs and outputs, the
tsrnn version, the parameters, the target names, each fitted series' scaling
statistics, the lengths, the frequency and, for a detector, the threshold, error
scales, likelihood priors and value ranges (what :mod:`tsrnn.export.scores`
needs).

Every graph takes values in original units: the scaling is inside the graph.
A forecaster's and a detector's take a per-series ``loc`` and ``spread`` (the
sidecar's ``scaling`` for a fitted series); a classifier's scaling is one for
all sequences, a constant of the graph. The batch (series) axis is dynamic.

What each estimator exports
---------------------------
``Forecaster``
    ``values [B, input_len, F]`` (targets, past, then future covariates, as at
    fit), ``loc, spread [B, F]`` and, with known-future covariates,
    ``future [B, horizon, n_future]`` -> ``forecast [B, horizon, targets,
    quantiles]`` in original units (what ``predict`` returns, before framing).
``AnomalyDetector`` (windowed)
    ``values [B, window, F]`` (``score="forecast"``: ``window + 1`` rows, the
    window and the point it forecasts), ``loc, spread [B, F]`` and, with a
    calendar, ``calendar [B, rows, 2 * cycles]`` (``tsrnn.data.calendar``'s
    features) -> ``errors``: the squared errors of the targets in scaled units,
    the mean over ensemble members; ``[B, window, F]`` (reconstruction) or
    ``[B, F]`` (forecast). This is the network's raw error: dividing by the
    sidecar's ``error_scale`` and the post-processing (smoothing, likelihood,
    range check, cooldown) are stateful over time and stay outside the graph.
``AnomalyDetector`` (``stateful=True``)
    One step of the stream: ``values [B, F]``, ``loc, spread [B, F]``,
    ``calendar [B, 2 * cycles]`` when used, the previous step's ``pred [M, B,
    F]`` and the recurrent state ``h [M, L, B, H]`` (and ``c`` for an LSTM)
    -> ``error [B, F]`` (the mean over members of the squared miss of ``pred``,
    scaled units), the new ``pred``, ``h`` (and ``c``). Start a series from
    zeros; as in :class:`tsrnn.stateful_stream.StatefulStream`, an error
    counts once ``window`` steps have been read.
``SequenceClassifier``
    ``values [B, steps, F]`` in original units (the fitted scaling is a
    constant of the graph; token ids instead: ``tokens [B, steps]``, int64)
    -> ``proba [B, classes]`` (``output="last"``) or ``[B, steps, classes]``
    (``"sequence"``), columns in the order of the sidecar's ``classes``. Both
    the batch and the time axis are dynamic; the sequences of one call share
    a length (run others in separate calls), and start from a zero state.

:class:`OnnxModel` runs a graph with its inputs checked first (a wrong name,
shape or dtype is a one-line ``ValueError``), and
:func:`tsrnn.export.scores.detector_scores` turns a detector's errors into its
scores with numpy alone.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from tsrnn import persistence
from tsrnn.files import atomic_write

__all__ = ["OnnxModel", "export_onnx", "load_onnx"]

OPSET = 17  # LayerNorm is one node from 17 on
_EXTRA = "pip install 'tsrnn[onnx]'"
META_KEY = "tsrnn"


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"ONNX export needs {module}: {_EXTRA}") from err


# --------------------------------------------------------------------- graphs
def _exportable(net: nn.Module) -> nn.Module:
    """A copy of ``net`` in eval mode that the TorchScript exporter can trace:
    FastGRU's hand-written autograd function becomes the ``nn.GRU`` it equals."""
    from tsrnn.nn.fast_gru import FastGRU

    net = copy.deepcopy(net).cpu().float().eval()
    for module in net.modules():
        if isinstance(module, FastGRU):
            module.__class__ = nn.GRU
    return net


def _members(net: nn.Module) -> list[nn.Module]:
    from tsrnn.nn.ensemble import MeanEnsemble

    return list(net.members) if isinstance(net, MeanEnsemble) else [net]


class ForecastGraph(nn.Module):
    """A forecaster's network with the per-series scaling folded in."""

    def __init__(self, net: nn.Module, n_targets: int, n_future: int):
        super().__init__()
        self.net, self.n_targets, self.n_future = net, n_targets, n_future

    def forward(self, values, loc, spread, future=None):
        scaled = (values - loc[:, None]) / spread[:, None]  # [B, L, F]
        if self.n_future:
            nf = self.n_future
            future = (future - loc[:, None, -nf:]) / spread[:, None, -nf:]  # [B, H, nf]
        out = self.net(scaled, future)  # [B, H, C, Q]
        c = self.n_targets
        return out * spread[:, None, :c, None] + loc[:, None, :c, None]


class WindowErrorGraph(nn.Module):
    """A windowed detector's raw errors, the scaling folded in."""

    def __init__(self, net: nn.Module, n_targets: int, forecast: bool, calendar: bool):
        super().__init__()
        self.members = nn.ModuleList(_members(net))
        self.n_targets, self.forecast, self.calendar = n_targets, forecast, calendar

    def forward(self, values, loc, spread, calendar=None):
        x = (values - loc[:, None]) / spread[:, None]  # [B, rows, F]
        if self.calendar:
            x = torch.cat([x, calendar], dim=-1)  # [B, rows, I]
        n = self.n_targets
        if self.forecast:
            window, nxt = x[:, :-1], x[:, -1]  # [B, W, I], [B, I]
            out = torch.stack([m(window)[:, 0, :n, 0] for m in self.members])  # [M, B, F]
            return (out - nxt[None, :, :n]).square().mean(dim=0)  # [B, F]
        out = torch.stack([m(x) for m in self.members])  # [M, B, W, I]
        return (out - x[None])[..., :n].square().mean(dim=0)  # [B, W, F]


class StepGraph(nn.Module):
    """One step of a stateful detector's stream for a batch of series."""

    def __init__(self, net: nn.Module, n_targets: int, calendar: bool):
        super().__init__()
        self.members = nn.ModuleList(_members(net))
        self.n_targets, self.calendar = n_targets, calendar
        self.lstm = self.members[0].encoder.cell == "lstm"

    def forward(self, values, loc, spread, pred, h, *rest):
        # rest: c for an LSTM, then the calendar inputs when used
        c = rest[0] if self.lstm else None
        calendar = rest[-1] if self.calendar else None
        x = (values - loc) / spread  # [B, F]
        error = (pred - x[None]).square().mean(dim=0)  # [M, B, F] -> [B, F]
        if self.calendar:
            x = torch.cat([x, calendar], dim=-1)  # [B, I]
        preds, hs, cs = [], [], []
        for k, member in enumerate(self.members):
            state = (h[k], c[k]) if self.lstm else h[k]  # [L, B, H]
            out, final = member(x[:, None], state)  # [B, 1, I]
            preds.append(out[:, 0, : self.n_targets])  # [B, F]
            hs.append(final[0] if self.lstm else final)
            if self.lstm:
                cs.append(final[1])
        outputs = (error, torch.stack(preds), torch.stack(hs))  # [B, F], [M, B, F], [M, L, B, H]
        return (*outputs, torch.stack(cs)) if self.lstm else outputs


class ClassifyGraph(nn.Module):
    """A classifier's network with its fitted scaling as constants and the
    softmax: values in original units (or token ids) -> class probabilities."""

    def __init__(self, net: nn.Module, loc=None, spread=None):
        super().__init__()
        self.net, self.scaled = net, loc is not None
        if self.scaled:
            self.register_buffer("loc", torch.as_tensor(loc, dtype=torch.float32))  # [F]
            self.register_buffer("spread", torch.as_tensor(spread, dtype=torch.float32))

    def forward(self, values):
        x = (values - self.loc) / self.spread if self.scaled else values  # [B, T, F]
        return self.net(x).softmax(dim=-1)  # [B, C] or [B, T, C]


# ------------------------------------------------------------------- metadata
def _plain(value: Any) -> Any:
    """JSON-able: arrays as lists, other objects as their text."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _common_meta(est, kind: str) -> dict:
    from tsrnn import __version__

    return {
        "format": "tsrnn-onnx/1", "tsrnn_version": __version__, "torch_version": torch.__version__,
        "kind": kind, "estimator": type(est).__name__, "params": _plain(est.get_params()),
    }


def _series_meta(est) -> dict:
    """What a forecaster and a detector share: names, frequency, per-series scaling."""
    return {
        "target_names": _plain(list(est.target_names_)),
        "feature_names": _plain(list(est.feature_names_in_)),
        "freq": persistence.freq_to_plain(est.freq_),
        "scaling": {"series": _plain(list(est.ids_)), "loc": _plain(est.scaler_loc_),
                    "spread": _plain(est.scaler_spread_)},
    }


# --------------------------------------------------------------------- export
def _graph(est) -> tuple[nn.Module, dict]:
    """The module to export and the metadata, whose ``inputs`` and ``outputs``
    name the graph's arrays in order, with their shapes (a name: a dynamic axis)."""
    from tsrnn.classifier import SequenceClassifier
    from tsrnn.detector import AnomalyDetector
    from tsrnn.forecaster import Forecaster

    if isinstance(est, Forecaster):
        return _forecast_graph(est)
    if isinstance(est, AnomalyDetector):
        return _detector_graph(est)
    if isinstance(est, SequenceClassifier):
        return _classify_graph(est)
    raise TypeError(f"cannot export {type(est).__name__} to ONNX: expected a fitted "
                    "Forecaster, AnomalyDetector or SequenceClassifier")


def _forecast_graph(est):
    n_t, f = len(est.target_names_), est.n_features_in_
    n_f = len(est.roles_["future_covariates"])
    length, horizon = est.input_len_, est.horizon_  # fitted: the parameters may be "auto"
    levels = est._quantile_levels()
    inputs = {"values": ["batch", length, f], "loc": ["batch", f], "spread": ["batch", f]}
    if n_f:
        inputs["future"] = ["batch", horizon, n_f]
    meta = _common_meta(est, "forecast") | _series_meta(est)
    meta.update(input_len=length, horizon=horizon, quantiles=levels or None,
                future_covariates=_plain(est.roles_["future_covariates"]), inputs=inputs,
                outputs={"forecast": ["batch", horizon, n_t, max(1, len(levels))]})
    return ForecastGraph(_exportable(est.net_), n_t, n_f), meta


def _detector_graph(det):
    from tsrnn.data.calendar import calendar_names

    # As stream() checks: parameters set after fit that the networks or the
    # threshold were not made for are refused by name, not exported.
    det._check_network()
    det._check_scoring()
    det._check_threshold()
    f = det.n_features_in_
    n_cal = len(calendar_names(det.calendar_))
    net = _exportable(det.net_)
    members = _members(net)
    meta = _common_meta(det, "detector_step" if det.stateful else "detector_window")
    meta |= _series_meta(det)
    meta.update(window=det.window, threshold=float(det.threshold_),
                calendar=list(det.calendar_), time_zone=det.time_zone_,
                error_scale=_plain(det.error_scale_), n_members=len(members),
                error_scale_layout="[series + 1 (last: pooled), offline/online, targets]",
                likelihood_prior=_plain(det.likelihood_prior_),
                value_range=_plain(det.value_range_),
                # the stuck-sensor check's training records (None: no check)
                longest_run=(None if det._longest_run_of(None) is None
                             else _plain(det.longest_run_)),
                # the level check's training levels [series, targets, (low, high,
                # spread)] over `window` steps (None: no check)
                level_range=(None if det.stateful or getattr(det, "level_range_", None) is None
                             else _plain(det.level_range_)),
                # [series, targets]: 1 where a target was constant in training, which
                # the level check alone scores (None: no such rule)
                constant_targets=(None if det._constant_of(0) is None
                                  else _plain(det.constant_targets_.astype(np.float64))),
                # what each series' ranking scores are divided by [series + 1] (None: 1)
                score_scale=_plain(getattr(det, "score_scale_", None)))
    if det.stateful:
        enc = members[0].encoder
        state = [len(members), enc.num_layers, "batch", enc.hidden_size]  # [M, L, B, H]
        graph = StepGraph(net, f, bool(n_cal))
        inputs = {"values": ["batch", f], "loc": ["batch", f], "spread": ["batch", f],
                  "pred": [len(members), "batch", f], "h": state}
        outputs = {"error": ["batch", f], "pred_next": inputs["pred"], "h_next": state}
        if graph.lstm:
            inputs["c"], outputs["c_next"] = state, state
        if n_cal:
            inputs["calendar"] = ["batch", n_cal]
        meta.update(inputs=inputs, outputs=outputs, cell=enc.cell, num_layers=enc.num_layers,
                    hidden_size=enc.hidden_size)
        return graph, meta
    forecast = det.score == "forecast"
    rows = det.window + int(forecast)
    inputs = {"values": ["batch", rows, f], "loc": ["batch", f], "spread": ["batch", f]}
    if n_cal:
        inputs["calendar"] = ["batch", rows, n_cal]
    out = ["batch", f] if forecast else ["batch", det.window, f]
    meta.update(inputs=inputs, outputs={"errors": out}, score=det.score)
    return WindowErrorGraph(net, f, forecast, bool(n_cal)), meta


def _classify_graph(clf):
    tokens, per_step = clf.tokens_, clf.output == "sequence"
    names = getattr(clf, "feature_names_in_", None)
    meta = _common_meta(clf, "classify")
    meta.update(classes=_plain(list(clf.classes_)), output=clf.output,
                feature_names=None if names is None else _plain(list(names)),
                scaling=None if tokens else {"loc": _plain(clf.scaler_loc_),
                                             "spread": _plain(clf.scaler_spread_)},
                inputs={"tokens": ["batch", "steps"]} if tokens else
                {"values": ["batch", "steps", clf.n_features_in_]},
                outputs={"proba": ["batch", *(["steps"] if per_step else []),
                                   len(clf.classes_)]})
    if tokens:
        meta["vocab_size"] = clf.vocab_size_
        return ClassifyGraph(_exportable(clf.net_)), meta
    return ClassifyGraph(_exportable(clf.net_), clf.scaler_loc_, clf.scaler_spread_), meta


def _example(name: str, shape: list) -> torch.Tensor:
    """An input to trace with, zeros (spread: ones); its dynamic axes are marked as such."""
    sizes = [{"batch": 2, "steps": 5}.get(s, s) for s in shape]
    if name == "tokens":
        return torch.zeros(sizes, dtype=torch.long)
    return torch.ones(sizes) if name == "spread" else torch.zeros(sizes)


def export_onnx(estimator, path: str | os.PathLike) -> dict:
    """Write a fitted estimator's network as an ONNX graph, and its metadata.

    Parameters
    ----------
    estimator
        A fitted :class:`~tsrnn.Forecaster`, :class:`~tsrnn.AnomalyDetector`
        (windowed, or stateful: one step of its stream) or
        :class:`~tsrnn.SequenceClassifier`.
    path
        The ``.onnx`` file; the metadata also go to ``<path>.json``. Both are
        written atomically.

    Returns
    -------
    dict
        The metadata (see the module's documentation for the graphs' inputs).
    """
    from sklearn.utils.validation import check_is_fitted

    from tsrnn.base import SeriesEstimator

    onnx = _require("onnx")
    if not isinstance(estimator, SeriesEstimator):
        raise TypeError(f"cannot export {type(estimator).__name__} to ONNX: expected a "
                        "fitted Forecaster, AnomalyDetector or SequenceClassifier")
    check_is_fitted(estimator, "net_")
    graph, meta = _graph(estimator)
    shapes = {**meta["inputs"], **meta["outputs"]}
    dynamic = {name: {i: s for i, s in enumerate(shape) if isinstance(s, str)}
               for name, shape in shapes.items()}
    args = tuple(_example(name, shape) for name, shape in meta["inputs"].items())
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which
        # needs onnxscript; it traces these plain modules exactly, and warns while
        # tracing the Python-side shape checks.
        warnings.simplefilter("ignore")
        torch.onnx.export(graph.eval(), args, buffer, dynamo=False,
                          input_names=list(meta["inputs"]), output_names=list(meta["outputs"]),
                          dynamic_axes=dynamic, opset_version=OPSET)
    model = onnx.load_from_string(buffer.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    with atomic_write(path, "wb") as f:
        f.write(model.SerializeToString())
    with atomic_write(f"{os.fspath(path)}.json") as f:
        f.write(json.dumps(meta, indent=1) + "\n")
    return meta


# ---------------------------------------------------------------------- runtime
class OnnxModel:
    """An exported graph in onnxruntime, with its metadata and input checks.

    Parameters
    ----------
    path
        A file :func:`export_onnx` wrote.
    threads
        onnxruntime's intra-op threads (None: its default).
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file")
        try:
            self.session = ort.InferenceSession(os.fspath(path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's own classes, raised from C++
            raise ValueError(f"{path} is not an ONNX graph onnxruntime can open: "
                             f"{_first_line(err)}") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if META_KEY not in props:
            raise ValueError(f"{path} has no tsrnn metadata: not written by tsrnn's export_onnx")
        self.metadata = json.loads(props[META_KEY])
        self.path = os.fspath(path)

    def scaling(self, series=None) -> tuple[np.ndarray, np.ndarray]:
        """``loc, spread [F]`` of a fitted series (None: the only one)."""
        sc = self.metadata.get("scaling") or {}
        if "series" not in sc:
            raise ValueError(f"{self.path}: a {self.metadata['kind']} graph has no per-series "
                             "scaling (its own is inside the graph)")
        if series is None and len(sc["series"]) == 1:
            series = sc["series"][0]
        try:
            i = sc["series"].index(series)
        except ValueError:
            raise KeyError(f"series {series!r} was not seen at fit; fitted: "
                           f"{sc['series'][:5]}") from None
        return (np.asarray(sc["loc"][i], np.float32), np.asarray(sc["spread"][i], np.float32))

    def run(self, **inputs) -> dict[str, np.ndarray]:
        """Run the graph on named arrays (float, or int64 token ids).

        A missing or unknown input, a wrong shape, a dynamic axis (``batch``,
        ``steps``) of different sizes across inputs, or values that are not
        numbers raise a one-line ``ValueError`` naming the input, before
        onnxruntime sees them; so does a failure inside onnxruntime.
        """
        expected = self.metadata["inputs"]
        unknown, missing = set(inputs) - set(expected), set(expected) - set(inputs)
        if unknown or missing:
            raise ValueError(f"{self.path}: inputs are {list(expected)}; "
                             f"missing {sorted(missing)}, unknown {sorted(unknown)}")
        types = {i.name: i.type for i in self.session.get_inputs()}
        feeds, axes = {}, {}
        for name, shape in expected.items():
            arr = _as_input(self.path, name, inputs[name], types.get(name))
            ok = arr.ndim == len(shape) and all(
                isinstance(s, str) or s == n for s, n in zip(shape, arr.shape, strict=True))
            for s, n in zip(shape, arr.shape, strict=False):
                if ok and isinstance(s, str):
                    ok = axes.setdefault(s, n) == n
            if not ok:
                same = [s for s in shape if isinstance(s, str)]
                raise ValueError(f"{self.path}: input {name!r} must have shape {shape} "
                                 f"({', '.join(same)} the same for all inputs), "
                                 f"got {list(arr.shape)}")
            feeds[name] = arr
        names = list(self.metadata["outputs"])
        try:
            out = self.session.run(names, feeds)
        except Exception as err:  # onnxruntime's own classes, raised from C++
            raise ValueError(f"{self.path}: onnxruntime failed: {_first_line(err)}") from None
        return dict(zip(names, out, strict=True))


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _as_input(path: str, name: str, value, onnx_type: str | None) -> np.ndarray:
    """``value`` as the graph's dtype, or a one-line error naming the input."""
    arr = np.asarray(value)
    tokens = onnx_type == "tensor(int64)"
    want = "integer token ids" if tokens else "numbers"
    if arr.dtype.kind not in "biuf" or (tokens and arr.dtype.kind == "f"
                                        and not np.array_equal(arr, np.round(arr))):
        raise ValueError(f"{path}: input {name!r} must hold {want}, got dtype {arr.dtype}")
    return arr.astype(np.int64 if tokens else np.float32, copy=False)


def load_onnx(path: str | os.PathLike, threads: int | None = None) -> OnnxModel:
    """Open a file :func:`export_onnx` wrote in onnxruntime (see :class:`OnnxModel`)."""
    return OnnxModel(path, threads)
