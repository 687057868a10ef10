"""Tests for tsrnn/data/frames.py: DataFrames in, validated float32 arrays out.

Every bad input gets a test that checks both the error type and that the message
names the culprit (column, series, row or timestamp).
"""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsrnn.data import DataError, SeriesData, check_length
from tsrnn.data.time_axis import read_in_one_format

from_dataframe = SeriesData.from_dataframe


def _hourly(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="h")


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# ------------------------------------------------------------------ wide frames
def test_wide_frame_with_datetime_index():
    idx = _hourly(5)
    frame = pd.DataFrame({"load": [1.0, 2.0, 3.0, 4.0, 5.0], "temp": [5, 4, 3, 2, 1]}, index=idx)
    data = from_dataframe(frame)
    assert data.values.dtype == np.float32
    np.testing.assert_array_equal(data.values, frame.to_numpy(dtype=np.float32))
    np.testing.assert_array_equal(data.offsets, [0, 5])
    assert data.n_series == 1 and data.ids == [None]
    assert data.target_names == ("load", "temp")
    assert data.time_col is None and data.id_col is None
    assert data.times.equals(idx)
    assert data.freq == pd.offsets.Hour()
    assert data.series_name(0) == "the series"


@pytest.mark.parametrize("name", ["when", "Date", "ds", "timestamp"])
def test_time_column_is_detected(name):
    times = _hourly(4)
    # "when" is found by its dtype; the others by their name, even as strings.
    column = times if name == "when" else times.strftime("%Y-%m-%d %H:%M")
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], name: column})
    data = from_dataframe(frame)
    assert data.time_col == name
    assert data.target_names == ("y",)
    np.testing.assert_array_equal(data.times, times)
    assert data.freq == pd.offsets.Hour()


def test_integer_index_means_no_timestamps():
    frame = pd.DataFrame({"y": [3.0, 1.0, 2.0]}, index=[10, 15, 20])
    data = from_dataframe(frame)
    assert not isinstance(data.times, pd.DatetimeIndex)
    np.testing.assert_array_equal(data.times, [10, 15, 20])
    assert data.freq == 5
    np.testing.assert_array_equal(data.values[:, 0], [3.0, 1.0, 2.0])
    assert from_dataframe(pd.DataFrame({"y": [1.0, 2.0]})).freq == 1  # a RangeIndex


def test_nullable_and_bool_columns_are_numeric():
    frame = pd.DataFrame({"a": pd.array([1, 2, 3], dtype="Int64"),
                          "b": pd.array([0.5, 1.5, 2.5], dtype="Float64"),
                          "c": [True, False, True]}, index=_hourly(3))
    data = from_dataframe(frame)
    assert data.values.dtype == np.float32
    np.testing.assert_array_equal(data.values, [[1, 0.5, 1], [2, 1.5, 0], [3, 2.5, 1]])


def test_missing_value_in_nullable_column_is_named():
    frame = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64")}, index=_hourly(3))
    with pytest.raises(DataError, match=r"column 'a' is missing at row 1"):
        from_dataframe(frame)
    data = from_dataframe(frame, fill="interpolate")
    np.testing.assert_array_equal(data.values[:, 0], [1.0, 2.0, 3.0])


