"""``flask demo``, ``flask export`` and ``flask import``: the setup as JSON."""
import copy
import json

import pytest
from sqlalchemy import select, text

from sipflask.extensions import db
from sipflask.models import Buyer, Campaign, Number, Publisher

SAMPLE = {
    "publishers": [{"ref": "acme", "name": "Acme Media", "afid": "5678"}],
    "campaigns": [{"ref": "auto", "name": "Auto Insurance", "buyers": ["queue", "backup"]}],
    "numbers": [{"number": "+18882223333", "campaign": "auto", "publisher": "acme",
                 "sub_id": "fb-12", "tags": {"vertical": "auto"}}],
    "buyers": [
        {"ref": "queue", "name": "Agent queue", "number": "sip:agentqueue@example.com",
         "sip_username": "", "sip_password": "",
         "sip_headers": [{"name": "X-Campaign-ID", "value": "[campaign_id]"}],
         "priority": 1, "weight": 1, "timeout": 30, "concurrency_cap": None, "daily_cap": None,
         "paused": False},
        {"ref": "backup", "name": "Backup", "number": "+1 (415) 555-2671",
         "sip_username": "", "sip_password": "", "sip_headers": [],
         "priority": 2, "weight": 1, "timeout": 30, "concurrency_cap": None, "daily_cap": None,
         "paused": False},
    ],
}


