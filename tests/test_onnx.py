"""Tests for tsrnn/export/onnx.py: on real data (ETTh1, a NAB file, a SKAB
experiment), onnxruntime's outputs equal torch's for every exported graph and
cell at batch 1 and 7; the stateful step run point by point equals the stream;
metadata, input checks and errors; ``to_onnx`` and ``tsrnn export``."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install 'tsrnn[onnx]'")
pytest.importorskip("onnxruntime",
                    reason="ONNX parity tests need the onnx extra: pip install 'tsrnn[onnx]'")

from onnx_cases import FIT, TOL, ett, nab, skab, skab_sequences  # noqa: E402

from tsrnn import AnomalyDetector, Forecaster, SequenceClassifier  # noqa: E402
from tsrnn.data.calendar import calendar_features  # noqa: E402
from tsrnn.export import export_onnx, load_onnx  # noqa: E402

CELLS = ("rnn", "lstm", "gru")  # "gru" is FastGRU, exported as the nn.GRU it equals


def _starts(n_rows: int, length: int, batch: int) -> np.ndarray:
    return np.linspace(0, n_rows - length, batch).astype(int)


# ------------------------------------------------------------------ forecaster
FORECASTERS = {
    "direct": dict(),
    "quantiles-parallel": dict(quantiles=[0.1, 0.5, 0.9], strategy="parallel",
                               past_covariates=["MUFL"]),
    "recursive-joint": dict(strategy="recursive", channel_independent=False, segment_len=1),
    "seq2seq-attention-future": dict(model="seq2seq", future_covariates=["MUFL"],
                                     layer_norm=True),
    "bidirectional-2-layers": dict(bidirectional=True, num_layers=2, window_norm="standard"),
}


def _fit_forecaster(cell: str, options: dict) -> Forecaster:
    options = dict(options)
    roles = {k: options.pop(k) for k in ("past_covariates", "future_covariates")
             if k in options}
    df = ett() if roles else ett()[["OT", "HUFL"]]
    return Forecaster(cell, input_len=16, horizon=6, **FIT, **options).fit(
        df, target=["OT", "HUFL"], **roles)


@pytest.mark.parametrize("kind", list(FORECASTERS))
@pytest.mark.parametrize("cell", CELLS)
def test_forecaster_matches_torch(tmp_path, cell, kind):
    model = _fit_forecaster(cell, FORECASTERS[kind])
    path = tmp_path / "f.onnx"
    meta = model.to_onnx(path)
    onnx_model = load_onnx(path)
    df = ett()[list(model.feature_names_in_)]
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
    assert meta["input_len"] == 16 and meta["horizon"] == 6 and meta["freq"] == "h"
    assert meta["target_names"] == ["OT", "HUFL"]


def test_forecaster_graph_takes_raw_values_as_predict_does(tmp_path):
    model = Forecaster("gru", input_len="auto", horizon=6, **FIT).fit(ett()[["OT"]])
    meta = model.to_onnx(tmp_path / "f.onnx")
    assert meta["input_len"] == model.input_len_  # the fitted length, not "auto"
    onnx_model = load_onnx(tmp_path / "f.onnx")
    loc, spread = onnx_model.scaling()
    out = onnx_model.run(values=model.context_, loc=loc[None], spread=spread[None])
    np.testing.assert_allclose(out["forecast"][0, :, :, 0],
                               model.predict()[["OT"]].to_numpy(), **TOL)


# -------------------------------------------------------------------- detector
def _frame(score: str):
    """Reconstruction on SKAB's three sensors; forecasts on NAB, with a calendar."""
    return skab()[["Accelerometer1RMS", "Current", "Pressure"]] if score == "reconstruction" \
        else nab()


def _fit_detector(cell: str, df, **options) -> AnomalyDetector:
    return AnomalyDetector(cell, window=8, n_models=2, **FIT, **options).fit(df)


@pytest.mark.parametrize("score", ["reconstruction", "forecast"])
@pytest.mark.parametrize("cell", CELLS)
def test_windowed_detector_errors_match_torch(tmp_path, cell, score):
    df = _frame(score)
    det = _fit_detector(cell, df, score=score)
    meta = det.to_onnx(tmp_path / "d.onnx")
    onnx_model = load_onnx(tmp_path / "d.onnx")
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
    assert bool(det.calendar_) == (score == "forecast")  # both kinds of graph are tested