# ------------------------------------------------------------------ long frames
def test_interleaved_long_frame_is_stacked_per_series():
    # Sorted by time, ids alternating: the way long frames usually come.
    frame = pd.DataFrame({
        "t": np.repeat(_hourly(3), 2),
        "id": ["b", "a"] * 3,
        "y": [10.0, 1.0, 20.0, 2.0, 30.0, 3.0],
    })
    data = from_dataframe(frame, id_col="id")
    assert data.ids == ["b", "a"]  # order of first appearance
    np.testing.assert_array_equal(data.offsets, [0, 3, 6])
    np.testing.assert_array_equal(data.series(0)[:, 0], [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(data.series(1)[:, 0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(data.series_times(1), _hourly(3))
    np.testing.assert_array_equal(data.lengths, [3, 3])
    assert data.series_name(0) == "series 'b'"
    assert data.target_names == ("y",)  # neither the time nor the id column


@settings(max_examples=50, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_long_frame_in_any_interleaving(lengths, seed):
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(lengths)), lengths))
    step = {i: 0 for i in range(len(lengths))}
    rows = []
    for i in labels:
        rows.append({"id": f"s{i}", "t": step[i], "y": 100 * i + step[i]})
        step[i] += 1
    data = from_dataframe(pd.DataFrame(rows), time_col="t", id_col="id")

    first_seen = list(dict.fromkeys(int(i) for i in labels))
    assert data.ids == [f"s{i}" for i in first_seen]
    np.testing.assert_array_equal(data.lengths, [lengths[i] for i in first_seen])
    for j, i in enumerate(first_seen):
        np.testing.assert_array_equal(data.series(j)[:, 0], 100 * i + np.arange(lengths[i]))
        np.testing.assert_array_equal(data.series_times(j), np.arange(lengths[i]))


def test_same_timestamp_in_two_series_is_fine():
    frame = pd.DataFrame({"t": list(_hourly(2)) * 2, "id": ["a", "a", "b", "b"],
                          "y": [1.0, 2.0, 3.0, 4.0]})
    data = from_dataframe(frame, id_col="id")
    np.testing.assert_array_equal(data.offsets, [0, 2, 4])


# ----------------------------------------------------------------------- roles
def test_roles_order_the_columns():
    frame = pd.DataFrame({"fut": [4.0, 40.0], "y2": [2.0, 20.0], "past": [3.0, 30.0],
                          "y1": [1.0, 10.0], "unused": [9.0, 90.0]}, index=_hourly(2))
    data = from_dataframe(frame, target=["y1", "y2"], past_covariates=["past"],
                          future_covariates=["fut"])
    np.testing.assert_array_equal(data.values, [[1, 2, 3, 4], [10, 20, 30, 40]])
    assert data.target_names == ("y1", "y2")
    assert data.past_names == ("past",)
    assert data.future_names == ("fut",)
    assert data.feature_names == ("y1", "y2", "past", "fut")
    assert data.n_targets == 2
    np.testing.assert_array_equal(data.values[:, data.target_columns], [[1, 2], [10, 20]])
    np.testing.assert_array_equal(data.values[:, data.future_columns], [[4], [40]])


def test_default_target_is_every_column_without_a_role():
    frame = pd.DataFrame({"a": [1.0, 2.0], "cal": [0.0, 1.0], "b": [3.0, 4.0]},
                         index=_hourly(2))
    data = from_dataframe(frame, future_covariates="cal")
    assert data.target_names == ("a", "b")
    assert data.future_names == ("cal",)
    np.testing.assert_array_equal(data.values, [[1, 3, 0], [2, 4, 1]])


def test_non_string_column_names_are_recorded_as_strings():
    frame = pd.DataFrame({0: [1.0, 2.0], 1: [3.0, 4.0]}, index=_hourly(2))
    data = from_dataframe(frame, target=1)
    assert data.target_names == ("1",)
    np.testing.assert_array_equal(data.values[:, 0], [3.0, 4.0])


# ------------------------------------------------- Series, periods, NeuralForecast
def test_series_index_is_the_time_axis_and_its_name_the_target():
    series = pd.Series([1.0, 2.0, 3.0], index=_hourly(3), name="load")
    data = from_dataframe(series)
    assert data.target_names == ("load",) and data.time_col is None and data.ids == [None]
    assert data.times.equals(_hourly(3)) and data.freq == pd.offsets.Hour()
    np.testing.assert_array_equal(data.values, [[1], [2], [3]])


@pytest.mark.parametrize("index", [pd.RangeIndex(3), pd.Index([10, 20, 30])],
                         ids=["RangeIndex", "integers"])
def test_unnamed_series_is_y_over_integer_times(index):
    data = from_dataframe(pd.Series([1.0, 2.0, 3.0], index=index))
    assert data.target_names == ("y",)
    np.testing.assert_array_equal(data.times, index)
    assert data.freq == index[1] - index[0]


def test_series_named_like_a_time_column_is_still_the_target():
    data = from_dataframe(pd.Series([1.0, 2.0, 3.0], index=_hourly(3), name="date"))
    assert data.target_names == ("date",) and data.times.equals(_hourly(3))


def test_series_with_a_period_index():
    series = pd.Series([1.0, 2.0, 3.0], index=pd.period_range("2024-01", periods=3, freq="M"))
    data = from_dataframe(series)
    assert list(data.times) == list(pd.date_range("2024-01-01", periods=3, freq="MS"))
    assert data.freq == pd.offsets.MonthBegin()


def test_series_index_that_is_not_time_is_refused():
    series = pd.Series([1.0, 2.0], index=["2024-01-01", "2024-01-02"])
    with pytest.raises(DataError, match=r"a Series' index is its time axis.*pd.to_datetime"):
        from_dataframe(series)


def test_series_has_no_time_column():
    with pytest.raises(DataError, match="a Series has no time column 'ds'"):
        from_dataframe(pd.Series([1.0, 2.0], index=_hourly(2)), time_col="ds")


@pytest.mark.parametrize(("freq", "offset"), [
    ("M", pd.offsets.MonthBegin()), ("Q", pd.offsets.QuarterBegin(startingMonth=1)),
    ("W-SUN", pd.offsets.Week(weekday=0)), ("D", pd.offsets.Day()), ("h", pd.offsets.Hour()),
])
def test_period_index_is_the_time_axis_with_its_frequency_kept(freq, offset):
    periods = pd.period_range("2024-01-01", periods=4, freq=freq)
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0]}, index=periods)
    data = from_dataframe(frame)
    assert data.times.equals(pd.DatetimeIndex(periods.to_timestamp()))
    assert data.freq == offset
    assert data.time_col is None


def test_period_frequency_is_kept_where_too_few_rows_to_infer_it():
    frame = pd.DataFrame({"y": [1.0, 2.0]}, index=pd.period_range("2024-01", periods=2, freq="M"))
    assert from_dataframe(frame).freq == pd.offsets.MonthBegin()


