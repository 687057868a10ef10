"""Tests for tsrnn/datasets/machine_runs.py: the seeded machine-run generator."""

import numpy as np
import pandas as pd
import pytest

from tsrnn.datasets import FAULT_KINDS, make_machine_runs


def test_shape_labels_and_lengths():
    df = make_machine_runs(40, min_length=20, max_length=50, random_state=1)
    assert list(df.columns) == ["run", "step", "current", "temperature", "vibration", "label",
                                "fault"]
    runs = df.groupby("run", sort=False)
    assert runs.ngroups == 40
    lengths = runs.size()
    assert lengths.between(20, 50).all() and lengths.nunique() > 5
    assert (runs["label"].nunique() == 1).all(), "one label per run"
    assert (runs["step"].apply(lambda s: (s.to_numpy() == np.arange(len(s))).all())).all()
    per_run = runs[["label", "fault"]].first()
    assert (per_run["label"] == "faulty").sum() == 20
    assert set(per_run.loc[per_run["label"] == "faulty", "fault"]) == set(FAULT_KINDS)
    assert (per_run.loc[per_run["label"] == "normal", "fault"] == "none").all()
    assert np.isfinite(df[["current", "temperature", "vibration"]].to_numpy()).all()


def test_same_seed_same_frame():
    pd.testing.assert_frame_equal(make_machine_runs(10, random_state=3),
                                  make_machine_runs(10, random_state=3))
    assert not make_machine_runs(10, random_state=3).equals(make_machine_runs(10, random_state=4))


def test_faults_leave_their_mark():
    faulty = make_machine_runs(90, fault_fraction=1.0, random_state=0)
    normal = make_machine_runs(60, fault_fraction=0.0, random_state=0)
    assert (normal["fault"] == "none").all()

    def median(df, fault, stat):
        runs = df if fault is None else df[df["fault"] == fault]
        return runs.groupby("run").apply(stat, include_groups=False).median()

    def ripple(run):  # share of the current's power at periods of 5-9 s
        power = np.abs(np.fft.rfft(run["current"] - run["current"].mean())) ** 2
        freq = np.fft.rfftfreq(len(run))
        return power[(freq > 1 / 9.5) & (freq < 1 / 4.5)].sum() / power.sum()

    def lag(run):  # how many seconds the temperature trails the load by
        c, t = run["current"].to_numpy(), run["temperature"].to_numpy()
        return np.argmax([np.corrcoef(c[: len(c) - k], t[k:])[0, 1] for k in range(30)])

    def bursts(run):  # the strongest vibration of the second half
        return run["vibration"].iloc[len(run) // 2 :].max()

    assert median(faulty, "hunting", ripple) > 2 * median(normal, None, ripple)
    assert median(faulty, "cooling", lag) > median(normal, None, lag) + 5
    assert median(faulty, "bearing", bursts) > median(normal, None, bursts) + 0.3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_runs": 0}, "n_runs"), ({"fault_fraction": 1.5}, "fault_fraction"),
     ({"min_length": 5}, "min_length"), ({"min_length": 50, "max_length": 40}, "min_length")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_machine_runs(**kwargs)
