"""Built-in plugin: the buyer's own SIP headers, tokens expanded, in the user's order.

Highest precedence (SPEC "Outbound SIP"): a buyer header replaces a default or
plugin header of the same name. Values are not escaped here; the whole value
is percent-encoded once when the dial URI is built.
"""
from __future__ import annotations

from sipflask.core.dialplan import buyer_headers
from sipflask.hookspecs import hookimpl


@hookimpl
def sip_headers(buyer, values):
    return [(header.name, header.value) for header in buyer_headers(buyer, values)]