def test_a_missing_period_is_a_gap():
    periods = pd.PeriodIndex(["2024-01", "2024-02", "2024-04"], freq="M")
    with pytest.raises(DataError, match="gap from 2024-02-01"):
        from_dataframe(pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=periods))


def test_period_column_is_detected_as_the_time_column():
    frame = pd.DataFrame({"month": pd.period_range("2024-01", periods=3, freq="M"),
                          "sales": [1.0, 2.0, 3.0]})
    data = from_dataframe(frame)
    assert data.time_col == "month" and data.target_names == ("sales",)
    assert data.times[0] == pd.Timestamp("2024-01-01") and data.freq == pd.offsets.MonthBegin()


def _neuralforecast(**extra) -> pd.DataFrame:
    times = pd.date_range("2024-01-01", periods=3, freq="D")
    return pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 3, "ds": list(times) * 2,
                         "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], **extra})


def test_neuralforecast_frame_is_recognised():
    data = from_dataframe(_neuralforecast())
    assert (data.id_col, data.time_col, data.target_names) == ("unique_id", "ds", ("y",))
    assert data.ids == ["a", "b"] and data.freq == pd.offsets.Day()


def test_neuralforecast_frame_leaves_other_columns_out_and_says_how_to_use_them():
    frame = _neuralforecast(price=[9.0] * 6, promo=[0, 1] * 3)
    with pytest.warns(UserWarning, match=r"columns \['price', 'promo'\] are left out.*"
                                         r"past_covariates=\['price', 'promo'\]"):
        data = from_dataframe(frame)
    assert data.target_names == ("y",) and data.past_names == ()
    np.testing.assert_array_equal(data.values.ravel(), frame["y"])


def test_neuralforecast_frame_with_its_other_columns_named_is_silent(recwarn):
    frame = _neuralforecast(price=[9.0] * 6, promo=[0, 1] * 3)
    data = from_dataframe(frame, past_covariates=["price"], future_covariates=["promo"])
    assert data.target_names == ("y",) and data.feature_names == ("y", "price", "promo")
    data = from_dataframe(frame, id_col="unique_id", time_col="ds", target=["y", "price"],
                          past_covariates=["promo"])
    assert data.target_names == ("y", "price")
    assert not recwarn.list


def test_another_id_col_means_the_general_rules():
    # The user's id_col is not NeuralForecast's: every other column is a target again.
    frame = _neuralforecast(store=["s1"] * 3 + ["s2"] * 3)
    with pytest.raises(DataError, match="column 'unique_id' is not numeric"):
        from_dataframe(frame, id_col="store")
    data = from_dataframe(frame.drop(columns="unique_id"), id_col="store")
    assert (data.id_col, data.time_col, data.target_names) == ("store", "ds", ("y",))


def test_wide_frame_still_makes_every_numeric_column_a_target(recwarn):
    frame = pd.DataFrame({"ds": _hourly(3), "y": [1.0, 2.0, 3.0], "x": [0.0, 1.0, 0.0]})
    assert from_dataframe(frame).target_names == ("y", "x")
    assert not recwarn.list


# ---------------------------------------------------------------- bad input
def test_not_a_dataframe_raises_type_error():
    with pytest.raises(TypeError, match="DataFrame or Series, got ndarray"):
        from_dataframe(np.zeros((3, 2)))
    with pytest.raises(TypeError, match="got list"):
        from_dataframe([1.0, 2.0])


@pytest.mark.parametrize("frame", [pd.DataFrame(), pd.DataFrame({"y": []}),
                                   pd.DataFrame(index=_hourly(3))])
def test_empty_frame(frame):
    with pytest.raises(DataError, match=rf"empty \(shape \({frame.shape[0]}, {frame.shape[1]}\)"):
        from_dataframe(frame)


@pytest.mark.parametrize(
    ("kwargs", "missing", "close"),
    [({"target": "laod"}, "laod", "load"),
     ({"time_col": "timestamps"}, "timestamps", "timestamp"),
     ({"id_col": "stor"}, "stor", "store"),
     ({"past_covariates": ["temperature"]}, "temperature", "temp"),
     ({"future_covariates": ["holliday"]}, "holliday", "holiday")],
)
def test_missing_column_suggests_the_closest_name(kwargs, missing, close):
    frame = pd.DataFrame({"timestamp": _hourly(2), "store": ["x", "x"], "load": [1.0, 2.0],
                          "temp": [3.0, 4.0], "holiday": [0, 1]})
    with pytest.raises(DataError, match=rf"column '{missing}' is not in the DataFrame; "
                                        rf"did you mean '{close}'\? Its columns: \['"):
        from_dataframe(frame, **kwargs)


def test_missing_column_without_a_close_name():
    frame = pd.DataFrame({"load": [1.0, 2.0]}, index=_hourly(2))
    with pytest.raises(DataError,
                       match=r"column 'zzz' is not in the DataFrame; its columns: \['load'\]$"):
        from_dataframe(frame, target="zzz")


def test_non_numeric_column_hints_at_id_col():
    frame = pd.DataFrame({"y": [1.0, 2.0], "store": ["a", "a"]}, index=_hourly(2))
    with pytest.raises(DataError, match=r"column 'store' is not numeric.*id_col='store'"):
        from_dataframe(frame)


