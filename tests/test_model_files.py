"""Model files from anywhere: whatever a file holds, loading it either gives the
model that was saved or one clear line naming the file (tsrnn/persistence.py,
tsrnn/model_checks.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tsrnn import AnomalyDetector, Forecaster, SequenceClassifier
from tsrnn.files import read_model
from tsrnn.model_checks import checksum


def _series(n: int = 120) -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame({"y": np.sin(t / 4), "z": np.cos(t / 6)},
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


def _runs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.concat([pd.DataFrame({"run": f"r{k}", "x": rng.standard_normal(10) + k % 2,
                                    "label": k % 2}) for k in range(8)], ignore_index=True)


TINY = dict(hidden_size=8, max_epochs=1, accelerator="cpu", random_state=0)
FITS = {
    "Forecaster": lambda: Forecaster(input_len=12, horizon=3, **TINY).fit(_series()),
    "AnomalyDetector": lambda: AnomalyDetector(window=8, n_models=1, **TINY).fit(_series()),
    "SequenceClassifier": lambda: SequenceClassifier(**TINY).fit(_runs(), y="label",
                                                                 id_col="run"),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """One model file per estimator, written once for the module."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name, fit in FITS.items():
        paths[name] = folder / f"{name}.tsrnn"
        fit().save(paths[name])
    return paths


@pytest.fixture
def model(saved, tmp_path) -> Path:
    """A copy of the forecaster's file that a test may damage."""
    path = tmp_path / "model.tsrnn"
    path.write_bytes(saved["Forecaster"].read_bytes())
    return path


def _rewrite(path: Path, edit, *, reseal: bool = True) -> Path:
    """``edit`` the payload of a model file in place, as someone crafting a file
    would: with ``reseal``, the checksum is made to match the new content, so that
    what is tested is the check after it."""
    payload = torch.load(path, weights_only=True)
    edit(payload)
    if reseal:
        payload["checksum"] = checksum(payload)
    torch.save(payload, path)
    return path


def _refused(path: Path, match: str, cls=Forecaster) -> str:
    """Both ways of loading refuse ``path`` with one line naming it."""
    for load in (cls.load, read_model) if cls is not SequenceClassifier else (cls.load,):
        with pytest.raises(ValueError, match=match) as err:
            load(path)
        message = str(err.value)
        assert str(path) in message and "\n" not in message, message
        # No torch, zip or pickle traceback chained beneath it.
        assert err.value.__cause__ is None
        assert err.value.__context__ is None or err.value.__suppress_context__
    return message


# ------------------------------------------------------------ unreadable files
def _truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _csv(path):
    path.write_text("time,y\n2024-01-01,1\n")


def _csv_with_index(path):
    # pandas' to_csv() with its index: the header starts with a comma, the first
    # byte torch's unpickler reads; once reported as "refused: it contains code".
    pd.DataFrame({"y": [1.0, 2.0]}).to_csv(path)


UNREADABLE = {
    "truncated": (_truncated, "cannot be read"),
    "empty": (lambda path: path.write_bytes(b""), "cannot be read"),
    "a CSV": (_csv, "cannot be read"),
    "a CSV with its index": (_csv_with_index, "cannot be read"),
    "text": (lambda path: path.write_text("# notes\n"), "cannot be read"),
    "a list": (lambda path: torch.save([1, 2], path), "is not a tsrnn model file"),
    "no fitted state": (lambda path: _rewrite(path, lambda p: p.pop("fitted")),
                        "has no 'fitted' entry"),
    "no context": (lambda path: _rewrite(path, lambda p: p["fitted"].pop("context")),
                   "no 'context'"),
    "params not a dict": (lambda path: _rewrite(path, lambda p: p.update(params=[1])),
                          "'params' entry is a list"),
    "hidden_size a string": (
        lambda path: _rewrite(path, lambda p: p["params"].update(hidden_size="8")),
        "hidden_size"),
    "unknown parameter": (
        lambda path: _rewrite(path, lambda p: p["params"].update(hiden_size=8)),
        "no parameter 'hiden_size'"),
    "ids not a list": (lambda path: _rewrite(path, lambda p: p["fitted"].update(ids=7)),
                       "'ids' is a int"),
    "dayfirst not a bool": (
        lambda path: _rewrite(path, lambda p: p["fitted"].update(dayfirst="yes")),
        "'dayfirst' is a str, not a bool or NoneType"),
    # Loaded, then summary() failed with float()'s TypeError.
    "a training summary of text": (
        lambda path: _rewrite(path, lambda p: p["fitted"].update(
            training_summary={"epochs": 1, "best_val_loss": [1]})),
        "fitted 'training_summary' .* is not epochs, best epoch and best validation loss"),
    "a member's training summary": (
        lambda path: _rewrite(path, lambda p: p["fitted"].update(
            training_summary={"epochs": 1, "members": [{"epochs": -2}]})),
        "fitted 'training_summary' .* is not epochs"),
    "a weight not a tensor": (
        lambda path: _rewrite(path, lambda p: p["state_dict"].update(x=[1.0])),
        "weight 'x' is not a named tensor"),
}


