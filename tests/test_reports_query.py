"""Reports (``sipflask/reports``): arguments, presets, one small day of calls through the real
webhook, grouped several ways, the JSON shape and the charts' series. The exhaustive check
against a count in Python is tests/test_reports_exact.py."""
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Buyer
from sipflask.reports import ranges, series
from sipflask.reports.query import (ReportError, Row, build_report, call_log_args, parse_args,
                                    report_json)
from tests.support import report_calls

DAY = date(2026, 3, 10)


def at(hour, minute=0):
    return datetime(2026, 3, 10, hour, minute, tzinfo=timezone.utc)


@pytest.fixture
def day_of_calls(client, demo):
    report_calls.day_of_calls(client, demo, at)
    return demo


def test_campaign_report(app, day_of_calls):
    with app.app_context():
        report = build_report("campaign", DAY, DAY)
    auto, medicare, none = report.rows
    assert (auto.key, auto.label) == ("auto", "Auto Insurance")
    assert (auto.calls, auto.unique_callers, auto.routed, auto.connected, auto.no_buyer) == \
        (4, 2, 3, 2, 1)
    assert (auto.converted, auto.revenue, auto.talk_seconds) == (1, Decimal("12.50"), 125)
    assert auto.connect_rate == pytest.approx(2 / 3)
    assert auto.conversion_rate == 0.5 and auto.avg_talk_seconds == 62.5
    assert auto.sip_codes == [(480, 1), (486, 1), (503, 1)]
    assert auto.skip_reasons == [("paused", 1)]
    assert (medicare.key, medicare.calls, medicare.no_buyer) == ("medicare", 1, 1)
    assert (none.key, none.label, none.calls, none.no_buyer) == ("", "No campaign", 1, 0)
    t = report.totals
    assert (t.calls, t.unique_callers, t.routed, t.connected, t.no_buyer, t.converted) == \
        (6, 2, 3, 2, 2, 1)
    assert call_log_args(report, auto) == {"date_from": "2026-03-10", "date_to": "2026-03-10",
                                           "campaign_id": str(auto.ident)}


def test_buyer_report_counts_each_buyer_dialled(app, day_of_calls):
    with app.app_context():
        report = build_report("buyer", DAY, DAY)
    rows = {r.key: r for r in report.rows}
    assert set(rows) == {"queue", "secure"}
    q, s = rows["queue"], rows["secure"]
    assert (q.calls, q.connected, q.converted, q.revenue, q.talk_seconds) == \
        (3, 1, 1, Decimal("12.50"), 95)
    assert (s.calls, s.connected, s.talk_seconds) == (2, 1, 30)
    assert q.sip_codes == [(480, 1), (486, 1)] and s.sip_codes == [(503, 1)]
    assert (report.totals.calls, report.totals.routed, report.totals.connected) == (3, 3, 2)


def test_time_and_tag_groupings(app, day_of_calls):
    with app.app_context():
        hours = build_report("hour", DAY, DAY)
        states = build_report("state", DAY, DAY)
        subs = build_report("sub_id", DAY, DAY)
    assert [(r.key, r.calls) for r in hours.rows if r.calls] == \
        [("09", 1), ("10", 1), ("11", 1), ("12", 1), ("13", 1), ("14", 1)]
    assert len(hours.rows) == 24
    assert {r.key: r.calls for r in states.rows} == {"CA": 4, "NY": 1, "": 1}
    assert {r.key: r.calls for r in subs.rows} == {"fb-12": 4, "": 2}


def test_report_json_shape(app, day_of_calls):
    with app.app_context():
        data = report_json(build_report("campaign", DAY, DAY))
    assert data["group"] == "campaign" and data["from"] == data["to"] == "2026-03-10"
    assert data["time_zone"] == "UTC"
    assert data["rows"][0] == {"key": "auto", "label": "Auto Insurance", "calls": 4,
                               "routed": 3, "connected": 2, "no_buyer": 1, "converted": 1,
                               "revenue": "12.50", "talk_seconds": 125}
    assert set(data["totals"]) == {"calls", "routed", "connected", "no_buyer", "converted",
                                   "revenue", "talk_seconds"}


