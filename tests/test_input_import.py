"""``flask import FILE`` with files that used to crash it, or to store what can't be read back:
each is refused with exit code 1, a message naming the JSON path (or the byte), no traceback,
and the database exactly as it was (issue 10, finding 7)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from sipflask.core import jsondoc
from sipflask.extensions import db

ROOT = Path(__file__).resolve().parents[1]

GOOD_PUBLISHER = {"ref": "fresh", "name": "Fresh Media", "afid": "fresh1"}


def dump_tables(app):
    """Every row of every table, to compare before and after."""
    with app.app_context():
        return {t.name: sorted(repr(tuple(r)) for r in
                               db.session.execute(text(f"SELECT * FROM {t.name}")).all())
                for t in db.metadata.sorted_tables}


def publishers_doc(name_json: str) -> bytes:
    """A document whose second publisher's name is ``name_json`` (raw JSON text): the first
    one is fine, so a partial write would show."""
    return (b'{"publishers": [' + json.dumps(GOOD_PUBLISHER).encode()
            + b', {"ref": "bad", "afid": "bad1", "name": ' + name_json.encode() + b"}]}")


# The three crashes of the issue: invalid UTF-8, 100k-deep nesting, a lone surrogate.
CRASHES = {
    "invalid-utf8": (publishers_doc('"Caf\\u00e9"').replace(b"Caf\\u00e9", b"Caf\xe9"),
                     "$:", "is not UTF-8: byte 0xE9 at byte offset 118 (line 1, column 119)"),
    "deep": (b'{"campaigns": [{"ref": "c", "name": "C", "settings": {"x": '
             + b"[" * 100_000 + b"]" * 100_000 + b"}}]}",
             "campaigns[0].settings.x[0][0]", "nested more than 64 levels deep"),
    "lone-surrogate": (publishers_doc('"Caf\\ud800"'), "publishers[1].name:",
                       "contains a character that cannot be stored: U+D800 (lone surrogate)"),
}

# More values Python's json reads but no column can hold, or that were silently lost.
REFUSED = {
    "nul-in-settings": (b'{"campaigns": [{"ref": "c", "name": "C", "settings": {"a": "x\\u0000"}}]}',
                        "campaigns[0].settings.a:", "U+0000 (null)"),
    "nul-in-name": (publishers_doc('"a\\u0000b"'), "publishers[1].name:", "U+0000 (null)"),
    "surrogate-in-key": (b'{"numbers": [{"number": "+14155552671", "campaign": "c", '
                         b'"tags": {"\\udc00": "x"}}]}',
                         "numbers[0].tags:", 'key "\\udc00" contains a character that cannot'),
    "nan": (b'{"campaigns": [{"ref": "c", "name": "C", "settings": {"a": NaN}}]}',
            "campaigns[0].settings.a:", "NaN is not a JSON number"),
    "infinity": (b'{"campaigns": [{"ref": "c", "name": "C", "settings": {"a": 1e999}}]}',
                 "campaigns[0].settings.a:", "1e999 is too large a number"),
    "huge-int": (b'{"buyers": [{"ref": "b", "priority": ' + b"9" * 5000 + b"}]}",
                 "buyers[0].priority:", "a number with 5000 digits"),
    "repeated-key": (b'{"publishers": [{"ref": "p", "name": "A", "name": "B", "afid": "p1"}]}',
                     "publishers[0]:", 'key "name" is given more than once'),
    "empty": (b"", "$:", "is empty"),
    "blank": (b" \n\t ", "$:", "is empty"),
    "not-json": (b'{"publishers": [}', "$:", "is not valid JSON: Expecting value at line 1"),
    "not-an-object": (b"[1, 2]", "$:", "must hold a JSON object"),
    "sections-too-deep": (b"[" * 65 + b"]" * 65, "[0][0]", "nested more than 64 levels deep"),
    "bidi-name": (publishers_doc('"Acme\\u202eaidem"'), "publishers[1].name:",
                  "Name contains an invisible control character U+202E (right-to-left override)"),
}


def check_refused(result, before, after, path, message):
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "Nothing was imported" in result.output
    line = next(ln for ln in result.output.splitlines() if message in ln)
    assert line.strip().startswith(path), line
    assert after == before


@pytest.mark.parametrize("case", list(CRASHES) + list(REFUSED))
def test_bad_file_is_refused_with_its_path_and_nothing_written(demo, runner, tmp_path, case):
    data, path, message = {**CRASHES, **REFUSED}[case]
    file = tmp_path / "setup.json"
    file.write_bytes(data)
    before = dump_tables(demo)
    result = runner.invoke(args=["import", str(file)])
    check_refused(result, before, dump_tables(demo), path, message)


@pytest.mark.parametrize("case", list(CRASHES))
def test_the_three_crashes_through_the_real_command(app, tmp_path, case):
    """The installed ``flask`` command in its own process: what a user sees on the terminal."""
    data, path, message = CRASHES[case]
    file = tmp_path / "setup.json"
    file.write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SIPFLASK_INSTANCE_PATH": str(tmp_path / "i"),
           "SIPFLASK_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
           "SIPFLASK_PLUGINS_ALLOW": "[]"}
    before = dump_tables(app)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "sipflask", "import",
                           str(file)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert any(ln.strip().startswith(path) and message in ln for ln in done.stderr.splitlines()), \
        done.stderr
    assert dump_tables(app) == before


def test_byte_order_mark_is_accepted(app, runner, tmp_path):
    file = tmp_path / "setup.json"
    file.write_bytes(b"\xef\xbb\xbf" + json.dumps({"publishers": [GOOD_PUBLISHER]}).encode())
    result = runner.invoke(args=["import", str(file)])
    assert result.exit_code == 0, result.output
    assert "publishers: 1 created" in result.output


def test_a_file_over_the_size_limit_is_refused_unread(app, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(jsondoc, "MAX_BYTES", 100)
    file = tmp_path / "setup.json"
    file.write_text(json.dumps({"publishers": [GOOD_PUBLISHER] * 10}))
    before = dump_tables(app)
    result = runner.invoke(args=["import", str(file)])
    check_refused(result, before, dump_tables(app), "$:", "is too big: more than 100 bytes")


def test_every_problem_is_listed_in_document_order(app, runner, tmp_path):
    names = ['"ok"', '"a\\u0000"'] + ['"fine"'] * 8 + ['"\\udfff"']
    doc = (b'{"publishers": [' + b", ".join(
        b'{"ref": "p%d", "afid": "p%d", "name": %s}' % (i, i, n.encode())
        for i, n in enumerate(names)) + b"]}")
    file = tmp_path / "setup.json"
    file.write_bytes(doc)
    result = runner.invoke(args=["import", str(file)])
    assert result.exit_code == 1
    lines = [ln.strip() for ln in result.output.splitlines() if ln.startswith("  ")]
    assert [ln.split(":")[0] for ln in lines] == ["publishers[1].name", "publishers[10].name"]


@pytest.mark.parametrize("where,record,path,char", [
    ("publishers", {"ref": "p", "afid": "p1", "name": "Zero\u200bWidth"}, "publishers[0].name",
     "U+200B (zero width space)"),
    ("campaigns", {"ref": "c", "name": "Auto\u2066Isolate"}, "campaigns[0].name",
     "U+2066 (left-to-right isolate)"),
    ("numbers", {"number": "+14155552671", "campaign": "auto", "sub_id": "fb\u00ad12"},
     "numbers[0].sub_id", "U+00AD (soft hyphen)"),
    ("numbers", {"number": "+14155552671", "campaign": "auto", "tags": {"k": "v\ufeff"}},
     "numbers[0].tags", "U+FEFF (zero width no-break space)"),
    ("buyers", {"ref": "b", "name": "B", "number": "sip:q@example.com",
                "sip_headers": [{"name": "X-A", "value": "v\u202e"}]},
     "buyers[0].sip_headers[0].value", "U+202E (right-to-left override)"),
    ("buyers", {"ref": "b", "name": "B", "number": "sip:q@example.com",
                "sip_headers": [{"name": "X-\u202eA", "value": "v"}]},
     "buyers[0].sip_headers[0].name", "U+202E (right-to-left override)"),
    ("buyers", {"ref": "b", "name": "B", "number": "sip:q\u2028@example.com"},
     "buyers[0].number", "U+2028 (line separator)"),
    ("buyers", {"ref": "b", "name": "\u3164", "number": "+14155552671"},
     "buyers[0].name", "U+3164 (hangul filler)"),
])
def test_invisible_characters_in_names_refs_tags_and_headers(demo, runner, tmp_path, where,
                                                             record, path, char):
    file = tmp_path / "setup.json"
    file.write_text(json.dumps({where: [record]}))
    before = dump_tables(demo)
    result = runner.invoke(args=["import", str(file)])
    check_refused(result, before, dump_tables(demo), path,
                  f"contains an invisible control character {char}")


def test_a_number_for_a_stored_campaign_imports(demo, runner, tmp_path):
    """Looking up the stored campaign used to flush the new number without it: a traceback."""
    file = tmp_path / "setup.json"
    file.write_text(json.dumps({"numbers": [{"number": "+14155552671", "campaign": "auto",
                                             "publisher": "acme", "sub_id": "fb12"}]}))
    result = runner.invoke(args=["import", str(file)])
    assert result.exit_code == 0, result.output
    assert "numbers: 1 created" in result.output


def test_a_write_the_database_refuses_is_a_message(demo, runner, tmp_path, monkeypatch):
    """What the checks can't see (a ref saved by a form while the import ran) ends as a
    message and a rollback, not a traceback."""
    from sipflask.records import setup_check

    file = tmp_path / "setup.json"
    file.write_text(json.dumps({"publishers": [GOOD_PUBLISHER, {**GOOD_PUBLISHER, "afid": "x"}]}))
    real = setup_check.validate_setup

    def blind(doc):  # the second record's clash is what a concurrent save would cause
        report, clean = real({"publishers": doc["publishers"][:1]})
        clean["publishers"] = clean["publishers"] * 2
        clean["publishers"][1] = {**clean["publishers"][1], "ref": "other", "afid": "fresh1"}
        return report, clean

    monkeypatch.setattr("sipflask.records.setup_json.validate_setup", blind)
    before = dump_tables(demo)
    result = runner.invoke(args=["import", str(file)])
    check_refused(result, before, dump_tables(demo), "$:", "the database refused the write")


@pytest.mark.parametrize("command", ["status", "reset-caps"])
@pytest.mark.parametrize("ref", ["\udcff", "queue\x00", "que\u202eue"], ids=["surrogate", "nul",
                                                                            "rlo"])
def test_buyers_commands_take_any_ref_without_a_traceback(demo, runner, command, ref):
    """``\\udcff`` is what Python makes of a byte that is not UTF-8 on the command line."""
    result = runner.invoke(args=["buyers", command, ref])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "No buyer with ref" in result.output


@pytest.mark.parametrize("args", [["--to", "+18882223333", "--from", "\udcff"],
                                  ["--to", "\udcff", "--from", "+14155552671"],
                                  ["--to", "+18882223333", "--from", "+14155552671",
                                   "--param", "SipHeader_X-A=\udcff"]],
                         ids=["from", "to", "param"])
def test_simulate_call_refuses_text_the_terminal_did_not_send_as_utf8(demo, runner, args):
    result = runner.invoke(args=["simulate-call", *args])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "contains a character that cannot be stored: U+DCFF (lone surrogate)" in result.output


def test_import_reads_standard_input_as_bytes_too(app, runner):
    ok = runner.invoke(args=["import", "-"],
                       input=json.dumps({"publishers": [GOOD_PUBLISHER]}).encode())
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(args=["import", "-"], input=b'{"publishers": [{"name": "\xff"}]}')
    assert bad.exit_code == 1 and "$: <stdin> is not UTF-8: byte 0xFF" in bad.output
