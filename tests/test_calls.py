"""The call log: list (filters, pagination, live refresh), CSV export and the call detail page.

Calls are made through the real, signed Twilio webhook (``tests.support.webhook``) wherever the
point is what sipflask records; rows are written directly only to set up many calls or dates.
"""
import csv
import io
import re
import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from markupsafe import escape
from sqlalchemy import select

from sipflask.calllog import export
from sipflask.core import sipcodes
from sipflask.extensions import db
from sipflask.models import Attempt, Buyer, Call, Campaign, Publisher
from tests.support.app import make_app
from tests.support.html import HX
from tests.support.webhook import AUTO, MEDICARE, dial_action, parse, pause_all_but, voice

PASSWORD = "Demo-Password-2026"  # the demo buyer "secure"
NORTHSTAR = "+18773331212"       # demo: campaign medicare, publisher northstar


def sid(n):
    return f"CA{n:032d}"


def make_call(client, n, to=AUTO, outcomes=(), **extra):
    """One call through the webhook; each outcome is (DialCallStatus, SIP code or None)."""
    root = parse(voice(client, to=to, sid=sid(n), **extra))
    for status, code in outcomes:
        if root.find("Dial") is None:
            break
        action = root.find("Dial").get("action")
        data = {"CallSid": sid(n), "DialCallStatus": status, "DialCallDuration":
                "95" if status == "completed" else "0"}
        if code:
            data["DialSipResponseCode"] = str(code)
        from tests.support.webhook import BASE, post
        root = parse(post(client, action[len(BASE):], data))
    return root


def call_by_sid(app, n):
    with app.app_context():
        return db.session.scalar(select(Call).where(Call.call_sid == sid(n)))


def add_call(app, created_at=None, status="completed", **fields):
    """A call row written directly (for dates and volume)."""
    with app.app_context():
        call = Call(status=status, caller=fields.pop("caller", "+14155552671"),
                    called=fields.pop("called", AUTO), **fields)
        if created_at is not None:
            call.created_at = created_at
        db.session.add(call)
        db.session.commit()
        return call.uuid


def ids(app, model, ref):
    with app.app_context():
        return db.session.scalar(select(model.id).where(model.ref == ref))


def uuids_in(body):
    return re.findall(r'<tr id="call-([0-9a-f-]{36})"', body)


# --- access -------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/calls/", "/calls/export.csv",
                                 "/calls/3f8541e8-c2ee-4d47-9ae3-3236932c9379"])
def test_login_required(client, app, url):
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_unknown_or_malformed_uuid_is_404(admin_client, demo):
    assert admin_client.get("/calls/3f8541e8-c2ee-4d47-9ae3-3236932c9379").status_code == 404
    assert admin_client.get("/calls/not-a-uuid").status_code == 404
    assert admin_client.get("/calls/" + "a" * 500).status_code == 404


# --- list ---------------------------------------------------------------------------------------

def test_list_newest_first_with_links_and_buyers(admin_client, demo):
    pause_all_but(demo, "queue", "phone")
    make_call(admin_client, 1, outcomes=[("busy", 486), ("completed", None)])
    make_call(admin_client, 2, to=MEDICARE)
    body = admin_client.get("/calls/").get_data(as_text=True)
    first, second = call_by_sid(demo, 2), call_by_sid(demo, 1)
    assert uuids_in(body) == [first.uuid, second.uuid]
    assert f'href="/calls/{first.uuid}"' in body
    assert "Agent queue (Asterisk)" in body and "(busy 486)" in body
    assert "Sales desk (phone)" in body and "<html" in body


