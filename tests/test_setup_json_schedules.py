"""A buyer's time zone, hours, closures and caps in ``flask export`` / ``flask import``."""
import copy
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from sipflask.core import buyer_rules, capwindows, schedule, schedule_rules
from sipflask.core.validation import Report
from sipflask.extensions import db
from sipflask.models import Buyer

HOURS = {"mon": ["09:00-12:00", "13:00-17:00"], "tue": ["09:00-17:00"], "wed": [],
         "thu": ["22:00-06:00"], "fri": ["09:00-17:00"], "sat": [], "sun": []}
SCHEDULED = {
    "ref": "ny", "name": "New York desk", "number": "sip:desk@ny.example.com",
    "sip_username": "", "sip_password": "", "sip_headers": [],
    "priority": 1, "weight": 1, "timeout": 30, "concurrency_cap": 3, "paused": False,
    "time_zone": "America/New_York", "hours": HOURS,
    "closures": [{"date": "2099-12-25", "hours": []},
                 {"date": "2099-12-24", "hours": ["09:00-13:00"]}],
    "hourly_cap": 20, "daily_cap": 200, "monthly_cap": 5000, "total_cap": 100000,
    "cap_counts": "connected"}
PLAIN = {"ref": "plain", "name": "Plain", "number": "+14155552671"}
DOC = {"buyers": [PLAIN, SCHEDULED]}
DEFAULTS = {"time_zone": "UTC", "hours": None, "closures": [], "hourly_cap": None,
            "daily_cap": None, "monthly_cap": None, "total_cap": None, "cap_counts": "dialled"}
NEW_KEYS = tuple(DEFAULTS)


