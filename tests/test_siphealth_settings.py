"""A buyer's health-check settings (issue 11): the rules (core/health_rules.py), the editor's
Health checks fieldset as a plain post and with htmx, errors at their fields, the writer
resetting a stale health state when the settings or the number change, and the change history.
"""
import html
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from sipflask.core import buyer_rules, health_rules
from sipflask.core.validation import Report
from sipflask.extensions import db
from sipflask.models import Buyer
from sipflask.siphealth.model import EndpointHealth, EndpointHealthEvent
from tests.support.buyers import edit_data
from tests.support.history import changes, fields
from tests.support.html import HX

SIP = "sip:agentqueue@pbx.example.com"
CAUSE = "unreachable (3 OPTIONS timeouts since 14:03)"


def health_of(app, ref):
    with app.app_context():
        b = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        return (b.health_check, b.health_codes, b.health_down_after, b.health_up_after)


def msg_html(body, field_id):
    start = body.index(f'id="msg-{field_id}"')
    return html.unescape(body[start:body.index("</div>", start)])


def put_down(app, ref, cause=CAUSE):
    """The buyer held down by its probes, as siphealth/state.py would leave it."""
    with app.app_context():
        bid = db.session.scalar(select(Buyer.id).where(Buyer.ref == ref))
        db.session.add(EndpointHealth(buyer_id=bid, state="down", down_by="probes", cause=cause,
                                      changed_at=datetime(2026, 3, 2, 14, 5, tzinfo=timezone.utc),
                                      probe_fails=3))
        db.session.commit()
        return bid


def events_of(app, bid):
    with app.app_context():
        return [(e.state, e.source, e.cause) for e in db.session.scalars(
            select(EndpointHealthEvent).where(EndpointHealthEvent.buyer_id == bid)
            .order_by(EndpointHealthEvent.id))]


def state_row(app, bid):
    with app.app_context():
        row = db.session.get(EndpointHealth, bid)
        return None if row is None else row.state


# --- the rules ---------------------------------------------------------------------------------

def check(health, number=SIP):
    report = Report()
    clean = health_rules.check_health(report, health, number)
    return report.errors, clean


def test_absent_means_off_with_default_runs():
    for absent in (None, {}):
        assert check(absent) == ({}, {"health_check": "off", "health_codes": "",
                                      "health_down_after": 3, "health_up_after": 2})


def test_good_settings_are_stored_sorted_and_unique():
    errors, clean = check({"check": "options", "accepted_codes": [404, 200, 404],
                           "down_after": 5, "up_after": "1"})
    assert errors == {}
    assert clean == {"health_check": "options", "health_codes": "200,404",
                     "health_down_after": 5, "health_up_after": 1}
    # the editor's text, commas or spaces
    assert check({"check": "calls", "accepted_codes": "407, 200 401"})[1]["health_codes"] \
        == "200,401,407"


@pytest.mark.parametrize("health,number,path,words", [
    ({"check": "options"}, "+14155552671", "health.check", "need a SIP buyer"),
    ({"check": "calls"}, "+14155552671", "health.check", "need a SIP buyer"),
    ({"check": "sometimes"}, SIP, "health.check", "must be off, options"),
    ({"accepted_codes": [503]}, SIP, "health.accepted_codes", "other than 503"),
    ({"accepted_codes": "200, abc"}, SIP, "health.accepted_codes", "'abc'"),
    ({"accepted_codes": [600]}, SIP, "health.accepted_codes", "from 200 to 599"),
    ({"accepted_codes": ["²"]}, SIP, "health.accepted_codes", "from 200 to 599"),
    ({"accepted_codes": [True]}, SIP, "health.accepted_codes", "from 200 to 599"),
    ({"accepted_codes": 200}, SIP, "health.accepted_codes", "must be a list"),
    ({"accepted_codes": "9" * 5000}, SIP, "health.accepted_codes", "At most 40"),
    ({"accepted_codes": list(range(200, 260))}, SIP, "health.accepted_codes", "At most 40"),
    ({"down_after": 0}, SIP, "health.down_after", "between 1 and 100"),
    ({"up_after": 101}, SIP, "health.up_after", "between 1 and 100"),
    ({"up_after": 1.5}, SIP, "health.up_after", "whole number"),
    ({"down_after": "three"}, SIP, "health.down_after", "whole number"),
    ({"checks": "off"}, SIP, "health.checks", "did you mean check?"),
    ("options", SIP, "health", "must be an object"),
])
def test_bad_settings_name_their_path(health, number, path, words):
    errors, _ = check(health, number)
    assert list(errors) == [path] and words in errors[path][0], errors


