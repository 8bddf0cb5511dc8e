"""The start page: today's report at the top (totals, calls per hour by outcome, the top
campaigns), calls in progress now (the live strip, polled by htmx), what is set up, and the
webhook URL to paste into Twilio."""
from flask import Blueprint, render_template, url_for
from sqlalchemy import func, select

from sipflask.calllog.live import live_strip
from sipflask.extensions import db
from sipflask.htmx import render
from sipflask.models import Buyer, Call, Campaign, Number, Publisher, utcnow
from sipflask.reports import query
from sipflask.urls import public_url

bp = Blueprint("home", __name__)

# How often the open overview asks for the live strip again.
POLL_EVERY = "5s"
# Campaigns the overview lists for today; the Reports page has them all.
TOP_CAMPAIGNS = 5


@bp.route("/")
def index():
    counts = {label: db.session.scalar(select(func.count()).select_from(model))
              for label, model in (("campaigns", Campaign), ("numbers", Number),
                                   ("publishers", Publisher), ("buyers", Buyer),
                                   ("calls", Call))}
    today = query.local_today()
    report = query.build_report("campaign", today, today)
    top = sorted(report.rows, key=lambda r: (-r.calls, r.label.casefold()))[:TOP_CAMPAIGNS]
    return render_template("home/index.html", counts=counts, today=report,
                  top_campaigns=top,
                  strip=live_strip(), poll_every=POLL_EVERY, now=utcnow(),
                  voice_url=public_url(url_for("webhook.voice")),
                  status_url=public_url(url_for("webhook.status")),
                  fallback_url=public_url(url_for("webhook.fallback_url")))


@bp.route("/live")
def live():
    """The live strip: the fragment for the overview's polling, a small page without htmx."""
    return render("home/live.html", "home/partial/live.html", strip=live_strip(),
                  poll_every=POLL_EVERY, now=utcnow())
