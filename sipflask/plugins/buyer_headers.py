"""Built-in plugin: the buyer's own SIP headers, tokens expanded, in the user's order.

Highest precedence (SPEC "Outbound SIP"): a buyer header replaces a default or
plugin header of the same name. Values are not escaped here; the whole value
is percent-encoded once when the dial URI is built. Returned as ``Header`` objects
with source ``"buyer"``, which is how the manager knows where they go.
"""
from __future__ import annotations

from sipflask.core.dialplan import buyer_headers
from sipflask.hookspecs import hookimpl


@hookimpl
def sip_headers(buyer, values):
    return buyer_headers(buyer, values)
