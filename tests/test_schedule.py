"""Schedule rules on fixed instants: ranges, overnight, closures, DST days (New York), zones
with non-hour offsets (Kolkata, Lord Howe), 24:00, the reason text, and the checks' messages."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sipflask.core import schedule
from sipflask.core.schedule_rules import check_schedule

NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def at(tz, *args, fold=0):
    return datetime(*args, tzinfo=tz, fold=fold)


def ny(hours, closures=()):
    return schedule.build("America/New_York", hours, list(closures))


def test_start_included_end_excluded_and_lunch_break():
    s = ny({"mon": ["09:00-12:00", "13:00-17:00"]})  # 2026-12-07 is a Monday
    assert s.is_open(at(NY, 2026, 12, 7, 9, 0))
    assert not s.is_open(at(NY, 2026, 12, 7, 12, 0))
    assert s.is_open(at(NY, 2026, 12, 7, 16, 59, 59))
    assert not s.is_open(at(NY, 2026, 12, 7, 17, 0))
    o = s.openness(at(NY, 2026, 12, 7, 12, 30))
    assert o == schedule.Openness(False, next_open=at(NY, 2026, 12, 7, 13, 0).astimezone(UTC))
    assert s.openness(at(NY, 2026, 12, 7, 10)).closes_at == at(NY, 2026, 12, 7, 12).astimezone(UTC)


def test_24_7_missing_day_and_reason_text():
    assert schedule.build("UTC").openness(datetime.now(UTC)) == schedule.Openness(True)
    s = ny({"mon": ["09:00-17:00"]})
    now = at(NY, 2026, 12, 5, 12, 0)  # Saturday
    o = s.openness(now)
    assert not o.open
    assert schedule.closed_reason(s, o, now) == "closed (opens Mon 09:00 America/New_York)"
    never = ny({})
    assert schedule.closed_reason(never, never.openness(now), now) == \
        "closed (not open in the next 14 days)"


def test_reason_names_the_date_a_week_or_more_away():
    s = ny({"mon": ["09:00-17:00"]}, [{"date": "2026-12-07", "hours": []}])
    now = at(NY, 2026, 12, 5, 12, 0)
    assert schedule.closed_reason(s, s.openness(now), now) == \
        "closed (opens Mon Dec 14 09:00 America/New_York)"


def test_overnight_and_24_00():
    s = ny({"fri": ["22:00-06:00"], "sat": ["20:00-24:00"], "sun": ["00:00-02:00"]})
    assert s.is_open(at(NY, 2026, 12, 4, 22, 0)) and s.is_open(at(NY, 2026, 12, 5, 5, 59))
    assert not s.is_open(at(NY, 2026, 12, 5, 6, 0))
    assert s.is_open(at(NY, 2026, 12, 5, 23, 59, 59)) and s.is_open(at(NY, 2026, 12, 6, 0, 0))
    # Saturday 20:00-24:00 and Sunday 00:00-02:00 are one stretch.
    assert s.openness(at(NY, 2026, 12, 5, 21)).closes_at == at(NY, 2026, 12, 6, 2).astimezone(UTC)
    assert schedule.parse_range("22:00-00:00") == (1320, 1440)


def test_closure_replaces_ranges_starting_that_date_only():
    s = ny({"thu": ["22:00-06:00"], "fri": ["09:00-17:00"]},
           [{"date": "2026-12-25", "hours": []}, {"date": "2026-12-24", "hours": ["09:00-13:00"]}])
    # Thursday 24th: the closure replaces its overnight range with 09:00-13:00.
    assert s.is_open(at(NY, 2026, 12, 24, 12, 59)) and not s.is_open(at(NY, 2026, 12, 24, 23))
    assert not s.is_open(at(NY, 2026, 12, 25, 10))
    s2 = ny({"thu": ["22:00-06:00"]}, [{"date": "2026-12-25", "hours": []}])
    assert s2.is_open(at(NY, 2026, 12, 25, 5, 0))  # Thursday's shift still runs into Friday 25th


def test_closures_apply_to_24_7():
    s = schedule.build("UTC", None, [{"date": "2026-12-25", "hours": []}])
    o = s.openness(datetime(2026, 12, 24, 12, tzinfo=UTC))
    assert o.closes_at == datetime(2026, 12, 25, tzinfo=UTC)
    assert s.openness(datetime(2026, 12, 25, 8, tzinfo=UTC)).next_open == \
        datetime(2026, 12, 26, tzinfo=UTC)


def test_spring_forward_new_york():
    s = ny({"sun": ["01:30-03:00"]})  # 2026-03-08: 02:00 EST -> 03:00 EDT
    o = s.openness(at(NY, 2026, 3, 8, 1, 0))
    assert o.next_open == datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert s.openness(o.next_open).closes_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 30 min
    gap = ny({"sun": ["02:00-02:30", "09:00-10:00"]})
    assert gap.openness(at(NY, 2026, 3, 8, 1, 0)).next_open == \
        at(NY, 2026, 3, 8, 9).astimezone(UTC)
    late = ny({"sun": ["02:30-04:00"]})  # opens when the clock jumps to 03:00
    assert late.openness(at(NY, 2026, 3, 8, 1, 0)).next_open == datetime(2026, 3, 8, 7, tzinfo=UTC)


def test_fall_back_new_york_both_one_oclocks_open():
    s = ny({"sun": ["01:00-02:00"]})  # 2026-11-01: 02:00 EDT -> 01:00 EST
    assert s.is_open(at(NY, 2026, 11, 1, 1, 30, fold=0))
    assert s.is_open(at(NY, 2026, 11, 1, 1, 30, fold=1))
    o = s.openness(at(NY, 2026, 11, 1, 1, 0))
    assert o.closes_at == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # two real hours
    half = ny({"sun": ["01:30-02:00"]})
    after_first = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST, the second 01:00
    assert half.openness(after_first).next_open == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_overnight_across_dst():
    s = ny({"sat": ["22:00-06:00"]})
    spring = s.openness(at(NY, 2026, 3, 7, 23))
    assert spring.closes_at == datetime(2026, 3, 8, 10, tzinfo=UTC)  # 06:00 EDT: 7 real hours
    fall = s.openness(at(NY, 2026, 10, 31, 23))
    assert fall.closes_at == datetime(2026, 11, 1, 11, tzinfo=UTC)  # 06:00 EST: 9 real hours


def test_non_hour_zones():
    kolkata = schedule.build("Asia/Kolkata", {"mon": ["09:00-17:00"]})
    assert kolkata.openness(datetime(2026, 12, 7, 3, 0, tzinfo=UTC)).next_open == \
        datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    lh = schedule.build("Australia/Lord_Howe", {"sun": ["01:00-03:00"]})
    # 2026-10-04 02:00 LHST (+10:30) -> 02:30 LHDT (+11): 01:00-03:00 lasts 90 real minutes.
    o = lh.openness(datetime(2026, 10, 3, 14, 30, tzinfo=UTC))
    assert o.open
    assert o.closes_at - datetime(2026, 10, 3, 14, 30, tzinfo=UTC) == timedelta(minutes=90)


def test_naive_instant_is_a_bug():
    with pytest.raises(ValueError):
        ny(None, [{"date": "2026-12-25", "hours": []}]).is_open(datetime(2026, 12, 1))


@pytest.mark.parametrize("rec, path, fragment", [
    ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone"),
    ({"hours": {"mon": ["25:00-26:00"]}}, "hours.mon[0]", "not a time of day"),
    ({"hours": {"mon": ["09:00-09:00"]}}, "hours.mon[0]", "same time"),
    ({"hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "hours.mon[1]", "overlaps 09:00-12:00"),
    ({"hours": {"thu": ["22:00-06:00"], "fri": ["05:00-09:00"]}}, "hours.fri[0]", "Thursday's"),
    ({"hours": {"sun": ["22:00-06:00"], "mon": ["05:00-09:00"]}}, "hours.sun[0]", "Monday's"),
    ({"hours": {"monday": []}}, "hours.monday", "Unknown day"),
    ({"hours": {"mon": ["24:00-03:00"]}}, "hours.mon[0]", "cannot start at 24:00"),
    ({"hours": {"mon": "09:00-17:00"}}, "hours.mon", "list"),
    ({"closures": [{"date": "2026-12-25"}, {"date": "2026-12-25"}]}, "closures[1].date", "already"),
    ({"closures": [{"date": "25/12/2026"}]}, "closures[0].date", "YYYY-MM-DD"),
    ({"closures": [{"date": "2026-12-25", "hours": ["9-5"]}]}, "closures[0].hours[0]",
     "not a range"),
])
def test_check_errors(rec, path, fragment):
    report, _ = check_schedule(rec)
    assert any(fragment in m for m in report.errors.get(path, [])), report.errors


def test_check_normalises_and_warns():
    report, clean = check_schedule({
        "time_zone": "america/new_york", "hours": {"mon": ["13:00-17:00", "9:00 - 12:00"],
                                                   "thu": ["22:00-06:00"]},
        "closures": [{"date": "2026-12-25", "hours": ["05:00-07:00"]},
                     {"date": "2026-11-01", "hours": []}]}, today=date(2026, 12, 1))
    assert report.ok
    assert clean["time_zone"] == "America/New_York"
    assert clean["hours"]["mon"] == ["09:00-12:00", "13:00-17:00"] and clean["hours"]["sun"] == []
    assert [c["date"] for c in clean["closures"]] == ["2026-11-01", "2026-12-25"]
    assert "past" in report.warnings["closures[1].date"][0]
    assert "still runs into" in report.warnings["closures[0].hours[0]"][0]
    assert check_schedule({})[1] == {"time_zone": "UTC", "hours": None, "closures": []}
    assert check_schedule({"hours": {}})[0].warnings["hours"]
