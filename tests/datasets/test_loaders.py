"""Tests for the ETT and NAB loaders (tsrnn.datasets.ett, tsrnn.datasets.nab) and
the download helpers behind them.

No test touches the network: an autouse fixture installs a urllib opener that
serves registered URLs from memory and refuses every other one.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import urllib.error
import urllib.request
import urllib.response
from email.message import Message
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsrnn.datasets import (
    DATA_DIR_ENV,
    ett,
    load_ett,
    load_nab,
    load_nab_labels,
    nab,
    nab_files,
)
from tsrnn.datasets._download import cache_root, sha256_file

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ETTH1_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/ETTh1.csv"
NAB_URL = "https://raw.githubusercontent.com/numenta/NAB/master/data/"
LABELS_URL = "https://raw.githubusercontent.com/numenta/NAB/master/labels/combined_windows.json"
FLATLINE = "artificialNoAnomaly/art_flatline.csv"


class FakeServer(urllib.request.BaseHandler):
    """A urllib handler that answers from a dict instead of the network."""

    # Before urllib's own HTTPSHandler (500), so it always answers first.
    handler_order = 100

    def __init__(self) -> None:
        self.routes: dict[str, bytes | Exception] = {}
        self.requests: list[urllib.request.Request] = []

    def https_open(self, request: urllib.request.Request):
        self.requests.append(request)
        answer = self.routes.get(request.full_url)
        if answer is None:
            raise urllib.error.URLError(f"test network is off: {request.full_url}")
        if isinstance(answer, Exception):
            raise answer
        response = urllib.response.addinfourl(
            io.BytesIO(answer), Message(), request.full_url, code=200
        )
        response.msg = "OK"  # read by urllib's HTTPErrorProcessor
        return response


@pytest.fixture(autouse=True)
def server(monkeypatch):
    """Route all urllib traffic to a FakeServer; no test may use the network."""
    fake = FakeServer()
    urllib.request.install_opener(urllib.request.build_opener(fake))
    # Tests choose their folders explicitly; the user's setting must not leak in.
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    yield fake
    urllib.request.install_opener(None)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def _ett_like_csv(rows: int = 3) -> bytes:
    """A small CSV with the ETT columns, not the upstream content."""
    frame = pd.DataFrame(
        {"date": pd.date_range("2020-01-01", periods=rows, freq="h")}
        | {column: np.arange(rows, dtype=float) for column in ett.ETT_COLUMNS[1:]}
    )
    return frame.to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S").encode()


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".part"]


# --- import cost --------------------------------------------------------------


def test_importing_the_datasets_stays_light():
    # Loading sample data must not wait for torch; urllib.request is only
    # imported when something is actually downloaded.
    code = "import sys, tsrnn.datasets; print(' '.join(sys.modules))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "tsrnn.datasets" in loaded
    assert not loaded & {"torch", "lightning", "pytorch_lightning", "urllib.request"}


# --- cache folder -----------------------------------------------------------


def test_cache_root_prefers_argument_then_env_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "tsrnn"
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"


# --- ETT --------------------------------------------------------------------


def _check_etth1(data: pd.DataFrame) -> None:
    assert data.shape == (17420, 8)
    assert tuple(data.columns) == ett.ETT_COLUMNS
    assert pd.api.types.is_datetime64_dtype(data["date"])
    assert data["date"].iloc[0] == pd.Timestamp("2016-07-01 00:00:00")
    assert data["date"].iloc[-1] == pd.Timestamp("2018-06-26 19:00:00")
    assert (data["date"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert not data.isna().any().any()
    assert all(data[c].dtype == np.float64 for c in ett.ETT_COLUMNS[1:])


@pytest.mark.parametrize("where", ["folder", "subfolder", "file"])
def test_load_ett_reads_a_local_copy(shared_data, where, server):
    path = {
        "folder": shared_data,
        "subfolder": shared_data / "ett",
        "file": shared_data / "ett" / "ETTh1.csv",
    }[where]
    _check_etth1(load_ett("ETTh1", path=path))
    assert server.requests == []


def test_load_ett_finds_the_copy_through_the_environment_variable(shared_data, monkeypatch, server):
    monkeypatch.setenv(DATA_DIR_ENV, str(shared_data))
    _check_etth1(load_ett(download=False))
    assert server.requests == []


def test_shared_etth1_matches_the_registered_checksum(shared_data):
    assert sha256_file(shared_data / "ett" / "ETTh1.csv") == ett.ETT_SHA256["ETTh1"]


def test_load_ett_rejects_a_file_with_the_wrong_checksum(tmp_path):
    bad = tmp_path / "ETTh1.csv"
    bad.write_bytes(_ett_like_csv())
    with pytest.raises(ValueError, match="checksum mismatch for ETT 'ETTh1'") as info:
        load_ett(path=tmp_path)
    assert str(bad) in str(info.value)
    assert "verify=False" in str(info.value)
    assert bad.exists(), "a user's local file is never deleted"
    # The user can still load a copy they changed on purpose.
    assert len(load_ett(path=bad, verify=False)) == 3


def test_load_ett_without_a_copy_and_download_off_says_where_it_looked(tmp_path, server):
    with pytest.raises(FileNotFoundError) as info:
        load_ett("ETTh2", cache_dir=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "ETTh2.csv") in message
    assert str(tmp_path / "ett" / "ETTh2.csv") in message
    assert "path=" in message and DATA_DIR_ENV in message
    assert server.requests == []


def test_load_ett_never_downloads_when_a_path_is_given(tmp_path, server):
    server.routes[ETTH1_URL] = b"unused"
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded when path= is given"):
        load_ett(path=tmp_path / "nowhere")
    assert server.requests == []


def test_load_ett_downloads_verifies_and_caches(monkeypatch, tmp_path, server):
    payload = _ett_like_csv(rows=5)
    monkeypatch.setitem(ett.ETT_SHA256, "ETTh1", hashlib.sha256(payload).hexdigest())
    server.routes[ETTH1_URL] = payload

    data = load_ett(cache_dir=tmp_path)
    assert len(data) == 5
    assert (tmp_path / "ett" / "ETTh1.csv").read_bytes() == payload
    assert [r.full_url for r in server.requests] == [ETTH1_URL]
    assert server.requests[0].timeout is not None, "a dead network must not hang"
    assert _leftovers(tmp_path) == []

    # Second call: served from the cache, no new request.
    pd.testing.assert_frame_equal(load_ett(cache_dir=tmp_path), data)
    assert len(server.requests) == 1


def test_load_ett_downloads_the_real_file(shared_data, tmp_path, server):
    server.routes[ETTH1_URL] = (shared_data / "ett" / "ETTh1.csv").read_bytes()
    _check_etth1(load_ett(cache_dir=tmp_path))
    assert (tmp_path / "ett" / "ETTh1.csv").is_file()


def test_a_download_with_the_wrong_checksum_is_deleted(tmp_path, server):
    server.routes[ETTH1_URL] = _ett_like_csv()
    with pytest.raises(ValueError, match="checksum mismatch .* downloaded from .*deleted"):
        load_ett(cache_dir=tmp_path)
    assert not (tmp_path / "ett" / "ETTh1.csv").exists()
    assert _leftovers(tmp_path) == []


def test_a_download_without_a_known_checksum_warns(monkeypatch, tmp_path, server):
    monkeypatch.setitem(ett.ETT_SHA256, "ETTm2", None)
    payload = _ett_like_csv()
    server.routes[ETTH1_URL.replace("ETTh1", "ETTm2")] = payload
    with pytest.warns(UserWarning, match="could not verify") as record:
        data = load_ett("ETTm2", cache_dir=tmp_path)
    assert hashlib.sha256(payload).hexdigest() in str(record[0].message)
    assert len(data) == 3
    assert (tmp_path / "ett" / "ETTm2.csv").is_file()


def test_an_offline_download_fails_with_advice_and_leaves_nothing(tmp_path, server):
    server.routes[ETTH1_URL] = urllib.error.URLError("Name or service not known")
    with pytest.raises(FileNotFoundError) as info:
        load_ett(cache_dir=tmp_path)
    message = str(info.value)
    assert "Name or service not known" in message
    assert "offline" in message and "path=" in message
    assert str(tmp_path / "ett" / "ETTh1.csv") in message
    assert not (tmp_path / "ett" / "ETTh1.csv").exists()
    assert _leftovers(tmp_path) == []


def test_load_ett_rejects_unknown_names_and_non_ett_files(tmp_path):
    with pytest.raises(ValueError, match="unknown ETT dataset 'ETTh3'.*ETTh1"):
        load_ett("ETTh3")
    other = tmp_path / "ETTh1.csv"
    other.write_text("timestamp,value\n2020-01-01 00:00:00,1.0\n")
    with pytest.raises(ValueError, match="not an ETT file"):
        load_ett(path=other, verify=False)


# --- NAB --------------------------------------------------------------------


def test_nab_files_lists_the_28_shared_series(shared_data):
    expected = sorted(nab.NAB_SHA256)
    assert len(expected) == 28
    assert nab_files(shared_data) == expected
    assert nab_files(shared_data / "nab") == expected


def test_nab_files_on_empty_or_missing_folders(tmp_path, monkeypatch):
    assert nab_files(tmp_path) == []
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    (tmp_path / "nab" / "realTweets").mkdir(parents=True)
    (tmp_path / "nab" / "realTweets" / "Twitter_volume_AAPL.csv").write_text("timestamp,value\n")
    assert nab_files() == ["realTweets/Twitter_volume_AAPL.csv"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nab_files(tmp_path / "missing")


def test_load_nab_reads_all_shared_series(shared_data, server):
    series = load_nab(path=shared_data)
    assert list(series) == sorted(nab.NAB_SHA256)
    for name, data in series.items():
        assert list(data.columns) == ["timestamp", "value"], name
        assert pd.api.types.is_datetime64_dtype(data["timestamp"]), name
        assert data["value"].dtype == np.float64, name
        assert len(data) > 1000, name
        assert data["timestamp"].is_monotonic_increasing, name
        assert not data.isna().any().any(), name
    assert server.requests == []


def test_load_nab_one_name_gives_a_frame_and_a_list_gives_a_dict(shared_data):
    one = load_nab(FLATLINE, path=shared_data)
    assert isinstance(one, pd.DataFrame)
    assert one["timestamp"].iloc[0] == pd.Timestamp("2014-04-01 00:00:00")
    assert one["value"].nunique() == 1, "art_flatline is flat"
    names = ["realAWSCloudwatch/grok_asg_anomaly.csv", FLATLINE]
    several = load_nab(names, path=shared_data)
    assert list(several) == names
    pd.testing.assert_frame_equal(several[FLATLINE], one)


def test_load_nab_verifies_local_copies(tmp_path):
    bad = tmp_path / "nab" / FLATLINE
    bad.parent.mkdir(parents=True)
    bad.write_text("timestamp,value\n2014-04-01 00:00:00,1.0\n")
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_nab(FLATLINE, path=tmp_path)
    assert len(load_nab(FLATLINE, path=tmp_path, verify=False)) == 1


@pytest.mark.parametrize(
    "name", ["../secrets.csv", "a/b/c.csv", "/etc/passwd.csv", "realTweets\\x.csv", "flat"]
)
def test_load_nab_rejects_names_that_are_not_category_slash_file(name, server):
    with pytest.raises(ValueError, match="category/file.csv"):
        load_nab(name)
    assert server.requests == []


def test_load_nab_suggests_the_category_for_a_bare_file_name():
    with pytest.raises(ValueError, match=f"did you mean '{FLATLINE}'"):
        load_nab("art_flatline.csv")


def test_load_nab_downloads_into_the_cache(monkeypatch, tmp_path, server):
    payload = b"timestamp,value\n2014-04-01 00:00:00,5.0\n2014-04-01 00:05:00,6.0\n"
    monkeypatch.setitem(nab.NAB_SHA256, FLATLINE, hashlib.sha256(payload).hexdigest())
    server.routes[NAB_URL + FLATLINE] = payload
    data = load_nab(FLATLINE, cache_dir=tmp_path)
    assert data["value"].tolist() == [5.0, 6.0]
    assert (tmp_path / "nab" / FLATLINE).read_bytes() == payload
    assert nab_files(cache_dir=tmp_path) == [FLATLINE]


def test_load_nab_labels_reads_the_shared_windows(shared_data, server):
    labels = load_nab_labels(path=shared_data)
    assert sorted(labels) == sorted(nab.NAB_SHA256)
    assert labels["artificialNoAnomaly/art_flatline.csv"] == []
    assert labels["artificialWithAnomaly/art_daily_jumpsup.csv"] == [
        (pd.Timestamp("2014-04-10 16:15:00"), pd.Timestamp("2014-04-12 01:45:00"))
    ]
    series = load_nab(list(labels), path=shared_data)
    n_windows = 0
    for name, windows in labels.items():
        for start, end in windows:
            assert isinstance(start, pd.Timestamp) and start < end, name
            assert series[name]["timestamp"].iloc[0] <= start, name
            assert end <= series[name]["timestamp"].iloc[-1], name
            n_windows += 1
    assert n_windows == 36
    assert server.requests == []


def test_load_nab_labels_selects_names(shared_data):
    windows = load_nab_labels("realAWSCloudwatch/grok_asg_anomaly.csv", path=shared_data)
    assert isinstance(windows, list) and len(windows) == 3
    subset = load_nab_labels([FLATLINE], path=shared_data)
    assert subset == {FLATLINE: []}
    with pytest.raises(ValueError, match="no labels for \\['realTweets/x.csv'\\]"):
        load_nab_labels("realTweets/x.csv", path=shared_data)


def test_nab_labels_under_the_subset_name_are_not_held_to_the_upstream_checksum(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(nab, "NAB_LABELS_SHA256", "0" * 64)
    (tmp_path / "labels_windows.json").write_text(json.dumps({FLATLINE: []}))
    assert load_nab_labels(path=tmp_path) == {FLATLINE: []}
    (tmp_path / "combined_windows.json").write_text(json.dumps({FLATLINE: []}))
    with pytest.raises(ValueError, match="checksum mismatch for NAB labels"):
        load_nab_labels(path=tmp_path)


def test_an_md5_checksum_is_checked_on_download(monkeypatch, tmp_path, server):
    # ETTh2's upstream checksum is published only as an md5.
    payload = _ett_like_csv()
    url = ETTH1_URL.replace("ETTh1", "ETTh2")
    server.routes[url] = payload
    with pytest.raises(ValueError, match="expected md5"):
        load_ett("ETTh2", cache_dir=tmp_path)
    assert not (tmp_path / "ett" / "ETTh2.csv").exists()
    monkeypatch.setitem(ett.ETT_SHA256, "ETTh2", "md5:" + hashlib.md5(payload).hexdigest())
    assert len(load_ett("ETTh2", cache_dir=tmp_path)) == 3


def test_load_nab_labels_downloads_with_a_warning(monkeypatch, tmp_path, server):
    monkeypatch.setattr(nab, "NAB_LABELS_SHA256", None)
    server.routes[LABELS_URL] = json.dumps(
        {
            FLATLINE: [],
            "realTweets/x.csv": [["2015-01-01 00:00:00.000000", "2015-01-02 00:00:00.000000"]],
        }
    ).encode()
    with pytest.warns(UserWarning, match="could not verify"):
        labels = load_nab_labels(cache_dir=tmp_path)
    assert labels["realTweets/x.csv"] == [(pd.Timestamp("2015-01-01"), pd.Timestamp("2015-01-02"))]
    assert (tmp_path / "nab" / "combined_windows.json").is_file()


def test_load_nab_labels_rejects_malformed_files(tmp_path):
    # Under the subset name, so the upstream checksum does not reject it first.
    labels = tmp_path / "labels_windows.json"
    labels.write_text(json.dumps({FLATLINE: ["2014-04-01"]}))
    with pytest.raises(ValueError, match="list of \\[start, end\\] pairs"):
        load_nab_labels(path=labels)
    labels.write_text("[]")
    with pytest.raises(ValueError, match="not a NAB labels file"):
        load_nab_labels(path=labels)