@pytest.mark.parametrize("damage", UNREADABLE, ids=list(UNREADABLE))
def test_an_unreadable_file_is_one_line_that_names_it(model, damage):
    make, match = UNREADABLE[damage]
    make(model)
    _refused(model, match)


@pytest.mark.parametrize("kind, cls, message", [
    ("AnomalyDetector", Forecaster, "holds an AnomalyDetector, not a Forecaster"),
    ("Forecaster", AnomalyDetector, "holds a Forecaster, not an AnomalyDetector"),
])
def test_a_file_of_another_estimator_names_both_kinds(saved, kind, cls, message):
    with pytest.raises(ValueError, match=f"{message}$"):
        cls.load(saved[kind])


def test_a_folder_is_not_a_model_file(tmp_path):
    _refused(tmp_path, "is a folder, not a model file")


def test_a_missing_file_stays_file_not_found(tmp_path):
    for load in (Forecaster.load, read_model):
        with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'gone.tsrnn'} not found"):
            load(tmp_path / "gone.tsrnn")


# ------------------------------------------------------------------------ code
@pytest.mark.parametrize("force_unsafe", [False, True])
def test_a_file_with_code_is_refused_and_the_code_never_runs(model, pickled_code, monkeypatch,
                                                             force_unsafe):
    if force_unsafe:  # torch's switch to unpickle anything: tsrnn must not listen
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    code, marker = pickled_code
    _rewrite(model, lambda p: p["fitted"].update(context=code), reseal=False)
    message = _refused(model, r"is not a tsrnn model file \(refused: it contains code\)$")
    assert "weights_only" not in message  # no advice to retry the unsafe way
    assert not marker.exists()


# ---------------------------------------------------------- sizes and values
def _built_on_meta_only(monkeypatch, cls):
    """Make ``cls._make_net`` fail if it is called anywhere but on torch's meta
    device: a refused file must never get a real network built."""
    make = cls._make_net

    def checked(self, *args):
        if torch.empty(()).device.type != "meta":
            raise AssertionError("a real network was built before the sizes were checked")
        return make(self, *args)

    monkeypatch.setattr(cls, "_make_net", checked)


def test_a_huge_hidden_size_is_refused_before_any_allocation(model, monkeypatch):
    # A 10 KB file whose parameters ask for a 60,000-unit network: 57 GB of weights.
    assert model.stat().st_size < 20_000
    _rewrite(model, lambda p: p["params"].update(hidden_size=60_000))
    _built_on_meta_only(monkeypatch, Forecaster)
    _refused(model, r"a network of \d+\.\d GiB, over the 4 GiB limit")


@pytest.mark.parametrize("layers", [10**6, 10**12])
def test_a_layer_count_beyond_the_weights_is_refused_before_building(model, monkeypatch,
                                                                     layers):
    # Even on the meta device, a million layers would take minutes to build.
    _rewrite(model, lambda p: p["params"].update(num_layers=layers))
    monkeypatch.setattr(Forecaster, "_make_net", lambda *a: pytest.fail("built"))
    _refused(model, f"num_layers={layers} is more than its 8 weights can hold")


def test_parameters_that_do_not_fit_the_weights_name_the_weight(model, monkeypatch):
    _rewrite(model, lambda p: p["params"].update(hidden_size=512))
    _built_on_meta_only(monkeypatch, Forecaster)
    _refused(model, r"weight '[\w.]+' has shape \([\d, ]*8[\d, ]*\), but the parameters "
                    r"give \([\d, ]*512[\d, ]*\)")


def _first_weight(payload) -> torch.Tensor:
    return next(iter(payload["state_dict"].values()))


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("name", list(FITS))
def test_weights_holding_nan_or_inf_are_refused(saved, tmp_path, name, value):
    path = tmp_path / "model.tsrnn"
    path.write_bytes(saved[name].read_bytes())
    _rewrite(path, lambda p: _first_weight(p).view(-1).__setitem__(0, value))
    _refused(path, "holds NaN or infinite values", getattr(__import__("tsrnn"), name))


@pytest.mark.parametrize("spread", [0.0, -1.0, np.nan])
@pytest.mark.parametrize("name", list(FITS))
def test_a_scaling_spread_that_is_not_positive_is_refused(saved, tmp_path, name, spread):
    # Today's silent failure: a zero spread divides by zero, every forecast is NaN.
    path = tmp_path / "model.tsrnn"
    path.write_bytes(saved[name].read_bytes())
    _rewrite(path, lambda p: p["fitted"]["scaler_spread"].fill_(spread))
    _refused(path, "fitted 'scaler_spread' holds", getattr(__import__("tsrnn"), name))


