"""Unit tests for sipflask.tokens (grammar, expansion, form diagnostics)."""

import pytest

from sipflask.core.tokens import BUILTIN_TOKENS, expand, problems, tokens_used, unknown_tokens


def test_builtin_tokens_in_spec_order():
    assert BUILTIN_TOKENS == (
        "call_uuid", "call_key", "campaign_id", "campaign_name", "buyer_id",
        "publisher_id", "afid", "sub_id", "caller_number", "called_number",
        "caller_state", "caller_zip", "caller_city", "caller_country",
    )


@pytest.mark.parametrize(
    "text, used",
    [
        ("sip:[caller_number]@example.com", ["caller_number"]),
        ("[a|b|\"x\"][b][c]", ["a", "b", "c"]),
        ("[a | \"lit\" | b]", ["a", "b"]),
        ("no tokens", []),
        ("[Campaign ID] [a-b] [ a ]", []),
        ("sip:q@[2001:db8::1]", []),
        ("[[a]]", ["a"]),
        ("[\"only literal\"]", []),
        ("[123][_x]", ["123", "_x"]),
    ],
)
def test_tokens_used(text, used):
    assert tokens_used(text) == used


def test_expand_basic_and_missing():
    assert expand("a[x]b[y]c", {"x": "1"}) == "a1bc"


def test_expand_fallbacks():
    values = {"a": "", "b": "B"}
    assert expand("[a|b]", values) == "B"
    assert expand("[a|missing|\"def\"]", values) == "def"
    assert expand("[missing | \"\" | b]", values) == "B"
    assert expand("[a|missing]", values) == ""


def test_literal_may_hold_brackets_and_pipes():
    assert expand('[x|"a]|[b"]', {}) == "a]|[b"


def test_escape_applies_to_values_and_literals_only():
    calls = []

    def esc(s):
        calls.append(s)
        return s.upper()

    assert expand("pre-[a]-[b|\"lit\"]-post", {"a": "v"}, escape=esc) == "pre-V-LIT-post"
    assert calls == ["v", "lit"]


def test_escape_not_called_for_empty_token():
    def esc(s):  # pragma: no cover - must not be called
        raise AssertionError(s)

    assert expand("x[a]y", {}, escape=esc) == "xy"


def test_values_are_not_reexpanded():
    assert expand("[a]", {"a": "[b]", "b": "secret"}) == "[b]"


def test_invalid_tokens_are_literal_text():
    text = "[Campaign ID] [a-b] [ a ] [] [a||b] sip:q@[::1]"
    assert expand(text, {"a": "X", "b": "Y"}) == text


@pytest.mark.parametrize(
    "text",
    ["", "[a]", "[a|b|\"x\"]", "[a | \"x y\" | b]", "sip:q@[2001:db8::1]:5060", "sip:q@[::1]",
     "price [1.2.3.4]", "[a]]", "x]y"],
)
def test_problems_none(text):
    assert problems(text) == []


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[Campaign ID]", "did you mean [campaign_id]"),
        ("[CallerNumber]", "lowercase"),
        ("[]", "needs a name"),
        ("[a||b]", "empty"),
        ("[a|]", "empty"),
        ('[a|"x]', 'closing "'),
        ("[ a ]", "no spaces"),
        ("abc [foo", "never closed"),
        ('[a"b"]', "not a valid token name"),
    ],
)
def test_problems_found(text, fragment):
    found = problems(text)
    assert len(found) == 1, found
    assert fragment in found[0]


def test_problems_does_not_flag_valid_literal_containing_bracket():
    assert problems('[a|"x]"]') == []


def test_unknown_tokens():
    text = "[caller_number|lead_score][afid][foo]"
    assert unknown_tokens(text, ["lead_score"]) == ["foo"]
    assert unknown_tokens(text, []) == ["lead_score", "foo"]
    assert unknown_tokens(text, iter(["foo", "lead_score"])) == []
