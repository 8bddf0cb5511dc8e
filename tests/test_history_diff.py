"""The pure part of the change history: what changed between two versions, field by field."""
from sipflask.core import history_diff as hd


def test_action_for():
    assert hd.action_for(None, {"a": 1}) == "create"
    assert hd.action_for({"a": 1}, {"a": 2}) == "update"
    assert hd.action_for({"a": 1}, None) == "delete"
    assert hd.action_for(None, None) is None


def test_diff_lists_changed_fields_in_order_and_secrets_by_name_only():
    before = {"name": "A", "priority": 1, "headers": [{"name": "X-A", "value": "1"}]}
    after = {"name": "B", "priority": 1, "headers": [{"name": "X-A", "value": "2"}], "new": 3}
    out = hd.diff(before, after, ["sip_password"])
    assert [c["field"] for c in out] == ["name", "headers", "new", "sip_password"]
    assert out[0] == {"field": "name", "before": "A", "after": "B"}
    assert out[2] == {"field": "new", "before": None, "after": 3}
    assert out[3] == {"field": "sip_password", "secret": True, "change": "changed"}


def test_create_and_delete_read_the_missing_side_as_none():
    assert hd.diff(None, {"a": 1}) == [{"field": "a", "before": None, "after": 1}]
    assert hd.diff({"a": 1}, None) == [{"field": "a", "before": 1, "after": None}]
    assert hd.diff({"a": 1}, {"a": 1}) == []


def test_summary_and_show():
    changes = hd.diff({"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}, {"a": 2, "b": 2, "c": 2, "d": 2,
                                                                  "e": 2})
    assert hd.summary("update", changes) == "a, b, c, d and 1 more"
    assert hd.summary("update", changes[:2]) == "a, b"
    assert hd.summary("create", changes) == "created"
    assert hd.summary("delete", []) == "deleted"
    assert hd.summary("update", []) == "no field changed"
    assert hd.show(None) == hd.show("") == hd.show([]) == "—"
    assert hd.show(True) == "yes" and hd.show("x") == "x"
    assert hd.show(["a", "b"]) == "a, b"
    assert hd.show({"k": "v"}) == "k=v"
    assert hd.show([{"name": "X", "value": "1"}]) == '[{"name": "X", "value": "1"}]'
