"""The webhooks' one writer (save, secrets write-only, the change history, webhooks going with
the record they are filtered to), export/import with and without secrets (checked with the
rest, atomic), and ``flask webhooks list|test`` and ``worker --once``. SQLite and PostgreSQL."""
import json

import pytest
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.history.model import ChangeRecord
from sipflask.models import Campaign
from sipflask.records import webhooks as webhook_records
from sipflask.records import write
from sipflask.webhooks.model import DeliveryTry, Webhook
from tests.support.outbound import SECRET, deliveries, hook_named, make_hook, run
from tests.support.receiver import Receiver, Reply
from tests.support.webhook import parse, pause_all_but, the_call, voice

pytestmark = pytest.mark.app_config(WEBHOOKS_ALLOW_PRIVATE=True)
TOKEN = "Bearer tok-abcdef123"
RECORD = {"ref": "crm", "name": "CRM", "event": "call.answered",
          "url": "https://crm.example.com/calls/[call_uuid]", "method": "POST",
          "body_format": "form", "body": "caller=[caller_number]&buyer=[buyer_name]",
          "headers": [{"name": "Authorization", "value": TOKEN, "secret": True},
                      {"name": "X-Source", "value": "sipflask"}],
          "filters": {"campaign": "auto", "publisher": None, "buyer": "queue",
                      "tag_key": "vertical", "tag_value": "auto"},
          "include_key": False, "enabled": True, "signing_secret": SECRET}


@pytest.fixture
def rx():
    receiver = Receiver()
    yield receiver
    receiver.close()


def save(app, data, hook=None, **kwargs):
    with app.app_context():
        target = db.session.get(Webhook, hook) if hook else None
        saved, report = webhook_records.save_webhook(target, data, **kwargs)
        return (saved.id if saved else None), report


def stored(app, ref="crm"):
    with app.app_context():
        hook = db.session.scalar(select(Webhook).where(Webhook.ref == ref))
        return webhook_records.webhook_record(hook, with_secrets=True) if hook else None


def test_secrets_are_write_only_and_kept_when_left_empty(demo):
    hook, report = save(demo, RECORD)
    assert hook and report.ok, report.errors
    again = {**RECORD, "name": "CRM 2", "signing_secret": "",
             "headers": [{"name": "Authorization", "value": "", "secret": True}]}
    assert save(demo, again, hook)[1].ok
    record = stored(demo)
    assert record["name"] == "CRM 2" and record["signing_secret"] == SECRET
    assert record["headers"] == [{"name": "Authorization", "value": TOKEN, "secret": True}]
    assert save(demo, again, hook, clear_signing_secret=True)[1].ok
    assert stored(demo)["signing_secret"] == ""
    with demo.app_context():
        row = db.session.scalar(select(Webhook))
        assert TOKEN not in row.headers[0].value_encrypted and row.headers[0].value == ""


@pytest.mark.parametrize("changes, path", [
    ({"filters": {"campaign": "nope"}}, "filters.campaign"),
    ({"headers": [{"name": "X-Key", "value": "", "secret": True}]}, "headers[0].value"),
    ({"url": "https://[caller_city].example.com/"}, "url"),
])
def test_bad_saves_write_nothing(demo, changes, path):
    hook, report = save(demo, {**RECORD, **changes})
    assert hook is None and path in report.errors, report.errors
    assert stored(demo) is None


def test_refs_are_unique(demo):
    assert save(demo, RECORD)[0]
    hook, report = save(demo, {**RECORD, "name": "Other"})
    assert hook is None and "already has the ref" in report.errors["ref"][0]


def test_changes_are_in_the_history_with_secrets_only_as_changed(demo):
    hook, _ = save(demo, RECORD)
    save(demo, {**RECORD, "url": "https://crm.example.com/v2/[call_uuid]",
                "signing_secret": "a-brand-new-secret-1"}, hook)
    with demo.app_context():
        rows = db.session.scalars(select(ChangeRecord).where(
            ChangeRecord.record_type == "webhook").order_by(ChangeRecord.id)).all()
        assert [r.action for r in rows] == ["create", "update"]
        fields = {c["field"]: c for c in rows[1].changes}
        assert fields["url"]["after"] == "https://crm.example.com/v2/[call_uuid]"
        assert fields["signing_secret"] == {"field": "signing_secret", "secret": True,
                                            "change": "changed"}
        text = json.dumps([r.changes for r in rows] + [r.snapshot for r in rows])
        assert SECRET not in text and TOKEN not in text


def test_deleting_a_webhook_deletes_its_delivery_log(demo, client):
    make_hook(demo, "call.started", "https://x.example.com/", "gone")
    make_hook(demo, "call.started", "https://x.example.com/", "kept")
    parse(voice(client))
    run(demo)  # refused (no DNS for x.example.com here, or a public address): logged
    assert len(deliveries(demo)) == 2
    with demo.app_context():
        webhook_records.delete_webhook(db.session.scalar(select(Webhook).where(
            Webhook.ref == "gone")))
        assert db.session.scalar(select(func.count()).select_from(DeliveryTry)) == 1
    assert [d["webhook_id"] for d in deliveries(demo)] == [hook_named(demo, "kept").id]


