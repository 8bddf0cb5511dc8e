"""Cap windows on the buyer's clock: keys, reset instants across DST and non-hour zones, and
the reason texts routing shows."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sipflask.core import capwindows as cw

UTC = timezone.utc
CHI, NY = "America/Chicago", "America/New_York"


def at(name, *args, fold=0):
    return datetime(*args, tzinfo=ZoneInfo(name), fold=fold)


def test_keys_are_local():
    when = at(CHI, 2026, 12, 31, 23, 59, 59)
    assert cw.window_keys(CHI, when) == {"hourly": "2027-01-01T05:00:00Z", "daily": "2026-12-31",
                                         "monthly": "2026-12", "lifetime": "all"}
    assert cw.window_key("daily", CHI, when + timedelta(seconds=1)) == "2027-01-01"
    assert cw.local_date("Asia/Kolkata", datetime(2026, 12, 1, 18, 30, tzinfo=UTC)).day == 2


def test_reasons():
    when = at(CHI, 2026, 12, 31, 14, 20)
    assert cw.cap_reason("daily", 200, CHI, when) == \
        "daily cap 200 reached (resets 00:00 America/Chicago)"
    assert cw.cap_reason("hourly", 10, CHI, when) == \
        "hourly cap 10 reached (resets 15:00 America/Chicago)"
    assert cw.cap_reason("monthly", 5000, CHI, when) == \
        "monthly cap 5000 reached (resets Jan 1 00:00 America/Chicago)"
    assert cw.cap_reason("lifetime", 7, CHI, when) == "lifetime cap 7 reached"
    assert cw.resets_at("lifetime", CHI, when) is None


def test_fall_back_hours_are_two_windows():
    first, second = at(NY, 2026, 11, 1, 1, 30), at(NY, 2026, 11, 1, 1, 30, fold=1)
    assert cw.window_key("hourly", NY, first) == "2026-11-01T05:00:00Z"
    assert cw.window_key("hourly", NY, second) == "2026-11-01T06:00:00Z"
    assert cw.resets_at("hourly", NY, first) == datetime(2026, 11, 1, 6, tzinfo=UTC)
    assert cw.resets_at("hourly", NY, second) == datetime(2026, 11, 1, 7, tzinfo=UTC)
    assert cw.resets_at("daily", NY, first) == datetime(2026, 11, 2, 5, tzinfo=UTC)  # 25 h day


def test_spring_forward_and_half_hour_zones():
    assert cw.resets_at("hourly", NY, at(NY, 2026, 3, 8, 1, 10)) == \
        datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert cw.resets_at("hourly", "Asia/Kolkata", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)) == \
        datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    # Lord Howe 2026-10-04: 02:00 +10:30 -> 02:30 +11, so the 01:00 hour ends at 02:30 local.
    lh = "Australia/Lord_Howe"
    reset = cw.resets_at("hourly", lh, datetime(2026, 10, 3, 14, 45, tzinfo=UTC))
    assert reset == datetime(2026, 10, 3, 15, 30, tzinfo=UTC)
    assert cw.window_key("hourly", lh, reset) == "2026-10-03T15:30:00Z"
    assert cw.window_key("hourly", lh, reset - timedelta(seconds=1)) == "2026-10-03T14:30:00Z"


def test_rollover_at_local_midnight():
    before, after = at(CHI, 2026, 12, 7, 23, 59, 59), at(CHI, 2026, 12, 8, 0, 0, 0)
    assert cw.resets_at("daily", CHI, before) == after.astimezone(UTC)
    assert cw.window_key("daily", CHI, before) != cw.window_key("daily", CHI, after)


def test_keys_sort_in_time_order_across_dst_and_odd_offsets():
    for name in (NY, "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"):
        start = datetime(2026, 3, 1, tzinfo=UTC)
        keys = {kind: [cw.window_key(kind, name, start + timedelta(minutes=15 * i))
                       for i in range(4 * 24 * 250)] for kind in ("hourly", "daily", "monthly")}
        for kind, seq in keys.items():
            assert seq == sorted(seq), (name, kind)


def test_count_modes():
    assert cw.COUNT_MODES == ("dialled", "connected")
    assert cw.check_cap_counts(None) == ("dialled", None)
    assert cw.check_cap_counts("connected") == ("connected", None)
    assert cw.check_cap_counts("answered")[1]
