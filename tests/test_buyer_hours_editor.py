"""The buyer editor's opening hours, closures and caps; the preview at the sample call's moment;
Reset caps; the buyers list's "open now" / "closed until" and cap use.

Every button is exercised as a plain form post (the whole page, nothing saved) and with
``HX-Request`` (just the hours section). Bad input never changes the database. Moments are
fixed with ``callflow.clock.starting_at`` (the test client runs the app in this thread).
"""
import logging
import re
from datetime import date, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sipflask.callflow import clock
from sipflask.extensions import db
from sipflask.models import Buyer
from tests.support.app import MEMBER_EMAIL
from tests.support.buyers import edit_data
from tests.support.html import HX

NY = ZoneInfo("America/New_York")
LUNCH = {d: ["09:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
LUNCH_WEEK = {**LUNCH, "sat": [], "sun": []}
MONDAY_1230 = datetime(2026, 12, 7, 12, 30, tzinfo=NY)


# --- helpers ---------------------------------------------------------------------------------

class FormReader(HTMLParser):
    """The values a browser posts for ``form#buyer-form`` (no button: the test adds the action)."""

    def __init__(self):
        super().__init__()
        self.inside, self.data, self.select, self.textarea = False, [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "buyer-form":
            self.inside = True
        if tag == "option" and self.inside and self.select and "selected" in a:
            self.data.append((self.select, a.get("value") or ""))
        if not self.inside or not a.get("name"):
            return
        if tag == "input" and a.get("type") not in ("checkbox", "radio", "submit"):
            self.data.append((a["name"], a.get("value") or ""))
        elif tag == "input" and "checked" in a:
            self.data.append((a["name"], a.get("value") or "y"))
        elif tag == "select":
            self.select = a["name"]
        elif tag == "textarea":
            self.textarea = a["name"]
            self.data.append((a["name"], ""))

    def handle_data(self, text):
        if self.textarea:
            name, value = self.data.pop()
            self.data.append((name, value + text))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def page_form(client, url) -> dict:
    """The editor form of the page at ``url`` as the browser would post it unchanged."""
    reader = FormReader()
    reader.feed(client.get(url).text)
    out = {}
    for name, value in reader.data:
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
        else:
            out[name] = value
    out.pop("csrf_token", None)
    return out


def options_of(body, select_id):
    m = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', body, re.S)
    return re.findall(r'<option([^>]*)value="([^"]*)"', m.group(1))


def msg_div(body, field_id):
    m = re.search(rf'<div class="msgs" id="msg-{re.escape(field_id)}"[^>]*>(.*?)</div>', body, re.S)
    assert m, f"no messages for {field_id}"
    return m.group(1)


def values(body, prefix):
    return re.findall(rf'name="({re.escape(prefix)}[\w-]*)"[^>]*value="([^"]*)"', body)


def set_buyer(app, ref, **columns):
    with app.app_context():
        b = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        for key, value in columns.items():
            setattr(b, key, value)
        db.session.commit()
        return b.id


def others_open_24_7(app):
    """Every buyer but the queue open 24/7, whatever the demo data gives them, so who takes
    the call instead follows routing order alone."""
    with app.app_context():
        for b in db.session.scalars(select(Buyer).where(Buyer.ref != "queue")):
            b.hours, b.closures = None, []
        db.session.commit()


def stored(app, ref, *names):
    with app.app_context():
        b = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        return tuple(getattr(b, n) for n in names)


def hours_form(zone="America/New_York", hours=None, closures=(), **more):
    """The hours section's fields for ``hours`` (None: 24/7) and ``closures`` [(date, text)]."""
    data = {"time_zone": zone, "hours_mode": "always" if hours is None else "weekly",
            "cap_counts": "dialled"}
    for day, ranges in (hours or {}).items():
        for i, rng in enumerate(ranges):
            data[f"hours-{day}-{i}"] = rng
    for i, (day, text) in enumerate(closures):
        data[f"closures-{i}-date"], data[f"closures-{i}-hours"] = day, text
    data.update(more)
    return data


def queue_form(demo, **fields):
    bid, data = edit_data(demo, "queue")
    data.update(hours_form(**fields))
    return bid, data


def is_hours_fragment(response):
    return response.text.lstrip().startswith('<fieldset id="hours-section"')


# --- the section -----------------------------------------------------------------------------

def test_new_page_has_hours_caps_and_moment(admin_client, demo):
    body = admin_client.get("/buyers/new").text
    assert 'id="hours-section"' in body and 'name="hours_mode" type="hidden" value="always"' in body
    assert 'id="hours-always"' in body and "Open 24/7" in body
    assert 'list="zones"' in body and 'name="time_zone"' in body and 'value="UTC"' in body
    zones = re.search(r'<datalist id="zones">(.*?)</datalist>', body, re.S).group(1)
    listed = re.findall(r'<option value="([^"]+)">', zones)
    assert listed[:3] == ["UTC", "America/New_York", "America/Chicago"] and len(listed) > 300
    assert "Asia/Kolkata" in listed and "Australia/Lord_Howe" in listed
    for action in ("hours-preset-always", "hours-preset-weekdays", "hours-preset-lunch",
                   "hours-weekly", "closure-add"):
        assert f'value="{action}"' in body, action
    for cap in ("concurrency_cap", "hourly_cap", "daily_cap", "monthly_cap", "total_cap"):
        assert f'name="{cap}"' in body
    assert [v for _, v in options_of(body, "cap_counts")] == ["dialled", "connected"]
    assert 'name="sample-moment"' in body and 'type="datetime-local"' in body
    assert 'id="preview-moment"' in body and "(now)" in body


def test_edit_page_shows_stored_schedule(admin_client, demo):
    bid = set_buyer(demo, "queue", time_zone="America/New_York", hours=LUNCH_WEEK,
                    closures=[{"date": "2026-12-24", "hours": ["09:00-13:00"]},
                              {"date": "2026-12-25", "hours": []}],
                    hourly_cap=7, monthly_cap=900, total_cap=5000, cap_counts="connected")
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert 'value="weekly"' in body and 'value="America/New_York"' in body
    assert values(body, "hours-mon-") == [("hours-mon-0", "09:00-12:00"),
                                          ("hours-mon-1", "13:00-17:00")]
    assert values(body, "hours-sat-") == [] and body.count('class="muted closed-day">Closed') == 2
    assert values(body, "closures-") == [("closures-0-date", "2026-12-24"),
                                         ("closures-0-hours", "09:00-13:00"),
                                         ("closures-1-date", "2026-12-25"),
                                         ("closures-1-hours", "")]
    assert 'type="date"' in body
    for name, value in (("hourly_cap", "7"), ("monthly_cap", "900"), ("total_cap", "5000")):
        assert re.search(rf'name="{name}"[^>]*value="{value}"', body), name
    assert ("selected", "connected") in [(a.strip(), v) for a, v in options_of(body, "cap_counts")]


# --- the buttons: plain post (whole page) and htmx (the section) -----------------------------

BUTTONS = [
    ("hours-preset-weekdays", {}, {"hours-mon-0": "09:00-17:00", "hours-fri-0": "09:00-17:00"},
     ["hours-sat-0", "hours-mon-1"]),
    ("hours-preset-lunch", {}, {"hours-mon-0": "09:00-12:00", "hours-mon-1": "13:00-17:00",
                                "hours-fri-1": "13:00-17:00"}, ["hours-sun-0"]),
    ("hours-preset-always", {"hours": LUNCH}, {}, ["hours-mon-0"]),
    ("hours-weekly", {}, {"hours-mon-0": "00:00-24:00", "hours-sun-0": "00:00-24:00"}, []),
    ("hours-add-mon", {"hours": {"mon": ["09:00-12:00"]}},
     {"hours-mon-0": "09:00-12:00", "hours-mon-1": ""}, []),
    ("hours-remove-mon-0", {"hours": {"mon": ["09:00-12:00", "13:00-17:00"]}},
     {"hours-mon-0": "13:00-17:00"}, ["hours-mon-1"]),
    ("hours-copy-tue", {"hours": {"mon": ["08:00-09:00"], "tue": ["10:00-11:00", "", "12:00-14:00"],
                                  "sat": ["10:00-12:00"]}},
     {"hours-mon-0": "10:00-11:00", "hours-mon-1": "12:00-14:00", "hours-fri-1": "12:00-14:00",
      "hours-sat-0": "10:00-12:00", "hours-tue-1": "", "hours-tue-2": "12:00-14:00"},
     ["hours-mon-2", "hours-fri-2", "hours-sun-0"]),
    ("closure-add", {"closures": [("2026-12-25", "")]},
     {"closures-0-date": "2026-12-25", "closures-1-date": "", "closures-1-hours": ""}, []),
    ("closure-remove-0", {"closures": [("2026-12-24", "09:00-13:00"), ("2026-12-25", "")]},
     {"closures-0-date": "2026-12-25", "closures-0-hours": ""}, ["closures-1-date"]),
]


@pytest.mark.parametrize("action,start,expect,absent", BUTTONS)
def test_hours_buttons(admin_client, demo, action, start, expect, absent):
    bid, data = queue_form(demo, **start)
    data["action"] = action
    before = stored(demo, "queue", "time_zone", "hours", "closures")
    for headers in ({}, HX):
        response = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=headers)
        assert response.status_code == 200
        assert ("<html" in response.text) == (not headers)
        found = dict(values(response.text, "hours-") + values(response.text, "closures-"))
        for name, value in expect.items():
            assert found.get(name) == value, (name, found)
        for name in absent:
            assert name not in found, name
        # typed values elsewhere in the form stay
        assert 'value="America/New_York"' in response.text
    assert is_hours_fragment(response)
    assert response.headers["HX-Trigger-After-Settle"] == "preview-refresh"
    assert stored(demo, "queue", "time_zone", "hours", "closures") == before  # nothing saved


def test_add_range_focuses_it_and_stops_at_the_limit(admin_client, demo):
    bid, data = queue_form(demo, hours={"mon": ["09:00-10:00"]}, action="hours-add-mon")
    response = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=HX)
    assert re.search(r'autofocus[^>]*id="hours-mon-1"', response.text)
    many = [f"{h:02d}:00-{h:02d}:30" for h in range(8, 20)]
    bid, data = queue_form(demo, hours={"mon": many}, action="hours-add-mon")
    response = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=HX)
    assert "At most 12 ranges a day" in msg_div(response.text, "hours-mon")
    assert "hours-mon-12" not in response.text and 'value="hours-add-mon"' not in response.text
    response = admin_client.post("/buyers/new", data=hours_form(action="closure-add"), headers=HX)
    assert re.search(r'autofocus[^>]*id="closures-0-date"', response.text)