def test_filters_campaign_publisher_buyer_status(admin_client, demo):
    pause_all_but(demo, "queue", "phone", "overflow")
    make_call(admin_client, 1, outcomes=[("completed", None)])                 # auto, acme, queue
    make_call(admin_client, 2, to=NORTHSTAR)                                   # medicare, live
    make_call(admin_client, 3, to="+18664420199", outcomes=[("busy", 486), ("no-answer", None)])
    make_call(admin_client, 4, to="+18005550000")                              # rejected
    u = {n: call_by_sid(demo, n).uuid for n in (1, 2, 3, 4)}
    auto, medicare = ids(demo, Campaign, "auto"), ids(demo, Campaign, "medicare")

    def shown(**args):
        response = admin_client.get("/calls/", query_string=args)
        assert response.status_code == 200
        return set(uuids_in(response.get_data(as_text=True)))

    assert shown() == set(u.values())
    assert shown(campaign_id=auto) == {u[1], u[3]}
    assert shown(campaign_id=medicare) == {u[2]}
    assert shown(publisher_id=ids(demo, Publisher, "acme")) == {u[1]}
    assert shown(publisher_id=ids(demo, Publisher, "bluesky")) == {u[3]}
    phone = ids(demo, Buyer, "phone")
    assert shown(buyer_id=phone) == {u[3]}
    assert shown(buyer_id=phone, campaign_id=medicare) == set()
    assert shown(status="completed") == {u[1]}
    assert shown(status="rejected") == {u[4]}
    assert shown(status="no-buyer") == {u[3]}  # busy, then no-answer, then nobody left
    assert shown(status="live") == {u[2]}
    assert shown(status="routing", campaign_id=medicare) == {u[2]}


def test_filter_by_date_range_whole_utc_days(admin_client, demo):
    day = datetime(2026, 3, 10, tzinfo=timezone.utc)
    early = add_call(demo, day - timedelta(seconds=1))               # 9 March 23:59:59
    start = add_call(demo, day)                                      # 10 March 00:00:00
    late = add_call(demo, day + timedelta(days=1, hours=23, minutes=59))  # 11 March 23:59
    after = add_call(demo, day + timedelta(days=2))                  # 12 March 00:00

    def shown(**args):
        return uuids_in(admin_client.get("/calls/", query_string=args).get_data(as_text=True))

    assert shown(date_from="2026-03-10", date_to="2026-03-11") == [late, start]
    assert shown(date_from="2026-03-11") == [after, late]
    assert shown(date_to="2026-03-09") == [early]
    assert shown(date_from="2026-03-10", date_to="2026-03-10") == [start]


def test_bad_filter_values_are_reported_and_ignored(admin_client, demo):
    add_call(demo)
    response = admin_client.get("/calls/", query_string={
        "date_from": "10/03/2026", "campaign_id": "abc", "status": "exploded",
        "buyer_id": str(2**40)})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "From: Use a date like 2026-01-31. (filter ignored)" in body
    assert "Campaign: Choose one from the list." in body
    assert "Status: Unknown status." in body and "Buyer: Choose one" in body
    assert len(uuids_in(body)) == 1
    reversed_range = admin_client.get("/calls/?date_from=2026-03-12&date_to=2026-03-10")
    assert "The end date is before the start date." in reversed_range.get_data(as_text=True)


def test_filter_form_keeps_values_and_uses_htmx(admin_client, demo):
    auto = ids(demo, Campaign, "auto")
    body = admin_client.get(f"/calls/?campaign_id={auto}&status=busy&date_from=2026-01-02"
                            ).get_data(as_text=True)
    assert f'<option value="{auto}" selected>Auto Insurance</option>' in body
    assert '<option value="busy" selected>busy</option>' in body
    assert 'value="2026-01-02"' in body
    assert 'hx-target="#call-results"' in body and 'hx-push-url="true"' in body
    # the CSV link carries the same filters
    assert f'href="/calls/export.csv?campaign_id={auto}&amp;status=busy&amp;date_from=2026-01-02"' \
        in body


@pytest.mark.app_config(PER_PAGE=2)
def test_pagination_keeps_filters(admin_client, demo):
    base = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
    auto = ids(demo, Campaign, "auto")
    made = [add_call(demo, base + timedelta(minutes=i), campaign_id=auto) for i in range(5)]
    add_call(demo, base + timedelta(minutes=10))  # other campaign: filtered out
    newest_first = made[::-1]
    pages = []
    for page in (1, 2, 3):
        body = admin_client.get(f"/calls/?campaign_id={auto}&page={page}").get_data(as_text=True)
        pages.append(uuids_in(body))
        assert f"Page {page} of 3 (5)" in body
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    body = admin_client.get(f"/calls/?campaign_id={auto}&page=2").get_data(as_text=True)
    assert f'href="/calls/?page=3&amp;campaign_id={auto}"' in body
    assert f'href="/calls/?page=1&amp;campaign_id={auto}"' in body
    # out of range pages are empty, not errors
    assert uuids_in(admin_client.get("/calls/?page=99").get_data(as_text=True)) == []
    assert admin_client.get("/calls/?page=-3").status_code == 200


