"""``/postback``: buyers report conversions with the call's key and uuid (docs/postbacks.md)."""
import hmac
import json
from decimal import Decimal

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from sipflask.calllog import postbacks
from sipflask.extensions import db
from sipflask.models import Call, Postback
from tests.support.webhook import AUTO, parse, pause_all_but, voice

OTHER_UUID = "3f8541e8-c2ee-4d47-9ae3-3236932c9379"


@pytest.fixture
def call(client, demo):
    """A real call through the webhook, ringing the demo queue: (uuid, key)."""
    pause_all_but(demo, "queue")
    parse(voice(client, to=AUTO))
    with demo.app_context():
        c = db.session.scalar(select(Call))
        return c.uuid, c.key


def state(app):
    with app.app_context():
        c = db.session.scalar(select(Call))
        rows = db.session.scalars(select(Postback).order_by(Postback.id)).all()
        return {"converted": c.converted, "revenue": c.revenue, "tags": dict(c.tags),
                "sources": dict(c.tag_sources),
                "postbacks": [(p.method, p.revenue, dict(p.tags), dict(p.params)) for p in rows]}


def count_postbacks(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Postback))


# --- success ------------------------------------------------------------------------------------

def test_post_form_marks_converted_sets_revenue_and_tags(client, demo, call):
    uuid, key = call
    response = client.post("/postback", data={"key": key, "uuid": uuid, "revenue": "12.50",
                                              "sale_id": "A-123", "plan": "gold"})
    assert response.status_code == 200, response.json
    assert response.json == {"ok": True, "uuid": uuid, "duplicate": False, "converted": True,
                             "revenue": "12.50", "tags": {"sale_id": "A-123", "plan": "gold"}}
    assert response.headers["Cache-Control"] == "no-store"
    s = state(demo)
    assert s["converted"] is True and s["revenue"] == Decimal("12.50")
    assert s["tags"]["sale_id"] == "A-123" and s["sources"]["sale_id"] == "postback"
    assert s["tags"]["lead_score"] == "72" and s["sources"]["lead_score"] == "number"
    [(method, revenue, tags, params)] = s["postbacks"]
    assert method == "POST" and revenue == Decimal("12.50")
    assert tags == {"sale_id": "A-123", "plan": "gold"}
    assert params == {"uuid": uuid, "revenue": "12.50", "sale_id": "A-123", "plan": "gold"}


def test_get_query_parameters(client, demo, call):
    uuid, key = call
    response = client.get(f"/postback?key={key}&uuid={uuid}&revenue=7&source=web")
    assert response.status_code == 200 and response.json["revenue"] == "7.00"
    s = state(demo)
    assert s["postbacks"][0][0] == "GET" and s["tags"]["source"] == "web"


def test_post_json_with_number_revenue(client, demo, call):
    uuid, key = call
    response = client.post("/postback", json={"key": key, "uuid": uuid, "revenue": 19.9,
                                              "policy_no": 44021})
    assert response.status_code == 200, response.json
    s = state(demo)
    assert s["revenue"] == Decimal("19.90") and s["tags"]["policy_no"] == "44021"


def test_post_with_key_in_query_and_tags_in_body(client, demo, call):
    uuid, key = call
    response = client.post(f"/postback?key={key}&uuid={uuid}", data={"status": "sold"})
    assert response.status_code == 200
    assert state(demo)["tags"]["status"] == "sold"


def test_no_revenue_only_marks_converted(client, demo, call):
    uuid, key = call
    assert client.post("/postback", data={"key": key, "uuid": uuid}).status_code == 200
    s = state(demo)
    assert s["converted"] is True and s["revenue"] is None


def test_uppercase_uuid_is_accepted(client, demo, call):
    uuid, key = call
    assert client.get("/postback", query_string={"key": key, "uuid": uuid.upper()}
                      ).status_code == 200


def test_needs_no_login_and_no_csrf_token(tmp_path, backend):
    from tests.support.app import make_app
    app = make_app(tmp_path, backend, WTF_CSRF_ENABLED=True)
    try:
        with app.app_context():
            assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
        client = app.test_client()
        pause_all_but(app, "queue")
        parse(voice(client))
        with app.app_context():
            c = db.session.scalar(select(Call))
            uuid, key = c.uuid, c.key
        # CSRF is on for the rest of the app...
        assert client.post("/login", data={"email": "x@y.z", "password": "p"}).status_code == 400
        # ...but not for postbacks.
        response = client.post("/postback", data={"key": key, "uuid": uuid, "revenue": "3"})
        assert response.status_code == 200, response.get_data(as_text=True)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- idempotency --------------------------------------------------------------------------------