@pytest.mark.parametrize("action", ["hours-add-xyz", "hours-preset-sometimes",
                                    "hours-remove-mon-x", "hours-copy-", "closure-remove-a",
                                    "closure-nope", "hours-"])
def test_bad_hours_action_is_400(admin_client, demo, action):
    bid, data = queue_form(demo, hours=LUNCH, action=action)
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 400
    assert admin_client.post(f"/buyers/{bid}/edit", data=data, headers=HX).status_code == 400


def test_day_buttons_need_the_grid(admin_client, demo):
    bid, data = queue_form(demo, hours=None, action="hours-add-mon")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 400


# --- checks next to the fields ---------------------------------------------------------------

BAD = [
    ({"zone": "Mars/Olympus"}, "time_zone", "Unknown time zone &#39;Mars/Olympus&#39;"),
    ({"hours": {"mon": ["09:00-25:00"]}}, "hours-mon-0", "25:00 is not a time of day"),
    ({"hours": {"tue": ["nine to five"]}}, "hours-tue-0", "is not a range like 09:00-17:00"),
    ({"hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "hours-mon-1",
     "11:00-13:00 overlaps 09:00-12:00"),
    ({"hours": {"mon": ["", "09:00-12:00", "", "11:30-13:00"]}}, "hours-mon-3", "overlaps"),
    ({"hours": {"sun": ["22:00-06:00"], "mon": ["05:00-09:00"]}}, "hours-sun-0",
     "22:00-06:00 overlaps Monday&#39;s 05:00-09:00"),
    ({"closures": [("2026-02-30", "")]}, "closures-0-date", "not a date on the calendar"),
    ({"closures": [("", "09:00-12:00")]}, "closures-0-date", "YYYY-MM-DD"),
    ({"closures": [("2030-12-24", "09:00-13:00, 10:00-11:00")]}, "closures-0-hours", "overlaps"),
    ({"closures": [("2030-12-24", "09:00-13:00; 14:00-27:00")]}, "closures-0-hours",
     "27:00 is not a time of day"),
    ({"closures": [("2030-12-25", ""), ("2030-12-25", "10:00-11:00")]}, "closures-1-date",
     "already has a closure"),
    ({"hourly_cap": "-1"}, "hourly_cap", "at least 0"),
    ({"monthly_cap": "lots"}, "monthly_cap", "whole number"),
    ({"total_cap": "-5"}, "total_cap", "at least 0"),
    ({"cap_counts": "sometimes"}, "cap_counts", "dialled"),
]


@pytest.mark.parametrize("fields,field_id,text", BAD)
def test_bad_hours_and_caps_are_shown_next_to_the_field(admin_client, demo, fields, field_id,
                                                        text):
    bid, data = queue_form(demo, **fields)
    before = stored(demo, "queue", "time_zone", "hours", "closures", "hourly_cap",
                    "monthly_cap", "total_cap", "cap_counts")
    plain = admin_client.post(f"/buyers/{bid}/edit", data=data)
    assert plain.status_code == 200 and "<html" in plain.text
    assert '<p class="error">' in msg_div(plain.text, field_id) and text in msg_div(plain.text, field_id)
    fragment = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=HX)
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert text in msg_div(fragment.text, field_id)
    check = admin_client.post(f"/buyers/{bid}/check?field={field_id}", data=data, headers=HX)
    assert check.status_code == 200 and text in msg_div(check.text, field_id)
    assert stored(demo, "queue", "time_zone", "hours", "closures", "hourly_cap", "monthly_cap",
                  "total_cap", "cap_counts") == before