INCONSISTENT = {
    "context shorter than input_len": (
        lambda p: p["fitted"].update(context=p["fitted"]["context"][:, :6].clone()),
        r"'context' has shape \(1, 6, 2\), expected \(1, 12, 2\)"),
    "input_len unlike the weights": (
        lambda p: p["params"].update(input_len=6),
        "fitted 'sizes' input_len=12 differs from its parameter input_len=6"),
    "sizes unlike the weights": (
        lambda p: p["fitted"].update(sizes={"input_len": 6, "horizon": 3, "season": 1}),
        "differs from its parameter"),
    "scaling of another column count": (
        lambda p: p["fitted"].update(scaler_loc=torch.zeros(1, 3, dtype=torch.float64)),
        r"'scaler_loc' has shape \(1, 3\), expected \(1, 2\)"),
    "a net shape unlike the roles": (
        lambda p: p["fitted"]["net_shape"].update(n_targets=1), "'net_shape'"),
    "feature names unlike the roles": (
        lambda p: p["fitted"].update(feature_names=["z", "y"]), "'feature_names'"),
}


@pytest.mark.parametrize("case", INCONSISTENT, ids=list(INCONSISTENT))
def test_fitted_shapes_inconsistent_with_the_parameters_are_refused(model, case):
    edit, match = INCONSISTENT[case]
    _rewrite(model, edit)
    _refused(model, match)


@pytest.mark.parametrize("name", ["likelihood_history", "drift_window", "smoothing",
                                  "cooldown", "likelihood_window"])
def test_a_detector_window_that_would_exhaust_memory_is_refused(saved, tmp_path, name):
    # A stream allocates its windows per series at once: 10^12 steps is 24 TB.
    path = tmp_path / "model.tsrnn"
    path.write_bytes(saved["AnomalyDetector"].read_bytes())
    _rewrite(path, lambda p: p["params"].update({name: 10**12}))
    _refused(path, f"{name} must be an integer from \\d+ to 1000000, got 1000000000000",
             AnomalyDetector)


def test_a_detector_threshold_that_is_not_finite_is_refused(saved, tmp_path):
    path = tmp_path / "model.tsrnn"
    path.write_bytes(saved["AnomalyDetector"].read_bytes())
    _rewrite(path, lambda p: p["fitted"].update(threshold=float("nan")))
    _refused(path, "'threshold' is nan", AnomalyDetector)


# -------------------------------------------------------------------- checksum
def test_overwritten_bytes_are_caught_by_the_checksum(saved, tmp_path):
    original = saved["Forecaster"].read_bytes()
    expected = Forecaster.load(saved["Forecaster"]).predict()
    path = tmp_path / "model.tsrnn"
    readable_but_refused = 0
    rng = np.random.default_rng(0)  # the same damage every run
    for offset in range(0, len(original) - 64, 61):
        path.write_bytes(original[:offset] + rng.bytes(64) + original[offset + 64:])
        try:
            loaded = Forecaster.load(path)
        except ValueError as err:
            assert str(path) in str(err) and "\n" not in str(err)
            try:
                torch.load(path, weights_only=True)
            except Exception:
                continue  # the zip or the pickle broke: refused without the checksum
            # Still a zip and a pickle: the checksum, or a check of what the damaged
            # pickle now says (another format name, a parameter out of range), refused it.
            readable_but_refused += "does not match its checksum" in str(err)
        else:  # the bytes were padding between zip records: the content is intact
            pd.testing.assert_frame_equal(loaded.predict(), expected)
    assert readable_but_refused > 0  # tensors' bytes were hit, and only the sum saw it


def test_the_checksum_covers_plain_values(model):
    _rewrite(model, lambda p: p["params"].update(horizon=4), reseal=False)
    _refused(model, "does not match its checksum")


def test_a_version_2_file_without_a_checksum_is_refused(model):
    _rewrite(model, lambda p: p.pop("checksum"), reseal=False)
    _refused(model, "does not match its checksum")


def test_a_version_1_file_without_a_checksum_still_loads(model, saved):
    def as_version_1(payload):
        payload["format_version"] = 1
        del payload["checksum"]

    _rewrite(model, as_version_1, reseal=False)
    pd.testing.assert_frame_equal(Forecaster.load(model).predict(),
                                  Forecaster.load(saved["Forecaster"]).predict())


def test_a_file_from_a_newer_tsrnn_asks_for_an_upgrade(model):
    _rewrite(model, lambda p: p.update(format_version=99), reseal=False)
    _refused(model, "written by a newer tsrnn")


def test_a_saved_file_loads_and_predicts_as_saved(saved):
    model = Forecaster.load(saved["Forecaster"])
    assert torch.load(saved["Forecaster"], weights_only=True)["checksum"].startswith("sha256:")
    assert np.isfinite(model.predict()[["y", "z"]].to_numpy()).all()