def test_dates_as_text_in_an_unknown_column_hint_at_time_col():
    # A German 'Datum' column was "not numeric ... If it identifies series, pass id_col=".
    frame = pd.DataFrame({"Datum": ["2024-01-01", "2024-01-02"], "y": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"column 'Datum' is not numeric.* If it holds the "
                       r"series' times, pass time_col='Datum'\.") as info:
        from_dataframe(frame)
    assert "id_col" not in str(info.value)


def test_non_numeric_target_is_named():
    frame = pd.DataFrame({"y": ["1", "2"], "x": [1.0, 2.0]}, index=_hourly(2))
    with pytest.raises(DataError, match=r"column 'y' is not numeric") as info:
        from_dataframe(frame, target="y")
    assert "id_col" not in str(info.value)  # the user named it a target
    with pytest.raises(DataError, match=r"column 'y' is not numeric"):
        from_dataframe(frame, target="x", past_covariates=["y"])


@pytest.mark.parametrize("written", ["4,862.48", "4.862,48", "12 345"])
def test_numbers_with_thousands_separators_are_named_as_such(written):
    # Read as text, they were "not numeric ... If it identifies series, pass id_col=".
    frame = pd.DataFrame({"y": ["12", "13,5", written, "14"]}, index=_hourly(4))
    for target in (None, "y"):
        with pytest.raises(DataError, match=rf"column 'y' holds numbers written with "
                           rf"thousands separators, read as text: '{written}' at row 2") as info:
            from_dataframe(frame, target=target)
        assert "id_col" not in str(info.value)


@pytest.mark.parametrize("values", [
    ["4,862.48", "n.a.", "2"],  # not all numbers
    ["1,5", "1,500", "2"],  # decimal commas, maybe: "1,500" may be 1.5
], ids=["words", "decimal commas"])
def test_what_may_not_be_thousands_separators_is_not_called_so(values):
    frame = pd.DataFrame({"y": values}, index=_hourly(3))
    with pytest.raises(DataError, match="column 'y' is not numeric"):
        from_dataframe(frame)


@pytest.mark.parametrize("values", [[1.0, 2.5, None], [Decimal("1.062"), Decimal("2.5"), 3]])
def test_numbers_as_objects_say_so(values):
    # They were "not numeric (dtype object). If it identifies series, pass id_col='y'".
    frame = pd.DataFrame({"y": np.array(values, dtype=object)}, index=_hourly(3))
    for target in (None, "y"):
        with pytest.raises(DataError, match=r"column 'y' holds numbers, but with dtype "
                           r"object: convert it, e.g. df\['y'\].astype\(float\)$"):
            from_dataframe(frame, target=target)


def test_non_numeric_column_in_long_frame_has_no_id_hint():
    frame = pd.DataFrame({"id": ["a", "a"], "y": [1.0, 2.0], "note": ["x", "y"], "t": [0, 1]})
    with pytest.raises(DataError, match=r"column 'note' is not numeric") as info:
        from_dataframe(frame, time_col="t", id_col="id")
    assert "id_col=" not in str(info.value)


@pytest.mark.parametrize(("bad", "kind"), [(np.nan, "missing"), (np.inf, r"infinite \(inf\)"),
                                           (-np.inf, r"infinite \(-inf\)")])
def test_missing_or_infinite_value_names_column_and_row(bad, kind):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, bad]}, index=_hourly(3))
    with pytest.raises(DataError, match=rf"column 'y' is {kind} at row 2 \(2024-01-01 02:00:00\)"):
        from_dataframe(frame)


def test_missing_value_in_long_frame_names_series_and_original_row():
    frame = pd.DataFrame({"t": [0, 0, 1, 1, 2, 2], "id": ["a", "b"] * 3,
                          "y": [1.0, 2.0, 3.0, np.nan, 5.0, 6.0]})
    with pytest.raises(DataError, match=r"column 'y' is missing in series 'b' at row 3 "):
        from_dataframe(frame, time_col="t", id_col="id")


def test_ffill_by_hand():
    frame = pd.DataFrame({"y": [np.nan, 1.0, np.nan, np.inf, 4.0, np.nan]}, index=_hourly(6))
    data = from_dataframe(frame, fill="ffill")
    # Forward, and backward over the leading gap; inf counts as missing.
    np.testing.assert_array_equal(data.values[:, 0], [1.0, 1.0, 1.0, 1.0, 4.0, 4.0])


def test_interpolate_by_hand():
    frame = pd.DataFrame({"y": [np.nan, 1.0, np.nan, np.inf, 4.0, np.nan]}, index=_hourly(6))
    data = from_dataframe(frame, fill="interpolate")
    np.testing.assert_array_equal(data.values[:, 0], [1.0, 1.0, 2.0, 3.0, 4.0, 4.0])


@pytest.mark.parametrize(("fill", "expected"), [("ffill", [1, 1, 5, 5]),
                                                ("interpolate", [1, 1, 5, 5])])