def test_checks_refresh_the_days_other_rows(admin_client, demo):
    bid, data = queue_form(demo, hours={"mon": ["09:00-12:00", "11:00-13:00"], "tue": ["09:00-10:00"]},
                           closures=[("2030-01-01", "")])
    check = admin_client.post(f"/buyers/{bid}/check?field=hours-mon-0", data=data, headers=HX)
    assert 'id="msg-hours-mon-1" hx-swap-oob="true"' in check.text
    assert "overlaps" in msg_div(check.text, "hours-mon-1")
    for other in ("hours-tue-0", "hours-mon", "hours"):
        assert f'id="msg-{other}" hx-swap-oob="true"' in check.text
    assert "closures-0-date" not in check.text
    check = admin_client.post(f"/buyers/{bid}/check?field=time_zone", data=data, headers=HX)
    assert 'id="msg-closures-0-date" hx-swap-oob="true"' in check.text
    check = admin_client.post(f"/buyers/{bid}/check?field=closures-0-hours", data=data, headers=HX)
    assert 'id="msg-closures-0-date" hx-swap-oob="true"' in check.text
    assert 'id="msg-closures" hx-swap-oob="true"' in check.text


def test_past_closure_is_a_warning_and_saves(admin_client, demo):
    bid, data = queue_form(demo, hours=LUNCH, closures=[("2020-12-25", "")])
    check = admin_client.post(f"/buyers/{bid}/check?field=closures-0-date", data=data, headers=HX)
    messages = msg_div(check.text, "closures-0-date")
    assert '<p class="warning">' in messages and '<p class="error">' not in messages
    assert "2020-12-25 is in the past" in messages
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert stored(demo, "queue", "closures")[0] == [{"date": "2020-12-25", "hours": []}]
    body = admin_client.get(f"/buyers/{bid}/edit").text  # a warning on load too
    assert "2020-12-25 is in the past" in msg_div(body, "closures-0-date")


