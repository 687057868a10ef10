"""`import tsrnn` stays cheap: Lightning (about 4-6 s to import) loads only to train."""

import subprocess
import sys

import pytest

HEAVY = ("lightning", "pytorch_lightning")


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "code",
    [
        "import tsrnn",
        "import tsrnn.data",
        "from tsrnn.data import SeriesData, make_windows, chronological_split, Scaler",
        "from tsrnn.data import WindowDataset, make_loader",
        "import tsrnn.nn",
        "import tsrnn.datasets",
    ],
)
def test_lightning_not_imported(code):
    loaded = _loaded_after(code)
    assert not loaded & set(HEAVY), f"{code!r} imported {loaded & set(HEAVY)}"


def test_bare_import_skips_torch():
    # The CLI's argument parsing and `--help` should not wait for torch either.
    assert "torch" not in _loaded_after("import tsrnn")


def test_lazy_attributes_resolve():
    import tsrnn
    import tsrnn.data

    assert tsrnn.data.make_windows.__module__ == "tsrnn.data.windowing"
    assert set(tsrnn.data.__all__) <= set(dir(tsrnn.data))
    with pytest.raises(AttributeError):
        tsrnn.does_not_exist  # noqa: B018
