"""Property tests (hypothesis) over zones and instants: ``is_open``/``openness`` agree with a
brute-force reading of the wall clock minute by minute, and "next open" is open with nothing
open between the instant and it; cap window keys change exactly at their reset instants."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from sipflask.core import capwindows, localclock, schedule

SETTINGS = settings(max_examples=200, deadline=None)
ZONES = ["UTC", "America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Kolkata",
         "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago", "Pacific/Chatham"]
UTC = timezone.utc
MINUTE = timedelta(minutes=1)

ranges = st.lists(st.tuples(st.integers(0, 47), st.integers(1, 48)).map(
    lambda p: schedule.format_range((p[0] * 30, p[1] * 30)) if p[0] != p[1] else None),
    max_size=3).map(lambda rs: [r for r in rs if r and not r.startswith("24")])
weeks = st.one_of(st.none(), st.fixed_dictionaries({}, optional={d: ranges for d in schedule.DAYS}))
instants = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 1)).map(
    lambda d: d.replace(tzinfo=UTC))


def closures_near(start: datetime):
    days = st.integers(-1, 15).map(lambda n: (start.date() + timedelta(days=n)).isoformat())
    return st.lists(st.fixed_dictionaries({"date": days, "hours": ranges}), max_size=3,
                    unique_by=lambda c: c["date"])


def brute_open(sched, instant) -> bool:
    """Open minutes of the local date and the day before, spelled out one by one."""
    local = localclock.wall(sched.tz, instant)
    today = local.date()
    minutes = set()
    for offset, day in ((-1440, today - timedelta(days=1)), (0, today)):
        for start, end in sched.ranges_on(day):
            stop = end + (1440 if end < start else 0)
            minutes.update(range(offset + start, offset + stop))
    return local.hour * 60 + local.minute in minutes


@st.composite
def cases(draw):
    when = draw(instants)
    hours, closures = draw(weeks), draw(closures_near(when))
    return schedule.build(draw(st.sampled_from(ZONES)), hours, closures), when


@SETTINGS
@given(cases())
def test_open_matches_brute_force(case):
    sched, when = case
    assert sched.is_open(when) == brute_open(sched, when) == sched.openness(when).open


@SETTINGS
@given(cases())
def test_next_open_is_the_first_open_minute(case):
    sched, when = case
    o = sched.openness(when)
    if o.open:
        if o.closes_at is not None:
            assert not brute_open(sched, o.closes_at)
            assert brute_open(sched, o.closes_at - timedelta(seconds=1))
        return
    limit = o.next_open or when + schedule.HORIZON
    probe = when.replace(second=0, microsecond=0) + MINUTE
    while probe < limit:  # offsets and boundaries are whole minutes: minutes cover it all
        assert not brute_open(sched, probe), probe
        probe += MINUTE
    if o.next_open is not None:
        assert brute_open(sched, o.next_open)


@SETTINGS
@given(st.sampled_from(ZONES), instants, st.sampled_from(capwindows.KINDS[:3]))
def test_window_keys_change_exactly_at_reset(zone, when, kind):
    reset = capwindows.resets_at(kind, zone, when)
    key = capwindows.window_key(kind, zone, when)
    assert reset > when
    assert capwindows.window_key(kind, zone, reset) != key
    assert capwindows.window_key(kind, zone, reset - timedelta(microseconds=1)) == key
    step = timedelta(minutes=1) if kind == capwindows.HOURLY else timedelta(hours=1)
    probe = when
    while probe < reset:
        assert capwindows.window_key(kind, zone, probe) == key
        probe += step


def test_zones_sample_is_real():
    assert all(localclock.canonical_zone(z) == z for z in ZONES)
