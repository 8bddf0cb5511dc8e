"""Property tests (hypothesis) for reading untrusted input: whatever bytes an import file holds,
:func:`jsondoc.load` gives a document or a :class:`DocumentError`, never another exception; a
document :func:`jsondoc.problems` passes can be stored (every string encodes as UTF-8, no NUL,
nothing nested past the limit, only finite numbers); and text the name rule passes has no
invisible character; and a name posted to a form is saved exactly as sent or refused."""
import json
import math
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from sipflask.core import jsondoc, validation
from sipflask.extensions import db
from sipflask.models import Publisher

SETTINGS = settings(max_examples=300, deadline=None)

# Every code point, lone surrogates and NUL included: what a JSON "\\uXXXX" escape can carry.
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
DOCS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(ANY_TEXT, inner, max_size=4), max_leaves=30)
JSON_PIECES = st.sampled_from(['{', '}', '[', ']', ',', ':', '"', '\\', '\\u', 'd800', '0', '-',
                               'NaN', 'Infinity', '1e999', 'true', ' ', '\n', '"a"', '"\\u0000"'])


def storable(value, depth=1) -> bool:
    if isinstance(value, (dict, list)):
        if depth > jsondoc.MAX_DEPTH:
            return False
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return all((not isinstance(k, str) or storable(k)) and storable(v, depth + 1)
                   for k, v in items)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return len(str(abs(value))) <= jsondoc.MAX_DIGITS
    return True


@SETTINGS
@given(st.binary(max_size=200) | st.lists(JSON_PIECES, max_size=40).map(
    lambda parts: "".join(parts).encode()))
def test_any_bytes_give_a_document_or_a_document_error(data):
    try:
        doc = jsondoc.load(data)
    except jsondoc.DocumentError as exc:
        assert exc.path and exc.message
        return
    for path, message in jsondoc.problems(doc):
        assert path and message
        path.encode("utf-8")  # printable on any terminal: keys are escaped in paths


@SETTINGS
@given(DOCS)
def test_what_problems_passes_can_be_stored(doc):
    text = json.dumps(doc, allow_nan=True)  # surrogates become \\udXXX escapes, NaN stays NaN
    parsed = jsondoc.load(text.encode("utf-8"))
    found = jsondoc.problems(parsed)
    if not found:
        assert storable(parsed)
        json.dumps(parsed, allow_nan=False).encode("utf-8")  # what the JSON columns do
    else:
        assert not storable(doc) or _has_repeated_keys(text)


def _has_repeated_keys(text: str) -> bool:
    repeated = []
    json.loads(text, object_pairs_hook=lambda pairs: repeated.append(
        len(pairs) != len(dict(pairs))) or dict(pairs))
    return any(repeated)


@SETTINGS
@given(st.integers(min_value=jsondoc.MAX_DEPTH - 2, max_value=jsondoc.MAX_DEPTH + 2),
       st.sampled_from(["[]", "{}"]))
def test_depth_limit_is_exact(depth, brackets):
    open_, close = brackets
    inner = '"x"' if open_ == "[" else ""
    doc = jsondoc.load(((open_ + ('"k":' if open_ == "{" else "")) * (depth - 1) + open_ + inner
                        + close * depth).encode())
    assert bool(jsondoc.problems(doc)) == (depth > jsondoc.MAX_DEPTH)


@SETTINGS
@given(st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=20))
def test_a_name_the_rule_passes_has_nothing_invisible(value):
    if validation.text_problem(value) is None:
        value.encode("utf-8")
        assert "\x00" not in value
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)
    else:
        assert "U+" in validation.text_problem(value)


# Text a browser can post (no lone surrogates: it sends U+FFFD for them), weighted towards the
# characters that matter here.
POSTABLE = st.lists(st.characters(exclude_categories=("Cs",)) | st.sampled_from(
    ["\x00", "\ufffd", "\u202e", "\u2066", "\u200b", "\ufeff", "\u00ad", "\u2028", "\u3164",
     "é", "😀", " ", "\t", "<", "&"]), min_size=1, max_size=12).map("".join)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=POSTABLE)
def test_a_posted_name_is_saved_exactly_or_refused(admin_client, app, name):
    """Whatever name is posted: never a 500; either it is refused and nothing changes, or it is
    saved exactly as sent (trimmed) and holds nothing invisible."""
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Publisher))
    afid = f"p{before}"
    response = admin_client.post("/publishers/new", data={"name": name, "afid": afid,
                                                          "ref": afid})
    assert response.status_code in (200, 302)
    with app.app_context():
        saved = db.session.scalar(select(Publisher).where(Publisher.afid == afid))
        after = db.session.scalar(select(func.count()).select_from(Publisher))
    if response.status_code == 302:
        assert saved is not None and saved.name == name.strip()
        assert validation.text_problem(saved.name) is None and "\ufffd" not in saved.name
    else:
        assert saved is None and after == before