def test_check_buyer_carries_the_health_columns():
    report, clean = buyer_rules.check_buyer({"name": "A", "number": SIP,
                                             "health": {"check": "options"}})
    assert report.ok and clean["health_check"] == "options"
    report, _ = buyer_rules.check_buyer({"name": "A", "number": "+14155552671",
                                         "health": {"check": "options"}})
    assert "health.check" in report.errors


def test_export_shape_reads_the_columns():
    class Row:
        health_check, health_codes, health_down_after, health_up_after = "calls", "200,404", 4, 1
    assert health_rules.health_export(Row) == {"check": "calls", "accepted_codes": [200, 404],
                                               "down_after": 4, "up_after": 1}


# --- the editor --------------------------------------------------------------------------------

HEALTH_FORM = {"health_check": "options", "health_codes": "200, 404",
               "health_down_after": "4", "health_up_after": "1"}


def test_editor_shows_the_fieldset_with_stored_values(admin_client, demo):
    bid, _ = edit_data(demo, "queue")
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert 'id="health-section"' in body and "<legend>Health checks</legend>" in body
    for label in ("Off", "OPTIONS probes and failed calls",
                  "Failed calls only (the PBX ignores OPTIONS)"):
        assert f">{label}</option>" in body
    assert 'placeholder="200, 401, 403, 404, 405, 407, 488, 501"' in body
    assert 'hx-post="/buyers/%d/check?field=health_codes"' % bid in body
    new = admin_client.get("/buyers/new").text
    assert 'id="health_down_after"' in new and 'value="3"' in new


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_editor_saves_the_settings(admin_client, demo, headers):
    bid, data = edit_data(demo, "queue", **HEALTH_FORM)
    response = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=headers)
    assert response.status_code == (204 if headers else 302), response.text[:500]
    assert health_of(demo, "queue") == ("options", "200,404", 4, 1)
    page = admin_client.get(f"/buyers/{bid}/edit").text
    assert '<option selected value="options">' in page and 'value="200, 404"' in page
    # blank thresholds and codes are the defaults; Off turns checks off
    _, data = edit_data(demo, "queue", health_check="off", health_codes="",
                        health_down_after="", health_up_after="")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data, headers=headers).status_code \
        == (204 if headers else 302)
    assert health_of(demo, "queue") == ("off", "", 3, 2)


def test_post_without_the_fields_keeps_the_stored_settings(admin_client, demo):
    bid, data = edit_data(demo, "queue", **HEALTH_FORM)
    admin_client.post(f"/buyers/{bid}/edit", data=data)
    _, older = edit_data(demo, "queue", name="Renamed queue")  # a page from before the fields
    assert admin_client.post(f"/buyers/{bid}/edit", data=older).status_code == 302
    assert health_of(demo, "queue") == ("options", "200,404", 4, 1)


BAD_FORM = [
    ("phone", {"health_check": "options"}, "health_check", "need a SIP buyer"),
    ("queue", {"health_check": "options", "health_codes": "200, 503"}, "health_codes",
     "other than 503"),
    ("queue", {"health_check": "options", "health_codes": "abc"}, "health_codes", "'abc'"),
    ("queue", {"health_check": "options", "health_down_after": "0"}, "health_down_after",
     "between 1 and 100"),
    ("queue", {"health_check": "calls", "health_up_after": "lots"}, "health_up_after",
     "whole number"),
    ("queue", {"health_check": "maybe"}, "health_check", "must be off, options"),
]


@pytest.mark.parametrize("ref,overrides,field_id,words", BAD_FORM,
                         ids=[f"{f}:{w}" for _, _, f, w in BAD_FORM])