def test_fill_stays_within_each_series(fill, expected):
    frame = pd.DataFrame({"t": [0, 1, 0, 1], "id": ["a", "a", "b", "b"],
                          "y": [1.0, np.nan, np.nan, 5.0]})
    data = from_dataframe(frame, time_col="t", id_col="id", fill=fill)
    np.testing.assert_array_equal(data.values[:, 0], expected)


@pytest.mark.parametrize("fill", ["ffill", "interpolate"])
def test_all_missing_column_in_a_series_cannot_be_filled(fill):
    frame = pd.DataFrame({"t": [0, 1, 0, 1], "id": ["a", "a", "b", "b"],
                          "y": [1.0, 2.0, 3.0, 4.0], "x": [1.0, 2.0, np.nan, np.inf]})
    with pytest.raises(DataError, match=r"column 'x' has no finite value in series 'b'"):
        from_dataframe(frame, time_col="t", id_col="id", fill=fill)


def test_unknown_fill_raises():
    frame = pd.DataFrame({"y": [1.0, 2.0]}, index=_hourly(2))
    with pytest.raises(ValueError, match="'bfill'"):
        from_dataframe(frame, fill="bfill")


def test_unsorted_timestamps_name_both_rows():
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=_hourly(3)[[0, 2, 1]])
    with pytest.raises(DataError, match=r"not sorted: row 2 \(2024-01-01 01:00:00\) comes "
                                        r"after row 1 \(2024-01-01 02:00:00\)"):
        from_dataframe(frame)


def test_duplicate_timestamp_names_the_first_duplicate_and_the_series():
    # Series b (rows 1, 3, 4, 5, 6) has t = 0, 1, 1, 2, 2: two duplicates.
    frame = pd.DataFrame({"t": [0, 0, 1, 1, 1, 2, 2], "id": ["a", "b", "a", "b", "b", "b", "b"],
                          "y": np.arange(7.0)})
    with pytest.raises(DataError, match=r"duplicate timestamp 1 in series 'b': rows 3 and 4$"):
        from_dataframe(frame, time_col="t", id_col="id")


def test_irregular_spacing_names_the_gap_and_the_frequency():
    idx = _hourly(8).delete([5, 6])
    frame = pd.DataFrame({"y": np.arange(6.0)}, index=idx)
    with pytest.raises(DataError, match=r"gap from 2024-01-01 04:00:00 to 2024-01-01 07:00:00, "
                                        r"where the frequency is 'h'"):
        from_dataframe(frame)


def test_steps_finer_than_the_frequency_are_not_called_a_gap():
    idx = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:02"])
    frame = pd.DataFrame({"y": np.arange(3.0)}, index=idx)
    with pytest.raises(DataError, match=r"2024-01-01 00:00:00 then 2024-01-01 00:01:00, "
                                        r"sooner than the frequency 'h' allows") as err:
        from_dataframe(frame, freq="h")
    assert "gap" not in str(err.value)


def test_a_first_step_off_the_frequencys_grid_is_named_as_such():
    # Month ends read as 'MS' named the series' last time as the step before its first.
    frame = pd.DataFrame({"y": np.arange(6.0)},
                         index=pd.date_range("2024-01-31", periods=6, freq="ME"))
    with pytest.raises(DataError, match=r"irregular timestamps: the first, 2024-01-31 00:00:00, "
                                        r"is not a step of the frequency 'MS' \(whose next step "
                                        r"is 2024-02-01 00:00:00\)\. Pass the data's own"):
        from_dataframe(frame, freq="MS")
    assert from_dataframe(frame, freq="MS", resample=True).times[0] == pd.Timestamp("2024-01-01")


def test_irregular_integer_steps_name_the_series():
    frame = pd.DataFrame({"t": [0, 1, 2, 3, 0, 1, 3, 4], "id": list("aaaabbbb"),
                          "y": np.arange(8.0)})
    with pytest.raises(DataError, match=r"in series 'b': a gap from 1 to 3, where the "
                                        r"frequency is 1"):
        from_dataframe(frame, time_col="t", id_col="id")


def test_resample_fixes_irregular_spacing():
    idx = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 01:30",
                            "2024-01-01 03:00", "2024-01-01 04:00", "2024-01-01 05:00"])
    frame = pd.DataFrame({"y": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}, index=idx)
    with pytest.raises(DataError, match=r"irregular timestamps"):
        from_dataframe(frame)
    # 01:00 and 01:30 fall in one step (averaged); 02:00 is empty, so fill must act.
    with pytest.raises(DataError, match=r"column 'y' is missing at 2024-01-01 02:00:00 "
                                        r"\(a step that resampling left empty\)"):
        from_dataframe(frame, resample=True)
    data = from_dataframe(frame, resample=True, fill="ffill")
    np.testing.assert_array_equal(data.times, _hourly(6))
    np.testing.assert_array_equal(data.values[:, 0], [0.0, 1.5, 1.5, 3.0, 4.0, 5.0])
    data = from_dataframe(frame, resample=True, fill="interpolate")
    np.testing.assert_array_equal(data.values[:, 0], [0.0, 1.5, 2.25, 3.0, 4.0, 5.0])