def test_list_fragment_with_htmx_full_page_without(admin_client, demo):
    add_call(demo)
    full = admin_client.get("/calls/").get_data(as_text=True)
    frag_response = admin_client.get("/calls/", headers=HX)
    frag = frag_response.get_data(as_text=True)
    assert "<html" in full and 'id="call-filters"' in full and 'id="call-results"' in full
    assert "<html" not in frag and 'id="call-filters"' not in frag
    assert frag.lstrip().startswith('<div id="call-results"')
    assert "HX-Request" in frag_response.headers["Vary"]
    restore = admin_client.get("/calls/", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_list_polls_only_while_a_shown_call_is_live(admin_client, demo):
    pause_all_but(demo, "queue")
    root = make_call(admin_client, 1)  # routing: ringing the queue
    for headers in ({}, HX):
        body = admin_client.get("/calls/", headers=headers).get_data(as_text=True)
        assert 'hx-trigger="every 3s"' in body
        assert 'hx-get="/calls/?page=1"' in body
    # Filtered to calls that are not live: no polling even though a live call exists.
    assert 'every 3s' not in admin_client.get("/calls/?status=completed").get_data(as_text=True)
    parse(dial_action(admin_client, root, "completed", duration="30"))
    frag = admin_client.get("/calls/", headers=HX).get_data(as_text=True)
    assert "every 3s" not in frag and "hx-get" not in frag
    assert 'data-status="completed"' in frag


def test_simulated_call_shows_up(admin_client, demo, runner):
    result = runner.invoke(args=["simulate-call", "--to", AUTO, "--from", "+14155552671",
                                 "--outcome", "busy:486", "--outcome", "completed"])
    assert result.exit_code == 0, result.output
    body = admin_client.get("/calls/").get_data(as_text=True)
    assert len(uuids_in(body)) == 1 and "(busy 486)" in body
    assert 'data-status="completed"' in body


# --- CSV ----------------------------------------------------------------------------------------

def read_csv(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_csv_has_header_and_escapes_commas_and_quotes(admin_client, demo):
    auto = ids(demo, Campaign, "auto")
    with demo.app_context():
        db.session.get(Campaign, auto).name = 'Auto, "Premium" Insurance'
        db.session.commit()
    uuid = add_call(demo, campaign_id=auto, reason='said "no", then\nhung up',
                    tags={"note": 'a,b "c"'}, duration=42, converted=True, revenue=12.5)
    response = admin_client.get("/calls/export.csv")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="calls-')
    raw = response.get_data(as_text=True)
    assert '"Auto, ""Premium"" Insurance"' in raw          # quoted, quotes doubled
    rows = read_csv(response)
    assert rows[0] == list(export.CSV_HEADER)
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1]))
    assert row["uuid"] == uuid and row["campaign"] == 'Auto, "Premium" Insurance'
    assert row["reason"] == 'said "no", then\nhung up'
    assert row["tags"] == 'note=a,b "c"'
    assert row["duration"] == "42" and row["converted"] == "yes" and row["revenue"] == "12.50"
    assert row["caller"] == "+14155552671"  # a phone number is left as it is


def test_csv_neutralises_spreadsheet_formulas(admin_client, demo):
    add_call(demo, caller="=HYPERLINK(\"http://evil\")", tags={"x": "@SUM(A1)", "y": "-2+3"})
    row = dict(zip(*read_csv(admin_client.get("/calls/export.csv"))))
    assert row["caller"] == "'=HYPERLINK(\"http://evil\")"
    assert row["tags"] == "x=@SUM(A1); y=-2+3"  # not at the start of the cell: harmless
    assert export.csv_safe("-2+3") == "'-2+3" and export.csv_safe("-12.5") == "-12.5"
    assert export.csv_safe("+14155552671") == "+14155552671"