def write(tmp_path, doc, name="setup.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def dump_tables(app):
    with app.app_context():
        return {t.name: sorted(repr(tuple(r)) for r in
                               db.session.execute(text(f"SELECT * FROM {t.name}")).all())
                for t in db.metadata.sorted_tables}


def stored(app, ref):
    with app.app_context():
        b = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        return {key: getattr(b, key) for key in NEW_KEYS}


def exported(runner, ref):
    result = runner.invoke(args=["export"])
    assert result.exit_code == 0, result.output
    return next(b for b in json.loads(result.output)["buyers"] if b["ref"] == ref)


def test_import_stores_every_new_key(runner, app, tmp_path):
    result = runner.invoke(args=["import", write(tmp_path, DOC)])
    assert result.exit_code == 0, result.output
    assert "buyers: 2 created" in result.output and "warning" not in result.output
    ny = stored(app, "ny")
    assert ny["time_zone"] == "America/New_York" and ny["hours"] == HOURS
    # Closures are kept in date order.
    assert ny["closures"] == [{"date": "2099-12-24", "hours": ["09:00-13:00"]},
                              {"date": "2099-12-25", "hours": []}]
    assert (ny["hourly_cap"], ny["daily_cap"], ny["monthly_cap"], ny["total_cap"],
            ny["cap_counts"]) == (20, 200, 5000, 100000, "connected")


def test_absent_keys_mean_todays_behaviour(runner, app, tmp_path):
    assert runner.invoke(args=["import", write(tmp_path, DOC)]).exit_code == 0
    assert stored(app, "plain") == DEFAULTS
    assert {k: exported(runner, "plain")[k] for k in NEW_KEYS} == DEFAULTS
    # A stored buyer imported from a file without the keys goes back to the defaults, as
    # every other absent key does (an absent daily_cap has always meant no cap).
    bare = {k: v for k, v in SCHEDULED.items() if k not in NEW_KEYS}
    result = runner.invoke(args=["import", write(tmp_path, {"buyers": [bare]}, "bare.json")])
    assert result.exit_code == 0, result.output
    assert "buyers: 0 created, 1 updated" in result.output
    assert stored(app, "ny") == DEFAULTS


def test_null_hours_and_normalised_spelling(runner, app, tmp_path):
    rec = {**PLAIN, "time_zone": "america/los_angeles", "hours": {"mon": ["9:00-17:00"]},
           "cap_counts": None, "hourly_cap": "", "closures": None}
    assert runner.invoke(args=["import", write(tmp_path, {"buyers": [rec]})]).exit_code == 0
    got = stored(app, "plain")
    assert got["time_zone"] == "America/Los_Angeles"
    # A day missing from hours is closed that day; times are written HH:MM.
    assert got["hours"] == {"mon": ["09:00-17:00"], **{d: [] for d in schedule.DAYS[1:]}}
    assert (got["cap_counts"], got["hourly_cap"], got["closures"]) == ("dialled", None, [])
    rec.update(hours=None)
    assert runner.invoke(args=["import", write(tmp_path, {"buyers": [rec]})]).exit_code == 0
    assert stored(app, "plain")["hours"] is None and exported(runner, "plain")["hours"] is None


def test_export_writes_the_keys_for_every_buyer(runner, app, tmp_path):
    assert runner.invoke(args=["import", write(tmp_path, DOC)]).exit_code == 0
    doc = json.loads(runner.invoke(args=["export"]).output)
    for rec in doc["buyers"]:
        assert set(NEW_KEYS) <= set(rec)
        # The counters are state, not setup: never exported.
        assert not any(k.startswith("calls_") or k == "active_calls" for k in rec)
    ny = next(b for b in doc["buyers"] if b["ref"] == "ny")
    assert {k: ny[k] for k in NEW_KEYS} == {
        **{k: SCHEDULED[k] for k in NEW_KEYS},
        "closures": sorted(SCHEDULED["closures"], key=lambda c: c["date"])}


def test_round_trip_is_lossless(runner, app, tmp_path):
    assert runner.invoke(args=["import", write(tmp_path, DOC)]).exit_code == 0
    with app.app_context():  # counters in use must survive an import too
        ny = db.session.scalar(select(Buyer).where(Buyer.ref == "ny"))
        ny.calls_total, ny.calls_month, ny.calls_month_key = 42, 7, "2026-12"
        db.session.commit()
    out = tmp_path / "out.json"
    assert runner.invoke(args=["export", str(out)]).exit_code == 0
    before = dump_tables(app)
    result = runner.invoke(args=["import", str(out)])
    assert result.exit_code == 0, result.output
    assert "buyers: 0 created, 0 updated, 2 unchanged" in result.output
    assert dump_tables(app) == before
    again = tmp_path / "again.json"
    runner.invoke(args=["export", str(again)])
    assert json.loads(again.read_text()) == json.loads(out.read_text())


def test_changing_only_a_schedule_counts_as_updated(runner, app, tmp_path):
    assert runner.invoke(args=["import", write(tmp_path, DOC)]).exit_code == 0
    doc = copy.deepcopy(DOC)
    doc["buyers"][1]["hours"]["wed"] = ["10:00-11:00"]
    result = runner.invoke(args=["import", write(tmp_path, doc, "v2.json")])
    assert "buyers: 0 created, 1 updated, 1 unchanged" in result.output, result.output
    assert stored(app, "ny")["hours"]["wed"] == ["10:00-11:00"]


def _set(key, value):
    return lambda rec: rec.update({key: value})


BAD = [
    (_set("time_zone", "Mars/Olympus"), "buyers[1].time_zone", "Unknown time zone"),
    (_set("time_zone", 5), "buyers[1].time_zone", "Unknown time zone"),
    (lambda r: r["hours"].update(mon=["25:00-26:00"]), "buyers[1].hours.mon[0]",
     "is not a time of day"),
    (lambda r: r["hours"].update(mon=["09:00-12:00", "11:00-13:00"]), "buyers[1].hours.mon[1]",
     "overlaps"),
    (lambda r: r["hours"].update(tue="09:00-17:00"), "buyers[1].hours.tue", "Must be a list"),
    (lambda r: r["hours"].update(monday=[]), "buyers[1].hours.monday", "Unknown day"),
    (_set("hours", "9-5"), "buyers[1].hours", "Hours must be an object"),
    (lambda r: r["closures"].append({"date": "25/12/2099", "hours": []}),
     "buyers[1].closures[2].date", "YYYY-MM-DD"),
    (lambda r: r["closures"].append({"date": "2099-13-01", "hours": []}),
     "buyers[1].closures[2].date", "not a date on the calendar"),
    (lambda r: r["closures"].append({"date": "2099-12-25", "hours": []}),
     "buyers[1].closures[2].date", "already has a closure"),
    (lambda r: r["closures"][1].update(hours=["09:00-12:00", "11:00-13:00"]),
     "buyers[1].closures[1].hours[1]", "overlaps"),
    (lambda r: r["closures"][0].update(note="Christmas"), "buyers[1].closures[0].note",
     "Unknown field"),
    (_set("closures", {"date": "2099-12-25"}), "buyers[1].closures", "must be a list"),
    (_set("hourly_cap", -1), "buyers[1].hourly_cap", "Hourly cap must be at least 0."),
    (_set("daily_cap", "lots"), "buyers[1].daily_cap", "Daily cap must be a whole number"),
    (_set("monthly_cap", 1.5), "buyers[1].monthly_cap", "Monthly cap must be a whole number"),
    (_set("total_cap", 10**12), "buyers[1].total_cap",
     "Lifetime cap must be at most 1000000000."),
    (_set("concurrency_cap", True), "buyers[1].concurrency_cap", "must be a whole number"),
    (_set("cap_counts", "answered"), "buyers[1].cap_counts", "'dialled'"),
    (_set("cap_count", "dialled"), "buyers[1].cap_count", "did you mean cap_counts?"),
]


@pytest.mark.parametrize("mutate,path,message", BAD, ids=[p + ":" + m for _, p, m in BAD])
def test_bad_value_names_its_path_and_writes_nothing(runner, app, tmp_path, mutate, path,
                                                     message):
    assert runner.invoke(args=["import", write(tmp_path, DOC)]).exit_code == 0
    before = dump_tables(app)
    doc = copy.deepcopy(DOC)
    mutate(doc["buyers"][1])
    result = runner.invoke(args=["import", write(tmp_path, doc, "bad.json")])
    assert result.exit_code == 1
    assert "Nothing was imported" in result.output
    line = next((ln for ln in result.output.splitlines() if ln.startswith(f"  {path}: ")), "")
    assert message in line, result.output
    assert dump_tables(app) == before


def test_every_schedule_error_is_listed_at_once(runner, app, tmp_path):
    doc = copy.deepcopy(DOC)
    doc["buyers"][1].update(time_zone="Nowhere", hourly_cap=-5)
    doc["buyers"][1]["hours"]["fri"] = ["9-5"]
    doc["buyers"][0]["closures"] = [{"date": "someday"}]
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 1
    assert "Nothing was imported: 4 problem(s) found." in result.output
    for path in ("buyers[1].time_zone", "buyers[1].hourly_cap", "buyers[1].hours.fri[0]",
                 "buyers[0].closures[0].date"):
        assert f"  {path}: " in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(Buyer)) is None


