"""Calendar inputs: the phase of each timestamp in its day and week, and which
cycles ``calendar="auto"`` picks from the data."""

import numpy as np
import pandas as pd
import pytest
from pandas.tseries.frequencies import to_offset

from tsrnn.data.calendar import (
    CYCLES,
    MIN_CYCLES,
    calendar_features,
    calendar_names,
    calendar_row,
    resolve_calendar,
)

# 2024-01-01 is a Monday: week phases below count from it.
MONDAY = "2024-01-01"


def _times(*stamps) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps))


def _sin_cos(phase: float) -> list[float]:
    return [np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase)]


# --- calendar_features -------------------------------------------------------


def test_day_phase_at_midnight_and_six():
    f = calendar_features(_times(f"{MONDAY} 00:00", f"{MONDAY} 06:00"), ["day"])
    assert f.shape == (2, 2) and f.dtype == np.float32
    np.testing.assert_allclose(f[0], [0.0, 1.0], atol=1e-6)  # phase 0
    np.testing.assert_allclose(f[1], [1.0, 0.0], atol=1e-6)  # a quarter day: 2pi/4


def test_week_phase_counts_from_monday_midnight():
    # Thursday is day 3 of the week (Monday 0); at 12:00 it is 3.5 days in, so the
    # phase is 3.5 / 7 = 1/2: sin(pi) = 0, cos(pi) = -1.
    f = calendar_features(_times(f"{MONDAY} 00:00", "2024-01-04 12:00"), ["week"])
    np.testing.assert_allclose(f[0], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(f[1], [0.0, -1.0], atol=1e-6)
    # Saturday 18:00: 5 days and 3/4 of a day into the week.
    g = calendar_features(_times("2024-01-06 18:00"), ["week"])
    np.testing.assert_allclose(g[0], _sin_cos(5.75 / 7), atol=1e-6)


def test_columns_follow_the_cycles_in_order():
    times = pd.date_range(MONDAY, periods=50, freq="37min")
    both = calendar_features(times, ["day", "week"])
    assert both.shape == (50, 4)
    np.testing.assert_array_equal(both[:, :2], calendar_features(times, ["day"]))
    np.testing.assert_array_equal(both[:, 2:], calendar_features(times, ["week"]))
    swapped = calendar_features(times, ["week", "day"])
    np.testing.assert_array_equal(swapped, both[:, [2, 3, 0, 1]])


def test_features_lie_on_the_unit_circle():
    times = pd.date_range(MONDAY, periods=500, freq="53min")
    f = calendar_features(times, ["day", "week"]).astype(np.float64)
    np.testing.assert_allclose(f[:, 0] ** 2 + f[:, 1] ** 2, 1.0, atol=1e-6)
    np.testing.assert_allclose(f[:, 2] ** 2 + f[:, 3] ** 2, 1.0, atol=1e-6)


def test_timezone_aware_stamps_use_local_wall_time():
    local = pd.DatetimeIndex([f"{MONDAY} 06:00+05:00"])
    naive = _times(f"{MONDAY} 06:00")
    cycles = ["day", "week"]
    np.testing.assert_array_equal(calendar_features(local, cycles),
                                  calendar_features(naive, cycles))
    # The same instant in UTC is 01:00: different features, so the above is not
    # an accident of the timezone being ignored both ways.
    utc = calendar_features(local.tz_convert("UTC"), cycles)
    np.testing.assert_allclose(utc, calendar_features(_times(f"{MONDAY} 01:00"), cycles))
    assert not np.allclose(utc, calendar_features(naive, cycles))


def test_timezone_aware_week_phase_uses_the_local_day():
    # Monday 02:00 at +05:00 is Sunday 21:00 UTC: locally, just after the week starts.
    local = pd.DatetimeIndex([f"{MONDAY} 02:00+05:00"])
    phase = (2 / 24) / 7
    np.testing.assert_allclose(calendar_features(local, ["week"])[0], _sin_cos(phase),
                               atol=1e-6)


def test_just_before_and_after_midnight_sit_close_together():
    times = _times("2024-01-07 23:59", "2024-01-08 00:00", "2024-01-08 12:00")
    f = calendar_features(times, ["day", "week"]).astype(np.float64)
    # One minute apart on a circle of radius 1: a chord of 2 sin(pi / 1440) ~ 0.0044
    # in the day, less in the week (Sunday 23:59 to Monday 00:00).
    chord = 2 * np.sin(np.pi / 1440)
    np.testing.assert_allclose(np.linalg.norm(f[0, :2] - f[1, :2]), chord, rtol=1e-3)
    assert np.linalg.norm(f[0, 2:] - f[1, 2:]) < chord
    # Midnight and noon are opposite on the day circle: a chord of 2.
    np.testing.assert_allclose(np.linalg.norm(f[1, :2] - f[2, :2]), 2.0, atol=1e-6)


def test_an_integer_index_with_cycles_is_an_error():
    with pytest.raises(ValueError, match="timestamps"):
        calendar_features(pd.RangeIndex(10), ["day"])
    with pytest.raises(ValueError, match="timestamps"):
        calendar_features(pd.Index(np.arange(5, dtype=np.int64)), ["week"])


@pytest.mark.parametrize("times", [pd.date_range(MONDAY, periods=7, freq="h"),
                                   pd.RangeIndex(7)])
@pytest.mark.parametrize("cycles", [[], ()])
def test_no_cycles_give_no_columns(times, cycles):
    f = calendar_features(times, cycles)
    assert f.shape == (7, 0) and f.dtype == np.float32


@pytest.mark.parametrize("cycles", [["month"], ["day", "season"], ["Day"]])
def test_an_unknown_cycle_is_an_error(cycles):
    with pytest.raises(ValueError, match="unknown calendar cycle"):
        calendar_features(pd.date_range(MONDAY, periods=3, freq="h"), cycles)


def test_calendar_names():
    assert calendar_names(["day"]) == ["day_sin", "day_cos"]
    assert calendar_names(["day", "week"]) == ["day_sin", "day_cos", "week_sin", "week_cos"]
    assert calendar_names(["week", "day"]) == ["week_sin", "week_cos", "day_sin", "day_cos"]
    assert calendar_names([]) == []
    # One name per column of the features.
    times = pd.date_range(MONDAY, periods=3, freq="h")
    assert len(calendar_names(list(CYCLES))) == calendar_features(times, list(CYCLES)).shape[1]


@pytest.mark.parametrize("tz", [None, "Europe/Berlin"])
def test_calendar_row_equals_calendar_features(tz):
    times = pd.date_range(MONDAY, periods=40, freq="317min", tz=tz)
    f = calendar_features(times, ["day", "week", "year"])
    for t, row in zip(times, f, strict=True):
        np.testing.assert_array_equal(calendar_row(t, ["day", "week", "year"]), row)


@pytest.mark.parametrize(("stamp", "phase"), [
    ("2023-01-01", 0.0), ("2023-07-02 12:00", 0.5),  # day 183.5 of 365
    ("2024-07-02", 0.5),  # a leap year: day 183 of 366
    ("2024-12-31 12:00", 365.5 / 366),
])
def test_the_year_cycle_is_the_fraction_of_its_own_year(stamp, phase):
    sin, cos = calendar_features(pd.DatetimeIndex([stamp]), ["year"])[0]
    np.testing.assert_allclose([sin, cos], [np.sin(2 * np.pi * phase),
                                            np.cos(2 * np.pi * phase)], atol=1e-6)


# --- resolve_calendar --------------------------------------------------------


def _auto(times, freq, offsets=None):
    offsets = np.array([0, len(times)]) if offsets is None else np.asarray(offsets)
    return resolve_calendar("auto", times, offsets, freq)


def _hourly(days: float, start=MONDAY) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=int(24 * days), freq="h")