def test_resample_integer_times_per_series():
    frame = pd.DataFrame({"t": [0, 2, 3, 10, 11, 13], "id": list("aaabbb"),
                          "y": [0.0, 2.0, 3.0, 10.0, 11.0, 13.0]})
    data = from_dataframe(frame, time_col="t", id_col="id", resample=True, fill="interpolate")
    np.testing.assert_array_equal(data.offsets, [0, 4, 8])
    np.testing.assert_array_equal(data.times, [0, 1, 2, 3, 10, 11, 12, 13])
    np.testing.assert_array_equal(data.values[:, 0], [0, 1, 2, 3, 10, 11, 12, 13])


def test_monthly_frequency_is_inferred_and_a_missing_month_is_a_gap():
    months = pd.date_range("2020-01-01", periods=12, freq="MS")
    data = from_dataframe(pd.DataFrame({"y": np.arange(12.0)}, index=months))
    assert data.freq == pd.offsets.MonthBegin()
    with pytest.raises(DataError, match=r"gap from 2020-05-01 00:00:00 to 2020-07-01 00:00:00, "
                                        r"where the frequency is 'MS'"):
        from_dataframe(pd.DataFrame({"y": np.arange(11.0)}, index=months.delete(5)))


def test_business_day_frequency_is_inferred():
    days = pd.bdate_range("2024-01-01", periods=15)
    data = from_dataframe(pd.DataFrame({"y": np.arange(15.0)}, index=days))
    assert data.freq == pd.offsets.BusinessDay()
    with pytest.raises(DataError, match=r"gap from 2024-01-09 00:00:00 to 2024-01-11 00:00:00, "
                                        r"where the frequency is 'B'"):
        from_dataframe(pd.DataFrame({"y": np.arange(14.0)}, index=days.delete(7)))


def test_explicit_freq_overrides_inference():
    idx = pd.DatetimeIndex(["2024-01-01", "2024-01-03", "2024-01-05"])
    assert from_dataframe(pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=idx)).freq == pd.offsets.Day(2)
    with pytest.raises(DataError, match=r"gap from 2024-01-01 00:00:00 to 2024-01-03 00:00:00, "
                                        r"where the frequency is 'D'"):
        from_dataframe(pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=idx), freq="D")


@pytest.mark.parametrize(("times", "freq", "message"), [
    (pd.date_range("2024-01-01", periods=3, freq="h"), "0h", "'0h' is not a step forward in time"),
    (pd.date_range("2024-01-01", periods=3, freq="h"), "-1h", "'-1h' is not a step forward"),
    (pd.RangeIndex(3), 0, "0 is not a step forward in time"),
    (pd.RangeIndex(3), 2.5, "2.5 is not an integer step, as the time column holds integers")])
def test_a_freq_that_is_no_step_forward_is_refused(times, freq, message):
    # 0h failed inside pandas ("range() arg 3 must not be zero"), -1h and 0 as a gap
    # at every step, and 2.5 was read as 2.
    with pytest.raises(ValueError, match=f"^freq={message}"):
        from_dataframe(pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=times), freq=freq)


def test_check_length_names_the_short_series():
    frame = pd.DataFrame({"t": [0, 1, 2, 3, 4, 0, 1, 2], "id": list("aaaaabbb"),
                          "y": np.arange(8.0)})
    data = from_dataframe(frame, time_col="t", id_col="id")
    check_length(data, 3)  # long enough
    with pytest.raises(DataError, match=r"series 'b' has 3 rows, fewer than "
                                        r"input_len \+ horizon = 4$"):
        check_length(data, 4)
    with pytest.raises(DataError, match=r"series 'a' has 5 rows, .* = 6 \(2 series in all"):
        check_length(data, 6)
    wide = from_dataframe(pd.DataFrame({"y": [1.0, 2.0]}))
    with pytest.raises(DataError, match=r"the series has 2 rows, fewer than window = 3"):
        check_length(wide, 3, what="window")


@pytest.mark.parametrize(
    "stamps",
    [["2024-01-01 00:00", "2024-01-01 01:00+01:00", "2024-01-01 02:00"],
     [pd.Timestamp("2024-01-01 00:00"), pd.Timestamp("2024-01-01 01:00", tz="UTC"),
      pd.Timestamp("2024-01-01 02:00")]],
    ids=["strings", "timestamps"],
)
def test_mixed_aware_and_naive_timestamps_name_rows(stamps):
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0], "timestamp": pd.Series(stamps, dtype=object)})
    with pytest.raises(DataError, match=r"time column 'timestamp' mixes timezone-aware and "
                                        r"naive timestamps: row 1 .* has a timezone, row 0"):
        from_dataframe(frame)


def test_aware_timestamps_across_dst_are_accepted():
    # Europe/Berlin, spring forward: 02:00 local does not exist.
    strings = ["2024-03-31 00:00+01:00", "2024-03-31 01:00+01:00", "2024-03-31 03:00+02:00",
               "2024-03-31 04:00+02:00"]
    data = from_dataframe(pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "timestamp": strings}))
    assert data.freq == pd.offsets.Hour()
    np.testing.assert_array_equal(data.times,
                                  pd.date_range("2024-03-30 23:00", periods=4, freq="h", tz="UTC"))
    local = pd.date_range("2024-03-31 00:00", periods=4, freq="h", tz="Europe/Berlin")
    stamps = pd.Series(list(local), dtype=object)  # Timestamp objects, two UTC offsets
    data = from_dataframe(pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "timestamp": stamps}))
    assert data.freq == pd.offsets.Hour()
    assert data.times.equals(pd.DatetimeIndex(local, name="timestamp"))