def test_editor_errors_at_the_field(admin_client, demo, ref, overrides, field_id, words):
    bid, data = edit_data(demo, ref, **overrides)
    before = health_of(demo, ref)
    for headers in ({}, HX):
        response = admin_client.post(f"/buyers/{bid}/edit", data=data, headers=headers)
        assert response.status_code == (422 if headers else 200)
        assert words in msg_html(response.text, field_id), msg_html(response.text, field_id)
        assert f'id="{field_id}"' in response.text and 'aria-invalid="true"' in response.text
    # as typed, one field at a time
    check = admin_client.post(f"/buyers/{bid}/check?field={field_id}", data=data, headers=HX)
    assert check.status_code == 200 and words in html.unescape(check.text)
    assert health_of(demo, ref) == before


def test_number_check_refreshes_the_mode_message(admin_client, demo):
    bid, data = edit_data(demo, "queue", health_check="options", number="+14155552671")
    fragment = admin_client.post(f"/buyers/{bid}/check?field=number", data=data, headers=HX)
    assert 'id="msg-health_check" hx-swap-oob="true"' in fragment.text
    assert "need a SIP buyer" in fragment.text
    plain = admin_client.post(f"/buyers/{bid}/check?field=number", data=data)
    assert "<html" in plain.text and "need a SIP buyer" in msg_html(plain.text, "health_check")


# --- the writer: a stale state never lingers ---------------------------------------------------

def test_changing_the_mode_brings_a_down_buyer_back(admin_client, demo):
    bid = put_down(demo, "queue")
    _, data = edit_data(demo, "queue", health_check="calls")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert state_row(demo, bid) is None
    assert events_of(demo, bid) == [("up", "settings", "health checks changed")]


def test_changing_the_number_resets_too(admin_client, demo):
    bid = put_down(demo, "queue")
    _, data = edit_data(demo, "queue", number="sip:agentqueue@pbx2.example.com")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data, headers=HX).status_code == 204
    assert state_row(demo, bid) is None
    assert events_of(demo, bid) == [("up", "settings", "the number changed")]


def test_other_changes_keep_the_state(admin_client, demo):
    bid = put_down(demo, "queue")
    _, data = edit_data(demo, "queue", name="Agent queue, renamed", priority="2")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert state_row(demo, bid) == "down" and events_of(demo, bid) == []


def test_a_refused_save_keeps_the_state(admin_client, demo):
    bid = put_down(demo, "queue")
    _, data = edit_data(demo, "queue", health_check="options", health_down_after="0")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 200
    assert state_row(demo, bid) == "down" and events_of(demo, bid) == []


# --- the change history ------------------------------------------------------------------------

def test_history_names_each_health_setting(admin_client, demo):
    bid, data = edit_data(demo, "queue", **HEALTH_FORM)
    admin_client.post(f"/buyers/{bid}/edit", data=data)
    last = changes(demo, "buyer", bid)[-1]
    assert fields(last) == {"health.check": ("off", "options"),
                            "health.accepted_codes": ([], [200, 404]),
                            "health.down_after": (3, 4), "health.up_after": (2, 1)}
    assert last["snapshot"]["health"] == {"check": "options", "accepted_codes": [200, 404],
                                          "down_after": 4, "up_after": 1}
    page = admin_client.get(f"/history/{last['id']}").text
    assert '<th scope="row">health.check</th>' in page
    assert "<td>200, 404</td>" in page


def test_restoring_an_earlier_version_restores_the_settings(admin_client, demo):
    bid, data = edit_data(demo, "queue", **HEALTH_FORM)
    admin_client.post(f"/buyers/{bid}/edit", data=data)
    first = changes(demo, "buyer", bid)[-1]["id"]
    _, data = edit_data(demo, "queue", health_check="off")
    admin_client.post(f"/buyers/{bid}/edit", data=data)
    response = admin_client.post(f"/history/{first}/restore", data={"confirm": "yes"})
    assert response.status_code in (200, 302, 303), response.text[:300]
    assert health_of(demo, "queue") == ("options", "200,404", 4, 1)
