"""The change history (audit trail): every create, change and delete of a setup record or a user
is recorded with who, when, from where and what changed field by field; secrets only as
"changed". Changes are made the way users make them: web forms through the signed-in test
client, ``flask import`` and ``flask users`` through the CLI runner.
"""
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.history.model import ChangeRecord
from sipflask.models import Buyer, Call, Campaign, Number, Publisher, User
from tests.support.app import ADMIN_EMAIL, MEMBER_EMAIL, TWILIO_AUTH_TOKEN
from tests.support.buyers import edit_data
from tests.support.history import changes, fields, stored_text
from tests.support.html import HX

DEMO_PASSWORD = "Demo-Password-2026"
NEW_PASSWORD = "Typed-Secret-Pass-77"


def row_id(app, model, **where):
    with app.app_context():
        stmt = select(model.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return db.session.scalar(stmt)


def user_id(app, email):
    return row_id(app, User, email=email)


# --- import and CLI -----------------------------------------------------------------------------

def test_import_records_one_create_per_record_from_the_cli(app, demo):
    rows = changes(app)
    kinds = [(r["record_type"], r["action"], r["source"], r["actor_label"]) for r in rows]
    assert kinds.count(("publisher", "create", "import", "cli")) == 3
    assert kinds.count(("campaign", "create", "import", "cli")) == 2
    assert kinds.count(("number", "create", "import", "cli")) == 4
    assert kinds.count(("buyer", "create", "import", "cli")) == 6
    assert len(rows) == 15
    secure = next(r for r in rows if r["record_ref"] == "secure")
    assert secure["actor_id"] is None and secure["address"] == ""
    assert secure["at"] <= datetime.now(timezone.utc)
    assert fields(secure)["name"] == (None, "Acme PBX (digest auth)")
    assert fields(secure)["sip_password"] == "changed"
    assert secure["snapshot"]["sip_password"] == "(set)"
    auto = next(r for r in rows if r["record_ref"] == "auto")
    assert auto["snapshot"]["buyers"] == ["queue", "secure", "phone"]


def test_reimport_records_only_what_changed_and_a_refused_import_records_nothing(
        app, demo, runner, tmp_path):
    before = len(changes(app))
    doc = json.loads(runner.invoke(args=["export"]).output)
    assert runner.invoke(args=["import", _write(tmp_path, doc)]).exit_code == 0
    assert len(changes(app)) == before  # nothing changed, nothing recorded
    doc["buyers"][0]["priority"] = 7
    doc["campaigns"][0]["buyers"] = list(reversed(doc["campaigns"][0]["buyers"]))
    assert runner.invoke(args=["import", _write(tmp_path, doc)]).exit_code == 0
    new = changes(app)[before:]
    assert [(r["record_type"], r["action"]) for r in new] == [("buyer", "update"),
                                                              ("campaign", "update")]
    assert fields(new[0]) == {"priority": (1, 7)}
    assert fields(new[1]) == {"buyers": (["queue", "secure", "phone"],
                                         ["phone", "secure", "queue"])}
    doc["buyers"][0]["priority"] = 8
    doc["buyers"][1]["number"] = "not a number"
    assert runner.invoke(args=["import", _write(tmp_path, doc)]).exit_code == 1
    assert len(changes(app)) == before + 2


def _write(tmp_path, doc) -> str:
    path = tmp_path / "setup.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_users_cli_records_create_and_password_change_without_the_hash(app, runner):
    result = runner.invoke(args=["users", "create", "ops@example.com", "--admin",
                                 "--password-stdin"], input="A-Long-Password-123\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "set-password", "ops@example.com", "--password-stdin"],
                           input="Another-Long-Pass-456\n")
    assert result.exit_code == 0, result.output
    rows = changes(app, "user")
    assert [(r["action"], r["source"], r["actor_label"]) for r in rows] == [
        ("create", "cli", "cli"), ("update", "cli", "cli")]
    assert fields(rows[0]) == {"email": (None, "ops@example.com"), "role": (None, "admin"),
                               "password": "changed"}
    assert fields(rows[1]) == {"password": "changed"}
    with app.app_context():
        hashed = db.session.scalar(select(User.password_hash))
    text = stored_text(app)
    assert hashed not in text and "A-Long-Password-123" not in text
    assert "Another-Long-Pass-456" not in text


def test_user_role_and_email_changes_are_recorded_and_other_columns_ignored(app, auth):
    uid = user_id(app, MEMBER_EMAIL)
    with app.app_context():
        user = db.session.get(User, uid)
        user.role, user.email = "admin", "boss@example.com"
        db.session.commit()
        user.created_at = user.created_at - timedelta(days=1)  # not a recorded field
        db.session.commit()
        db.session.delete(user)
        db.session.commit()
    rows = changes(app, "user", uid)
    assert [r["action"] for r in rows] == ["create", "update", "delete"]
    assert fields(rows[1]) == {"email": (MEMBER_EMAIL, "boss@example.com"),
                               "role": ("member", "admin")}
    assert rows[2]["snapshot"] == {"email": "boss@example.com", "role": "admin"}


# --- the web forms ------------------------------------------------------------------------------

def test_buyer_create_update_pause_delete_from_the_web(app, demo, admin_client):
    response = admin_client.post("/buyers/new", data={
        "name": "Night desk", "ref": "", "number": "sip:night@example.com",
        "sip_username": "desk", "sip_password": NEW_PASSWORD, "priority": "1", "weight": "1",
        "timeout": "30", "action": "save"})
    assert response.status_code == 302, response.get_data(as_text=True)
    bid = row_id(app, Buyer, ref="night-desk")
    _, data = edit_data(app, "night-desk", name="Night desk 2", priority="4")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    assert admin_client.post(f"/buyers/{bid}/pause").status_code == 302
    assert admin_client.post(f"/buyers/{bid}/delete").status_code == 302
    rows = changes(app, "buyer", bid)
    assert [r["action"] for r in rows] == ["create", "update", "update", "delete"]
    admin = user_id(app, ADMIN_EMAIL)
    assert {(r["actor_id"], r["actor_label"], r["source"], r["address"]) for r in rows} == {
        (admin, ADMIN_EMAIL, "web", "127.0.0.1")}
    assert fields(rows[1]) == {"name": ("Night desk", "Night desk 2"), "priority": (1, 4)}
    assert fields(rows[2]) == {"paused": (False, True)}
    assert rows[3]["snapshot"]["name"] == "Night desk 2"
    assert NEW_PASSWORD not in stored_text(app)


def test_buyer_password_change_is_recorded_only_as_changed(app, demo, admin_client):
    bid, data = edit_data(app, "secure", sip_password=NEW_PASSWORD, password_action="replace")
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    with app.app_context():
        stored = db.session.get(Buyer, bid)
        assert stored.sip_password == NEW_PASSWORD
        encrypted = stored.sip_password_encrypted
    last = changes(app, "buyer", bid)[-1]
    assert fields(last) == {"sip_password": "changed"}
    text = stored_text(app)
    for secret in (NEW_PASSWORD, DEMO_PASSWORD, encrypted, TWILIO_AUTH_TOKEN):
        assert secret not in text


def test_buyer_campaigns_from_the_editor_change_the_campaigns_routing_lists(app, demo,
                                                                          admin_client):
    medicare = row_id(app, Campaign, ref="medicare")
    bid, data = edit_data(app, "secure", campaigns=[str(medicare)])
    assert admin_client.post(f"/buyers/{bid}/edit", data=data).status_code == 302
    auto = row_id(app, Campaign, ref="auto")
    assert fields(changes(app, "campaign", auto)[-1]) == {
        "buyers": (["queue", "secure", "phone"], ["queue", "phone"])}
    assert fields(changes(app, "campaign", medicare)[-1])["buyers"][1][-1] == "secure"


def test_a_renamed_ref_moving_campaign_keeps_every_campaign_history_in_step(app, demo,
                                                                            admin_client):
    medicare = row_id(app, Campaign, ref="medicare")
    bid, data = edit_data(app, "secure", campaigns=[str(medicare)])
    assert admin_client.post(f"/buyers/{bid}/edit",
                             data={**data, "ref": "secure-2"}).status_code == 302
    auto = row_id(app, Campaign, ref="auto")
    assert fields(changes(app, "campaign", auto)[-1]) == {
        "buyers": (["queue", "secure", "phone"], ["queue", "phone"])}
    before, after = fields(changes(app, "campaign", medicare)[-1])["buyers"]
    assert "secure" not in before and after[-1] == "secure-2"


def test_campaign_and_routing_list_changes_from_the_web(app, demo, admin_client):
    assert admin_client.post("/campaigns/new", data={"name": "Solar", "ref": ""}).status_code \
        == 302
    cid = row_id(app, Campaign, ref="solar")
    assert admin_client.post(f"/campaigns/{cid}/edit",
                             data={"name": "Solar leads", "ref": "solar"}).status_code == 302
    queue, phone = row_id(app, Buyer, ref="queue"), row_id(app, Buyer, ref="phone")
    for ref in ("queue", "phone"):
        admin_client.post(f"/campaigns/{cid}/routing/add", data={"buyer": ref})
    admin_client.post(f"/campaigns/{cid}/routing/{phone}/move", data={"direction": "up"})
    admin_client.post(f"/campaigns/{cid}/routing/{queue}/remove")
    assert admin_client.post(f"/campaigns/{cid}/delete").status_code == 302
    rows = changes(app, "campaign", cid)
    assert [r["action"] for r in rows] == ["create", "update", "update", "update", "update",
                                           "update", "delete"]
    assert fields(rows[1]) == {"name": ("Solar", "Solar leads")}
    assert [fields(r)["buyers"] for r in rows[2:6]] == [
        ([], ["queue"]), (["queue"], ["queue", "phone"]), (["queue", "phone"], ["phone", "queue"]),
        (["phone", "queue"], ["phone"])]
    assert {r["source"] for r in rows} == {"web"}


def test_number_and_publisher_changes_from_the_web(app, demo, admin_client):
    response = admin_client.post("/numbers/new", data={
        "number": "+1 415 555 2671", "campaign": "auto", "publisher": "", "sub_id": "",
        "tags": "a=1"})
    assert response.status_code == 302
    nid = row_id(app, Number, number="+14155552671")
    admin_client.post(f"/numbers/{nid}/edit", data={
        "number": "+14155552671", "campaign": "auto", "publisher": "acme", "sub_id": "x",
        "tags": "a=2"})
    pid = row_id(app, Publisher, ref="acme")
    admin_client.post(f"/publishers/{pid}/edit", data={"name": "Acme", "ref": "acme",
                                                       "afid": "5678"})
    assert admin_client.post(f"/publishers/{pid}/delete").status_code == 302
    assert admin_client.post(f"/numbers/{nid}/delete").status_code == 302
    rows = changes(app, "number", nid)
    assert [r["action"] for r in rows] == ["create", "update", "update", "delete"]
    assert fields(rows[1]) == {"publisher": (None, "acme"), "sub_id": (None, "x"),
                               "tags": ({"a": "1"}, {"a": "2"})}
    assert fields(rows[2]) == {"publisher": ("acme", None)}  # its publisher was deleted
    pub = changes(app, "publisher", pid)
    assert [r["action"] for r in pub] == ["create", "update", "delete"]
    assert fields(pub[1]) == {"name": ("Acme Media", "Acme")}


def test_inbound_and_account_settings_from_the_web(app, admin_client):
    inbound_password = "Partner-Secret-2026"
    response = admin_client.post("/inbound/", data={
        "name": "acme", "enabled": "y", "action": "save", "cred-0-username": "alice",
        "cred-0-password": inbound_password, "ip-0": "203.0.113.0/24"})
    assert response.status_code == 302
    response = admin_client.post("/settings/", data={"time_zone": "Europe/London"})
    assert response.status_code == 302
    inbound = changes(app, "inbound")
    assert len(inbound) == 1 and inbound[0]["action"] == "create"
    assert fields(inbound[0])["credentials"] == (None, ["alice"])
    assert fields(inbound[0])["credential_passwords"] == "changed"
    account = changes(app, "account")
    assert fields(account[0]) == {"time_zone": (None, "Europe/London")}
    assert inbound_password not in stored_text(app)


# --- secrets never shown --------------------------------------------------------------------------

def test_secrets_never_reach_history_pages_or_export(app, demo, admin_client, runner):
    bid, data = edit_data(app, "secure", sip_password=NEW_PASSWORD, password_action="replace")
    admin_client.post(f"/buyers/{bid}/edit", data=data)
    inbound_password = "Partner-Secret-2026"
    assert admin_client.post("/inbound/", data={
        "name": "acme", "enabled": "y", "action": "save", "cred-0-username": "alice",
        "cred-0-password": inbound_password}).status_code == 302
    with app.app_context():
        call = Call(caller="+14155550100", called="+18882223333")
        db.session.add(call)
        db.session.commit()
        postback_key = call.key
        encrypted = db.session.get(Buyer, bid).sip_password_encrypted
    pages = [admin_client.get("/history/").get_data(as_text=True),
             admin_client.get(f"/buyers/{bid}/edit").get_data(as_text=True)]
    for row in changes(app, "buyer", bid) + changes(app, "inbound"):
        pages.append(admin_client.get(f"/history/{row['id']}").get_data(as_text=True))
    export = runner.invoke(args=["export", "--history"]).output
    for text in pages + [export, stored_text(app)]:
        for secret in (NEW_PASSWORD, DEMO_PASSWORD, encrypted, TWILIO_AUTH_TOKEN, postback_key,
                       inbound_password):
            assert secret not in text
    assert "a secret: its value is never recorded" in pages[-1]


# --- pages --------------------------------------------------------------------------------------

def test_history_page_full_htmx_filters_and_paging(app, demo, admin_client):
    full = admin_client.get("/history/")
    assert full.status_code == 200
    page = full.get_data(as_text=True)
    # The demo's 15 records, and the two users the sign-in fixture made.
    assert "<html" in page and 'id="history-results"' in page and "17 changes" in page
    fragment = admin_client.get("/history/?type=buyer", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="history-results">')
    assert "6 changes matching" in fragment
    assert "2 changes matching" in admin_client.get("/history/?type=campaign").get_data(
        as_text=True)
    assert "15 changes matching" in admin_client.get("/history/?actor=cli").get_data(
        as_text=True)
    assert "No change matches" in admin_client.get(f"/history/?actor={ADMIN_EMAIL}").get_data(
        as_text=True)
    today = datetime.now(timezone.utc).date()
    later = admin_client.get(f"/history/?date_from={today + timedelta(days=2)}")
    assert "No change matches" in later.get_data(as_text=True)
    bad = admin_client.get("/history/?type=nope&date_from=31/12").get_data(as_text=True)
    assert "Record type: Choose a record type" in bad and "From: Use a date like" in bad
    assert "17 changes" in bad
    app.config["PER_PAGE"] = 10
    paged = admin_client.get("/history/?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in paged and paged.count('<tr id="change-') == 7


def test_change_detail_full_and_htmx(app, demo, admin_client):
    bid, data = edit_data(app, "queue", name="Queue 2")
    admin_client.post(f"/buyers/{bid}/edit", data=data)
    change = changes(app, "buyer", bid)[-1]
    full = admin_client.get(f"/history/{change['id']}").get_data(as_text=True)
    assert "<html" in full and "Agent queue (Asterisk)" in full and "Queue 2" in full
    assert "Restore this version" in full
    fragment = admin_client.get(f"/history/{change['id']}", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and 'id="history-change"' in fragment
    assert admin_client.get("/history/999999").status_code == 404


def test_history_sections_on_buyer_campaign_and_number_pages(app, demo, admin_client):
    for url, what in ((f"/buyers/{row_id(app, Buyer, ref='queue')}/edit", "buyer"),
                      (f"/campaigns/{row_id(app, Campaign, ref='auto')}/edit", "campaign"),
                      (f"/numbers/{row_id(app, Number, number='+18882223333')}/edit",
                       "number")):
        page = admin_client.get(url).get_data(as_text=True)
        assert 'id="history"' in page, url
        assert "created" in page and f"Every change of this {what}" in page


def test_member_sees_record_history_but_not_the_admin_pages(app, demo, auth, client):
    auth.login(MEMBER_EMAIL)
    bid = row_id(app, Buyer, ref="queue")
    buyer_change = changes(app, "buyer", bid)[0]
    user_change = changes(app, "user")[0]
    page = client.get(f"/buyers/{bid}/edit").get_data(as_text=True)
    assert 'id="history"' in page and "Every change of this buyer" not in page
    assert client.get(f"/history/{buyer_change['id']}").status_code == 200
    assert "Restore this version" not in client.get(
        f"/history/{buyer_change['id']}").get_data(as_text=True)
    assert client.get("/history/").status_code == 403
    assert client.get(f"/history/{user_change['id']}").status_code == 403
    response = client.post(f"/history/{buyer_change['id']}/restore", data={"confirm": "yes"})
    assert response.status_code == 403
    client.post("/logout")
    assert client.get("/history/").status_code == 302  # to the login page


# --- restore ------------------------------------------------------------------------------------

def test_restore_a_buyer_keeps_its_password_and_is_recorded(app, demo, admin_client):
    bid, data = edit_data(app, "secure", name="Renamed", priority="9",
                          sip_password=NEW_PASSWORD, password_action="replace")
    admin_client.post(f"/buyers/{bid}/edit", data=data)
    created = changes(app, "buyer", bid)[0]
    confirm = admin_client.post(f"/history/{created['id']}/restore")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "Yes, restore this version" in page and "<html" in page
    assert "<td>Renamed</td><td>Acme PBX (digest auth)</td>" in page
    preview = page[page.index('class="history-preview"'):page.index("Yes, restore")]
    assert "<td>9</td><td>2</td>" in preview and "sip_password" not in preview
    fragment = admin_client.post(f"/history/{created['id']}/restore", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert 'id="history-change"' in fragment.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Buyer, bid).name == "Renamed"  # not before the confirmation
    response = admin_client.post(f"/history/{created['id']}/restore", data={"confirm": "yes"})
    assert response.status_code == 302 and response.location.endswith(f"/buyers/{bid}/edit")
    with app.app_context():
        buyer = db.session.get(Buyer, bid)
        assert (buyer.name, buyer.priority) == ("Acme PBX (digest auth)", 2)
        assert buyer.sip_password == NEW_PASSWORD  # secrets are not restored
    last = changes(app, "buyer", bid)[-1]
    assert last["action"] == "restore" and last["note"] == f"restored from change {created['id']}"
    assert fields(last) == {"name": ("Renamed", "Acme PBX (digest auth)"), "priority": (9, 2)}
    assert last["actor_label"] == ADMIN_EMAIL and last["source"] == "web"


def test_restore_a_deleted_buyer_and_a_refused_restore(app, demo, admin_client):
    bid = row_id(app, Buyer, ref="phone")
    admin_client.post(f"/buyers/{bid}/delete")
    deleted = changes(app, "buyer", bid)[-1]
    assert deleted["action"] == "delete"
    confirm = admin_client.post(f"/history/{deleted['id']}/restore").get_data(as_text=True)
    assert "It was deleted since: the restore creates it again." in confirm
    response = admin_client.post(f"/history/{deleted['id']}/restore", data={"confirm": "yes"},
                                 headers=HX)
    assert response.status_code == 204 and "/buyers/" in response.headers["HX-Redirect"]
    new_id = row_id(app, Buyer, ref="phone")
    assert new_id is not None and changes(app, "buyer", new_id)[-1]["action"] == "restore"
    # Another buyer takes the ref the old version had: the restore says so and changes nothing.
    qid, data = edit_data(app, "queue")
    admin_client.post(f"/buyers/{qid}/edit", data={**data, "ref": "queue-2"})
    _, data = edit_data(app, "phone")
    admin_client.post(f"/buyers/{new_id}/edit", data={**data, "ref": "queue"})
    first = changes(app, "buyer", qid)[0]
    before = len(changes(app))
    refused = admin_client.post(f"/history/{first['id']}/restore", data={"confirm": "yes"})
    assert refused.status_code == 409
    assert "is now used by buyer" in refused.get_data(as_text=True)
    assert len(changes(app)) == before


def test_restore_a_campaign_and_its_routing_list(app, demo, admin_client):
    cid = row_id(app, Campaign, ref="auto")
    admin_client.post(f"/campaigns/{cid}/edit", data={"name": "Auto", "ref": "auto"})
    queue = row_id(app, Buyer, ref="queue")
    admin_client.post(f"/campaigns/{cid}/routing/{queue}/remove")
    admin_client.post(f"/buyers/{row_id(app, Buyer, ref='phone')}/delete")
    created = changes(app, "campaign", cid)[0]
    response = admin_client.post(f"/history/{created['id']}/restore", data={"confirm": "yes"})
    assert response.status_code == 302
    with app.app_context():
        campaign = db.session.get(Campaign, cid)
        assert campaign.name == "Auto Insurance"
        assert [e.buyer.ref for e in campaign.routing] == ["queue", "secure"]
    last = changes(app, "campaign", cid)[-1]
    assert last["action"] == "restore"
    assert fields(last) == {"name": ("Auto", "Auto Insurance"),
                            "buyers": (["secure"], ["queue", "secure"])}
    page = admin_client.get(f"/campaigns/{cid}/edit").get_data(as_text=True)
    assert "deleted since: phone" in page


def test_only_buyers_and_campaigns_can_be_restored(app, demo, admin_client):
    number_change = changes(app, "number")[0]
    page = admin_client.get(f"/history/{number_change['id']}").get_data(as_text=True)
    assert "Restore this version" not in page
    assert admin_client.post(f"/history/{number_change['id']}/restore",
                             data={"confirm": "yes"}).status_code == 404


# --- export -------------------------------------------------------------------------------------

def test_export_with_history_and_import_ignores_it(app, demo, runner, tmp_path):
    plain = json.loads(runner.invoke(args=["export"]).output)
    assert "history" not in plain
    result = runner.invoke(args=["export", "--history"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert len(doc["history"]) == 15
    first = doc["history"][0]
    assert first["record_type"] == "publisher" and first["action"] == "create"
    assert first["at"].endswith("+00:00") and first["source"] == "import"
    before = len(changes(app))
    result = runner.invoke(args=["import", _write(tmp_path, doc)])
    assert result.exit_code == 0, result.output
    assert len(changes(app)) == before
    with app.app_context():
        assert db.session.query(ChangeRecord).count() == before


# --- one transaction ----------------------------------------------------------------------------

def test_history_rows_commit_and_roll_back_with_the_change(app, demo):
    from sipflask.records import write
    with app.app_context():
        before = db.session.query(ChangeRecord).count()
        # AFID 5678 is Acme's: the database refuses the commit, and the history row with it.
        clash = Publisher()
        db.session.add(clash)
        assert not write.commit(lambda: write.write_publisher(
            clash, {"ref": "clash", "name": "Clash", "afid": "5678"}))
        assert db.session.query(ChangeRecord).count() == before
        # What was tracked before the rollback is forgotten: the next commit records only its own.
        buyer = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        write.set_paused(buyer, True)
        db.session.commit()
        rows = db.session.scalars(select(ChangeRecord).where(ChangeRecord.id > before)).all()
        assert [(r.record_type, r.record_ref) for r in rows] == [("buyer", "queue")]


# --- retention ----------------------------------------------------------------------------------

def test_prune_deletes_old_changes_and_records_that_it_did(app, demo, runner):
    with app.app_context():
        old = datetime.now(timezone.utc) - timedelta(days=400)
        for row in db.session.scalars(select(ChangeRecord).where(
                ChangeRecord.record_type == "buyer")):
            row.at = old
        db.session.commit()
    result = runner.invoke(args=["history", "prune", "--older-than", "365"], input="n\n")
    assert result.exit_code == 1 and "Delete 6 changes" in result.output
    assert len(changes(app)) == 15
    result = runner.invoke(args=["history", "prune", "--older-than", "365", "--yes"])
    assert result.exit_code == 0 and "Deleted 6 changes" in result.output, result.output
    rows = changes(app)
    assert len(rows) == 10 and not changes(app, "buyer")
    assert (rows[-1]["record_type"], rows[-1]["action"], rows[-1]["source"]) == (
        "history", "delete", "cli")
    assert rows[-1]["note"].startswith("pruned 6 changes recorded before ")
    result = runner.invoke(args=["history", "prune", "--older-than", "365"])
    assert result.exit_code == 0 and "No change is older than 365 days" in result.output
    assert runner.invoke(args=["history", "prune", "--older-than", "0"]).exit_code == 2