def test_identical_postback_is_recorded_once(client, demo, call):
    uuid, key = call
    data = {"key": key, "uuid": uuid, "revenue": "12.5", "sale_id": "A1"}
    first = client.post("/postback", data=data)
    again = client.post("/postback", data=data)
    # Same content by GET, in another order, revenue written differently: still the same.
    by_get = client.get(f"/postback?sale_id=A1&revenue=12.50&uuid={uuid}&key={key}")
    as_json = client.post("/postback", json={"uuid": uuid, "key": key, "revenue": 12.5,
                                             "sale_id": "A1"})
    assert first.json["duplicate"] is False
    assert [r.json["duplicate"] for r in (again, by_get, as_json)] == [True, True, True]
    assert all(r.status_code == 200 for r in (again, by_get, as_json))
    assert count_postbacks(demo) == 1


def test_a_different_postback_is_recorded_and_updates_the_call(client, demo, call):
    uuid, key = call
    client.post("/postback", data={"key": key, "uuid": uuid, "revenue": "10"})
    client.post("/postback", data={"key": key, "uuid": uuid, "revenue": "25", "stage": "sold"})
    client.post("/postback", data={"key": key, "uuid": uuid, "revenue": "10"})  # a repeat
    s = state(demo)
    assert len(s["postbacks"]) == 2
    assert s["revenue"] == Decimal("25.00") and s["tags"]["stage"] == "sold"


def test_digest_ignores_order_method_and_revenue_format():
    a = postbacks.parse([("uuid", OTHER_UUID), ("key", "k"), ("revenue", "5"), ("b", "2"),
                         ("a", "1")])
    b = postbacks.parse([("a", "1"), ("b", "2"), ("revenue", "5.00"), ("key", "other"),
                         ("uuid", OTHER_UUID.upper())])
    c = postbacks.parse([("uuid", OTHER_UUID), ("key", "k"), ("revenue", "5"), ("a", "1")])
    assert a.digest == b.digest != c.digest


# --- refusals -----------------------------------------------------------------------------------

def test_wrong_key_and_unknown_uuid_look_the_same(client, demo, call, monkeypatch):
    uuid, key = call
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(postbacks.hmac, "compare_digest", spy)
    answers = [
        client.post("/postback", data={"key": "0" * 64, "uuid": uuid, "revenue": "5"}),
        client.post("/postback", data={"key": key[:-1] + "x", "uuid": uuid}),
        client.post("/postback", data={"key": key, "uuid": OTHER_UUID}),
        client.post("/postback", data={"key": key, "uuid": "not-a-uuid\x00"}),
        client.get(f"/postback?key={key}&uuid={OTHER_UUID}"),
        client.post("/postback", json={"key": key, "uuid": OTHER_UUID}),
    ]
    assert {r.status_code for r in answers} == {403}
    assert {r.get_data(as_text=True) for r in answers} == {answers[0].get_data(as_text=True)}
    assert answers[0].json == {"ok": False, "error": "forbidden"}
    # Every refusal went through one lookup and one constant-time comparison.
    assert len(compared) == len(answers)
    s = state(demo)
    assert s["converted"] is False and s["revenue"] is None and s["postbacks"] == []


def test_parameter_errors_do_not_reveal_whether_a_call_exists(client, demo, call):
    """Parameters are checked before the key (no database work for junk): the 400 is about the
    request only, word for word the same for a real call and an unknown one."""
    uuid, _ = call
    known = client.post("/postback", data={"key": "x", "uuid": uuid, "revenue": "abc"})
    unknown = client.post("/postback", data={"key": "x", "uuid": OTHER_UUID, "revenue": "abc"})
    assert known.status_code == unknown.status_code == 400
    assert known.get_data() == unknown.get_data()


@pytest.mark.parametrize("revenue", ["abc", "12,50", "-5", "1e3", "12.345", "$12", "NaN",
                                     "Infinity", "12345678901", " . ", "0x10"])
def test_bad_revenue_is_400_and_changes_nothing(client, demo, call, revenue):
    uuid, key = call
    response = client.post("/postback", data={"key": key, "uuid": uuid, "revenue": revenue,
                                              "sale_id": "A1"})
    assert response.status_code == 400
    assert "revenue" in response.json["error"] and response.json["ok"] is False
    s = state(demo)
    assert s["converted"] is False and "sale_id" not in s["tags"] and s["postbacks"] == []


def test_bad_json_revenue_is_400(client, demo, call):
    uuid, key = call
    for value in (True, [1], {"a": 1}, -1, 1e20):
        response = client.post("/postback", json={"key": key, "uuid": uuid, "revenue": value})
        assert response.status_code == 400, value
        assert "revenue" in response.json["error"]
    assert state(demo)["converted"] is False


