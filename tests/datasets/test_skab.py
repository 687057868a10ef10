"""Tests for tsrnn.datasets.skab.

No test touches the network: an autouse fixture replaces urllib's urlopen
with one that serves registered URLs from memory and refuses every other one.
"""

from __future__ import annotations

import io
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsrnn.datasets import (
    DATA_DIR_ENV,
    SKAB_SENSORS,
    SKAB_SHA256,
    load_skab,
    skab_files,
)
from tsrnn.datasets._download import sha256_file

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SKAB_URL = "https://raw.githubusercontent.com/waico/SKAB/master/data/"
ANOMALY_FREE = "anomaly-free/anomaly-free.csv"
VALVE1 = [f"valve1/{i}.csv" for i in range(16)]
COLUMNS = ["datetime", *SKAB_SENSORS, "anomaly", "changepoint"]


class FakeUrlopen:
    """Stands in for urllib.request.urlopen: answers from a dict, never the network."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.urls: list[str] = []

    def __call__(self, request: urllib.request.Request, timeout: float | None = None):
        self.urls.append(request.full_url)
        if request.full_url not in self.routes:
            raise urllib.error.URLError(f"test network is off: {request.full_url}")
        return io.BytesIO(self.routes[request.full_url])


@pytest.fixture(autouse=True)
def server(monkeypatch) -> FakeUrlopen:
    fake = FakeUrlopen()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    # Tests choose their folders explicitly; the user's setting must not leak in.
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return fake


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "skab").is_dir():
        pytest.skip(f"shared SKAB copy {SHARED_DATA / 'skab'} is absent")
    return SHARED_DATA


def _shared_file(shared: Path, name: str) -> Path:
    """Where the shared copy keeps ``name`` (anomaly-free.csv sits at the top)."""
    return shared / "skab" / ("anomaly-free.csv" if name == ANOMALY_FREE else name)


def _write_skab_csv(file: Path, frame: pd.DataFrame) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(file, sep=";", index=False)


def _tiny_experiment(rows: int = 4) -> pd.DataFrame:
    """A small frame with the SKAB experiment columns, not upstream content."""
    return pd.DataFrame(
        {"datetime": pd.date_range("2020-03-09 10:00:00", periods=rows, freq="s")}
        | {column: np.arange(rows, dtype=float) for column in SKAB_SENSORS}
        | {"anomaly": [0.0] * (rows - 1) + [1.0], "changepoint": [0.0] * (rows - 1) + [1.0]}
    )


# --- the shared copy ----------------------------------------------------------


def test_the_registered_checksums_are_those_of_the_shared_copy(shared_data):
    assert list(SKAB_SHA256) == [ANOMALY_FREE, *VALVE1]
    for name, digest in SKAB_SHA256.items():
        assert sha256_file(_shared_file(shared_data, name)) == digest, name


@pytest.mark.parametrize("where", ["data root", "skab folder"])
def test_load_skab_reads_every_shared_file(shared_data, where, server):
    path = shared_data if where == "data root" else shared_data / "skab"
    frames = load_skab(path=path)
    assert list(frames) == [ANOMALY_FREE, *VALVE1]

    normal = frames[ANOMALY_FREE]
    assert list(normal.columns) == ["datetime", *SKAB_SENSORS]
    assert normal.shape == (9405, 9)
    for name, data in frames.items():
        assert pd.api.types.is_datetime64_dtype(data["datetime"]), name
        assert data["datetime"].is_monotonic_increasing, name
        assert all(data[c].dtype == np.float64 for c in SKAB_SENSORS), name
        assert not data.isna().any().any(), name
    for name in VALVE1:
        data = frames[name]
        assert list(data.columns) == COLUMNS, name
        assert 1075 <= len(data) <= 1154, name
        for label in ("anomaly", "changepoint"):
            assert data[label].dtype == np.int64, name
            assert set(data[label].unique()) == {0, 1}, name
        # SKAB's protocol: the first rows of each experiment are normal.
        assert data["anomaly"].iloc[:500].sum() == 0, name
        assert data["anomaly"].sum() > 0, name
    assert server.urls == []


def test_one_name_gives_a_frame_a_list_gives_a_dict(shared_data):
    one = load_skab("valve1/10.csv", path=shared_data)
    assert isinstance(one, pd.DataFrame)
    assert one["datetime"].iloc[0] == pd.Timestamp("2020-03-09 13:34:39")
    assert len(one) == 1146
    names = ["valve1/10.csv", "valve1/2.csv"]
    several = load_skab(names, path=shared_data)
    assert list(several) == names
    pd.testing.assert_frame_equal(several["valve1/10.csv"], one)


def test_anomaly_free_csv_is_an_alias(shared_data):
    alias = load_skab("anomaly-free.csv", path=shared_data)
    pd.testing.assert_frame_equal(alias, load_skab(ANOMALY_FREE, path=shared_data))
    assert "anomaly" not in alias.columns
    # In a list, each frame is keyed by the name as given.
    assert list(load_skab(["anomaly-free.csv"], path=shared_data)) == ["anomaly-free.csv"]


def test_load_skab_finds_the_copy_through_the_environment_variable(
    shared_data, monkeypatch, server
):
    monkeypatch.setenv(DATA_DIR_ENV, str(shared_data))
    assert len(load_skab("valve1/3.csv", download=False)) == 1148
    assert server.urls == []


def test_skab_files_lists_the_shared_copy_in_numeric_order(shared_data):
    expected = [ANOMALY_FREE, *VALVE1]
    assert skab_files(shared_data) == expected
    assert skab_files(shared_data / "skab") == expected
    assert skab_files(cache_dir=shared_data) == expected


# --- layouts and listing ------------------------------------------------------


def test_the_upstream_layout_of_a_skab_checkout(shared_data, tmp_path):
    names = ["valve1/0.csv", "valve1/1.csv", "valve1/2.csv", "valve1/10.csv"]
    for name in [ANOMALY_FREE, *names]:
        target = tmp_path / "SKAB" / "data" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_shared_file(shared_data, name), target)

    for path in (tmp_path / "SKAB", tmp_path / "SKAB" / "data"):
        assert skab_files(path) == [ANOMALY_FREE, *names]
    frames = load_skab(skab_files(tmp_path / "SKAB"), path=tmp_path / "SKAB")
    assert list(frames) == [ANOMALY_FREE, *names]
    pd.testing.assert_frame_equal(
        frames[ANOMALY_FREE], load_skab("anomaly-free.csv", path=shared_data)
    )
    pd.testing.assert_frame_equal(
        frames["valve1/10.csv"], load_skab("valve1/10.csv", path=shared_data)
    )


def test_skab_files_sorts_numerically_and_ignores_other_csvs(tmp_path):
    for name in [
        "valve2/10.csv",
        "valve2/9.csv",
        "other/3.csv",
        "valve1/1.csv",
        "valve2/notes.csv",
    ]:
        _write_skab_csv(tmp_path / name, _tiny_experiment())
    assert skab_files(tmp_path) == ["other/3.csv", "valve1/1.csv", "valve2/9.csv", "valve2/10.csv"]


def test_skab_files_on_empty_or_missing_folders(tmp_path, monkeypatch):
    assert skab_files(tmp_path) == []
    # Another dataset beside skab/ is not taken for SKAB.
    _write_skab_csv(tmp_path / "nab" / "realTweets" / "1.csv", _tiny_experiment())
    assert skab_files(tmp_path) == []
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    (tmp_path / "skab").mkdir()
    (tmp_path / "skab" / "anomaly-free.csv").write_text("datetime\n")
    assert skab_files() == [ANOMALY_FREE]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        skab_files(tmp_path / "missing")


# --- checksums, names and contents ---------------------------------------------


@pytest.mark.parametrize("name", ["valve1/0.csv", ANOMALY_FREE])
def test_an_altered_copy_is_refused(shared_data, tmp_path, name):
    # The shared layout: valve1/0.csv in its folder, anomaly-free.csv at the top.
    copy = tmp_path / ("anomaly-free.csv" if name == ANOMALY_FREE else name)
    copy.parent.mkdir(parents=True, exist_ok=True)
    content = bytearray(_shared_file(shared_data, name).read_bytes())
    # A digit of the first sensor value in the first data row.
    at = content.index(b"\n") + 1 + len("2020-03-09 10:14:33;0.02")
    assert chr(content[at]).isdigit()
    content[at] = ord("7") if content[at] != ord("7") else ord("8")
    copy.write_bytes(bytes(content))

    with pytest.raises(ValueError, match=f"checksum mismatch for SKAB '{name}'") as info:
        load_skab(name, path=tmp_path)
    assert str(copy) in str(info.value)
    assert copy.exists(), "a user's local file is never deleted"
    # A copy changed on purpose still loads on request.
    assert len(load_skab(name, path=tmp_path, verify=False)) > 1000


@pytest.mark.parametrize(
    "name",
    [
        "valve1/x.csv",
        "valve3/1.csv",
        "../valve1/1.csv",
        "valve1\\1.csv",
        "valve1/01.csv",
        "valve1/1",
    ],
)
def test_load_skab_rejects_names_that_are_not_skab_files(name, server):
    with pytest.raises(ValueError, match="SKAB file names look like 'valve1/0.csv'"):
        load_skab(name)
    with pytest.raises(ValueError, match=re.escape(f"got {name!r}")):
        load_skab(["valve1/0.csv", name], download=False)
    assert server.urls == []


def test_a_bare_file_name_gets_a_hint():
    with pytest.raises(ValueError, match="did you mean 'valve1/3.csv', 'valve2/3.csv'"):
        load_skab("3.csv")


def test_missing_sensor_columns_are_named(tmp_path):
    # valve2/ has no registered checksum, so the columns are what fails.
    broken = _tiny_experiment().drop(columns=["Pressure", "Voltage"])
    _write_skab_csv(tmp_path / "valve2" / "0.csv", broken)
    with pytest.raises(ValueError) as info:
        load_skab("valve2/0.csv", path=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "valve2" / "0.csv") in message
    assert "missing columns ['Pressure', 'Voltage']" in message


def test_a_comma_separated_file_is_refused(tmp_path):
    file = tmp_path / "valve2" / "1.csv"
    file.parent.mkdir()
    _tiny_experiment().to_csv(file, index=False)
    with pytest.raises(ValueError, match="missing columns .*the separator is ';'"):
        load_skab("valve2/1.csv", path=tmp_path)


def test_a_timestamp_of_another_form_is_named_on_one_line(tmp_path):
    frame = _tiny_experiment()
    frame["datetime"] = frame["datetime"].astype(str)
    frame.loc[1, "datetime"] = "2020-13-99 xx"
    _write_skab_csv(tmp_path / "other" / "5.csv", frame)
    with pytest.raises(ValueError) as info:
        load_skab("other/5.csv", path=tmp_path)
    message = str(info.value)
    assert "timestamps should look like 2020-03-09 10:14:33" in message
    assert "2020-13-99 xx" in message and "\n" not in message  # not pandas' hints


def test_labels_other_than_0_and_1_are_refused(tmp_path):
    frame = _tiny_experiment()
    frame.loc[2, "anomaly"] = 2.0
    _write_skab_csv(tmp_path / "other" / "4.csv", frame)
    with pytest.raises(ValueError, match="'anomaly' should hold 0 or 1 on every row; row 2"):
        load_skab("other/4.csv", path=tmp_path)


def test_a_file_without_a_checksum_loads_locally_with_int_labels(tmp_path, recwarn):
    _write_skab_csv(tmp_path / "skab" / "valve2" / "3.csv", _tiny_experiment())
    data = load_skab("valve2/3.csv", path=tmp_path)
    assert list(data.columns) == COLUMNS
    assert data["anomaly"].tolist() == [0, 0, 0, 1]
    assert data["changepoint"].dtype == np.int64
    assert len(recwarn) == 0, "only an unverified download warns"


# --- the cache and downloads (served from memory) ------------------------------


def test_without_a_copy_and_download_off_it_says_where_it_looked(tmp_path, server):
    with pytest.raises(FileNotFoundError) as info:
        load_skab("anomaly-free.csv", cache_dir=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "skab" / "anomaly-free.csv") in message
    assert str(tmp_path / "data" / "anomaly-free" / "anomaly-free.csv") in message
    assert server.urls == []


def test_a_path_never_downloads(tmp_path, server):
    server.routes[SKAB_URL + "valve1/0.csv"] = b"unused"
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded when path= is given"):
        load_skab("valve1/0.csv", path=tmp_path)
    assert server.urls == []


def test_known_files_download_verified_into_the_shared_layout(shared_data, tmp_path, server):
    for name in (ANOMALY_FREE, "valve1/7.csv"):
        server.routes[SKAB_URL + name] = _shared_file(shared_data, name).read_bytes()
    frames = load_skab([ANOMALY_FREE, "valve1/7.csv"], cache_dir=tmp_path)
    assert server.urls == [SKAB_URL + ANOMALY_FREE, SKAB_URL + "valve1/7.csv"]
    assert (tmp_path / "skab" / "anomaly-free.csv").is_file()
    assert (tmp_path / "skab" / "valve1" / "7.csv").is_file()
    assert frames["valve1/7.csv"]["anomaly"].sum() > 0
    # Second call: served from the cache, no new request.
    assert skab_files(cache_dir=tmp_path) == [ANOMALY_FREE, "valve1/7.csv"]
    load_skab("valve1/7.csv", cache_dir=tmp_path)
    assert len(server.urls) == 2


def test_a_download_with_the_wrong_checksum_is_deleted(tmp_path, server):
    payload = io.StringIO()
    _tiny_experiment().to_csv(payload, sep=";", index=False)
    server.routes[SKAB_URL + "valve1/0.csv"] = payload.getvalue().encode()
    with pytest.raises(ValueError, match="checksum mismatch .* downloaded from .*deleted"):
        load_skab("valve1/0.csv", cache_dir=tmp_path)
    assert not (tmp_path / "skab" / "valve1" / "0.csv").exists()


def test_other_skab_files_download_with_a_warning(tmp_path, server):
    payload = io.StringIO()
    _tiny_experiment().to_csv(payload, sep=";", index=False)
    server.routes[SKAB_URL + "valve2/3.csv"] = payload.getvalue().encode()
    with pytest.warns(UserWarning, match="could not verify"):
        data = load_skab("valve2/3.csv", cache_dir=tmp_path)
    assert len(data) == 4
    assert server.urls == [SKAB_URL + "valve2/3.csv"]
    assert (tmp_path / "skab" / "valve2" / "3.csv").is_file()
