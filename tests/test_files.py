"""Tests for tsrnn/files.py: atomic writes, CSV reading errors, model files."""

import os

import numpy as np
import pandas as pd
import pytest

from tsrnn.data import DataError
from tsrnn.files import atomic_write, read_csv, read_model, write_csv


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
