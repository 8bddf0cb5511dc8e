"""The templates stay within the strict Content-Security-Policy (sipflask/headers.py): what the
policy refuses in a browser is refused here at test time, with the file and line to fix.
docs/security.md ("Browser hardening") says where each thing goes instead."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sipflask"
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
STATIC_JS = sorted((ROOT / "static").glob("*.js"))

FORBIDDEN = {
    # An inline script: the CSP's script-src 'self' refuses it. Use <script src> in /static.
    "inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I),
    # Inline handlers (onclick=...) are inline script too: use a listener in static/sipflask.js.
    "on*= handler": re.compile(r"\son[a-z]+\s*=", re.I),
    # style-src 'self' refuses style attributes and <style> blocks: use a class in sipflask.css.
    "style= attribute": re.compile(r"\bstyle\s*=", re.I),
    "<style> element": re.compile(r"<style\b", re.I),
    # htmx runs hx-on through new Function(): eval, refused without 'unsafe-eval'.
    "hx-on": re.compile(r"hx-on", re.I),
    # htmx evaluates these as JavaScript too (hx-vars always, hx-vals with "js:").
    "hx-vars": re.compile(r"hx-vars", re.I),
    "js: in hx-vals": re.compile(r"hx-vals[^>]*js:", re.I),
    # A trigger filter, hx-trigger="keyup[key=='Enter']", is evaluated JavaScript.
    "hx-trigger filter": re.compile(r"""hx-trigger["']?\s*[:=]\s*["'][^"']*\[""", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_there_are_templates_to_check():
    assert len(TEMPLATES) > 30
    assert any(p.name == "layout.html" for p in TEMPLATES)


def without_comments(text: str) -> str:
    """Jinja comments blanked out (their line breaks kept, so line numbers still match)."""
    return re.sub(r"\{#.*?#\}", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_template_within_the_csp(path):
    problems = []
    text = without_comments(path.read_text(encoding="utf-8"))
    for number, line in enumerate(text.splitlines(), 1):
        for what, pattern in FORBIDDEN.items():
            if pattern.search(line):
                problems.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", STATIC_JS, ids=lambda p: p.name)
def test_static_js_needs_no_eval(path):
    text = path.read_text(encoding="utf-8")
    if path.name == "htmx.min.js":
        # Vendored: its eval sits behind htmx features the templates don't use (hx-on, hx-vars,
        # trigger filters: refused above), so only the config that keeps its <style> out counts.
        layout = (ROOT / "templates" / "layout.html").read_text(encoding="utf-8")
        assert '"includeIndicatorStyles": false' in layout
        return
    if path.name == "chart.umd.min.js":
        # Vendored Chart.js: it sizes its canvas through the CSSOM (``canvas.style.height``),
        # which the policy allows; no eval and no style attribute or element.
        for pattern in (r"\beval\s*\(", r"new\s+Function\b", r"\bFunction\s*\(",
                        r"setAttribute\(\s*['\"]style", r"createElement\(\s*['\"]style"):
            assert not re.search(pattern, text), f"{path.name}: {pattern}"
        return
    for pattern in (r"\beval\s*\(", r"new\s+Function\b", r"\bFunction\s*\(", r"\.style\b",
                    r"setAttribute\(\s*['\"]style", r"innerHTML\s*=.*<(script|style)",
                    r"set(Timeout|Interval)\(\s*['\"]"):
        assert not re.search(pattern, text), f"{path.name}: {pattern}"


def test_the_checks_catch_what_they_should():
    bad = ['<script>alert(1)</script>', '<button onclick="x()">', '<div style="color:red">',
           '<p hx-on::after-request="x()">', '<style>p{}</style>', '<a href="javascript:x()">',
           '<input hx-trigger="keyup[key==\'Enter\']">', '<div hx-vals=\'js:{a: 1}\'>']
    good = ['<script src="/static/sipflask.js"></script>', '<button data-copy="x">',
            '<input hx-trigger="keyup changed delay:400ms, change">', '<div class="stat">',
            '{{ field(f, attrs={"hx-trigger": "change"}) }}', '<p>Mon to Fri on weekdays</p>']
    for line in bad:
        assert any(p.search(line) for p in FORBIDDEN.values()), line
    for line in good:
        assert not any(p.search(line) for p in FORBIDDEN.values()), line