@pytest.mark.parametrize("cell", CELLS)
def test_stateful_step_equals_the_stream(tmp_path, cell):
    from tsrnn.export.scores import detector_scores

    df = skab()[["Accelerometer1RMS", "Current", "Pressure"]]
    det = _fit_detector(cell, df.iloc[:300], stateful=True, num_layers=2, tbptt_steps=32)
    meta = det.to_onnx(tmp_path / "s.onnx")
    onnx_model = load_onnx(tmp_path / "s.onnx")
    stream = det.stream()
    loc, spread = onnx_model.scaling()
    state = {k: np.zeros([1 if s == "batch" else s for s in meta["inputs"][k]], np.float32)
             for k in ("pred", "h", "c") if k in meta["inputs"]}
    errors, scores = [], []
    for t, row in zip(df.index[300:], df.to_numpy()[300:], strict=True):
        result = stream.update(t, row)
        out = onnx_model.run(values=row[None], loc=loc[None], spread=spread[None], **state)
        state = {k: out[f"{k}_next"] for k in state}
        np.testing.assert_allclose(out["pred_next"], stream._arrays["pred"][:, :1], **TOL)
        errors.append(out["error"][0] if result.ready[0] else np.full(3, np.nan))
        scores.append(result.score[0])
    assert result.ready[0] and np.isnan(errors[0]).all()  # a warm-up, then scores
    # the post-processing (error scale, smoothing) with numpy alone gives the stream's scores
    np.testing.assert_allclose(detector_scores(np.array(errors), meta), scores, **TOL)


def test_stateful_step_dynamic_batch(tmp_path):
    from tsrnn.export.onnx import StepGraph, _exportable

    det = _fit_detector("lstm", nab(), stateful=True, tbptt_steps=32)
    det.to_onnx(tmp_path / "s.onnx")
    onnx_model = load_onnx(tmp_path / "s.onnx")
    shapes = onnx_model.metadata["inputs"]
    assert "calendar" in shapes and "c" in shapes
    graph = StepGraph(_exportable(det.net_), 1, bool(det.calendar_))
    rng = np.random.default_rng(0)
    for batch in (1, 7):
        feeds = {k: rng.standard_normal([batch if s == "batch" else s for s in shape])
                 .astype(np.float32) for k, shape in shapes.items()}
        feeds["spread"] = np.abs(feeds["spread"]) + 0.5
        out = onnx_model.run(**feeds)
        with torch.inference_mode():
            expected = graph(*[torch.from_numpy(feeds[k]) for k in shapes])
        for name, value in zip(("error", "pred_next", "h_next", "c_next"), expected,
                               strict=True):
            np.testing.assert_allclose(out[name], value.numpy(), **TOL)


# ------------------------------------------------------------------ classifier
CLASSIFIERS = {
    "last": dict(),
    "sequence-bidirectional-layer-norm": dict(output="sequence", bidirectional=True,
                                              layer_norm=True, num_layers=2),
}


@pytest.mark.parametrize("kind", list(CLASSIFIERS))
@pytest.mark.parametrize("cell", CELLS)
def test_classifier_matches_torch(tmp_path, cell, kind):
    values, labels, per_row = skab_sequences()
    options = CLASSIFIERS[kind]
    y = per_row if options.get("output") == "sequence" else labels
    clf = SequenceClassifier(cell, **FIT, **options).fit(values, y)
    meta = clf.to_onnx(tmp_path / "c.onnx")
    onnx_model = load_onnx(tmp_path / "c.onnx")
    for batch, steps in ((1, 20), (7, 13)):  # dynamic batch and time axes
        x = values[:batch, :steps]
        got = onnx_model.run(values=x)["proba"]
        np.testing.assert_allclose(got, clf.predict_proba(x), **TOL)
    assert meta["classes"] == [0, 1] and meta["kind"] == "classify"
    assert np.allclose(meta["scaling"]["loc"], clf.scaler_loc_)  # raw values in, scaled inside


def test_token_classifier(tmp_path):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 9, (40, 12))
    clf = SequenceClassifier("gru", **FIT).fit(tokens, tokens[:, -1] > 4)
    clf.to_onnx(tmp_path / "t.onnx")
    onnx_model = load_onnx(tmp_path / "t.onnx")
    np.testing.assert_allclose(onnx_model.run(tokens=tokens[:5])["proba"],
                               clf.predict_proba(tokens[:5]), **TOL)
    with pytest.raises(ValueError, match="'tokens' must hold integer token ids"):
        onnx_model.run(tokens=tokens[:5] + 0.5)


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


