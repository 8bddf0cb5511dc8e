"""The start page: what is set up, and the webhook URL to paste into Twilio."""
from flask import Blueprint, render_template, url_for
from sqlalchemy import func, select

from sipflask.extensions import db
from sipflask.models import Buyer, Call, Campaign, Number, Publisher
from sipflask.urls import public_url

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    counts = {label: db.session.scalar(select(func.count()).select_from(model))
              for label, model in (("campaigns", Campaign), ("numbers", Number),
                                   ("publishers", Publisher), ("buyers", Buyer),
                                   ("calls", Call))}
    return render_template("home/index.html", counts=counts,
                           voice_url=public_url(url_for("webhook.voice")),
                           status_url=public_url(url_for("webhook.status")),
                           fallback_url=public_url(url_for("webhook.fallback_url")))