def test_a_week_without_hours_is_a_warning(admin_client, demo):
    bid, data = queue_form(demo, hours={}, **{"hours-mon-0": ""})
    check = admin_client.post(f"/buyers/{bid}/check?field=hours-mon-0", data=data, headers=HX)
    assert "No open hours in the week" in msg_div(check.text, "hours")


# --- saving ----------------------------------------------------------------------------------

def test_save_schedule_with_lunch_closures_and_caps(admin_client, demo):
    bid, data = queue_form(demo, zone="america/new_york", hours={**LUNCH, "sat": ["", ""]},
                           closures=[("2030-12-25", ""), ("2030-12-24", "9:00-13:00"), ("", "")],
                           hourly_cap="20", daily_cap="200", monthly_cap="3000", total_cap="",
                           cap_counts="connected")
    response = admin_client.post(f"/buyers/{bid}/edit", data=data)
    assert response.status_code == 302, msg_div(response.text, "form")
    assert stored(demo, "queue", "time_zone", "hours", "closures") == (
        "America/New_York", LUNCH_WEEK,
        [{"date": "2030-12-24", "hours": ["09:00-13:00"]}, {"date": "2030-12-25", "hours": []}])
    assert stored(demo, "queue", "hourly_cap", "daily_cap", "monthly_cap", "total_cap",
                  "cap_counts") == (20, 200, 3000, None, "connected")
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert values(body, "hours-mon-") == [("hours-mon-0", "09:00-12:00"),
                                          ("hours-mon-1", "13:00-17:00")]
    assert ("closures-0-hours", "09:00-13:00") in values(body, "closures-")