def test_wrong_inputs_are_one_line_errors(tmp_path):
    model = _fit_forecaster("gru", {})
    export_onnx(model, tmp_path / "f.onnx")
    onnx_model = load_onnx(tmp_path / "f.onnx")
    good = dict(values=np.zeros((3, 16, 2)), loc=np.zeros((3, 2)), spread=np.ones((3, 2)))
    bad = {
        r"'values' must have shape \['batch', 16, 2\] \(batch the same for all inputs\), "
        r"got \[3, 15, 2\]": {"values": np.zeros((3, 15, 2))},
        r"'loc' must have shape .* got \[2, 2\]": {"loc": np.zeros((2, 2))},
        r"'spread' must hold numbers, got dtype <U1": {"spread": np.full((3, 2), "x")},
    }
    for message, change in bad.items():
        with pytest.raises(ValueError, match=message) as info:
            onnx_model.run(**{**good, **change})
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"missing \['spread'\], unknown \['scale'\]"):
        onnx_model.run(values=good["values"], loc=good["loc"], scale=good["spread"])
    with pytest.raises(KeyError, match="not seen at fit"):
        onnx_model.scaling("nope")


def test_files_that_are_not_graphs(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.onnx: no such file"):
        load_onnx(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="bad.onnx is not an ONNX graph onnxruntime can open") \
            as info:
        load_onnx(tmp_path / "bad.onnx")
    assert "\n" not in str(info.value)


def test_unfitted_and_unsupported(tmp_path):
    from sklearn.exceptions import NotFittedError

    for model in (Forecaster(), AnomalyDetector(), SequenceClassifier()):
        with pytest.raises(NotFittedError):
            model.to_onnx(tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="Forecaster, AnomalyDetector or SequenceClassifier"):
        export_onnx(type("Other", (), {"net_": 1})(), tmp_path / "o.onnx")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("param", "value", "message"), [
    ("window", 4, "fitted with window=8"), ("alerts", True, "threshold_ was fitted on")])
def test_a_detector_changed_after_fit_is_refused_as_its_stream_is(tmp_path, param, value,
                                                                  message):
    # A window set after fit failed inside torch's tracer; alerts=True exported the
    # threshold of the ranking scores beside alerting ones.
    det = _fit_detector("gru", _frame("reconstruction")).set_params(**{param: value})
    for call in (det.stream, lambda: det.to_onnx(tmp_path / "d.onnx")):
        with pytest.raises(ValueError, match=message):
            call()
    assert not list(tmp_path.iterdir())


def test_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'tsrnn\[onnx\]'"):
        _fit_forecaster("gru", {}).to_onnx(tmp_path / "f.onnx")


def test_core_never_imports_onnx():
    code = ("import tsrnn, tsrnn.forecaster, tsrnn.detector, tsrnn.classifier, tsrnn.cli\n"
            "import sys; print(' '.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "torch" in loaded and not loaded & {"onnx", "onnxruntime", "onnxscript"}


# ------------------------------------------------------------------ the command
@pytest.mark.parametrize("args", [["{model}", "--onnx", "{out}"],
                                  ["--model", "{model}", "--out", "{out}"]])
def test_export_command(tmp_path, capsys, args):
    from tsrnn.cli import main

    model = _fit_forecaster("lstm", {})
    model.save(tmp_path / "m.tsrnn")
    out = tmp_path / "m.onnx"
    paths = {"model": tmp_path / "m.tsrnn", "out": out}
    assert main(["export", *(a.format(**paths) for a in args)]) == 0
    assert "wrote" in capsys.readouterr().out
    onnx_model = load_onnx(out)
    loc, spread = onnx_model.scaling()
    got = onnx_model.run(values=model.context_, loc=loc[None], spread=spread[None])
    np.testing.assert_allclose(got["forecast"][0, :, :, 0],
                               model.predict()[["OT", "HUFL"]].to_numpy(), **TOL)


@pytest.mark.parametrize("args, flag", [
    (["missing.tsrnn", "--onnx", "m.onnx"], "missing.tsrnn: no such file"),
    (["--model", "missing.tsrnn", "--out", "m.onnx"], "--model missing.tsrnn"),
    (["m.tsrnn", "--onnx", "m.txt"], "--onnx m.txt"),
    (["m.tsrnn", "--onnx", "nofolder/m.onnx"], "--onnx nofolder/m.onnx"),
    (["--onnx", "m.onnx"], "MODEL"),
    (["m.tsrnn"], "--onnx"),
    (["m.tsrnn", "--model", "m.tsrnn", "--onnx", "m.onnx"], "MODEL or --model"),
    (["m.tsrnn", "--onnx", "m.onnx"], "m.tsrnn"),  # not a model file
])
def test_export_command_errors_name_the_flag(tmp_path, monkeypatch, capsys, args, flag):
    from tsrnn.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.tsrnn").write_bytes(b"not a model")
    assert main(["export", *args]) in (1, 2)
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err
