"""ONNX export of fitted estimators (``pip install 'tsrnn[onnx]'``).

:func:`export_onnx` writes one ONNX graph per estimator, and beside it a JSON
sidecar ``<path>.json`` (also stored in the graph's ``metadata_props`` under
``"tsrnn"``) with what a runtime needs: the graph's inputs and outputs, the
target names, each fitted series' scaling statistics, the lengths, the frequency
and, for a detector, the threshold and error scales.

Every graph takes values in original units and a per-series ``loc`` and
``spread`` (the sidecar's ``scaling`` for a fitted series): the scaling is inside
the graph. The batch (series) axis is dynamic.

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
``SequenceClassifier`` is not exported yet.
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
        "target_names": _plain(list(est.target_names_)),
        "feature_names": _plain(list(est.feature_names_in_)),
        "freq": persistence.freq_to_plain(est.freq_),
        "scaling": {"series": _plain(list(est.ids_)), "loc": _plain(est.scaler_loc_),
                    "spread": _plain(est.scaler_spread_)},
    }


# --------------------------------------------------------------------- export
def _graph(est) -> tuple[nn.Module, tuple, list[str], list[str], dict, dict]:
    """The module to export, example inputs, names, dynamic axes and metadata."""
    from tsrnn.classifier import SequenceClassifier
    from tsrnn.detector import AnomalyDetector
    from tsrnn.forecaster import Forecaster

    if isinstance(est, Forecaster):
        n_t = len(est.target_names_)
        n_f = len(est.roles_["future_covariates"])
        net = _exportable(est.net_)
        graph = ForecastGraph(net, n_t, n_f)
        b, f = 2, est.n_features_in_
        args = [torch.zeros(b, est.input_len, f), torch.zeros(b, f), torch.ones(b, f)]
        names = ["values", "loc", "spread"]
        if n_f:
            args.append(torch.zeros(b, est.horizon, n_f))
            names.append("future")
        levels = est._quantile_levels()
        meta = _common_meta(est, "forecast")
        meta.update(input_len=est.input_len, horizon=est.horizon, quantiles=levels or None,
                    future_covariates=_plain(est.roles_["future_covariates"]),
                    inputs={"values": ["batch", est.input_len, f], "loc": ["batch", f],
                            "spread": ["batch", f]}
                    | ({"future": ["batch", est.horizon, n_f]} if n_f else {}),
                    outputs={"forecast": ["batch", est.horizon, n_t, max(1, len(levels))]})
        return graph, tuple(args), names, ["forecast"], meta, {}
    if isinstance(est, AnomalyDetector):
        return _detector_graph(est)
    if isinstance(est, SequenceClassifier):
        raise NotImplementedError("ONNX export of a SequenceClassifier is not supported yet")
    raise TypeError(f"cannot export {type(est).__name__} to ONNX: expected a fitted "
                    "Forecaster or AnomalyDetector")


def _detector_graph(det):
    from tsrnn.data.calendar import calendar_names

    f = det.n_features_in_
    n_cal = len(calendar_names(det.calendar_))
    net = _exportable(det.net_)
    members = _members(net)
    meta = _common_meta(det, "detector_step" if det.stateful else "detector_window")
    meta.update(window=det.window, threshold=float(det.threshold_),
                calendar=list(det.calendar_), time_zone=det.time_zone_,
                error_scale=_plain(det.error_scale_), n_members=len(members),
                error_scale_layout="[series + 1 (last: pooled), offline/online, targets]")
    b = 2
    if det.stateful:
        enc = members[0].encoder
        m, layers, hidden = len(members), enc.num_layers, enc.hidden_size
        graph = StepGraph(net, f, bool(n_cal))
        args = [torch.zeros(b, f), torch.zeros(b, f), torch.ones(b, f), torch.zeros(m, b, f),
                torch.zeros(m, layers, b, hidden)]
        names = ["values", "loc", "spread", "pred", "h"]
        shapes = {"values": ["batch", f], "loc": ["batch", f], "spread": ["batch", f],
                  "pred": [m, "batch", f], "h": [m, layers, "batch", hidden]}
        out_names = ["error", "pred_next", "h_next"]
        if graph.lstm:
            args.append(torch.zeros(m, layers, b, hidden))
            names.append("c")
            shapes["c"] = [m, layers, "batch", hidden]
            out_names.append("c_next")
        if n_cal:
            args.append(torch.zeros(b, n_cal))
            names.append("calendar")
            shapes["calendar"] = ["batch", n_cal]
        out_shapes = {"error": ["batch", f], "pred_next": [m, "batch", f],
                      "h_next": [m, layers, "batch", hidden]}
        if graph.lstm:
            out_shapes["c_next"] = [m, layers, "batch", hidden]
        axes = {"pred": 1, "h": 2, "c": 2, "pred_next": 1, "h_next": 2, "c_next": 2}
        meta.update(inputs=shapes, outputs=out_shapes, cell=enc.cell, num_layers=layers,
                    hidden_size=hidden)
        return graph, tuple(args), names, out_names, meta, axes
    forecast = det.score == "forecast"
    rows = det.window + int(forecast)
    graph = WindowErrorGraph(net, f, forecast, bool(n_cal))
    args = [torch.zeros(b, rows, f), torch.zeros(b, f), torch.ones(b, f)]
    names = ["values", "loc", "spread"]
    shapes = {"values": ["batch", rows, f], "loc": ["batch", f], "spread": ["batch", f]}
    if n_cal:
        args.append(torch.zeros(b, rows, n_cal))
        names.append("calendar")
        shapes["calendar"] = ["batch", rows, n_cal]
    out = ["batch", f] if forecast else ["batch", det.window, f]
    meta.update(inputs=shapes, outputs={"errors": out}, score=det.score)
    return graph, tuple(args), names, ["errors"], meta, {}


def export_onnx(estimator, path: str | os.PathLike) -> dict:
    """Write a fitted estimator's network as an ONNX graph, and its metadata.

    Parameters
    ----------
    estimator
        A fitted :class:`~tsrnn.Forecaster` or :class:`~tsrnn.AnomalyDetector`
        (windowed, or stateful: one step of its stream).
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
                        "fitted Forecaster or AnomalyDetector")
    check_is_fitted(estimator, "net_")
    graph, args, names, out_names, meta, axes = _graph(estimator)
    dynamic = {name: {axes.get(name, 0): "batch"} for name in [*names, *out_names]}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which
        # needs onnxscript; it traces these plain modules exactly, and warns while
        # tracing the Python-side shape checks.
        warnings.simplefilter("ignore")
        torch.onnx.export(graph.eval(), args, buffer, dynamo=False, input_names=names,
                          output_names=out_names, dynamic_axes=dynamic, opset_version=OPSET)
    model = onnx.load_from_string(buffer.getvalue())
    text = json.dumps(meta)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, text
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
        self.session = ort.InferenceSession(os.fspath(path), options,
                                            providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        if META_KEY not in props:
            raise ValueError(f"{path} has no tsrnn metadata: not written by tsrnn's export_onnx")
        self.metadata = json.loads(props[META_KEY])
        self.path = os.fspath(path)

    def scaling(self, series) -> tuple[np.ndarray, np.ndarray]:
        """``loc, spread [F]`` of a fitted series."""
        sc = self.metadata["scaling"]
        try:
            i = sc["series"].index(series)
        except ValueError:
            raise KeyError(f"series {series!r} was not seen at fit; fitted: "
                           f"{sc['series'][:5]}") from None
        return (np.asarray(sc["loc"][i], np.float32), np.asarray(sc["spread"][i], np.float32))

    def run(self, **inputs) -> dict[str, np.ndarray]:
        """Run the graph on named float32 arrays; a missing, unknown or
        wrongly shaped input raises ``ValueError`` naming it and its shape."""
        expected = self.metadata["inputs"]
        unknown, missing = set(inputs) - set(expected), set(expected) - set(inputs)
        if unknown or missing:
            raise ValueError(f"{self.path}: inputs are {list(expected)}; "
                             f"missing {sorted(missing)}, unknown {sorted(unknown)}")
        feeds, batch = {}, None
        for name, shape in expected.items():
            arr = np.asarray(inputs[name], dtype=np.float32)
            ok = arr.ndim == len(shape) and all(
                s == "batch" or s == n for s, n in zip(shape, arr.shape, strict=True))
            if ok:
                n = arr.shape[shape.index("batch")]
                ok = batch is None or n == batch
                batch = n if batch is None else batch
            if not ok:
                raise ValueError(f"{self.path}: input {name!r} must have shape "
                                 f"{shape} (batch the same for all), got {list(arr.shape)}")
            feeds[name] = arr
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(names, feeds), strict=True))


def load_onnx(path: str | os.PathLike, threads: int | None = None) -> OnnxModel:
    """Open a file :func:`export_onnx` wrote in onnxruntime (see :class:`OnnxModel`)."""
    return OnnxModel(path, threads)