def test_htmx_save_and_24_7(admin_client, demo):
    bid = set_buyer(demo, "queue", hours=LUNCH_WEEK, time_zone="America/New_York")
    _, data = queue_form(demo, hours=None, closures=[("2030-07-04", "")])
    response = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/buyers/{bid}/edit"
    assert stored(demo, "queue", "hours", "closures") == (None, [{"date": "2030-07-04", "hours": []}])


def test_editing_another_field_keeps_the_stored_schedule(admin_client, demo):
    closures = [{"date": "2030-12-25", "hours": []}]
    bid = set_buyer(demo, "queue", time_zone="America/Chicago", hours=LUNCH_WEEK,
                    closures=closures, hourly_cap=9, monthly_cap=99, total_cap=999,
                    cap_counts="connected")
    data = page_form(admin_client, f"/buyers/{bid}/edit")
    data.update(name="Agent queue renamed", action="save")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    after = stored(demo, "queue", "name", "time_zone", "hours", "closures", "hourly_cap",
                   "monthly_cap", "total_cap", "cap_counts")
    assert after == ("Agent queue renamed", "America/Chicago", LUNCH_WEEK, closures, 9, 99, 999,
                     "connected")
    # A post without the hours section and the new caps (an older page) keeps them too.
    _, old = edit_data(demo, "queue", name="Agent queue again")
    assert "hours_mode" not in old and "cap_counts" not in old
    assert admin_client.post(f"/buyers/{bid}/edit", data=old).status_code == 302
    assert stored(demo, "queue", "name", "time_zone", "hours", "closures", "hourly_cap",
                  "cap_counts") == ("Agent queue again", "America/Chicago", LUNCH_WEEK, closures,
                                    9, "connected")


def test_new_buyer_defaults(admin_client, demo):
    data = page_form(admin_client, "/buyers/new")
    data.update(name="Plain desk", number="+14155550100", action="save")
    assert admin_client.post("/buyers/new", data=data).status_code == 302
    assert stored(demo, "plain-desk", "time_zone", "hours", "closures", "hourly_cap",
                  "cap_counts") == ("UTC", None, [], None, "dialled")


# --- the preview at the sample call's moment -------------------------------------------------

def preview(client, demo, moment, **fields):
    bid, data = queue_form(demo, **fields)
    data["sample-moment"] = moment
    return client.post(f"/buyers/{bid}/preview", data=data, headers=HX)