def test_warnings_are_shown_and_do_not_block(runner, app, tmp_path):
    doc = copy.deepcopy(DOC)
    doc["buyers"][1]["closures"].append({"date": "2020-01-01", "hours": []})
    doc["buyers"][0]["hours"] = {}
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 0, result.output
    assert ("warning: buyers[1].closures[2].date: 2020-01-01 is in the past: this closure no "
            "longer changes anything.") in result.output
    assert "warning: buyers[0].hours: No open hours in the week" in result.output
    assert "buyers: 2 created" in result.output
    assert stored(app, "ny")["closures"][0] == {"date": "2020-01-01", "hours": []}


def test_past_closure_is_judged_on_the_buyers_own_date():
    # 2026-12-25 03:00 UTC is still Dec 24 in Los Angeles, already Dec 25 in Tokyo.
    now = datetime(2026, 12, 25, 3, 0, tzinfo=timezone.utc)
    closures = [{"date": "2026-12-24", "hours": []}]
    for zone, past in (("America/Los_Angeles", False), ("Asia/Tokyo", True)):
        report = Report()
        clean = buyer_rules.check_schedule_at(report, {"time_zone": zone,
                                                       "closures": closures}, now)
        assert report.ok and clean["time_zone"] == zone
        assert bool(report.warnings.get("closures[0].date")) is past


def test_check_caps_is_one_pure_function():
    report = Report()
    clean = buyer_rules.check_caps(report, {"daily_cap": "200", "total_cap": 0})
    assert report.ok
    assert clean == {"concurrency_cap": None, "hourly_cap": None, "daily_cap": 200,
                     "monthly_cap": None, "total_cap": 0, "cap_counts": "dialled"}
    report = Report()
    buyer_rules.check_caps(report, {"monthly_cap": "-3", "cap_counts": "Connected"})
    assert set(report.errors) == {"monthly_cap", "cap_counts"}


def test_demo_buyers_have_the_three_schedules(runner, app):
    assert runner.invoke(args=["demo"]).exit_code == 0
    export = json.loads(runner.invoke(args=["export"]).output)
    by_ref = {b["ref"]: b for b in export["buyers"]}
    now = datetime.now(timezone.utc)
    for rec in by_ref.values():
        today = capwindows.local_date(rec["time_zone"], now)
        report, clean = schedule_rules.check_schedule(rec, today)
        assert report.ok and not report.warnings, (rec["ref"], report)
        assert {k: clean[k] for k in ("time_zone", "hours", "closures")} == \
            {k: rec[k] for k in ("time_zone", "hours", "closures")}
    ny, la = by_ref["ny-floor"], by_ref["la-night"]
    weekday = ["09:00-12:00", "13:00-17:00"]
    assert (ny["time_zone"], ny["daily_cap"]) == ("America/New_York", 200)
    assert ny["hours"] == {**dict.fromkeys(schedule.DAYS[:5], weekday), "sat": [], "sun": []}
    assert la["time_zone"] == "America/Los_Angeles"
    assert la["hours"] == dict.fromkeys(schedule.DAYS, ["22:00-06:00"])
    always = [b["ref"] for b in export["buyers"] if b["hours"] is None and not b["closures"]]
    assert "phone" in always
    # Every campaign ends with a buyer open 24/7, so a demo call routes at any hour.
    for campaign in export["campaigns"]:
        assert by_ref[campaign["buyers"][-1]]["hours"] is None, campaign["ref"]
