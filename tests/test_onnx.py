"""Tests for tsrnn/export/onnx.py: onnxruntime's outputs equal torch's for every
exported graph and cell, at batch 1 and 7; the stateful step run point by point
equals the stream; metadata, input checks and errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install 'tsrnn[onnx]'")
pytest.importorskip("onnxruntime",
                    reason="ONNX parity tests need the onnx extra: pip install 'tsrnn[onnx]'")

from tsrnn import AnomalyDetector, Forecaster, SequenceClassifier  # noqa: E402
from tsrnn.data.calendar import calendar_features  # noqa: E402
from tsrnn.export import export_onnx, load_onnx  # noqa: E402

CELLS = ("rnn", "lstm", "gru")
TOL = dict(rtol=1e-4, atol=1e-5)
FIT = dict(hidden_size=8, max_epochs=1, accelerator="cpu", random_state=0)


def _sine(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"a": 10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n),
                         "b": 3 + np.cos(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(n),
                         "temp": rng.standard_normal(n)},
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


def _starts(n_rows: int, length: int, batch: int) -> np.ndarray:
    return np.linspace(0, n_rows - length, batch).astype(int)


# ------------------------------------------------------------------ forecaster
FORECASTERS = {
    "direct": dict(),
    "quantiles-parallel": dict(quantiles=[0.1, 0.5, 0.9], strategy="parallel",
                               past_covariates=["temp"]),
    "recursive-joint": dict(strategy="recursive", channel_independent=False, segment_len=1),
    "seq2seq-future": dict(model="seq2seq", future_covariates=["temp"], layer_norm=True),
    "bidirectional-2-layers": dict(bidirectional=True, num_layers=2, window_norm="standard"),
}


def _fit_forecaster(cell: str, options: dict) -> Forecaster:
    options = dict(options)
    roles = {k: options.pop(k) for k in ("past_covariates", "future_covariates")
             if k in options}
    df = _sine()
    if not roles:
        df = df[["a", "b"]]
    target = ["a", "b"] if roles else None
    return Forecaster(cell, input_len=16, horizon=6, **FIT, **options).fit(
        df, target=target, **roles)


@pytest.mark.parametrize("kind", list(FORECASTERS))
@pytest.mark.parametrize("cell", CELLS)
def test_forecaster_matches_torch(tmp_path, cell, kind):
    model = _fit_forecaster(cell, FORECASTERS[kind])
    path = tmp_path / "f.onnx"
    meta = export_onnx(model, path)
    onnx_model = load_onnx(path)
    df = _sine()[list(model.feature_names_in_)]
    values = df.to_numpy()
    n_future = len(model.roles_["future_covariates"])
    loc, spread = model.scaler_loc_[0], model.scaler_spread_[0]
    for batch in (1, 7):
        starts = _starts(len(df), model.input_len + model.horizon, batch)
        context = np.stack([values[s:s + model.input_len] for s in starts])  # [B, L, F]
        feeds = dict(values=context, loc=np.tile(loc, (batch, 1)),
                     spread=np.tile(spread, (batch, 1)))
        fut_scaled = None
        if n_future:
            fut = np.stack([values[s + model.input_len:s + model.input_len + model.horizon,
                                   -n_future:] for s in starts])
            feeds["future"] = fut
            fut_scaled = ((fut - loc[-n_future:]) / spread[-n_future:]).astype(np.float32)
        out = onnx_model.run(**feeds)["forecast"]
        expected = model._forecast(context, fut_scaled, feeds["loc"], feeds["spread"])
        assert out.shape == expected.shape == (batch, 6, 2, len(model.quantiles or [0]))
        np.testing.assert_allclose(out, expected, **TOL)
    assert meta["input_len"] == 16 and meta["horizon"] == 6
    assert meta["target_names"] == ["a", "b"]


def test_forecaster_graph_takes_raw_values_as_predict_does(tmp_path):
    model = _fit_forecaster("gru", {})
    export_onnx(model, tmp_path / "f.onnx")
    onnx_model = load_onnx(tmp_path / "f.onnx")
    loc, spread = onnx_model.scaling(model.ids_[0])
    out = onnx_model.run(values=model.context_, loc=loc[None], spread=spread[None])
    np.testing.assert_allclose(out["forecast"][0, :, :, 0],
                               model.predict()[["a", "b"]].to_numpy(), **TOL)


# -------------------------------------------------------------------- detector
def _fit_detector(cell: str, **options) -> AnomalyDetector:
    return AnomalyDetector(cell, window=8, n_models=2, **FIT, **options).fit(
        _sine()[["a", "b"]])


@pytest.mark.parametrize("score", ["reconstruction", "forecast"])
@pytest.mark.parametrize("cell", CELLS)
def test_windowed_detector_errors_match_torch(tmp_path, cell, score):
    det = _fit_detector(cell, score=score)
    meta = export_onnx(det, tmp_path / "d.onnx")
    onnx_model = load_onnx(tmp_path / "d.onnx")
    df = _sine()[["a", "b"]]
    rows = det.window + (score == "forecast")
    calendar = calendar_features(df.index, det.calendar_)
    loc, spread = det.scaler_loc_[0], det.scaler_spread_[0]
    inputs = np.hstack([(df.to_numpy() - loc) / spread, calendar]).astype(np.float32)
    for batch in (1, 7):
        starts = _starts(len(df), rows, batch)
        feeds = dict(values=np.stack([df.to_numpy()[s:s + rows] for s in starts]),
                     loc=np.tile(loc, (batch, 1)), spread=np.tile(spread, (batch, 1)))
        if det.calendar_:
            feeds["calendar"] = np.stack([calendar[s:s + rows] for s in starts])
        windows = torch.from_numpy(np.stack([inputs[s:s + rows] for s in starts]))
        if score == "forecast":
            expected = det._window_errors(windows[:, :-1], windows[:, -1]).numpy()
        else:
            expected = det._window_errors(windows).numpy()
        np.testing.assert_allclose(onnx_model.run(**feeds)["errors"], expected, **TOL)
    assert meta["threshold"] == pytest.approx(det.threshold_)
    assert meta["n_members"] == 2 and meta["window"] == 8


@pytest.mark.parametrize("cell", CELLS)
def test_stateful_step_equals_the_stream(tmp_path, cell):
    det = _fit_detector(cell, stateful=True, smoothing=0, range_tolerance=None,
                        num_layers=2, tbptt_steps=32)
    meta = export_onnx(det, tmp_path / "s.onnx")
    onnx_model = load_onnx(tmp_path / "s.onnx")
    df = _sine(seed=1).iloc[:60][["a", "b"]]
    calendar = calendar_features(df.index, det.calendar_)
    stream = det.stream()
    loc, spread = onnx_model.scaling(det.ids_[0])
    scale = det._error_scale_of(0, online=True)
    shapes = meta["inputs"]
    state = {k: np.zeros([1 if s == "batch" else s for s in shapes[k]], np.float32)
             for k in ("pred", "h", "c") if k in shapes}
    for i, (t, row) in enumerate(zip(df.index, df.to_numpy(), strict=True)):
        result = stream.update(t, row)
        feeds = dict(values=row[None], loc=loc[None], spread=spread[None], **state)
        if det.calendar_:
            feeds["calendar"] = calendar[i:i + 1]
        out = onnx_model.run(**feeds)
        state = {k: out[f"{k}_next"] for k in state}
        np.testing.assert_allclose(out["pred_next"], stream._arrays["pred"][:, :1], **TOL)
        score = (out["error"][0] / scale).mean() if result.ready[0] else 0.0
        np.testing.assert_allclose(result.score[0], score, **TOL)
    assert result.ready[0]


def test_stateful_step_dynamic_batch(tmp_path):
    det = _fit_detector("lstm", stateful=True, tbptt_steps=32)
    export_onnx(det, tmp_path / "s.onnx")
    onnx_model = load_onnx(tmp_path / "s.onnx")
    shapes = onnx_model.metadata["inputs"]
    rng = np.random.default_rng(0)
    for batch in (1, 7):
        feeds = {k: rng.standard_normal([batch if s == "batch" else s for s in shape])
                 .astype(np.float32) for k, shape in shapes.items()}
        feeds["spread"] = np.abs(feeds["spread"]) + 0.5
        out = onnx_model.run(**feeds)
        from tsrnn.export.onnx import StepGraph, _exportable

        graph = StepGraph(_exportable(det.net_), 2, bool(det.calendar_))
        args = [torch.from_numpy(feeds[k]) for k in shapes]
        with torch.inference_mode():
            expected = graph(*args)
        for name, value in zip(("error", "pred_next", "h_next", "c_next"), expected,
                               strict=True):
            np.testing.assert_allclose(out[name], value.numpy(), **TOL)


# ------------------------------------------------------------- files and errors
def test_metadata_in_graph_and_sidecar(tmp_path):
    model = _fit_forecaster("gru", {})
    meta = export_onnx(model, tmp_path / "f.onnx")
    sidecar = json.loads((tmp_path / "f.onnx.json").read_text())
    assert sidecar == meta == load_onnx(tmp_path / "f.onnx").metadata
    assert meta["kind"] == "forecast" and meta["tsrnn_version"]
    assert meta["freq"] == "h" and meta["params"]["cell"] == "gru"
    assert np.allclose(meta["scaling"]["loc"], model.scaler_loc_)
    assert not list(tmp_path.glob("*.tmp*"))


def test_wrong_input_shape_is_a_clear_error(tmp_path):
    model = _fit_forecaster("gru", {})
    export_onnx(model, tmp_path / "f.onnx")
    onnx_model = load_onnx(tmp_path / "f.onnx")
    good = dict(values=np.zeros((3, 16, 2)), loc=np.zeros((3, 2)), spread=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"'values' must have shape \['batch', 16, 2\]"):
        onnx_model.run(**{**good, "values": np.zeros((3, 15, 2))})
    with pytest.raises(ValueError, match="batch the same"):
        onnx_model.run(**{**good, "loc": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"missing \['spread'\]"):
        onnx_model.run(values=good["values"], loc=good["loc"])
    with pytest.raises(KeyError, match="not seen at fit"):
        onnx_model.scaling("nope")


def test_unfitted_and_unsupported(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        export_onnx(Forecaster(), tmp_path / "f.onnx")
    clf = SequenceClassifier()
    clf.net_ = torch.nn.Linear(1, 1)
    with pytest.raises(NotImplementedError, match="SequenceClassifier"):
        export_onnx(clf, tmp_path / "c.onnx")
    with pytest.raises(TypeError, match="Forecaster or AnomalyDetector"):
        export_onnx(type("Other", (), {"net_": 1})(), tmp_path / "o.onnx")
    assert not (tmp_path / "f.onnx").exists()


def test_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'tsrnn\[onnx\]'"):
        export_onnx(_fit_forecaster("gru", {}), tmp_path / "f.onnx")


def test_core_never_imports_onnx():
    code = ("import tsrnn, tsrnn.forecaster, tsrnn.detector, tsrnn.cli\n"
            "import sys; print(' '.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert not loaded & {"onnx", "onnxruntime", "onnxscript"}


# ------------------------------------------------------------------ the command
def test_export_command(tmp_path, capsys):
    from tsrnn.cli import main

    model = _fit_forecaster("lstm", {})
    model.save(tmp_path / "m.tsrnn")
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(tmp_path / "m.tsrnn"), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    onnx_model = load_onnx(out)
    loc, spread = onnx_model.scaling(model.ids_[0])
    got = onnx_model.run(values=model.context_, loc=loc[None], spread=spread[None])
    np.testing.assert_allclose(got["forecast"][0, :, :, 0],
                               model.predict()[["a", "b"]].to_numpy(), **TOL)


@pytest.mark.parametrize("args, flag", [
    (["--model", "missing.tsrnn", "--out", "m.onnx"], "--model missing.tsrnn"),
    (["--model", "m.tsrnn", "--out", "m.txt"], "--out m.txt"),
    (["--model", "m.tsrnn", "--out", "nofolder/m.onnx"], "--out nofolder/m.onnx"),
    (["--out", "m.onnx"], "--model"),
])
def test_export_command_errors_name_the_flag(tmp_path, monkeypatch, capsys, args, flag):
    from tsrnn.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.tsrnn").write_bytes(b"not a model")
    assert main(["export", *args]) in (1, 2)
    assert flag in capsys.readouterr().err
