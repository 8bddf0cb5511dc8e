"""Reading sipflask's pages in tests: one form field's block, the CSRF token, the htmx header."""
import re

HX = {"HX-Request": "true"}


def field_html(body: str, name: str) -> str:
    """The ``field()`` block of one form field, where its errors are shown."""
    match = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)</div>', body, re.S)
    assert match, f"no field {name}"
    return match.group(1)


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)
