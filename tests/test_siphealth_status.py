"""A buyer's health settings in the setup file (``flask export`` / ``flask import``), and its
health on the pages: the buyer page's Endpoint health panel (siphealth/status.py) and the
list's "down" badge, read in one query for the whole page."""
import copy
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, text

from sipflask.extensions import db
from sipflask.models import Buyer
from sipflask.siphealth.model import EndpointHealth, EndpointHealthEvent
from tests.support.buyers import edit_data

CAUSE = "unreachable (3 OPTIONS timeouts since 14:03)"
CHECKED = {"ref": "checked", "name": "Checked desk", "number": "sip:desk@pbx.example.com",
           "health": {"check": "options", "accepted_codes": [200, 404, 407], "down_after": 5,
                      "up_after": 1}}
CALLS = {"ref": "calls", "name": "Calls only", "number": "sips:queue@pbx.example.net",
         "health": {"check": "calls"}}
PLAIN = {"ref": "plain", "name": "Plain", "number": "+14155552671"}
DOC = {"buyers": [PLAIN, CHECKED, CALLS]}
T0 = datetime(2026, 3, 2, 14, 3, tzinfo=timezone.utc)


def write(tmp_path, doc, name="setup.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def stored(app, ref):
    with app.app_context():
        b = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        return (b.health_check, b.health_codes, b.health_down_after, b.health_up_after)


def buyer_id(app, ref):
    with app.app_context():
        return db.session.scalar(select(Buyer.id).where(Buyer.ref == ref))


def dump_tables(app):
    with app.app_context():
        return {t.name: sorted(repr(tuple(r)) for r in
                               db.session.execute(text(f"SELECT * FROM {t.name}")).all())
                for t in db.metadata.sorted_tables}


# --- export and import -------------------------------------------------------------------------

def test_import_stores_and_defaults(runner, app, tmp_path):
    result = runner.invoke(args=["import", write(tmp_path, DOC)])
    assert result.exit_code == 0, result.output
    assert stored(app, "checked") == ("options", "200,404,407", 5, 1)
    assert stored(app, "calls") == ("calls", "", 3, 2)
    assert stored(app, "plain") == ("off", "", 3, 2)


def test_round_trip_is_lossless(runner, app, tmp_path):
    assert runner.invoke(args=["import", write(tmp_path, DOC)]).exit_code == 0
    out = tmp_path / "out.json"
    assert runner.invoke(args=["export", str(out)]).exit_code == 0
    exported = {b["ref"]: b["health"] for b in json.loads(out.read_text())["buyers"]}
    assert exported == {
        "plain": {"check": "off", "accepted_codes": [], "down_after": 3, "up_after": 2},
        "checked": CHECKED["health"],
        "calls": {"check": "calls", "accepted_codes": [], "down_after": 3, "up_after": 2}}
    before = dump_tables(app)
    result = runner.invoke(args=["import", str(out)])
    assert "buyers: 0 created, 0 updated, 3 unchanged" in result.output, result.output
    assert dump_tables(app) == before


def test_changing_the_health_counts_as_updated_and_resets(runner, app, tmp_path):
    assert runner.invoke(args=["import", write(tmp_path, DOC)]).exit_code == 0
    bid = buyer_id(app, "checked")
    with app.app_context():
        db.session.add(EndpointHealth(buyer_id=bid, state="down", down_by="probes", cause=CAUSE,
                                      changed_at=T0))
        db.session.commit()
    doc = copy.deepcopy(DOC)
    doc["buyers"][1]["health"]["down_after"] = 2
    result = runner.invoke(args=["import", write(tmp_path, doc, "v2.json")])
    assert "buyers: 0 created, 1 updated, 2 unchanged" in result.output, result.output
    with app.app_context():
        assert db.session.get(EndpointHealth, bid) is None
        assert [(e.state, e.source) for e in db.session.scalars(select(EndpointHealthEvent))] \
            == [("up", "settings")]


BAD = [
    (lambda r: r["health"].update(check="always"), "buyers[1].health.check", "must be off"),
    (lambda r: r["health"].update(accepted_codes=[200, 503]), "buyers[1].health.accepted_codes",
     "other than 503"),
    (lambda r: r["health"].update(accepted_codes=["abc"]), "buyers[1].health.accepted_codes",
     "'abc'"),
    (lambda r: r["health"].update(down_after=0), "buyers[1].health.down_after",
     "between 1 and 100"),
    (lambda r: r["health"].update(up_after="2"), None, None),  # digits as text are read
    (lambda r: r["health"].update(upafter=2), "buyers[1].health.upafter", "did you mean up_after"),
    (lambda r: r.update(number="+14155550100"), "buyers[1].health.check", "need a SIP buyer"),
    (lambda r: r.update(health=[]), "buyers[1].health", "must be an object"),
]


@pytest.mark.parametrize("mutate,path,message", BAD, ids=[str(p) for _, p, _ in BAD])
def test_bad_import_names_its_path_and_writes_nothing(runner, app, tmp_path, mutate, path,
                                                      message):
    doc = copy.deepcopy(DOC)
    mutate(doc["buyers"][1])
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    if path is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1 and "Nothing was imported" in result.output
    line = next((ln for ln in result.output.splitlines() if ln.startswith(f"  {path}: ")), "")
    assert message in line, result.output
    with app.app_context():
        assert db.session.scalar(select(Buyer)) is None


def test_demo_buyers_have_checks_off(demo):
    with demo.app_context():
        assert set(db.session.scalars(select(Buyer.health_check))) == {"off"}


# --- the buyer page ----------------------------------------------------------------------------

def set_checks(app, ref, mode="options", **state):
    """Turn the buyer's checks on directly, with a state row (``state``) when given."""
    with app.app_context():
        b = db.session.scalar(select(Buyer).where(Buyer.ref == ref))
        b.health_check = mode
        if state:
            db.session.add(EndpointHealth(buyer_id=b.id, **state))
        db.session.commit()
        return b.id


def add_events(app, bid, count):
    with app.app_context():
        for i in range(count):
            down = i % 2 == 0
            db.session.add(EndpointHealthEvent(
                buyer_id=bid, at=T0 + timedelta(minutes=i), state="down" if down else "up",
                source="probes", cause=f"cause number {i}"))
        db.session.commit()


def panel(body):
    start = body.index('id="endpoint-health"')
    return body[start:body.index("</table>", start) if "</table>" in body[start:] else None]


def test_panel_of_a_buyer_with_checks_off(admin_client, demo):
    bid, _ = edit_data(demo, "queue")
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert "<h2>Endpoint health</h2>" in body
    assert "Health checks: <strong>Off</strong>" in body
    assert 'id="endpoint-health-state"' not in body and "None yet." in body


def test_panel_not_checked_yet(admin_client, demo):
    bid = set_checks(demo, "queue")
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert "Health checks: <strong>OPTIONS probes and failed calls</strong>" in body
    assert "Not checked yet" in body and "Last probe: <span class=\"muted\">none yet" in body


def test_panel_shows_a_down_state_last_probe_and_events(admin_client, demo):
    bid = set_checks(demo, "queue", state="down", down_by="probes", cause=CAUSE, changed_at=T0,
                     probe_fails=3, last_probe_at=T0 + timedelta(seconds=30),
                     last_probe_alive=False, last_probe="down: no answer to OPTIONS in 4 s")
    add_events(demo, bid, 25)
    body = admin_client.get(f"/buyers/{bid}/edit").text
    part = panel(body)
    assert '<span class="pill health-down">Down</span> ' + CAUSE in part
    assert "since 2026-03-02 14:03:00" in part  # the account's clock: UTC by default
    assert "Routing skips this buyer until" in part and "answers 2 OPTIONS probes" in part
    assert "2026-03-02 14:03:30" in part and "down: no answer to OPTIONS in 4 s" in part
    rows = part.split('<table class="health-events"')[1].split("<tr>")[2:]
    assert len(rows) == 20  # the last 20, newest first
    assert "cause number 24" in rows[0] and "cause number 5" in rows[-1]
    assert "OPTIONS probes" in rows[0] and "health-down" in rows[0] and "health-up" in rows[1]


def test_panel_of_a_calls_only_buyer_down_until_retry(admin_client, demo):
    retry = T0 + timedelta(minutes=2)
    bid = set_checks(demo, "queue", mode="calls", state="down", down_by="calls",
                     cause="unreachable (5 failed calls in a row since 14:03, last SIP 503)",
                     changed_at=T0, retry_at=retry)
    part = panel(admin_client.get(f"/buyers/{bid}/edit").text)
    assert "Failed calls only (the PBX ignores OPTIONS)" in part
    assert "5 failed calls in a row" in part and "until\n    2026-03-02 14:05:00" in part
    assert "Last probe" not in part


def test_checks_turned_off_hide_a_leftover_state(admin_client, demo):
    bid = set_checks(demo, "queue", mode="off", state="down", cause=CAUSE, changed_at=T0)
    body = admin_client.get(f"/buyers/{bid}/edit").text
    assert CAUSE not in body and "Health checks: <strong>Off</strong>" in body
    assert 'class="pill health-down">down</span>' not in admin_client.get("/buyers/").text


def test_panel_is_not_part_of_htmx_fragments(admin_client, demo):
    bid = set_checks(demo, "queue", state="down", cause=CAUSE, changed_at=T0)
    _, data = edit_data(demo, "queue", name="")
    fragment = admin_client.post(f"/buyers/{bid}/edit", data=data,
                                 headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and 'id="endpoint-health"' not in fragment.text
    plain = admin_client.post(f"/buyers/{bid}/edit", data=data)
    assert 'id="endpoint-health"' in plain.text and CAUSE in plain.text


# --- the list ----------------------------------------------------------------------------------

def endpoint_health_queries(app, client, url):
    """The page's body and how many statements read endpoint_health to make it."""
    statements = []
    with app.app_context():
        engine = db.engine

    def seen(conn, cursor, statement, *args):
        if "endpoint_health" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        body = client.get(url).text
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return body, len(statements)


def test_list_badge_for_down_buyers_in_one_query(admin_client, demo):
    queue = set_checks(demo, "queue", state="down", cause=CAUSE, changed_at=T0)
    body, one = endpoint_health_queries(demo, admin_client, "/buyers/")
    row = body[body.index(f'id="buyer-{queue}"'):]
    row = row[:row.index("</tr>")]
    assert '<span class="pill health-down"' in row and CAUSE in row
    assert body.count('class="pill health-down"') == 1
    # more buyers checked, down or up: still the same queries for the whole page
    set_checks(demo, "secure", state="up")
    set_checks(demo, "overflow", state="down", cause="unreachable (3 refused connections)")
    set_checks(demo, "ny-floor")
    body, three = endpoint_health_queries(demo, admin_client, "/buyers/")
    assert one == three >= 1
    assert body.count('class="pill health-down"') == 2
    assert "unreachable (3 refused connections)" in body
    # the row a pause swaps in keeps its badge
    fragment = admin_client.post(f"/buyers/{queue}/pause", headers={"HX-Request": "true"})
    assert '<span class="pill health-down"' in fragment.text and CAUSE in fragment.text