def test_csv_follows_filters_and_routing_outcomes(admin_client, demo):
    pause_all_but(demo, "queue", "phone")
    make_call(admin_client, 1, outcomes=[("busy", 486), ("completed", None)])
    make_call(admin_client, 2, to=NORTHSTAR)
    medicare = ids(demo, Campaign, "medicare")
    rows = read_csv(admin_client.get("/calls/export.csv"))
    assert len(rows) == 3
    rows = read_csv(admin_client.get(f"/calls/export.csv?campaign_id={medicare}"))
    assert len(rows) == 2 and rows[1][rows[0].index("campaign")] == "Medicare Advantage"
    rows = read_csv(admin_client.get("/calls/export.csv?status=completed"))
    row = dict(zip(*rows))
    assert row["buyers_dialled"] == "Agent queue (Asterisk); Sales desk (phone)"
    assert row["answered_by"] == "Sales desk (phone)"
    assert row["dial_statuses"] == "busy; completed" and row["last_sip_code"] == "486"
    assert row["publisher"] == "Acme Media" and row["afid"] == "5678" and row["sub_id"] == "fb-12"


def test_csv_streams_large_exports_in_batches(admin_client, demo):
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with demo.app_context():
        # Same timestamp for many: the keyset order must still be exact (id breaks ties).
        db.session.add_all(Call(caller=f"+1415555{i:04d}", created_at=base + timedelta(
            seconds=i // 3)) for i in range(1203))
        db.session.commit()
    rows = read_csv(admin_client.get("/calls/export.csv"))
    assert len(rows) == 1204
    callers = [r[4] for r in rows[1:]]
    assert len(set(callers)) == 1203
    assert callers[0] == "+14155551202" and callers[-1] == "+14155550000"


# --- detail -------------------------------------------------------------------------------------

def detail(client, uuid, **kw):
    response = client.get(f"/calls/{uuid}", **kw)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def section(body, start, end):
    return body[body.index(start):body.index(end, body.index(start))]


def test_detail_shows_call_facts_tags_and_sources(admin_client, demo):
    pause_all_but(demo, "queue")
    make_call(admin_client, 1, FromState="CA", **{"SipHeader_X-Lead-Source": "tv"})
    call = call_by_sid(demo, 1)
    body = detail(admin_client, call.uuid)
    for text in ("+14155552671", AUTO, "Auto Insurance", "Acme Media", "5678", "fb-12",
                 call.uuid, sid(1)):
        assert text in body
    tags = section(body, "<h2>Tags</h2>", "<h2>Attempts</h2>")
    assert re.search(r"<code>caller_state</code></td><td>CA</td><td>Twilio caller data", tags)
    assert re.search(r"<code>lead_score</code></td><td>72</td><td>tracking number", tags)
    assert re.search(r"<code>lead_source</code></td><td>tv</td><td>inbound SIP header", tags)


def test_detail_every_attempt_outcome_through_the_webhook(admin_client, demo):
    """Skipped (paused), failed 403, busy 486, no-answer, then answered: all on one page."""
    with demo.app_context():
        overflow = db.session.scalar(select(Buyer).where(Buyer.ref == "overflow"))
        overflow.paused = True
        for ref in ("ny-floor", "la-night"):  # on schedules: open or not depending on the hour
            db.session.delete(db.session.scalar(select(Buyer).where(Buyer.ref == ref)))
        db.session.commit()
    make_call(admin_client, 1, to=NORTHSTAR,
              outcomes=[("failed", 403), ("no-answer", 408), ("completed", None)])
    call = call_by_sid(demo, 1)
    body = detail(admin_client, call.uuid)
    attempts = re.findall(r'<div class="card attempt" id="attempt-(\d+)">(.*?)\n</div>', body, re.S)
    assert [n for n, _ in attempts] == ["0", "1"]
    first, second = attempts[0][1], attempts[1][1]
    assert "Agent queue (Asterisk)" in first
    assert "Passed over before this:" in first and "Overflow call center: paused" in first
    assert "<code>failed</code> the call could not be placed" in first
    assert "<code>403</code> Forbidden: the PBX refused our credentials or our IP is not " \
           "whitelisted" in first
    assert "Fix: Check the buyer&#39;s SIP Username and SIP Password" in first
    assert "sip:agentqueue@pbx.example.com?X-PH-RetreaverUUID=" + call.uuid in first
    assert re.search(r"<code>X-PH-RetreaverUUID</code></td><td><code>[0-9a-f-]{36}</code></td>"
                     r"<td>default</td>", first)
    assert re.search(r"<code>X-Campaign-ID</code></td><td><code>\d+</code></td><td>buyer</td>",
                     first)
    assert "Sales desk (phone)" in second and "<code class=\"dialled\">+14155552671</code>" in second
    assert "<code>no-answer</code> the buyer did not answer" in second
    assert "<code>408</code> Request Timeout" in second
    # The call ended after the second attempt (no-answer, then nobody left); the headline sums up
    # every attempt (issue 15 replaced "no buyer available: <the last round's skips>").
    assert ("no buyer left: 2 dialled (failed 403, no-answer 408), 1 skipped (paused)"
            in body)
    # The stored reason (the CSV's reason column) says the same as the page.
    assert call_by_sid(demo, 1).reason == \
        "no buyer left: 2 dialled (failed 403, no-answer 408), 1 skipped (paused)"
    assert 'data-status="no-buyer"' in body


def test_detail_answered_and_still_ringing_attempts(admin_client, demo):
    pause_all_but(demo, "queue", "phone")
    make_call(admin_client, 1, outcomes=[("busy", 486), ("completed", None)])
    body = detail(admin_client, call_by_sid(demo, 1).uuid)
    assert "<code>486</code> Busy Here: the buyer is busy" in body
    assert "<code>completed</code> answered by the buyer, then hung up" in body
    assert "<td>95 s</td>" in body
    make_call(admin_client, 2)
    body = detail(admin_client, call_by_sid(demo, 2).uuid)
    assert "still ringing (no result from Twilio yet)" in body


@pytest.fixture
def plugin_app(tmp_path, backend):
    """The demo, plus a plugin that adds headers (one too long for Twilio) and one that fails."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "crm.py").write_text(textwrap.dedent("""
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def sip_headers(call, buyer, values):
            return [("X-CRM-Segment", "gold"), ("X-CRM-Blob", "z" * 1000)]

    """))
    (folder / "broken.py").write_text(textwrap.dedent("""
        from sipflask.hookspecs import hookimpl

        @hookimpl
        def sip_headers(call, buyer, values):
            raise RuntimeError("CRM is down")
    """))
    app = make_app(tmp_path, backend, PLUGINS_ALLOW=["crm", "broken"])
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_detail_plugin_headers_dropped_headers_and_plugin_errors(plugin_app, client):
    from tests.support.app import ADMIN_EMAIL, make_user
    from tests.support.app import PASSWORD as LOGIN
    make_user(plugin_app, ADMIN_EMAIL, "admin")
    client = plugin_app.test_client()
    client.post("/login", data={"email": ADMIN_EMAIL, "password": LOGIN})
    pause_all_but(plugin_app, "queue")
    make_call(client, 1)
    call = call_by_sid(plugin_app, 1)
    body = detail(client, call.uuid)
    sent = section(body, "<h4>Headers sent</h4>", "</table>")
    assert "<code>X-CRM-Segment</code></td><td><code>gold</code></td><td>plugin crm</td>" in sent
    dropped = section(body, "<h4>Headers dropped (Twilio's limits)</h4>", "</table>")
    assert "<code>X-CRM-Blob</code>" in dropped and "plugin crm" in dropped
    with plugin_app.app_context():
        reason = db.session.scalar(select(Attempt)).headers_dropped[0]["reason"]
    assert reason and f'<td class="warning">{escape(reason)}</td>' in dropped
    errors = section(body, "<h4>Plugin errors</h4>", "</ul>")
    assert "plugin <code>broken</code> (sip_headers) skipped:" in errors
    assert "CRM is down" in errors


def test_detail_tag_sources_from_plugins_and_postbacks(admin_client, demo):
    uuid = add_call(demo, tags={"crm_score": "9", "sale_id": "A1", "odd": "x"},
                    tag_sources={"crm_score": "plugin:crm", "sale_id": "postback"})
    body = detail(admin_client, uuid)
    assert "<code>crm_score</code></td><td>9</td><td>plugin crm</td>" in body
    assert "<code>sale_id</code></td><td>A1</td><td>buyer postback</td>" in body
    assert "<code>odd</code></td><td>x</td><td>unknown</td>" in body


def test_detail_not_dialled_attempt_and_rejected_call(admin_client, demo):
    uuid = add_call(demo, status="no-buyer", reason="no buyer available: Queue: paused")
    with demo.app_context():
        call = db.session.scalar(select(Call).where(Call.uuid == uuid))
        db.session.add(Attempt(call=call, position=0, buyer_name="Queue", kind="sip",
                               dialled="sip:@pbx.example.com", dial_status="failed",
                               skipped=[{"buyer_id": 1, "buyer": "Queue",
                                         "reason": "not dialled: the URI has no user part"}]))
        db.session.commit()
    body = detail(admin_client, uuid)
    assert "Queue: not dialled: the URI has no user part" in body
    # Summed up from the attempts (issue 15), not the stored reason.
    assert "no buyer available: 1 could not be dialled" in body
    assert "not dialled: sipflask could not build the number" in body
    make_call(admin_client, 7, to="+18005550000")
    body = detail(admin_client, call_by_sid(demo, 7).uuid)
    assert "No buyer was dialled." in body and "unknown number" in body
    assert 'data-status="rejected"' in body


ALL_CODES = (200, 401, 403, 404, 407, 408, 480, 484, 486, 487, 488, 500, 502, 503, 504, 600, 603)


def test_every_sip_code_is_explained_on_the_detail_page(admin_client, demo):
    uuid = add_call(demo, status="no-buyer")
    with demo.app_context():
        call = db.session.scalar(select(Call).where(Call.uuid == uuid))
        for n, code in enumerate(ALL_CODES + (499, 699)):
            db.session.add(Attempt(call=call, position=n, buyer_name=f"B{n}", kind="sip",
                                   dialled="sip:q@pbx.example.com", dial_status="failed",
                                   sip_code=code))
        db.session.commit()
    body = detail(admin_client, uuid)
    for code in ALL_CODES:
        x = sipcodes.explain_sip(code)
        assert f"<code>{code}</code> {x.meaning}" in body.replace("&#39;", "'")
    assert "<code>499</code> Request failure" in body
    assert "<code>699</code> Global failure" in body


@pytest.mark.parametrize("code,words", [
    (403, ["refused our credentials", "not whitelisted"]),
    (404, ["no such user or extension"]),
    (486, ["busy"]),
    (408, ["did not answer the INVITE", "unreachable"]),
    (480, ["not reachable"]),
    (503, ["Service Unavailable"]),
    (401, ["credentials"]), (407, ["Proxy Authentication"]),
    (484, ["incomplete"]), (487, ["cancelled"]), (488, ["codecs"]), (500, ["failed"]),
    (502, ["Bad Gateway"]), (504, ["Time-out"]), (600, ["Busy Everywhere"]), (603, ["Decline"]),
])
def test_sip_code_meanings_and_hints(code, words):
    x = sipcodes.explain_sip(code)
    text = x.meaning + " " + x.hint
    for word in words:
        assert word in text
    assert x.hint, "every failure code tells what to do"


def test_sip_code_without_a_code():
    assert sipcodes.explain_sip(None) is None
    assert sipcodes.explain_sip(200).hint == ""


def test_detail_fragment_and_polling(admin_client, demo):
    pause_all_but(demo, "queue")
    root = make_call(admin_client, 1)
    uuid = call_by_sid(demo, 1).uuid
    full = detail(admin_client, uuid)
    frag = detail(admin_client, uuid, headers=HX)
    assert "<html" in full and "All calls" in full
    assert "<html" not in frag and frag.lstrip().startswith('<div id="call-detail"')
    for body in (full, frag):
        assert f'hx-get="/calls/{uuid}" hx-trigger="every 3s"' in body
    parse(dial_action(admin_client, root, "completed", duration="12"))
    frag = detail(admin_client, uuid, headers=HX)
    assert "every 3s" not in frag and "<td>12 s</td>" in frag


# --- secrets ------------------------------------------------------------------------------------

def test_no_page_or_csv_shows_a_sip_password(admin_client, demo):
    pause_all_but(demo, "secure")
    make_call(admin_client, 1, outcomes=[("failed", 403)])
    call = call_by_sid(demo, 1)
    with demo.app_context():
        attempt = db.session.scalar(select(Attempt))
        assert attempt.sip_username == "sipflask-acme"
    pages = [detail(admin_client, call.uuid), detail(admin_client, call.uuid, headers=HX),
             admin_client.get("/calls/").get_data(as_text=True),
             admin_client.get("/calls/", headers=HX).get_data(as_text=True),
             admin_client.get("/calls/export.csv").get_data(as_text=True)]
    for page in pages:
        assert PASSWORD not in page
    assert "sipflask-acme" in pages[0] and "password not shown" in pages[0]
    assert call.key not in pages[4], "the postback key stays out of CSV files"


def test_a_password_typed_into_a_recorded_value_is_masked(admin_client, demo):
    """Defence in depth: should a password ever land in a header value or URI, it is masked."""
    pause_all_but(demo, "secure")
    with demo.app_context():
        secure = db.session.scalar(select(Buyer).where(Buyer.ref == "secure"))
        secure_id = secure.id
    make_call(admin_client, 1)
    call = call_by_sid(demo, 1)
    with demo.app_context():
        attempt = db.session.scalar(select(Attempt))
        assert attempt.buyer_id == secure_id
        attempt.headers_sent = attempt.headers_sent + [
            {"name": "X-Auth", "value": f"pw={PASSWORD}", "source": "buyer"}]
        attempt.dialled = f"sip:1001:{PASSWORD}@pbx.acme-insure.example:5080"
        attempt.plugin_errors = [{"plugin": "p", "hook": "sip_headers", "error": PASSWORD}]
        db.session.commit()
    body = detail(admin_client, call.uuid)
    assert PASSWORD not in body
    assert "pw=********" in body and "sip:1001:********@pbx.acme-insure.example:5080" in body


def test_redact():
    from sipflask.core.redact import redact
    assert redact("sip:u:secret@host;transport=tcp") == "sip:u:********@host;transport=tcp"
    assert redact("sip:u@host:5060") == "sip:u@host:5060"
    assert redact("a Pa55word b", ["Pa55word"]) == "a ******** b"
    assert redact(None) == ""


def test_members_do_not_see_the_postback_key(app, client, auth, demo):
    from tests.support.app import MEMBER_EMAIL
    from tests.support.webhook import pause_all_but, voice
    pause_all_but(demo, "queue")
    voice(client)
    with demo.app_context():
        call = db.session.scalar(select(Call))
        key, uuid = call.key, call.uuid
    auth.login(email=MEMBER_EMAIL)
    page = client.get(f"/calls/{uuid}").get_data(as_text=True)
    assert key not in page and "key=KEY" in page
    auth.logout()
    auth.login()
    assert key in client.get(f"/calls/{uuid}").get_data(as_text=True)


def test_odd_filter_values_are_refused_not_fatal(admin_client, demo):
    for query in ("campaign_id=%C2%B2", "buyer_id=" + "9" * 5000, "publisher_id=%C2%B9",
                  "date_to=9999-12-31"):
        response = admin_client.get(f"/calls/?{query}")
        assert response.status_code == 200, query
    assert admin_client.get("/calls/export.csv?publisher_id=%C2%B9").status_code == 200


def test_no_buyer_left_headline_sums_up_every_attempt_and_skips_show_once(admin_client, demo):
    from sipflask.models import CampaignBuyer
    with demo.app_context():
        medicare = db.session.scalar(select(Campaign).where(Campaign.ref == "medicare"))
        secure = db.session.scalar(select(Buyer).where(Buyer.ref == "secure"))
        db.session.add(CampaignBuyer(campaign=medicare, buyer=secure, position=3))
        db.session.scalar(select(Buyer).where(Buyer.ref == "overflow")).paused = True
        for ref in ("ny-floor", "la-night"):  # on schedules: open or not depending on the hour
            db.session.delete(db.session.scalar(select(Buyer).where(Buyer.ref == ref)))
        db.session.commit()
    make_call(admin_client, 1, to=NORTHSTAR,
              outcomes=[("busy", 486), ("no-answer", 408), ("failed", None)])
    uuid = call_by_sid(demo, 1).uuid
    for headers in ({}, HX):
        body = detail(admin_client, uuid, headers=headers)
        headline = re.search(r'<p class="warning" id="call-headline">(.*?)</p>', body).group(1)
        assert headline == ("no buyer left: 3 dialled (busy 486, no-answer 408, failed), "
                            "1 skipped (paused)")
        assert body.count("Overflow call center: paused") == 1
        phone = re.search(r'id="attempt-2">(.*?)\n</div>', body, re.S).group(1)
        assert "Sales desk (phone)" in phone
        assert "see the SIP code" not in body
        assert "Twilio gave no SIP code for a phone number" in phone


@pytest.fixture
def inbound_on(demo):
    from sipflask.models import InboundSettings
    with demo.app_context():
        db.session.add(InboundSettings(enabled=True, name="acme", domain_sid="SD" + "1" * 32))
        db.session.commit()
    return demo


def test_a_refused_call_reads_as_ended_and_not_as_a_tracking_number(admin_client, inbound_on):
    voice(admin_client, sid=sid(3), To=f"sip:{AUTO}@other.sip.twilio.com",
          From="sip:partner@other.sip.twilio.com", SipDomain="other.sip.twilio.com",
          SipDomainSid="SD" + "1" * 32, Direction="inbound")
    call = call_by_sid(inbound_on, 3)
    assert call.status == "rejected" and "not one of sipflask's inbound SIP domains" in call.reason
    for headers in ({}, HX):
        body = detail(admin_client, call.uuid, headers=headers)
        assert "not known yet" not in body
        assert "Send a test postback" not in body
        assert "none: refused before a tracking number matched" in body
        assert f"<tr><th>Tracking number</th><td>{AUTO}</td></tr>" not in body
        row = re.search(rf'<tr id="call-{call.uuid}">(.*?)</tr>',
                        admin_client.get("/calls/", headers=headers).text, re.S).group(1)
        assert f"none (dialled {AUTO})" in row and f"<td>{AUTO}</td>" not in row
    # A routed call still offers the test postback and shows its tracking number.
    pause_all_but(inbound_on, "queue")
    make_call(admin_client, 4)
    body = detail(admin_client, call_by_sid(inbound_on, 4).uuid)
    assert "Send a test postback" in body and f"<td>{AUTO}</td>" in body
    assert "not known yet" in body  # still ringing


def test_call_list_time_does_not_wrap_and_date_filters_are_iso_text(admin_client, demo):
    add_call(demo)
    body = admin_client.get("/calls/").text
    assert re.search(r'<td class="nowrap"><a href="/calls/[0-9a-f-]{36}">\d{4}-\d\d-\d\d '
                     r'\d\d:\d\d:\d\d</a></td>', body)
    from pathlib import Path
    css = (Path(demo.static_folder) / "sipflask.css").read_text()
    assert ".nowrap { white-space:nowrap; }" in css
    assert 'type="date"' not in body
    for name in ("date_from", "date_to"):
        field = re.search(rf'<input type="text" id="f-{name}"[^>]*>', body, re.S).group(0)
        assert 'placeholder="YYYY-MM-DD"' in field and r'pattern="\d{4}-\d{2}-\d{2}"' in field
    kept = admin_client.get("/calls/?date_from=2026-01-02").text
    assert 'value="2026-01-02"' in kept