def test_preview_at_lunch_says_closed_and_names_the_next_buyer(admin_client, demo):
    others_open_24_7(demo)
    bid, data = queue_form(demo, hours=LUNCH)
    data["sample-moment"] = "2026-12-07T12:30"
    for headers in ({}, HX):
        response = admin_client.post(f"/buyers/{bid}/preview", data=data, headers=headers)
        assert response.status_code == 200 and ("<html" in response.text) == (not headers)
        body = response.text
        assert "At Mon Dec 7 12:30 America/New_York" in body
        hours = re.search(r'<p id="preview-hours">(.*?)</p>', body, re.S).group(1)
        assert '<span class="pill closed">closed until Mon 13:00 America/New_York</span>' in hours
        assert "<code>closed (opens Mon 13:00 America/New_York)</code>" in body
        auto = re.search(r'id="preview-route-\d+"><strong>Auto Insurance</strong>(.*?)</p>', body,
                         re.S).group(1)
        assert 'goes to <strong class="next-buyer">Acme PBX (digest auth)</strong>' in auto
        medicare = re.search(r'<strong>Medicare Advantage</strong>(.*?)</p>', body, re.S).group(1)
        assert '<strong class="next-buyer">Overflow call center</strong>' in medicare
    assert stored(demo, "queue", "hours") == (None,)  # the draft, not saved


def test_preview_when_open_and_the_caps(admin_client, demo):
    others_open_24_7(demo)
    set_buyer(demo, "queue", calls_today=137, calls_day=date(2026, 12, 7), active_calls=3)
    body = preview(admin_client, demo, "2026-12-07T10:00", hours=LUNCH, daily_cap="200").text
    assert "open until Mon 12:00 America/New_York" in body
    assert "Routing can offer this buyer the call." in body
    assert "3/10 at once" in body and "137/200 today" in body
    auto = re.search(r'<strong>Auto Insurance</strong>(.*?)</p>', body, re.S).group(1)
    assert "the call can go to this buyer" in auto and "next: " in auto
    assert "Acme PBX (digest auth)" in auto
    # another day: its own daily window, and the cap as typed
    body = preview(admin_client, demo, "2026-12-08T10:00", hours=LUNCH, daily_cap="137").text
    assert "0/137 today" in body
    body = preview(admin_client, demo, "2026-12-07T10:00", hours=LUNCH, daily_cap="137").text
    assert "137/137 today (reached)" in body
    assert "<code>daily cap 137 reached (resets 00:00 America/New_York)</code>" in body


def test_preview_moment_problems(admin_client, demo):
    body = preview(admin_client, demo, "2026-03-08T02:30", hours=None).text
    assert "does not happen in America/New_York" in body and "read as 03:30" in body
    for bad in ("yesterday", "0001-01-01T00:00", "9999-12-31T23:59"):
        body = preview(admin_client, demo, bad, hours=None).text
        assert "is not a date and time" in body and "uses now" in body
    body = preview(admin_client, demo, "2026-12-07T12:30", zone="Nowhere/Land", hours=LUNCH).text
    assert "At Mon Dec 7 12:30 UTC" in body  # a bad zone: read in UTC until fixed


def test_preview_of_a_new_buyer_and_of_a_paused_one(admin_client, demo):
    others_open_24_7(demo)
    set_buyer(demo, "queue", hours=None, closures=[])
    with demo.app_context():
        from sipflask.models import Campaign
        auto = db.session.scalar(select(Campaign.id).where(Campaign.ref == "auto"))
    data = {**hours_form(hours=LUNCH), "name": "New desk", "number": "+14155550100",
            "priority": "1", "weight": "1", "timeout": "30", "campaigns": [str(auto)],
            "sample-moment": "2026-12-07T12:30"}
    body = admin_client.post("/buyers/preview", data=data, headers=HX).text
    assert "this buyer is skipped" in body
    assert 'goes to <strong class="next-buyer">Agent queue (Asterisk)</strong>' in body
    body = preview(admin_client, demo, "2026-12-07T10:00", hours=LUNCH, paused="y").text
    assert "<code>paused</code>" in body
    body = admin_client.post("/buyers/preview", data={**data, "campaigns": []}, headers=HX).text
    assert 'id="preview-no-campaign"' in body


