"""sipflask plugin: add the SIP headers configured on the call's campaign.

A campaign's settings may hold ``{"sip_headers": {"X-Vertical": "auto",
"X-Offer": "[campaign_name]"}}``; each value may use tokens, expanded against the
call's token values. Headers whose names break sipflask's header rules are left
out (and logged) so one typo does not cost the campaign its other headers.
"""
import logging

from sipflask.core.sipheaders import header_name_problem
from sipflask.core.tokens import expand
from sipflask.hookspecs import hookimpl

__version__ = "0.1.0"

log = logging.getLogger(__name__)


@hookimpl
def sip_headers(call, values):
    configured = call.campaign_settings.get("sip_headers")
    if not isinstance(configured, dict):
        return None
    headers = []
    for name, template in configured.items():
        problem = header_name_problem(str(name))
        if problem:
            log.warning("campaign %s: skipping SIP header %r: %s", call.campaign_ref, name, problem)
            continue
        headers.append((str(name), expand(str(template), values)))
    return headers