@pytest.mark.parametrize("written", ["%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M",
                                     "%Y-%m-%d %H:%M", "%d %b %Y %H:%M"])
def test_text_timestamps_are_read_in_one_format(written):
    # Value by value, day-first text read "12/01/2024" as December and
    # "13/01/2024" as January: an "unsorted" error.
    times = pd.date_range("2024-01-01", periods=400, freq="h")  # to 17 January
    data = from_dataframe(pd.DataFrame({"time": times.strftime(written),
                                        "y": np.arange(400.0)}))
    assert data.times.equals(pd.DatetimeIndex(times, name="time"))
    assert data.freq == pd.offsets.Hour()


@pytest.mark.parametrize(("text", "dayfirst", "first", "reading"), [
    # year first is never day-first, whatever the steps (monthly on the 5th here)
    ([f"2024-{m:02d}-05" for m in range(1, 13)], None, "2024-01-05", None),
    ([f"2024-{m:02d}-05" for m in range(1, 13)], True, "2024-01-05", None),
    # no day beyond 12: nothing tells the readings apart, so pandas' month-first,
    # or the reading asked for (an estimator asks for its training text's)
    ([f"{d:02d}/02/2024" for d in range(1, 13)], None, "2024-01-02", False),
    ([f"{d:02d}/02/2024" for d in range(1, 13)], True, "2024-02-01", True),
    (["05/01/2024", "13/01/2024"], None, "2024-01-05", True),  # "13/01": day-first
    (["01/05/2024", "01/13/2024"], True, "2024-01-05", False),  # "01/13": month-first
    # forms pandas infers no format for, read value by value, one way all the same
    (["12/01/24 23:00", "13/01/24 00:00"], None, "2024-01-12 23:00", True),
    (["12/01/2024 11:00 PM", "13/01/2024 01:00 AM"], None, "2024-01-12 23:00", True),
])
def test_which_reading_text_timestamps_get(text, dayfirst, first, reading):
    times, read = read_in_one_format(pd.Series(text), dayfirst)
    assert times.iloc[0] == pd.Timestamp(first)
    assert read is reading


@pytest.mark.parametrize(("text", "message"), [
    (["05/02/2024 00:00", "05/02/2024 01:00", "2024-02-05 02:00"],
     r"mixes date forms: '05/02/2024 00:00' \(row 0\) and '2024-02-05 02:00' \(row 2\)"),
    (["13/01/24", "01/13/24", "01/01/24"],
     r"writes day and month both ways: '13/01/24' \(row 0\) is day-first, '01/13/24' "
     r"\(row 1\) month-first"),
    (["01/01/2024", "13/13/2024", "01/03/2024"], r"is not a timestamp at row 1: '13/13/2024'"),
])
def test_text_timestamps_of_no_one_reading_are_refused(text, message):
    # Value by value, each was read its own way without a word.
    frame = pd.DataFrame({"t": text, "y": np.arange(len(text), dtype=float)})
    with pytest.raises(DataError, match=f"^time column 't' {message}"):
        from_dataframe(frame, time_col="t", resample=True)


def test_unparseable_timestamp_names_its_row():
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0],
                          "date": ["2024-01-01", "2024-01-02", "not a date"]})
    with pytest.raises(DataError, match=r"time column 'date' is not a timestamp at row 2: "
                                        r"'not a date'"):
        from_dataframe(frame)


@pytest.mark.parametrize(
    "column",
    [pd.to_datetime(["2024-01-01", None, "2024-01-03"]),
     ["2024-01-01", None, "2024-01-03"],
     pd.array([0, None, 2], dtype="Int64"),
     [0.0, np.nan, 2.0]],
    ids=["datetime", "string", "nullable-int", "float"],
)
def test_missing_timestamp_names_its_row(column):
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0], "t": column})
    with pytest.raises(DataError, match=r"time column 't' has a missing timestamp at row 1"):
        from_dataframe(frame, time_col="t")


def test_missing_timestamp_in_the_index_names_its_row():
    frame = pd.DataFrame({"y": [1.0, 2.0]}, index=pd.DatetimeIndex(["2024-01-01", None]))
    with pytest.raises(DataError, match=r"the index has a missing timestamp at row 1"):
        from_dataframe(frame)