def write(tmp_path, doc, name="setup.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def dump_tables(app):
    """Every row of every table, for byte-for-byte comparisons."""
    with app.app_context():
        out = {}
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(text(f"SELECT * FROM {table.name}")).all()
            out[table.name] = sorted(repr(tuple(r)) for r in rows)
        return out


def test_import_creates_everything(runner, app, tmp_path):
    result = runner.invoke(args=["import", write(tmp_path, SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "buyers: 2 created" in result.output
    with app.app_context():
        camp = db.session.scalar(select(Campaign))
        assert [b.ref for b in camp.buyers] == ["queue", "backup"]
        backup = db.session.scalar(select(Buyer).where(Buyer.ref == "backup"))
        assert backup.number == "+14155552671"  # normalised to E.164
        number = db.session.scalar(select(Number))
        assert number.publisher.afid == "5678" and number.tags == {"vertical": "auto"}


def test_import_is_idempotent(runner, app, tmp_path):
    path = write(tmp_path, SAMPLE)
    assert runner.invoke(args=["import", path]).exit_code == 0
    before = dump_tables(app)
    result = runner.invoke(args=["import", path])
    assert result.exit_code == 0
    assert "publishers: 0 created, 0 updated, 1 unchanged" in result.output
    assert "buyers: 0 created, 0 updated, 2 unchanged" in result.output
    assert dump_tables(app) == before


def test_import_updates_by_ref(runner, app, tmp_path):
    runner.invoke(args=["import", write(tmp_path, SAMPLE)])
    doc = copy.deepcopy(SAMPLE)
    doc["buyers"][0]["sip_headers"].append({"name": "X-Extra", "value": "[sub_id]"})
    doc["campaigns"][0]["buyers"] = ["backup", "queue"]
    result = runner.invoke(args=["import", write(tmp_path, doc, "v2.json")])
    assert result.exit_code == 0, result.output
    assert "buyers: 0 created, 1 updated, 1 unchanged" in result.output
    with app.app_context():
        camp = db.session.scalar(select(Campaign))
        assert [b.ref for b in camp.buyers] == ["backup", "queue"]
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        assert [(h.name, h.value) for h in queue.headers] == [
            ("X-Campaign-ID", "[campaign_id]"), ("X-Extra", "[sub_id]")]


BAD_CASES = [
    (lambda d: d["buyers"][1].update(number="not a number"), "buyers[1].number"),
    (lambda d: d["buyers"][0]["sip_headers"].append({"name": "Bad Name", "value": "x"}),
     "buyers[0].sip_headers[1].name"),
    (lambda d: d["buyers"][0]["sip_headers"].append({"name": "x-campaign-id", "value": "y"}),
     "buyers[0].sip_headers[1].name"),
    (lambda d: d["buyers"][0].update(number="sip:@example.com"), "buyers[0].number"),
    (lambda d: d["buyers"][0].update(number="sip:q@example.com?X-A=1"), "buyers[0].number"),
    (lambda d: d["buyers"][0].update(number="sip:" + "q" * 260 + "@example.com"), "buyers[0].number"),
    (lambda d: d["buyers"][0]["sip_headers"].append({"name": "X-Big", "value": "v" * 999}),
     "buyers[0].sip_headers"),
    (lambda d: d["buyers"][0].update(timeout=0), "buyers[0].timeout"),
    (lambda d: d["buyers"][0].update(priority="high"), "buyers[0].priority"),
    # int() would read these as 10 and 3: only plain ASCII digits are numbers here.
    (lambda d: d["buyers"][0].update(priority="1_0"), "buyers[0].priority"),
    (lambda d: d["buyers"][0].update(weight="\u0663"), "buyers[0].weight"),
    (lambda d: d["numbers"][0].update(number="+1555"), "numbers[0].number"),
    (lambda d: d["numbers"][0].update(campaign="nope"), "numbers[0].campaign"),
    (lambda d: d["numbers"][0].update(tags={"Bad Key": "x"}), "numbers[0].tags"),
    (lambda d: d["campaigns"][0]["buyers"].append("ghost"), "campaigns[0].buyers[2]"),
    (lambda d: d["publishers"].append({"ref": "acme2", "name": "Dup", "afid": "5678"}),
     "publishers[1].afid"),
    (lambda d: d["publishers"][0].update(ref="Not A Ref"), "publishers[0].ref"),
]


@pytest.mark.parametrize("mutate,path", BAD_CASES, ids=[p for _, p in BAD_CASES])
def test_bad_record_writes_nothing_and_names_its_path(runner, app, tmp_path, mutate, path):
    runner.invoke(args=["demo"])
    before = dump_tables(app)
    doc = copy.deepcopy(SAMPLE)
    mutate(doc)
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 1
    assert "Nothing was imported" in result.output
    assert f"  {path}" in result.output, result.output
    assert dump_tables(app) == before


def test_every_error_is_listed(runner, app, tmp_path):
    doc = copy.deepcopy(SAMPLE)
    doc["buyers"][0]["sip_headers"] = [{"name": "Bad", "value": "x"}, {"name": "X-Ok", "value": "["}]
    doc["numbers"][0]["number"] = "12"
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 1
    assert "buyers[0].sip_headers[0].name:" in result.output
    assert "buyers[0].sip_headers[1].value:" in result.output
    assert "numbers[0].number:" in result.output
    with app.app_context():
        assert db.session.scalar(select(Publisher)) is None


def test_not_json_and_wrong_shape(runner, tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{nope")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0 and "not valid JSON" in result.output
    result = runner.invoke(args=["import", write(tmp_path, [1, 2])])
    assert result.exit_code == 1 and "must hold a JSON object" in result.output
    result = runner.invoke(args=["import", write(tmp_path, {"buyer": []})])
    assert result.exit_code == 1 and "Unknown section 'buyer'" in result.output


def test_export_shape_and_no_secrets(runner, demo, tmp_path):
    out = tmp_path / "out.json"
    result = runner.invoke(args=["export", str(out)])
    assert result.exit_code == 0
    doc = json.loads(out.read_text())
    assert set(doc) == {"publishers", "campaigns", "numbers", "buyers", "webhooks", "inbound"}
    assert doc["webhooks"] == []
    assert doc["inbound"] == {"enabled": False, "name": "", "ip_whitelist": []}
    secure = next(b for b in doc["buyers"] if b["ref"] == "secure")
    assert secure["sip_password"] == "" and secure["sip_username"] == "sipflask-acme"
    assert "Demo-Password-2026" not in out.read_text()
    assert set(secure) == {"id", "ref", "name", "number", "sip_username", "sip_password",
                           "sip_headers", "priority", "weight", "timeout", "concurrency_cap",
                           "daily_cap", "paused", "hourly_cap", "monthly_cap", "total_cap",
                           "cap_counts", "time_zone", "hours", "closures", "health"}
    assert secure["health"] == {"check": "off", "accepted_codes": [], "down_after": 3,
                                "up_after": 2}
    assert all("id" in rec for key, section in doc.items() if key != "inbound" for rec in section)
    with_secrets = runner.invoke(args=["export", "--with-secrets"]).output
    assert "Demo-Password-2026" in with_secrets


def test_export_import_round_trip(runner, demo, tmp_path, app):
    out = tmp_path / "out.json"
    runner.invoke(args=["export", str(out), "--with-secrets"])
    before = dump_tables(app)
    # Into the same database: nothing changes.
    result = runner.invoke(args=["import", str(out)])
    assert result.exit_code == 0 and " updated" in result.output
    assert "0 updated" in result.output and dump_tables(app) == before
    # An export without secrets imported back keeps the stored passwords.
    plain = tmp_path / "plain.json"
    runner.invoke(args=["export", str(plain)])
    assert runner.invoke(args=["import", str(plain)]).exit_code == 0
    with app.app_context():
        secure = db.session.scalar(select(Buyer).where(Buyer.ref == "secure"))
        assert secure.sip_password == "Demo-Password-2026"


def test_round_trip_into_an_empty_database(runner, demo, tmp_path):
    from tests.support.app import make_app
    out = tmp_path / "out.json"
    runner.invoke(args=["export", str(out), "--with-secrets"])
    (tmp_path / "fresh").mkdir()
    fresh = make_app(tmp_path / "fresh", "sqlite")
    result = fresh.test_cli_runner().invoke(args=["import", str(out)])
    assert result.exit_code == 0, result.output
    again = tmp_path / "again.json"
    fresh.test_cli_runner().invoke(args=["export", str(again), "--with-secrets"])
    strip = lambda d: {k: [{f: v for f, v in r.items() if f != "id"} for r in recs]  # noqa: E731
                       for k, recs in d.items() if k != "inbound"}
    assert strip(json.loads(again.read_text())) == strip(json.loads(out.read_text()))
    assert json.loads(again.read_text())["inbound"] == json.loads(out.read_text())["inbound"]


def test_demo_is_idempotent_and_realistic(runner, app):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    before = dump_tables(app)
    second = runner.invoke(args=["demo"])
    assert "0 created, 0 updated" in second.output
    assert dump_tables(app) == before
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Campaign)) == 2
        assert db.session.scalar(select(db.func.count()).select_from(Publisher)) == 3
        assert db.session.scalar(select(db.func.count()).select_from(Number)) == 4
        buyers = db.session.scalars(select(Buyer)).all()
        assert len(buyers) == 6  # two of them on schedules (tests/test_setup_json_schedules.py)
        sip_with_headers = [b for b in buyers if b.is_sip and b.headers and not b.sip_username]
        assert len(sip_with_headers) == 2
        assert any("[" in h.value for b in sip_with_headers for h in b.headers)
        assert [b.ref for b in buyers if b.sip_username and b.has_sip_password] == ["secure"]
        assert [b.ref for b in buyers if not b.is_sip] == ["phone"]
        secure = next(b for b in buyers if b.ref == "secure")
        # Encrypted at rest: the stored column is not the password.
        assert "Demo-Password" not in secure.sip_password_encrypted


def test_inbound_settings_round_trip_without_credentials(runner, app, tmp_path):
    doc = {**copy.deepcopy(SAMPLE), "inbound": {"enabled": True, "name": "acme",
                                                 "ip_whitelist": ["203.0.113.0/24", "198.51.100.7"]}}
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 0, result.output
    assert "inbound: created" in result.output and "inbound sync" in result.output
    again = runner.invoke(args=["import", write(tmp_path, doc)])
    assert "inbound: unchanged" in again.output
    out = json.loads(runner.invoke(args=["export", "--with-secrets"]).output)
    assert out["inbound"]["enabled"] is True and out["inbound"]["name"] == "acme"
    assert sorted(out["inbound"]["ip_whitelist"]) == ["198.51.100.7", "203.0.113.0/24"]
    assert "credentials" not in out["inbound"]


def test_bad_inbound_section_writes_nothing(runner, app, tmp_path):
    before = dump_tables(app)
    doc = {**copy.deepcopy(SAMPLE), "inbound": {"enabled": True, "name": "acme",
                                                 "ip_whitelist": ["300.1.1.1"]}}
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 1
    assert "  inbound.ip_whitelist[0]" in result.output
    assert dump_tables(app) == before


def test_demo_again_keeps_the_users_edits_and_says_what_it_kept(runner, app):
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        queue.name, queue.daily_cap = "My own queue", 7
        db.session.delete(db.session.scalar(select(Buyer).where(Buyer.ref == "phone")))
        db.session.commit()
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert "buyers: 1 created, 0 updated" in again.output
    assert ("kept 5 existing buyers as they are: queue, overflow, secure, ny-floor, la-night"
            in again.output)
    assert "kept 4 existing numbers" in again.output
    with app.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        assert (queue.name, queue.daily_cap) == ("My own queue", 7)
        assert db.session.scalar(select(Buyer).where(Buyer.ref == "phone")) is not None


@pytest.mark.parametrize("section, index, key, expected", [
    ("buyers", 0, "dialy_cap", "Unknown key 'dialy_cap'; did you mean daily_cap?"),
    ("publishers", 0, "afd", "Unknown key 'afd'; did you mean afid?"),
    ("campaigns", 0, "buyer", "Unknown key 'buyer'; did you mean buyers?"),
    ("numbers", 0, "zzz", "Unknown key 'zzz'; expected id, number, campaign"),
])
def test_unknown_keys_are_errors_with_their_path(runner, app, tmp_path, section, index, key,
                                                 expected):
    before = dump_tables(app)
    doc = copy.deepcopy(SAMPLE)
    doc[section][index][key] = 3
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 1
    assert f"  {section}[{index}].{key}: {expected}" in result.output
    assert dump_tables(app) == before


def test_unknown_keys_in_nested_objects(runner, app, tmp_path):
    before = dump_tables(app)
    doc = copy.deepcopy(SAMPLE)
    doc["buyers"][0]["sip_headers"][0]["valeu"] = "x"
    doc["inbound"] = {"enabled": False, "name": "", "ip_whitelist": [], "nmae": "acme"}
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 1
    assert ("  buyers[0].sip_headers[0].valeu: Unknown key 'valeu'; did you mean value?"
            in result.output)
    assert "  inbound.nmae: Unknown key 'nmae'" in result.output
    assert dump_tables(app) == before


def test_username_without_any_password_is_an_error(runner, app, tmp_path):
    before = dump_tables(app)
    doc = copy.deepcopy(SAMPLE)
    doc["buyers"][0]["sip_username"] = "acme"
    result = runner.invoke(args=["import", write(tmp_path, doc)])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "buyers[0].sip_password" in x)
    assert "--with-secrets" in line and "401/403" in line
    assert dump_tables(app) == before
    # With the password in the file it imports; the same file without it then keeps the stored one.
    doc["buyers"][0]["sip_password"] = "s3cret"
    assert runner.invoke(args=["import", write(tmp_path, doc)]).exit_code == 0
    doc["buyers"][0]["sip_password"] = ""
    again = runner.invoke(args=["import", write(tmp_path, doc)])
    assert again.exit_code == 0, again.output
    with app.app_context():
        queue = db.session.scalar(select(Buyer).where(Buyer.ref == "queue"))
        assert queue.sip_password == "s3cret"


def test_export_without_secrets_into_a_fresh_install_is_refused(runner, app, tmp_path):
    doc = copy.deepcopy(SAMPLE)
    doc["buyers"].append({**doc["buyers"][1], "ref": "secure", "number": "sip:1@pbx.example",
                          "sip_username": "acme", "sip_password": "s3cret"})
    assert runner.invoke(args=["import", write(tmp_path, doc)]).exit_code == 0
    exported = json.loads(runner.invoke(args=["export"]).output)
    assert exported["buyers"][2]["sip_password"] == ""
    with app.app_context():  # as if the file went to a fresh install
        db.session.delete(db.session.scalar(select(Buyer).where(Buyer.ref == "secure")))
        db.session.commit()
    result = runner.invoke(args=["import", write(tmp_path, exported)])
    assert result.exit_code == 1
    assert "buyers[2].sip_password" in result.output and "--with-secrets" in result.output