HOUR, DAY = to_offset("h"), to_offset("D")


def test_none_means_no_calendar():
    assert resolve_calendar(None, _hourly(30), np.array([0, 720]), HOUR) == ()
    assert resolve_calendar(None, pd.RangeIndex(10), np.array([0, 10]), 1) == ()


def test_auto_needs_two_cycles_of_data():
    assert MIN_CYCLES == 2  # the spans below are chosen around two cycles
    assert _auto(_hourly(1), HOUR) == ()  # 23 hours
    assert _auto(_hourly(3), HOUR) == ("day",)  # 71 hours: not two weeks
    assert _auto(_hourly(15), HOUR) == ("day", "week")  # 14 days and 23 hours
    # The boundary: 49 hourly stamps span exactly 48 hours, two days; 48 span 47.
    assert _auto(pd.date_range(MONDAY, periods=49, freq="h"), HOUR) == ("day",)
    assert _auto(pd.date_range(MONDAY, periods=48, freq="h"), HOUR) == ()


def test_auto_skips_a_cycle_no_longer_than_the_step():
    # Daily over 3 weeks: 20 days cover the week twice; a day is not shorter than
    # the step, so each day would sit at the same phase.
    times = pd.date_range(MONDAY, periods=21, freq="D")
    assert _auto(times, DAY) == ("week",)
    # Twice a day, the day cycle is back.
    assert _auto(pd.date_range(MONDAY, periods=42, freq="12h"), to_offset("12h")) == (
        "day", "week")


