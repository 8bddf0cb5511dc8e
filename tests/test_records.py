"""One writer for checked records: a buyer saved through the editor and the same buyer
imported with ``flask import`` into a database without buyers are stored alike (credentials and headers included)."""
import json

from sqlalchemy import delete, func, select

from sipflask.extensions import db
from sipflask.models import Buyer, BuyerHeader

PASSWORD = "S3cret-sip-Pass"
BUYERS = [
    {"ref": "queue", "name": "Agent queue", "number": "sip:agentqueue@example.com",
     "sip_username": "acme-user", "sip_password": PASSWORD,
     "sip_headers": [{"name": "X-Campaign-ID", "value": "[campaign_id]"},
                     {"name": "X-Source", "value": "tracking line"}],
     "priority": 2, "weight": 3, "timeout": 45, "concurrency_cap": 4, "daily_cap": 100,
     "paused": True},
    {"ref": "backup", "name": "Backup", "number": "+1 (415) 555-2671",
     "sip_username": "", "sip_password": "", "sip_headers": [],
     "priority": 1, "weight": 1, "timeout": 30, "concurrency_cap": None, "daily_cap": None,
     "paused": False},
]


def editor_post(rec):
    """The editor form as a browser posts it for a new buyer holding ``rec``."""
    data = {"name": rec["name"], "ref": rec["ref"], "number": rec["number"],
            "sip_username": rec["sip_username"], "sip_password": rec["sip_password"],
            "password_action": "keep", "action": "save",
            **{key: "" if rec[key] is None else str(rec[key])
               for key in ("priority", "weight", "timeout", "concurrency_cap", "daily_cap")}}
    if rec["paused"]:
        data["paused"] = "y"
    for i, header in enumerate(rec["sip_headers"]):
        data[f"headers-{i}-name"], data[f"headers-{i}-value"] = header["name"], header["value"]
    return data


def exported_buyers(runner):
    result = runner.invoke(args=["export", "--with-secrets"])
    assert result.exit_code == 0, result.output
    return [{k: v for k, v in b.items() if k != "id"} for b in json.loads(result.output)["buyers"]]


def forget_buyers(app):
    """Back to a database without buyers (the users stay, so nothing else differs)."""
    with app.app_context():
        db.session.execute(delete(BuyerHeader))
        db.session.execute(delete(Buyer))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Buyer)) == 0


def test_editor_and_import_store_the_same_buyer(app, admin_client, runner, tmp_path):
    for rec in BUYERS:
        response = admin_client.post("/buyers/new", data=editor_post(rec))
        assert response.status_code == 302, response.text
    through_editor = exported_buyers(runner)

    forget_buyers(app)
    path = tmp_path / "setup.json"
    path.write_text(json.dumps({"buyers": BUYERS}))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    through_import = exported_buyers(runner)

    assert through_editor == through_import
    queue = through_import[0]
    assert (queue["sip_username"], queue["sip_password"]) == ("acme-user", PASSWORD)
    assert queue["sip_headers"] == BUYERS[0]["sip_headers"]
    assert through_import[1]["number"] == "+14155552671"