def test_missing_id_names_its_row():
    frame = pd.DataFrame({"t": [0, 1, 2], "id": ["a", "a", None], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"id column 'id' is missing at row 2"):
        from_dataframe(frame, time_col="t", id_col="id")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"target": "y", "past_covariates": ["x"], "future_covariates": ["x"]},
      r"column 'x' is both a past covariate and a future covariate"),
     ({"target": ["y", "x"], "past_covariates": ["x"]},
      r"column 'x' is both a target and a past covariate"),
     # Not "is both a target and a target".
     ({"target": ["y", "y"]}, r"column 'y' is named twice as a target"),
     ({"time_col": "t", "target": ["y", "t"]},
      r"column 't' is the time or id column and cannot be a target"),
     ({"time_col": "t", "id_col": "g", "past_covariates": ["g"]},
      r"column 'g' is the time or id column and cannot be a past covariate")],
)
def test_overlapping_roles_name_the_column(kwargs, match):
    frame = pd.DataFrame({"t": [0, 1], "g": [7, 7], "y": [1.0, 2.0], "x": [3.0, 4.0]})
    with pytest.raises(DataError, match=match):
        from_dataframe(frame, **kwargs)


def test_duplicate_column_names():
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["y", "x", "y"], index=_hourly(1))
    with pytest.raises(DataError, match=r"column 'y' appears more than once"):
        from_dataframe(frame)


def test_several_datetime_columns_ask_for_time_col():
    frame = pd.DataFrame({"start": _hourly(2), "end": _hourly(2, "2024-02-01"), "y": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"several datetime columns \['start', 'end'\]"):
        from_dataframe(frame)
    data = from_dataframe(frame, time_col="end", target="y")
    np.testing.assert_array_equal(data.times, _hourly(2, "2024-02-01"))


def test_no_timestamps_found():
    frame = pd.DataFrame({"y": [1.0, 2.0]}, index=["2024-01-01", "2024-01-02"])
    with pytest.raises(DataError, match=r"no timestamps found"):
        from_dataframe(frame)


def test_float_or_bool_time_column_is_rejected():
    frame = pd.DataFrame({"t": [0.5, 1.5], "b": [True, False], "y": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"time column 't' has dtype float64"):
        from_dataframe(frame, time_col="t")
    with pytest.raises(DataError, match=r"time column 'b' has dtype bool"):
        from_dataframe(frame, time_col="b")


def test_resampling_averages_duplicate_timestamps_instead_of_refusing_them():
    times = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 01:00",
                            "2024-01-01 02:00"])
    df = pd.DataFrame({"t": times, "x": [1.0, 2.0, 4.0, 5.0]})
    with pytest.raises(DataError, match="duplicate timestamp 2024-01-01 01:00:00"):
        SeriesData.from_dataframe(df, time_col="t")
    data = SeriesData.from_dataframe(df, time_col="t", resample=True)
    np.testing.assert_allclose(data.values[:, 0], [1.0, 3.0, 5.0])


@pytest.mark.parametrize("value", [0.1, 0.3, 21.3, 1e-9])
@pytest.mark.parametrize("rows", [100, 400, 5000])
def test_a_constant_column_is_read_whatever_its_value(value, rows):
    # np.std of a value binary cannot hold exactly is ~1e-17 of rounding: it was
    # taken for a variation float32 would lose, and the column refused.
    frame = pd.DataFrame({"y": np.full(rows, value)},
                         index=pd.date_range("2024-01-01", periods=rows, freq="h"))
    data = SeriesData.from_dataframe(frame)
    assert (data.values == np.float32(value)).all()


def test_a_variation_float32_cannot_hold_is_refused():
    frame = pd.DataFrame({"y": 2.0 ** 40 + np.arange(100) % 3},
                         index=pd.date_range("2024-01-01", periods=100, freq="h"))
    with pytest.raises(DataError, match="column 'y' varies by .* Subtract an offset"):
        SeriesData.from_dataframe(frame)


def test_a_name_the_model_kept_as_text_finds_a_column_labelled_by_a_number():
    # A fitted model keeps its columns as text ('0'); scoring the frame it was
    # fitted on, with columns labelled 0 and 1, failed with "column '0' is not in
    # the DataFrame; did you mean '0'?".
    frame = pd.DataFrame({0: [1.0, 2.0, 4.0], 1: [3.0, 5.0, 6.0]},
                         index=pd.date_range("2024-01-01", periods=3, freq="h"))
    data = from_dataframe(frame, target=["0", "1"])
    assert data.target_names == ("0", "1")
    np.testing.assert_array_equal(data.values, frame.to_numpy(dtype=np.float32))
    with pytest.raises(DataError, match="column '2' is not in the DataFrame"):
        from_dataframe(frame, target=["2"])


def test_a_variation_below_float32s_normal_numbers_is_refused():
    # A sine of amplitude 1e-39 was taken for a constant by the scaler: a detector
    # scored every row 0, without a word.
    frame = pd.DataFrame({"y": 1e-39 * np.sin(np.arange(100) / 5)},
                         index=pd.date_range("2024-01-01", periods=100, freq="h"))
    with pytest.raises(DataError, match="column 'y' varies by .* below float32's smallest"):
        SeriesData.from_dataframe(frame)
    with pytest.raises(DataError, match=r"Scale it first, e.g. df\['y'\] / df\['y'\].std\(\)"):
        SeriesData.from_dataframe(frame)
    scaled = frame / frame.std()  # as the message says
    np.testing.assert_allclose(SeriesData.from_dataframe(scaled).values[:, 0], scaled["y"],
                               rtol=1e-6)