def test_auto_takes_nothing_for_month_starts():
    times = pd.date_range(MONDAY, periods=36, freq="MS")  # three years
    assert _auto(times, to_offset("MS")) == ()


def test_auto_takes_nothing_without_timestamps():
    assert _auto(pd.RangeIndex(5000), 1) == ()
    assert _auto(pd.Index(np.arange(5000, dtype=np.int64)), None) == ()


def test_auto_on_no_rows_takes_nothing():
    assert resolve_calendar("auto", pd.DatetimeIndex([]), np.zeros(1, np.int64), None) == ()


@pytest.mark.parametrize("calendar", ["day", ["day"], ("day",)])
def test_an_explicit_cycle_is_taken_as_it_is(calendar):
    assert resolve_calendar(calendar, _hourly(30), np.array([0, 720]), HOUR) == ("day",)


def test_explicit_cycles_skip_the_auto_rules():
    # A day of hourly data is too short for "auto", but asked for, the week is kept.
    one_day = _hourly(1)
    offsets = np.array([0, len(one_day)])
    assert resolve_calendar("week", one_day, offsets, HOUR) == ("week",)
    assert resolve_calendar(["day", "week"], one_day, offsets, HOUR) == ("day", "week")
    assert resolve_calendar([], one_day, offsets, HOUR) == ()


def test_explicit_cycles_need_timestamps():
    with pytest.raises(ValueError, match="timestamps"):
        resolve_calendar("day", pd.RangeIndex(100), np.array([0, 100]), 1)


@pytest.mark.parametrize("calendar", ["month", ["day", "month"], ["day", "day"],
                                      ("week", "day", "week"), 5, [5], ["day", None]])
def test_bad_calendars_are_errors(calendar):
    with pytest.raises(ValueError, match="calendar must be"):
        resolve_calendar(calendar, _hourly(30), np.array([0, 720]), HOUR)


def test_with_many_series_the_longest_decides():
    short, long = _hourly(1), _hourly(3, start="2024-03-01")
    for parts in ([short, long], [long, short], [short, long, short]):
        times = parts[0].append(parts[1:])
        offsets = np.cumsum([0] + [len(p) for p in parts])
        assert _auto(times, HOUR, offsets) == ("day",)
    longest = _hourly(15, start="2024-05-01")
    times = short.append([longest, long])
    offsets = np.cumsum([0, len(short), len(longest), len(long)])
    assert _auto(times, HOUR, offsets) == ("day", "week")


def test_with_many_series_each_span_is_its_own():
    # Two days, 20 days apart: together they run 21 days, but each only 23 hours.
    a, b = _hourly(1), _hourly(1, start="2024-01-21")
    times = a.append(b)
    assert _auto(times, HOUR, [0, len(a), len(a) + len(b)]) == ()
    assert _auto(times, HOUR) == ("day", "week")  # as one series: the whole span


def test_auto_reads_the_step_from_the_timestamps_without_a_fixed_frequency():
    # Business days have no fixed step: their median spacing, a day, stands in,
    # so six weeks of them get the week cycle (and never the day).
    business = pd.date_range(MONDAY, periods=30, freq="B")
    assert _auto(business, to_offset("B")) == ("week",)
    assert _auto(business[:8], to_offset("B")) == ()  # under two weeks
    # No frequency at all (irregular data): the same rule.
    hourly = _hourly(3)
    assert _auto(hourly, None) == _auto(hourly, to_offset("h")) == ("day",)
    # A frequency given as a string works like the offset.
    assert _auto(_hourly(15), "h") == ("day", "week")


def test_auto_skips_empty_series():
    # Two one-day series a month apart, with an empty one between: each covers
    # one day, so no cycle; the empty one must not join them into a month.
    times = _hourly(1).append(_hourly(1, start="2024-02-01"))
    assert _auto(times, to_offset("h"), offsets=[0, 24, 24, 48]) == ()
