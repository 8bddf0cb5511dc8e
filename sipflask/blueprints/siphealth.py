"""Test endpoint (docs/sip-health.md): resolve a buyer's SIP URI like Twilio will and probe it
with SIP OPTIONS, from the buyer editor and from the buyer page.

* ``test_draft`` (``/buyers/test-endpoint``, ``/buyers/<id>/test-endpoint``): the editor's
  button, a submit of the editor form itself, so it checks the URI and headers *as typed*
  (tokens from the editor's sample call, as in its live preview). Nothing is saved.
* ``test_saved`` (``/buyers/<id>/test-saved-endpoint``): the buyer page's button, the saved
  buyer as its calls dial it.

Each answers htmx with the result panel alone and a plain form post with the whole buyer page,
the panel filled in (``htmx.render`` through ``buyers.editor_page``).

Both are throttled per signed-in user (``THROTTLE_SIP_TEST``, sipflask/throttle.py): past the
limit the same answer comes back with 429, ``Retry-After`` and the panel saying when to try again
(``too_many_tests``), the editor as typed.

The request waits for the network, so the whole check has one budget (``SIP_TEST_BUDGET``
seconds, default 8): DNS queries and probes share it, each target waits at most
``SIP_TEST_TIMEOUT`` (default 4), and what did not fit is said in the verdict. A DNS server
that does not answer costs the budget, never a hung page.

The SIP password never reaches the probe (OPTIONS is not authenticated) nor the panel: every
text shown is passed through ``redact`` with the typed and the stored password as secrets.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Blueprint, current_app, request
from werkzeug.exceptions import NotFound

from sipflask import throttle
from sipflask.blueprints.buyers import editor_page
from sipflask.blueprints.lists import get_or_404
from sipflask.core import sip
from sipflask.crypto import SecretError
from sipflask.extensions import db
from sipflask.core.redact import redact
from sipflask.core.sipverdict import ProbeResult, describe
from sipflask.forms.buyer import BuyerEditor
from sipflask.forms.common import text
from sipflask.models import Buyer
from sipflask.siphealth import check, endpoint
from sipflask.siphealth import dns as sipdns
from sipflask.siphealth.endpoint import Endpoint, EndpointError

bp = Blueprint("siphealth", __name__, url_prefix="/buyers")

BUDGET = 8.0
TARGET_TIMEOUT = 4.0
PANEL = "siphealth/panel.html"


@dataclass
class EndpointTest:
    """What the panel shows: the diagnosis, or ``error`` when there was nothing to probe, or
    ``throttled`` when the test was refused (too many)."""

    saved: bool
    error: str | None = None
    throttled: str | None = None
    diagnosis: check.Diagnosis | None = None
    endpoint: Endpoint | None = None
    ranges: dict | None = None
    seconds: float = 0.0
    budget: float = BUDGET

    @property
    def described(self) -> list[tuple[ProbeResult, str]]:
        """Each probe with its result in plain words (``404 for user agentqueue``...)."""
        rest = self.diagnosis.uri.split(":", 1)[-1]
        user = rest.split("@", 1)[0] if "@" in rest else ""
        return [(p, describe(p, user)) for p in self.diagnosis.probes]


def _seconds(name: str, default: float) -> float:
    try:
        value = float(current_app.config.get(name, default))
    except (TypeError, ValueError):
        return default
    return value if 0.5 <= value <= 60 else default


def run(make_endpoint, saved: bool) -> EndpointTest:
    """Plan the endpoint (``make_endpoint()`` raises EndpointError when there is nothing to
    probe), then resolve and probe it within the budget."""
    budget = _seconds("SIP_TEST_BUDGET", BUDGET)
    started = time.monotonic()
    try:
        target = make_endpoint()
        lookup = check.lookup_from_config(current_app.config, deadline=started + budget)
    except (EndpointError, sipdns.NameserverError) as exc:
        return EndpointTest(saved, error=str(exc), budget=budget)
    # Nothing is written here: end the read transaction so its pooled connection serves other
    # requests (webhooks) while this one waits seconds on the network. The page reloads lazily.
    db.session.rollback()
    diagnosis = check.check_endpoint(target.uri, lookup, target.headers,
                                     timeout=_seconds("SIP_TEST_TIMEOUT", TARGET_TIMEOUT),
                                     deadline=started + budget)
    return EndpointTest(saved, diagnosis=diagnosis, endpoint=target,
                        ranges=endpoint.twilio_ranges(target.uri),
                        seconds=time.monotonic() - started, budget=budget)


def draft_endpoint(ed: BuyerEditor) -> Endpoint:
    """The endpoint as typed in the editor: the live preview's plan (the webhook's planning,
    with the editor's sample call), so the probe carries what that INVITE would."""
    if not ed.number_text:
        raise EndpointError("Type the buyer's SIP URI (sip:user@host) in Number first.")
    if not sip.is_sip(ed.number_text):
        raise EndpointError(f"{ed.number_text[:80]!r} is not a SIP URI (sip:user@host): only "
                            "SIP endpoints can be tested")
    plan = ed.preview.plan
    if plan.error:
        raise EndpointError(plan.error)
    return Endpoint(plan.target.partition("?")[0], tuple((h.name, h.value) for h in plan.sent),
                    tuple(f"{h.name}: {why}" for h, why in plan.dropped))


def _secrets(ed: BuyerEditor) -> list[str]:
    """The passwords to mask should one have been typed into a header or the URI."""
    found = [text(ed.form.sip_password.data)]
    if ed.has_stored_password:
        try:
            found.append(ed.buyer.sip_password)
        except SecretError:  # unreadable: it cannot have reached the probe either
            pass
    return [s for s in found if s]


@bp.post("/test-endpoint", defaults={"id": None})
@bp.post("/<int:id>/test-endpoint")
def test_draft(id):
    ed = BuyerEditor(None if id is None else get_or_404(Buyer, id), submitted=True)
    result = run(lambda: draft_endpoint(ed), saved=False)
    return editor_page(ed, PANEL, endpoint_test=result, secrets=_secrets(ed))


@bp.post("/<int:id>/test-saved-endpoint")
def test_saved(id):
    buyer = get_or_404(Buyer, id)
    result = run(lambda: endpoint.for_buyer(buyer), saved=True)
    ed = BuyerEditor(buyer, submitted=False)
    return editor_page(ed, PANEL, endpoint_test=result, secrets=_secrets(ed))


@bp.errorhandler(429)
def too_many_tests(exc):
    """``throttle`` refused this test: the page or panel the view would have answered, its
    panel saying when to try again; the editor keeps what was typed."""
    seconds = throttle.retry_after()
    saved = request.endpoint == "siphealth.test_saved"
    # As the sign-in form says it: past the hourly limit the wait is up to an hour.
    wait = f"{math.ceil(seconds / 60)} minutes" if seconds > 90 else f"{seconds} seconds"
    result = EndpointTest(saved, throttled=f"Too many endpoint tests: try again in {wait}.")
    id = (request.view_args or {}).get("id")
    try:
        buyer = None if id is None else get_or_404(Buyer, id)
    except NotFound as unknown:  # raised from here it would become a 500
        return current_app.handle_http_exception(unknown)
    ed = BuyerEditor(buyer, submitted=not saved)
    response, status = editor_page(ed, PANEL, 429, endpoint_test=result, secrets=_secrets(ed))
    return response, status, {"Retry-After": str(seconds)}


@bp.app_template_filter("unsecret")
def unsecret(value, secrets=()) -> str:
    """Text of the diagnosis as shown: any SIP URI password and the given secrets masked."""
    return redact(value, secrets)