# --- Reset caps ------------------------------------------------------------------------------

def counters(app, ref):
    return stored(app, ref, "calls_hour", "calls_today", "calls_month", "calls_total")


def test_reset_caps_plain_and_htmx(admin_client, demo, caplog):
    bid = set_buyer(demo, "queue", calls_hour=4, calls_today=137, calls_month=900,
                    calls_total=5000)
    page = admin_client.get(f"/buyers/{bid}/edit").text
    assert 'id="buyer-now"' in page and f'action="/buyers/{bid}/reset-caps"' in page
    assert 'hx-confirm="Reset the caps of Agent queue (Asterisk)?' in page
    caplog.set_level(logging.INFO, logger="sipflask.buyers")
    response = admin_client.post(f"/buyers/{bid}/reset-caps")
    assert response.status_code == 302 and response.headers["Location"] == f"/buyers/{bid}/edit"
    assert counters(demo, "queue") == (0, 0, 0, 0)
    assert f"buyer {bid}: caps reset by admin@example.com" in caplog.text
    assert "Caps of buyer Agent queue (Asterisk) reset" in admin_client.get(f"/buyers/{bid}/edit").text
    set_buyer(demo, "queue", calls_total=12, daily_cap=200)
    response = admin_client.post(f"/buyers/{bid}/reset-caps", headers=HX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div class="card buyer-now" id="buyer-now">')
    assert "Caps of buyer Agent queue (Asterisk) reset" in response.text
    assert "0/200 today" in response.text and counters(demo, "queue") == (0, 0, 0, 0)


def test_reset_caps_is_for_admins(client, auth, demo):
    bid = set_buyer(demo, "queue", calls_today=137)
    auth.login(MEMBER_EMAIL)
    page = client.get(f"/buyers/{bid}/edit").text
    assert 'id="buyer-now"' in page and "reset-caps" not in page
    for headers in ({}, HX):
        assert client.post(f"/buyers/{bid}/reset-caps", headers=headers).status_code == 403
    assert counters(demo, "queue")[1] == 137
    auth.logout()
    response = client.post(f"/buyers/{bid}/reset-caps")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_reset_caps_unknown_buyer(admin_client, demo):
    assert admin_client.post("/buyers/999/reset-caps").status_code == 404


# --- the buyers list -------------------------------------------------------------------------

def test_list_shows_open_closed_and_cap_use(admin_client, demo):
    others_open_24_7(demo)
    set_buyer(demo, "queue", time_zone="America/New_York", hours=LUNCH_WEEK, daily_cap=200,
              calls_today=137, calls_day=date(2026, 12, 7))
    set_buyer(demo, "secure", time_zone="America/New_York", hours=LUNCH_WEEK, hourly_cap=5,
              calls_hour=5, calls_hour_key="2026-12-07T15:00:00Z")
    with clock.starting_at(MONDAY_1230):
        body = admin_client.get("/buyers/").text
    queue = re.search(r'<tr id="buyer-\d+">\s*<td><a [^>]*>Agent queue.*?</tr>', body, re.S).group(0)
    assert "closed until Mon 13:00 America/New_York" in queue and "137/200 today" in queue
    assert "0/10 at once" in queue
    phone = re.search(r'<td><a [^>]*>Sales desk.*?</tr>', body, re.S).group(0)
    assert "open now" in phone and "open 24/7" in phone
    with clock.starting_at(datetime(2026, 12, 7, 10, 30, tzinfo=NY)):
        body = admin_client.get("/buyers/?q=acme", headers=HX).text
        row = admin_client.post(f"/buyers/{stored(demo, 'secure', 'id')[0]}/pause",
                                headers=HX).text
    assert "open now" in body and "open until Mon 12:00 America/New_York" in body
    assert '<span class="cap-use full">5/5 this hour</span>' in body
    assert "hourly cap 5 reached (resets 11:00 America/New_York)" in body
    assert "open now" in row and "5/5 this hour" in row and "pill paused" in row
