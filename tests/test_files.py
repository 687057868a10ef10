"""Tests for tsrnn/files.py: atomic writes, CSV reading errors, model files."""

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsrnn.data import DataError
from tsrnn.files import atomic_write, check_writable, read_csv, read_model, write_csv


def test_atomic_write_replaces_the_file_on_success(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    write_csv(pd.DataFrame({"a": [1, 2]}), path)
    assert path.read_text() == "a\n1\n2\n"
    assert os.listdir(tmp_path) == ["out.csv"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_write_leaves_the_older_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "out.csv"
    path.write_text("old")
    with pytest.raises(error), atomic_write(path) as f:
        f.write("half a fi")
        raise error
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.csv"]


def _read_fifo(path, into: list) -> threading.Thread:
    """A reader for a FIFO (opening one for writing blocks until a reader comes)."""
    def read():
        with open(path) as f:
            into.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = _read_fifo(fifo, got)
    write_csv(pd.DataFrame({"a": [1, 2]}), fifo)
    reader.join(timeout=10)
    assert got == ["a\n1\n2\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # not replaced by a regular file
    assert os.listdir(tmp_path) == ["pipe"]


def test_a_character_device_is_written_through(tmp_path):
    # The same rule that keeps /dev/null a device; the real /dev/null is never
    # touched here: the device is only opened, as any program writing to it would.
    device = Path(os.devnull)
    if not device.exists() or not stat.S_ISCHR(os.stat(device).st_mode):
        pytest.skip("no character device to write to")
    link = tmp_path / "null"
    link.symlink_to(device)
    with atomic_write(link) as f:
        f.write("discarded")
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert link.is_symlink() and os.listdir(tmp_path) == ["null"]


def test_a_symlink_stays_and_its_target_is_replaced_atomically(tmp_path):
    real = tmp_path / "data" / "out.csv"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    write_csv(pd.DataFrame({"a": [3]}), link)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_text() == "a\n3\n"
    assert sorted(os.listdir(real.parent)) == ["out.csv"]  # no temporary left


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "latest.csv"
    link.symlink_to(tmp_path / "new.csv")
    write_csv(pd.DataFrame({"a": [1]}), link)
    assert link.is_symlink() and (tmp_path / "new.csv").read_text() == "a\n1\n"


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_temporaries_of_killed_writers_are_cleaned_up_live_ones_kept(tmp_path):
    path = tmp_path / "out.csv"
    stale = tmp_path / f".out.csv.{_dead_pid()}.x1y2.tmp"
    live = tmp_path / f".out.csv.{os.getppid()}.a1b2.tmp"  # a process that is running
    other = tmp_path / f".other.csv.{_dead_pid()}.q.tmp"  # another output's: not ours
    for p in (stale, live, other):
        p.write_text("partial")
    write_csv(pd.DataFrame({"a": [1]}), path)
    assert not stale.exists()
    assert live.exists() and other.exists()


def test_check_writable_names_what_is_wrong(tmp_path):
    check_writable(tmp_path / "new.csv")  # a new file in a writable folder
    with pytest.raises(IsADirectoryError, match="is a folder"):
        check_writable(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_writable(tmp_path / "missing" / "out.csv")
    assert os.listdir(tmp_path) == []  # the probe leaves nothing behind


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    finally:
        os.umask(mask)
    assert (tmp_path / "out.csv").stat().st_mode & 0o777 == 0o644


def test_model_files_are_written_atomically_with_ordinary_permissions(tmp_path):
    from tsrnn import AnomalyDetector

    df = pd.DataFrame({"y": np.sin(np.arange(40.0))},
                      index=pd.date_range("2024-01-01", periods=40, freq="h"))
    det = AnomalyDetector(window=4, hidden_size=2, max_epochs=1, random_state=0).fit(df)
    mask = os.umask(0o022)
    try:
        det.save(tmp_path / "model.tsrnn")
    finally:
        os.umask(mask)
    assert (tmp_path / "model.tsrnn").stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["model.tsrnn"]  # no temporary file left


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("a,b\n", "has a header but no rows"),
    ('a,b\n1,2\n3,"4\n', "not a readable CSV file"),
])
def test_read_csv_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_csv(path)
    assert str(path) in str(info.value)


def test_read_csv_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_csv(tmp_path / "missing.csv")


def test_read_model_refuses_other_files(tmp_path):
    path = tmp_path / "model.tsrnn"
    path.write_text("not a model")
    with pytest.raises(ValueError, match="is not a tsrnn model file"):
        read_model(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_model(tmp_path / "missing.tsrnn")


@pytest.mark.parametrize(("text", "values"), [
    ("time;a;b\n1;2.5;3\n2;4.5;5\n", [2.5, 4.5]),
    ("time;a;b\n1;2,5;3\n2;4,5;5\n", [2.5, 4.5]),      # decimal commas, as Excel writes
    ("time\ta\tb\n1\t2.5\t3\n2\t4.5\t5\n", [2.5, 4.5]),
    ("time|a|b\n1|2.5|3\n2|4.5|5\n", [2.5, 4.5]),
    ('time,a,b\n1,2.5,"x;y"\n2,4.5,"z;w"\n', [2.5, 4.5]),  # semicolons inside quotes
    ("\ufefftime,a,b\n1,2.5,3\n2,4.5,5\n", [2.5, 4.5]),   # a byte-order mark
])
def test_read_csv_finds_the_separator(tmp_path, text, values):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    df = read_csv(path)
    assert list(df.columns) == ["time", "a", "b"]
    assert df["a"].tolist() == values


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("date,OT,HUFL,OT\n2024-01-01,1,2,3\n")
    with pytest.raises(DataError, match=r"column 'OT' appears twice in the header "
                                         r"\(columns 2 and 4\)"):
        read_csv(path)


def test_a_header_leaving_a_column_unnamed_is_refused(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("timestamp,\n2024-01-01,1\n")
    with pytest.raises(DataError, match="column 2 has no name in the header"):
        read_csv(path)


def test_an_id_column_keeps_its_text_where_numbers_would_change_it(tmp_path):
    # "007" became 7, and "07" and "7" one series, when ids were read as numbers.
    path = tmp_path / "ids.csv"
    path.write_text("t; id ;y\n0;007;1,5\n0;07;2\n0;7;3\n")
    frame = read_csv(path, text_cols=["id"])
    assert frame["id"].tolist() == ["007", "07", "7"] and frame["y"].tolist() == [1.5, 2, 3]
    assert read_csv(path)["id"].tolist() == [7, 7, 7]  # other columns: numbers, as pandas reads
    path.write_text("t,id,y\n0,1,1\n1,2,2\n")  # numbers that read back as written: kept
    assert read_csv(path, text_cols=["id"])["id"].tolist() == [1, 2]


def test_spaces_around_a_column_name_are_dropped(tmp_path):
    path = tmp_path / "spaced.csv"
    path.write_text(" timestamp , value \n2024-01-01,1\n")
    assert list(read_csv(path).columns) == ["timestamp", "value"]
    path.write_text("value, value\n1,2\n")  # the same name once the spaces go
    with pytest.raises(DataError, match="column 'value' appears twice"):
        read_csv(path)


@pytest.mark.parametrize(("text", "message"), [
    ("a,b\n1,2,3\n4,5,6\n", r"the rows have more fields \(3\) than the header \(2 columns\)"),
    ("a,b\n1,2\n4,5,6\n7,8\n", "line 3 has 3 fields, the header has 2"),
])
def test_rows_with_more_fields_than_the_header_are_refused(tmp_path, text, message):
    path = tmp_path / "wide.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        read_csv(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_read_table_reads_parquet_or_says_what_it_needs(tmp_path):
    from tsrnn.files import read_table

    frame = pd.DataFrame({"time": [1, 2, 3], "y": [0.5, 1.5, 2.5]})
    path = tmp_path / "data.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path.write_bytes(b"PAR1")
        with pytest.raises(ImportError, match=r"reading Parquet needs pyarrow: pip install "
                                              r"'tsrnn\[parquet\]'"):
            read_table(path)
        return
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(read_table(path), frame)
