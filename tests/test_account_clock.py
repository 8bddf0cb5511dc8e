"""The account's clock: the time zone setting (admin settings page, ``SIPFLASK_TIME_ZONE``) and
every time the UI shows on it: call list and detail, the local date filters, the CSV export,
buyer health. What is stored stays UTC.
"""
import csv
import io
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask import render_template_string
from sqlalchemy import event, select

from sipflask import create_app
from sipflask.account import ConfigError, clock
from sipflask.account import settings as account
from sipflask.calllog import export
from sipflask.calllog import health as calllog_health
from sipflask.extensions import db
from sipflask.models import AccountSettings, Attempt, Buyer, Call, Postback
from tests.support.app import MEMBER_EMAIL
from tests.support.html import HX, csrf_token_from, field_html

UTC = timezone.utc
NY, KOLKATA = "America/New_York", "Asia/Kolkata"
# 03:30 UTC on 2 December is still 1 December (22:30) in New York, and 09:00 in Kolkata.
LATE_EVENING = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)


def add_call(app, created_at, **fields):
    with app.app_context():
        call = Call(status=fields.pop("status", "completed"), caller="+14155552671",
                    called="+18882223333", created_at=created_at, **fields)
        db.session.add(call)
        db.session.commit()
        return call.uuid


def save_zone(app, name):
    with app.app_context():
        row = db.session.scalar(select(AccountSettings)) or AccountSettings()
        row.time_zone = name
        db.session.add(row)
        db.session.commit()


def stored(app):
    with app.app_context():
        return db.session.scalar(select(AccountSettings.time_zone))


def uuids_in(body):
    return re.findall(r'<tr id="call-([0-9a-f-]{36})"', body)


