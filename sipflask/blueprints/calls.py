"""The call log: the list (filters, paging, CSV export) and one call's full story.

The detail page also shows the webhooks sent about the call (each delivery with its tries,
"Retry now": blueprints/webhook_send.py).

Both pages refresh themselves with htmx while a call they show is still live, and stop once none
is (the partial carries its ``hx-trigger="every 3s"`` only then). SIP passwords never reach these
templates; recorded values go through ``redact.redact`` in case one was ever typed into a URI or
a header value.

Times are shown on the account's clock (:mod:`sipflask.account`) and the date filters are local
dates on it; the CSV's ``started_at`` carries that clock's offset.
"""
import re

from flask import Blueprint, Response, abort, request, stream_with_context
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sipflask.account import account_zone
from sipflask.blueprints.lists import paginate
from sipflask.calllog import export as calllog_csv
from sipflask.calllog import postbacks
from sipflask.calllog import queries as calllog
from sipflask.core import callstory as story
from sipflask.core import sipcodes
from sipflask.core.redact import redact
from sipflask.extensions import db
from sipflask.htmx import render
from sipflask.models import Attempt, Call, utcnow
from sipflask.webhooks import log_view
from sipflask.webhooks import queries as webhook_log

bp = Blueprint("calls", __name__, url_prefix="/calls")

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
POLL_EVERY = "3s"


@bp.app_template_global("sip_explain")
def sip_explain(code):
    return sipcodes.explain_sip(code)


@bp.route("/")
def index():
    filters = calllog.CallFilters.from_args(request.args, account_zone())
    results = paginate(calllog.calls_query(filters))
    live = any(sipcodes.is_live(c.status) for c in results.items)
    return render("calls/index.html", "calls/partial/rows.html", results=results,
                  filters=filters, args=filters.args(), live=live, poll_every=POLL_EVERY,
                  choices=calllog.filter_choices(), statuses=sipcodes.STATUSES)


@bp.route("/export.csv")
def export():
    tz = account_zone()
    filters = calllog.CallFilters.from_args(request.args, tz)
    chunks = calllog_csv.csv_chunks(calllog.iter_calls(filters), tz=tz)
    name = f"calls-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@bp.route("/<uuid>")
def detail(uuid):
    if not _UUID_RE.match(uuid):
        abort(404)
    call = db.session.scalar(
        select(Call).where(Call.uuid == uuid)
        .options(selectinload(Call.campaign), selectinload(Call.publisher),
                 selectinload(Call.number),
                 selectinload(Call.attempts).selectinload(Attempt.buyer)))
    if call is None:
        abort(404)
    secrets = calllog.secrets_for(a.buyer for a in call.attempts)
    if not current_user.is_admin:
        # The postback key lets whoever holds it mark the call converted and set revenue:
        # members see the call, admins (who help buyers set up postbacks) also see the key.
        secrets.append(call.key)

    def mask(value):
        return redact(value, secrets)

    deliveries = webhook_log.deliveries_for_call(call.id)
    return render("calls/detail.html", "calls/partial/detail.html", call=call,
                  headline=story.headline(call, call.attempts),
                  attempts=story.attempt_stories(call.attempts),
                  postbacks=postbacks.postbacks_for(call), live=sipcodes.is_live(call.status),
                  poll_every=POLL_EVERY, redact=mask, sipcodes=sipcodes,
                  deliveries=deliveries, delivery_calls={call.id: call},
                  delivery_mask=log_view.masker([d.webhook for d in deliveries], [call],
                                                current_user.is_admin, secrets))
