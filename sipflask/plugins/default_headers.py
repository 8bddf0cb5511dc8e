"""Built-in plugin: the default headers every SIP attempt carries (SPEC "Default headers").

``X-PH-RetreaverUUID`` (the call's uuid), ``X-PH-RetreaverKey`` (its postback key),
``X-PH-RetreaverAFID`` (the publisher's afid, left out without a publisher) and
``X-PH-RetreaverSID`` (the sub_id, left out when not set). Lowest precedence:
plugin and buyer headers of the same name replace them, except that an empty
value never does. Returned as ``Header`` objects with source ``"default"``, which is
how the manager knows where they go.
"""
from __future__ import annotations

from sipflask.core.dialplan import default_headers
from sipflask.hookspecs import hookimpl


@hookimpl
def sip_headers(values):
    return default_headers(values)