def test_deleting_the_filtered_record_deletes_the_webhook_with_its_history(demo):
    save(demo, RECORD)
    make_hook(demo, "call.started", "https://x.example.com/", "unfiltered")
    with demo.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.ref == "auto"))
        for number in list(campaign.numbers):
            write.delete_number(number)
        write.delete_campaign(campaign)
        db.session.commit()
        assert db.session.scalars(select(Webhook.ref)).all() == ["unfiltered"]
        gone = db.session.scalar(select(ChangeRecord).where(
            ChangeRecord.record_type == "webhook", ChangeRecord.action == "delete"))
        assert gone.record_ref == "crm"


def test_export_without_and_with_secrets_and_import_round_trip(demo, runner, tmp_path):
    save(demo, RECORD)
    plain, secret = tmp_path / "plain.json", tmp_path / "secret.json"
    assert runner.invoke(args=["export", str(plain)]).exit_code == 0
    assert runner.invoke(args=["export", "--with-secrets", str(secret)]).exit_code == 0
    [hook] = json.loads(plain.read_text())["webhooks"]
    assert hook["signing_secret"] == "" and hook["headers"][0] == {
        "name": "Authorization", "value": "", "secret": True}
    assert TOKEN not in plain.read_text() and SECRET not in plain.read_text()
    assert json.loads(secret.read_text())["webhooks"][0]["headers"][0]["value"] == TOKEN
    result = runner.invoke(args=["import", str(plain)])  # empty secrets keep the stored ones
    assert result.exit_code == 0 and "webhooks: 0 created, 0 updated, 1 unchanged" in \
        result.output, result.output
    assert stored(demo)["signing_secret"] == SECRET
    with demo.app_context():
        db.session.execute(Webhook.__table__.delete())
        db.session.commit()
    result = runner.invoke(args=["import", str(secret)])
    assert result.exit_code == 0 and "webhooks: 1 created" in result.output
    assert stored(demo) == {**json.loads(secret.read_text())["webhooks"][0],
                            "id": stored(demo)["id"]}


def test_import_checks_webhooks_with_the_rest_and_writes_nothing_on_error(demo, runner,
                                                                            tmp_path):
    doc = {"publishers": [{"ref": "newpub", "name": "New", "afid": "9999"}],
           "webhooks": [{**RECORD, "ref": "new", "filters": {"publisher": "newpub"},
                         "headers": [], "signing_secret": ""},
                        {**RECORD, "ref": "bad", "filters": {"buyer": "ghost"},
                         "headers": [{"name": "X-K", "value": "", "secret": True}],
                         "url": "ftp://x/", "nmae": "typo"}]}
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 1
    for where in ("webhooks[1].filters.buyer", "webhooks[1].headers[0].value",
                  "webhooks[1].url", "webhooks[1].nmae"):
        assert where in result.output, result.output
    with demo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Webhook)) == 0
    doc["webhooks"].pop()
    path.write_text(json.dumps(doc))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert stored(demo, "new")["filters"]["publisher"] == "newpub"


def test_cli_list_and_test_with_a_call(demo, runner, client, rx):
    make_hook(demo, "call.started", rx.url("/c/[call_uuid]") + "?k=[call_key]", "crm",
              include_key=True,
              headers=[{"name": "Authorization", "value": TOKEN, "secret": True}])
    pause_all_but(demo, "queue")
    parse(voice(client))
    call = the_call(demo)
    listed = runner.invoke(args=["webhooks", "list"])
    assert listed.exit_code == 0 and "crm  call.started  enabled" in listed.output
    assert "1 pending" in listed.output
    result = runner.invoke(args=["webhooks", "test", "crm", "--call", call.uuid])
    assert result.exit_code == 0, result.output
    assert f"> POST http://127.0.0.1:{rx.port}/c/{call.uuid}?k=[secret]" in result.output
    assert "> Authorization: [secret]" in result.output and "< HTTP 200" in result.output
    assert TOKEN not in result.output and call.key not in result.output
    [seen] = rx.wait_for(1)
    assert dict(seen.query) == {"k": call.key} and seen.headers["x-sipflask-test"] == "true"
    rx.answer(Reply(500, body=b"down"))
    failed = runner.invoke(args=["webhooks", "test", "crm"])
    assert failed.exit_code == 1 and "< HTTP 500" in failed.output
    unknown = runner.invoke(args=["webhooks", "test", "nope"])
    assert unknown.exit_code != 0 and "No webhook with ref 'nope'" in unknown.output
    nocall = runner.invoke(args=["webhooks", "test", "crm", "--call", "0" * 8])
    assert nocall.exit_code != 0 and "No call" in nocall.output


def test_worker_once_delivers_everything_due(demo, runner, client, rx):
    make_hook(demo, "call.started", rx.url("/w"))
    make_hook(demo, "call.routed", rx.url("/w"))
    pause_all_but(demo, "queue")
    parse(voice(client))
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert {d["state"] for d in deliveries(demo)} == {"delivered"}
    assert len(rx.requests) == 2
    assert hook_named(demo, "call-started").enabled
