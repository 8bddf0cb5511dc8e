"""Test endpoint's answers as the tests read them: the editor form it posts, the result panel
in a page or fragment."""
import re


def draft(**overrides):
    """The editor form with Test endpoint pressed: a new buyer, nothing saved."""
    data = {"name": "Draft desk", "ref": "", "number": "sip:agentqueue@example.com",
            "sip_username": "", "sip_password": "", "priority": "1", "weight": "1",
            "timeout": "30", "action": "test-endpoint"}
    data.update(overrides)
    return data


def panel(body, saved=False):
    """The result panel's inside; for a phone Number, the one the page shows without
    JavaScript (the SIP section is in <noscript> then)."""
    m = re.search(r'<div id="endpoint-test%s(?:-nojs)?" class="endpoint-test"[^>]*>(.*?)\n</div>'
                  % ("-saved" if saved else ""), body, re.S)
    assert m, body[:2000]
    return m.group(1)


def is_fragment(body):
    return "<html" not in body and "<!doctype" not in body.lower()