def test_series(app, day_of_calls):
    with app.app_context():
        hourly = series.outcome_series(DAY, DAY, "hour")
        daily = series.outcome_series(DAY, date(2026, 3, 11), "day")
        revenue = series.revenue_series(DAY, date(2026, 3, 11))
    assert len(hourly["buckets"]) == 24 and hourly["buckets"][9] == "2026-03-10 09:00 UTC"
    assert hourly["connected"][9:15] == [1, 1, 0, 0, 0, 0]
    assert hourly["not_answered"][11] == 1 and hourly["no_buyer"][12] == 1
    assert hourly["rejected"][13] == 1 and hourly["no_buyer"][14] == 1
    assert daily == {"buckets": ["2026-03-10", "2026-03-11"], "connected": [2, 0],
                     "not_answered": [1, 0], "no_buyer": [2, 0], "rejected": [1, 0]}
    assert revenue == {"buckets": ["2026-03-10", "2026-03-11"], "revenue": ["12.50", "0.00"]}


@pytest.mark.parametrize("args, field", [
    ({"group": "color"}, "group"), ({"group": "tag:Bad Key"}, "group"),
    ({"from": "2026-13-01"}, "from"), ({"to": "yesterday"}, "to"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "to"), ({"from": "20260101"}, "from"),
])
def test_bad_arguments_name_their_field(app, args, field):
    with app.test_request_context():
        with pytest.raises(ReportError) as err:
            parse_args(args)
    assert err.value.field == field and str(err.value)


def test_arguments_and_defaults(app):
    with app.test_request_context():
        group, first, last = parse_args({})
        assert group == "campaign" and (last - first).days == 6
        assert parse_args({"group": "tag:caller_zip", "from": "2026-03-01",
                           "to": "2026-03-31"}) == ("tag:caller_zip", date(2026, 3, 1),
                                                    date(2026, 3, 31))


def test_presets():
    today = date(2026, 3, 10)
    assert ranges.preset_range("today", today) == (today, today)
    assert ranges.preset_range("yesterday", today) == (date(2026, 3, 9), date(2026, 3, 9))
    assert ranges.preset_range("last7", today) == (date(2026, 3, 4), today)
    assert ranges.preset_range("last30", today) == (date(2026, 2, 9), today)
    assert ranges.preset_range("this_month", today) == (date(2026, 3, 1), today)
    assert ranges.preset_range("last_month", today) == (date(2026, 2, 1), date(2026, 2, 28))
    assert ranges.preset_of(date(2026, 3, 4), today, today) == "last7"
    assert ranges.preset_of(date(2026, 3, 5), today, today) == "custom"


def test_row_rates_without_calls():
    row = Row("x", "x")
    assert row.connect_rate == row.conversion_rate == row.avg_talk_seconds == 0


def test_buyer_report_after_a_buyer_is_deleted(app, day_of_calls):
    with app.app_context():
        before = build_report("buyer", DAY, DAY)
        secure = db.session.scalar(select(Buyer).where(Buyer.ref == "secure"))
        db.session.delete(secure)
        db.session.commit()
        after = build_report("buyer", DAY, DAY)
    gone = {r.key: r for r in before.rows}["secure"]
    deleted = {r.label: r for r in after.rows}["Deleted buyer"]
    assert deleted.key == "" and deleted.ident is None
    assert (deleted.calls, deleted.unique_callers, deleted.connected, deleted.talk_seconds,
            deleted.sip_codes) == (gone.calls, gone.unique_callers, gone.connected,
                                   gone.talk_seconds, gone.sip_codes)
    assert (after.totals.calls, after.totals.unique_callers, after.totals.connected) == \
        (before.totals.calls, before.totals.unique_callers, before.totals.connected)
