"""``GET /reports.json`` and ``GET /reports.csv`` (docs/reports.md): the contract's shape, bad
arguments as a 400 naming the argument (never a 500), login, the CSV's rows and file name, and
the call log behind a row (its new number, sub ID and tag filters)."""
import csv
import io
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from sipflask.callflow import clock
from sipflask.extensions import db
from sipflask.models import Call, Number
from tests.support.app import MEMBER_EMAIL
from tests.support.webhook import AUTO, BASE, MEDICARE, parse, pause_all_but, post, voice

DAY = "2026-03-10"


def call(client, n, hour, to=AUTO, answer=True, state="CA"):
    sid = f"CA{n:032d}"
    with clock.starting_at(datetime(2026, 3, 10, hour, tzinfo=timezone.utc)):
        root = parse(voice(client, to=to, sid=sid, caller=f"+1415555{n:04d}", FromState=state))
        dial = root.find("Dial")
        if dial is not None:
            status = "completed" if answer else "busy"
            parse(post(client, dial.get("action")[len(BASE):],
                       {"CallSid": sid, "DialCallStatus": status,
                        "DialCallDuration": "60" if answer else "0"}))
    return sid


@pytest.fixture
def calls(client, demo):
    pause_all_but(demo, "queue")
    call(client, 1, 9)
    sid = call(client, 2, 10, answer=False)
    pause_all_but(demo, "overflow")
    call(client, 3, 11, to=MEDICARE, state="NY")
    with demo.app_context():
        c = db.session.scalar(select(Call).where(Call.call_sid == "CA" + "0" * 31 + "1"))
        uuid, key = c.uuid, c.key
    assert client.post("/postback", data={"key": key, "uuid": uuid,
                                          "revenue": "7.25"}).status_code == 200
    return sid


def test_json_contract(client, auth, calls):
    auth.login()
    response = client.get(f"/reports.json?group=campaign&from={DAY}&to={DAY}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json
    assert {k: data[k] for k in ("group", "from", "to", "time_zone")} == \
        {"group": "campaign", "from": DAY, "to": DAY, "time_zone": "UTC"}
    assert data["rows"] == [
        {"key": "auto", "label": "Auto Insurance", "calls": 2, "routed": 2, "connected": 1,
         "no_buyer": 0, "converted": 1, "revenue": "7.25", "talk_seconds": 60},
        {"key": "medicare", "label": "Medicare Advantage", "calls": 1, "routed": 1,
         "connected": 1, "no_buyer": 0, "converted": 0, "revenue": "0.00", "talk_seconds": 60}]
    assert data["totals"] == {"calls": 3, "routed": 3, "connected": 2, "no_buyer": 0,
                              "converted": 1, "revenue": "7.25", "talk_seconds": 120}


@pytest.mark.parametrize("group, keys", [
    ("buyer", {"queue", "overflow"}), ("number", {AUTO, MEDICARE}), ("day", {DAY}),
    ("state", {"CA", "NY"}), ("tag:vertical", {"auto", "medicare"}),
    ("publisher", {"acme", ""}), ("sub_id", {"fb-12", ""}),
])
def test_json_groupings_and_keys(client, auth, calls, group, keys):
    auth.login()
    data = client.get(f"/reports.json?group={group}&from={DAY}&to={DAY}").json
    assert {r["key"] for r in data["rows"] if r["calls"]} == keys
    assert data["group"] == group


def test_member_may_read_and_anonymous_may_not(client, auth, calls):
    assert client.get("/reports.json").status_code == 302
    assert client.get("/reports.csv").status_code == 302
    auth.login(email=MEMBER_EMAIL)
    assert client.get("/reports.json").status_code == 200
    assert client.get("/reports.csv").status_code == 200


@pytest.mark.parametrize("query, field", [
    ("group=colour", "group"), ("group=tag:", "group"), ("group=tag:UPPER", "group"),
    ("from=2026-02-30", "from"), ("to=tomorrow", "to"), ("from=2026-03-10&to=2026-03-01", "to"),
    ("from=2000-01-01&to=2026-01-01", "to"), ("from=9999-12-31&to=9999-12-31", "to"),
    ("from=%00", "from"), ("group=%F0%9F%92%A5", "group"),
    ("from=0001-01-01&to=0001-01-01", "from"),
    ("from=9998-12-31&to=9998-12-31", None),
])
@pytest.mark.parametrize("path", ["/reports.json", "/reports.csv"])
def test_bad_arguments_are_400_naming_the_field(client, auth, path, query, field):
    auth.login()
    response = client.get(f"{path}?{query}")
    if field is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.data
    assert response.json["field"] == field and response.json["error"]


def test_csv(client, auth, calls):
    auth.login()
    response = client.get(f"/reports.csv?group=tag:vertical&from={DAY}&to={DAY}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="report-tag-vertical-{DAY}-{DAY}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    auto, medicare, total = rows
    assert (auto["key"], auto["calls"], auto["unique_callers"], auto["routed"],
            auto["connected"], auto["connect_rate"], auto["converted"], auto["revenue"],
            auto["avg_talk_seconds"]) == ("auto", "2", "2", "2", "1", "0.5000", "1", "7.25",
                                          "60.0")
    assert medicare["key"] == "medicare"
    assert (total["group"], total["label"], total["calls"], total["talk_seconds"]) == \
        ("total", "Total", "3", "120")
    assert total["time_zone"] == "UTC" and total["from"] == DAY


def test_call_log_filters_behind_rows(client, auth, calls, demo):
    auth.login()
    with demo.app_context():
        number_id = db.session.scalar(select(Number.id).where(Number.number == MEDICARE))
    for query, count in ((f"number_id={number_id}", 1), ("sub_id=fb-12", 2),
                         ("tag=caller_state:NY", 1), ("tag=vertical:auto", 2),
                         ("tag=caller_state:TX", 0)):
        page = client.get(f"/calls/?{query}").get_data(as_text=True)
        assert f"{count} call{'s' if count != 1 else ''} matching" in page, query
    page = client.get("/calls/?tag=nocolon").get_data(as_text=True)
    assert "Tag: Write a tag as key:value" in page


def test_a_report_the_database_gives_up_on_is_a_503_not_a_500(client, auth, monkeypatch):
    """PostgreSQL cancels a statement past DB_STATEMENT_TIMEOUT (SQLSTATE 57014)."""
    from sqlalchemy.exc import OperationalError

    from sipflask.reports import grouping

    class Cancelled(Exception):
        sqlstate = "57014"

    def slow(*args, **kwargs):
        raise OperationalError("SELECT ...", {}, Cancelled("canceling statement due to "
                                                           "statement timeout"))

    monkeypatch.setattr(grouping, "rows_of", slow)
    auth.login()
    for path in ("/reports.json", "/reports.csv"):
        response = client.get(f"{path}?from=2025-01-01&to=2025-12-31")
        assert response.status_code == 503
        assert response.json == {"error": "This report took longer than the database allows; "
                                          "choose fewer days.", "field": "to"}