@pytest.mark.parametrize("name", ["Lead-Score", "LeadScore", "lead score", "x" * 65, "é", "a.b",
                                  "csrf-token"])
def test_bad_tag_name_is_400_naming_the_parameter(client, demo, call, name):
    uuid, key = call
    response = client.post("/postback", data={"key": key, "uuid": uuid, name: "1"})
    assert response.status_code == 400
    assert repr(name[:64]) in response.json["error"] and "tag name" in response.json["error"]
    assert state(demo)["postbacks"] == []


def test_bad_tag_value_is_400(client, demo, call):
    uuid, key = call
    for value in ("a\x00b", "line\nbreak", "x" * 501):
        response = client.post("/postback", data={"key": key, "uuid": uuid, "note": value})
        assert response.status_code == 400 and "'note'" in response.json["error"]
    assert state(demo)["postbacks"] == []


def test_missing_key_or_uuid_is_400(client, demo, call):
    uuid, key = call
    for data in ({"uuid": uuid}, {"key": key}, {}, {"key": "", "uuid": uuid}):
        response = client.post("/postback", data=data)
        assert response.status_code == 400 and "required" in response.json["error"]


def test_malformed_requests_are_400(client, demo, call):
    uuid, key = call
    not_object = client.post("/postback", json=[key, uuid])
    assert not_object.status_code == 400 and "object" in not_object.json["error"]
    broken = client.post("/postback", data="{not json", content_type="application/json")
    assert broken.status_code == 400
    twice = client.post(f"/postback?key={key}&uuid={uuid}&plan=a", data={"plan": "b"})
    assert twice.status_code == 400 and "twice" in twice.json["error"]
    nested = client.post("/postback", json={"key": key, "uuid": uuid, "extra": {"a": 1}})
    assert nested.status_code == 400 and "'extra'" in nested.json["error"]
    many = client.post("/postback", data={"key": key, "uuid": uuid,
                                          **{f"t{i}": "1" for i in range(60)}})
    assert many.status_code == 400 and "50" in many.json["error"]
    assert state(demo)["postbacks"] == []


def test_head_changes_nothing(client, demo, call):
    uuid, key = call
    response = client.head(f"/postback?key={key}&uuid={uuid}")
    assert response.status_code == 405
    assert state(demo)["converted"] is False


# --- secrets and display -----------------------------------------------------------------------

def test_the_key_is_never_stored_with_the_postback(client, demo, call):
    uuid, key = call
    client.post("/postback", data={"key": key, "uuid": uuid, "revenue": "1", "a": "b"})
    with demo.app_context():
        row = db.session.scalar(select(Postback))
        stored = json.dumps({"params": row.params, "tags": row.tags, "digest": row.digest})
    assert key not in stored and "key" not in row.params


def test_postbacks_show_on_the_call_page(admin_client, demo, call):
    uuid, key = call
    admin_client.post("/postback", data={"key": key, "uuid": uuid, "revenue": "12.5",
                                         "sale_id": "A1"})
    admin_client.get(f"/postback?key={key}&uuid={uuid}&stage=sold")
    for headers in ({}, {"HX-Request": "true"}):
        body = admin_client.get(f"/calls/{uuid}", headers=headers).get_data(as_text=True)
        part = body[body.index("<h2>Postbacks</h2>"):]
        assert "<td>POST</td>" in part and "<td>GET</td>" in part
        assert "12.50" in part and "<code>sale_id=A1</code>" in part
        assert "<code>stage=sold</code>" in part
        assert "converted, revenue 12.50" in body
        assert "<code>sale_id</code></td><td>A1</td><td>buyer postback</td>" in body


def test_postback_url_and_macro_for_the_buyer_page(app, demo):
    with app.test_request_context("/buyers/"):
        html = render_template_string(
            '{% from "postbacks/macros.html" import postback_box %}{{ postback_box() }}')
        assert "https://sipflask.test/postback" in html
        assert "X-PH-RetreaverKey" in html and "X-PH-RetreaverUUID" in html
        assert render_template_string("{{ postback_url() }}") == "https://sipflask.test/postback"


def test_lone_surrogates_are_refused(client, demo):
    from tests.support.webhook import pause_all_but, voice
    pause_all_but(demo, "queue")
    voice(client)
    with demo.app_context():
        call = db.session.scalar(select(Call))
        key, uuid = call.key, call.uuid
    body = '{"key": "%s", "uuid": "%s", "t": "\\ud800"}' % (key, uuid)
    response = client.post("/postback", data=body, content_type="application/json")
    assert response.status_code == 400 and b"not valid Unicode" in response.data
    with demo.app_context():
        assert db.session.scalar(select(Call)).tags.get("t") is None