def csv_table(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# --- configuration ------------------------------------------------------------------------------

def test_default_is_utc(app):
    assert app.config["TIME_ZONE"] == "UTC"
    with app.test_request_context("/"):
        assert account.zone_name() == "UTC"
        assert clock.localtime(LATE_EVENING) == "2026-12-02 03:30:00 UTC"


def test_sipflask_time_zone_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(tmp_path / "inst"))
    monkeypatch.setenv("SIPFLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("SIPFLASK_TIME_ZONE", "america/new_york")
    app = create_app()
    assert app.config["TIME_ZONE"] == NY  # the IANA spelling
    with app.app_context():
        db.create_all()
        with app.test_request_context("/"):
            assert account.zone_name() == NY
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("bad", ["Mars/Base", "EST5EDT-ish", 42])
def test_a_bad_configured_zone_stops_the_app_with_a_clear_message(tmp_path, bad):
    with pytest.raises(ConfigError, match=r"TIME_ZONE \(environment variable "
                                          r"SIPFLASK_TIME_ZONE\) is .* not an IANA time zone"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "TIME_ZONE": bad,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}"})


def test_an_empty_configured_zone_is_utc(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "TIME_ZONE": "",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert app.config["TIME_ZONE"] == "UTC"


@pytest.mark.app_config(TIME_ZONE=KOLKATA)
def test_the_saved_setting_wins_over_the_configuration(admin_client, app):
    add_call(app, LATE_EVENING)
    body = admin_client.get("/calls/").text
    assert f"Time ({KOLKATA})" in body and "2026-12-02 09:00:00" in body
    save_zone(app, NY)
    body = admin_client.get("/calls/").text
    assert f"Time ({NY})" in body and "2026-12-01 22:30:00" in body
    save_zone(app, None)  # empty: the configuration again
    assert f"Time ({KOLKATA})" in admin_client.get("/calls/").text


def test_a_saved_zone_the_zone_data_no_longer_knows_falls_back(admin_client, app, caplog):
    save_zone(app, "Atlantis/Capital")
    add_call(app, LATE_EVENING)
    body = admin_client.get("/calls/").text
    assert "Time (UTC)" in body and "2026-12-02 03:30:00" in body
    assert "'Atlantis/Capital' is not a known zone" in caplog.text


# --- the settings page --------------------------------------------------------------------------

def test_settings_page_for_admins(admin_client):
    body = admin_client.get("/settings/").text
    assert '<a href="/settings/" aria-current="page">Settings</a>' in body
    field = field_html(body, "time_zone")
    assert 'list="zone-choices"' in field and 'name="time_zone"' in field
    options = re.findall(r'<option value="([^"]+)">', body)
    assert options[:3] == ["UTC", NY, "America/Chicago"]  # common zones first
    assert KOLKATA in options[:20] and "Pacific/Chatham" in options
    assert options.index("Africa/Abidjan") > options.index("Australia/Sydney")
    assert "Nothing saved: the configuration applies." in field
    assert 'placeholder="UTC (from the configuration)"' in field
    assert re.search(r'<strong id="settings-now">\d{4}-\d\d-\d\d \d\d:\d\d UTC</strong>', body)


def test_members_cannot_open_or_post_settings(client, auth, app):
    auth.login(MEMBER_EMAIL)
    assert ">Settings</a>" not in client.get("/calls/").text
    assert client.get("/settings/").status_code == 403
    response = client.post("/settings/", data={"time_zone": NY})
    assert response.status_code == 403 and "Your account can&#39;t open this page." in \
        response.text
    assert stored(app) is None


def test_anonymous_users_go_to_the_login_page(client):
    response = client.get("/settings/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_save_a_zone_plain_post(admin_client, app):
    response = admin_client.post("/settings/", data={"time_zone": " asia/kolkata "})
    assert response.status_code == 302 and response.headers["Location"] == "/settings/"
    assert stored(app) == KOLKATA
    body = admin_client.get("/settings/").text
    assert f"Settings saved. Times are shown in {KOLKATA}." in body
    assert f'value="{KOLKATA}"' in field_html(body, "time_zone")
    assert f"Saved: <code>{KOLKATA}</code>" in body
    assert re.search(r'<strong id="settings-now">[0-9: -]+ IST</strong>', body)


def test_save_a_zone_with_htmx(admin_client, app):
    response = admin_client.post("/settings/", data={"time_zone": NY}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/settings/"
    assert stored(app) == NY


def test_a_bad_zone_is_shown_where_it_was_typed_and_nothing_is_saved(admin_client, app):
    save_zone(app, NY)
    response = admin_client.post("/settings/", data={"time_zone": "Mars/Olympus"})
    assert response.status_code == 200 and "<html" in response.text
    field = field_html(response.text, "time_zone")
    assert 'aria-invalid="true"' in field and 'value="Mars/Olympus"' in field
    assert "Unknown time zone &#39;Mars/Olympus&#39;: use an IANA name" in field
    assert "Settings saved" not in response.text
    assert stored(app) == NY
    fragment = admin_client.post("/settings/", data={"time_zone": "x" * 5000}, headers=HX)
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert "Unknown time zone" in field_html(fragment.text, "time_zone")
    assert len(fragment.text) < 60_000  # the typed text is cut, not echoed at any length
    assert stored(app) == NY


def test_an_empty_zone_goes_back_to_the_configuration(admin_client, app):
    save_zone(app, NY)
    admin_client.post("/settings/", data={"time_zone": ""})
    assert stored(app) is None
    assert "Times are shown in UTC (from the configuration)." in admin_client.get("/settings/").text


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_the_form_is_csrf_protected(client, auth, app):
    page = client.get("/login").text
    client.post("/login", data={"email": "admin@example.com", "password": "correct-horse-battery",
                                "csrf_token": csrf_token_from(page)})
    refused = client.post("/settings/", data={"time_zone": NY})
    assert refused.status_code == 400 and stored(app) is None
    token = csrf_token_from(client.get("/settings/").text)
    ok = client.post("/settings/", data={"time_zone": NY, "csrf_token": token})
    assert ok.status_code == 302 and stored(app) == NY


# --- the call log on the account's clock --------------------------------------------------------

@pytest.mark.parametrize("zone, shown, ended", [
    (NY, "2026-12-01 22:30:00", "22:32:05 EST"),
    (KOLKATA, "2026-12-02 09:00:00", "09:02:05 IST"),
    ("UTC", "2026-12-02 03:30:00", "03:32:05 UTC"),
])
def test_call_list_and_detail_show_local_times(admin_client, app, zone, shown, ended):
    save_zone(app, zone)
    uuid = add_call(app, LATE_EVENING, ended_at=LATE_EVENING + timedelta(minutes=2, seconds=5))
    body = admin_client.get("/calls/").text
    assert f"<th>Time ({zone})</th>" in body
    assert f'<a href="/calls/{uuid}">{shown}</a>' in body
    assert f'<label for="f-date_from">From ({zone})</label>' in body
    assert f'<label for="f-date_to">To ({zone}, included)</label>' in body
    detail = admin_client.get(f"/calls/{uuid}").text
    assert f"{shown} {ended[-3:]}, ended {ended}" in detail
    assert f"times in {zone}" in detail


def test_detail_attempt_and_postback_times(admin_client, app):
    save_zone(app, KOLKATA)
    with app.app_context():
        call = Call(status="completed", caller="+14155552671", created_at=LATE_EVENING)
        db.session.add(call)
        db.session.flush()
        db.session.add(Attempt(call_id=call.id, buyer_name="Night desk", dial_status="completed",
                               started_at=LATE_EVENING + timedelta(seconds=3),
                               ended_at=LATE_EVENING + timedelta(minutes=1)))
        # 18:30 UTC is already the next local day in Kolkata: the date is shown.
        db.session.add(Attempt(call_id=call.id, position=1, buyer_name="Late desk",
                               started_at=datetime(2026, 12, 2, 18, 29, tzinfo=UTC),
                               ended_at=datetime(2026, 12, 2, 18, 31, tzinfo=UTC)))
        db.session.add(Postback(call_id=call.id, digest="d" * 64,
                                received_at=datetime(2026, 12, 2, 4, 0, 1, tzinfo=UTC)))
        db.session.commit()
        uuid = call.uuid
    body = admin_client.get(f"/calls/{uuid}").text
    times = re.findall(r'<td class="attempt-time">(.*?)</td>', body)
    assert times == ["09:00:03 – 09:01:00 IST", "23:59:00 – 2026-12-03 00:01:00 IST"]
    assert f"<th>Received ({KOLKATA})</th>" in body
    assert "<td>2026-12-02 09:30:01 IST</td>" in body


def test_local_date_filter_around_midnight(admin_client, app):
    save_zone(app, NY)
    before = add_call(app, datetime(2026, 12, 1, 4, 59, 59, tzinfo=UTC))   # 30 Nov 23:59:59 EST
    first = add_call(app, datetime(2026, 12, 1, 5, 0, tzinfo=UTC))         # 1 Dec 00:00 EST
    late = add_call(app, LATE_EVENING)                                     # 1 Dec 22:30 EST
    last = add_call(app, datetime(2026, 12, 2, 4, 59, 59, tzinfo=UTC))     # 1 Dec 23:59:59 EST
    next_day = add_call(app, datetime(2026, 12, 2, 5, 0, tzinfo=UTC))      # 2 Dec 00:00 EST

    def shown(**args):
        return uuids_in(admin_client.get("/calls/", query_string=args).text)

    assert shown(date_from="2026-12-01", date_to="2026-12-01") == [last, late, first]
    assert shown(date_from="2026-12-02") == [next_day]
    assert shown(date_to="2026-11-30") == [before]
    save_zone(app, "UTC")  # the same calls by UTC dates: the late evening call is 2 December
    assert shown(date_from="2026-12-02") == [next_day, last, late]


def test_local_date_filter_on_a_25_hour_day_and_a_half_hour_zone(admin_client, app):
    save_zone(app, NY)  # 1 November 2026: clocks go back, the local day is 25 hours long
    early = add_call(app, datetime(2026, 11, 1, 4, 0, tzinfo=UTC))    # 00:00 EDT
    end = add_call(app, datetime(2026, 11, 2, 4, 59, tzinfo=UTC))     # 23:59 EST
    add_call(app, datetime(2026, 11, 2, 5, 0, tzinfo=UTC))            # 2 Nov 00:00 EST
    add_call(app, datetime(2026, 11, 1, 3, 59, tzinfo=UTC))           # 31 Oct 23:59 EDT
    day = {"date_from": "2026-11-01", "date_to": "2026-11-01"}
    assert uuids_in(admin_client.get("/calls/", query_string=day).text) == [end, early]
    save_zone(app, KOLKATA)
    in_day = add_call(app, datetime(2026, 12, 1, 18, 29, 59, tzinfo=UTC))  # 1 Dec 23:59:59 IST
    add_call(app, datetime(2026, 12, 1, 18, 30, tzinfo=UTC))               # 2 Dec 00:00 IST
    one = {"date_from": "2026-12-01", "date_to": "2026-12-01"}
    assert uuids_in(admin_client.get("/calls/", query_string=one).text) == [in_day]


def test_csv_times_carry_the_zone_offset(admin_client, app):
    add_call(app, LATE_EVENING)
    add_call(app, datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC))
    header = list(export.CSV_HEADER)
    rows = csv_table(admin_client.get("/calls/export.csv"))
    assert rows[0] == header
    assert [r[0] for r in rows[1:]] == ["2026-12-02T03:30:00+00:00", "2026-07-01T12:00:05+00:00"]
    save_zone(app, NY)
    rows = csv_table(admin_client.get("/calls/export.csv"))
    assert rows[0] == header  # the column names are a contract
    assert [r[0] for r in rows[1:]] == ["2026-12-01T22:30:00-05:00", "2026-07-01T08:00:05-04:00"]
    local_day = csv_table(admin_client.get("/calls/export.csv?date_from=2026-12-01"
                                           "&date_to=2026-12-01"))
    assert [r[0] for r in local_day[1:]] == ["2026-12-01T22:30:00-05:00"]
    save_zone(app, KOLKATA)
    rows = csv_table(admin_client.get("/calls/export.csv"))
    assert [r[0] for r in rows[1:]] == ["2026-12-02T09:00:00+05:30", "2026-07-01T17:30:05+05:30"]


def test_zone_read_once_per_request(admin_client, app):
    save_zone(app, NY)
    for n in range(5):
        add_call(app, LATE_EVENING + timedelta(minutes=n))
    statements = []

    def seen(conn, cursor, statement, *args):
        if "account_settings" in statement:
            statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert admin_client.get("/calls/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1


# --- buyer health, inbound sync -----------------------------------------------------------------

def test_health_times_and_window_on_the_account_clock(app):
    macro = '{% from "calls/macros.html" import health %}{{ health(h) }}'
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    h = calllog_health.Health(7, offered=3, answered=1, last_sip_code=486, last_sip_at=at,
                              since=at - timedelta(hours=24))
    save_zone(app, NY)
    with app.test_request_context("/buyers/"):
        html = render_template_string(macro, h=h)
    assert "2026-06-01 08:00 EDT" in html and "UTC" not in html
    assert 'title="last 24 h: since 2026-05-31 08:00 EDT"' in html
    save_zone(app, KOLKATA)
    with app.test_request_context("/buyers/"):
        html = render_template_string(macro, h=h)
    assert "2026-06-01 17:30 IST" in html and "since 2026-05-31 17:30 IST" in html


def test_buyers_list_health_in_the_account_zone(admin_client, demo):
    save_zone(demo, KOLKATA)
    now = datetime.now(UTC).replace(microsecond=0)
    with demo.app_context():
        buyer = db.session.scalar(select(Buyer).order_by(Buyer.id))
        call = Call(status="completed", caller="+14155552671")
        db.session.add(call)
        db.session.flush()
        db.session.add(Attempt(call_id=call.id, buyer_id=buyer.id, buyer_name=buyer.name,
                               dial_status="busy", sip_code=486, started_at=now - timedelta(
                                   minutes=10), ended_at=now - timedelta(minutes=9)))
        db.session.commit()
    local = (now - timedelta(minutes=9)).astimezone(ZoneInfo(KOLKATA))
    body = admin_client.get("/buyers/").text
    assert f"Busy Here, {local:%Y-%m-%d %H:%M} IST" in body


def test_inbound_last_sync_in_the_account_zone(admin_client, app):
    from sipflask.models import InboundSettings
    save_zone(app, NY)
    with app.app_context():
        db.session.add(InboundSettings(enabled=False, name="acme",
                                       synced_at=datetime(2026, 7, 4, 16, 0, tzinfo=UTC)))
        db.session.commit()
    assert "Last synced 2026-07-04 12:00:00 EDT." in admin_client.get("/inbound/").text


# --- the clock's pieces -------------------------------------------------------------------------

def test_zone_labels():
    at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert clock.format_local(at, ZoneInfo(NY)) == "2026-01-15 07:00:00 EST"
    assert clock.format_local(at, ZoneInfo("America/Sao_Paulo"), clock.MINUTES) == \
        "2026-01-15 09:00 UTC-03:00"  # the zone data's label is only "-03"
    assert clock.format_local(at, ZoneInfo("Australia/Lord_Howe")) == \
        "2026-01-15 23:00:00 UTC+11:00"
    assert clock.format_local(at.replace(tzinfo=None), ZoneInfo(KOLKATA)) == \
        "2026-01-15 17:30:00 IST"  # naive: read as UTC
    assert clock.format_local(None, ZoneInfo(NY)) == ""
    assert clock.iso_local(at, ZoneInfo("Asia/Kathmandu")) == "2026-01-15T17:45:00+05:45"
    assert clock.offset_text(timedelta(hours=-9, minutes=-30)) == "-09:30"


def test_day_start_across_dst():
    ny = ZoneInfo(NY)
    assert clock.day_start(date(2026, 3, 8), ny) == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert clock.day_start(date(2026, 3, 9), ny) == datetime(2026, 3, 9, 4, tzinfo=UTC)
    # Santiago moves its clocks at midnight: forward (no 00:00 that day), and back.
    santiago = ZoneInfo("America/Santiago")
    spring = clock.day_start(date(2026, 9, 6), santiago)
    assert spring == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert (spring - timedelta(seconds=1)).astimezone(santiago).date() == date(2026, 9, 5)
    autumn = clock.day_start(date(2026, 4, 5), santiago)
    assert autumn == datetime(2026, 4, 5, 4, tzinfo=UTC)
    assert (autumn - timedelta(seconds=1)).astimezone(santiago).date() == date(2026, 4, 4)
    assert clock.day_range(None, date(2026, 12, 1), ZoneInfo(KOLKATA)) == \
        (None, datetime(2026, 12, 1, 18, 30, tzinfo=UTC))
