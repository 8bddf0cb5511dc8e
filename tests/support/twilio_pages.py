"""The Twilio numbers pages as their tests read them: the report (one line per number, by
section), the list's Twilio cell of a number, the problems at the top, the rows stored."""
import html
import re

from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import Campaign, Number, Publisher

A, B, C, D = "+14155550101", "+14155550102", "+14155550103", "+14155550104"
VOICE = "https://sipflask.test/twilio/voice"
STATUS = "https://sipflask.test/twilio/status"
FALLBACK = "https://sipflask.test/twilio/fallback"
CONFIGURED = {"voice_url": VOICE, "status_callback": STATUS, "voice_fallback_url": FALLBACK}


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def report(body: str) -> dict[str, list[str]]:
    """The report card's lines: ``{"done": [...], "skipped": [...], "failed": [...]}``."""
    card = re.search(r'<div class="card twilio-report" id="twilio-report".*?\n</div>', body, re.S)
    assert card, "no report on the page"
    found = {"done": [], "skipped": [], "failed": []}
    for kind, items in re.findall(r'<ul class="report-lines (\w+)">(.*?)</ul>', card.group(0),
                                  re.S):
        found[kind] = [text_of(li) for li in re.findall(r"<li>(.*?)</li>", items, re.S)]
    return found


def problems(body: str) -> list[str]:
    return [text_of(p) for p in re.findall(
        r'<div class="flash error twilio-problem" role="alert">(.*?)</div>', body, re.S)]


def numbers_error(body: str) -> str:
    m = re.search(r'<p class="error" role="alert" id="err-number">(.*?)</p>', body, re.S)
    return text_of(m.group(1)) if m else ""


def cell(body: str, number_id: int) -> str:
    """A number's Twilio cell on the numbers list, as HTML."""
    m = re.search(rf'<td class="twilio-state" id="twilio-{number_id}">(.*?)</td>', body, re.S)
    assert m, f"no Twilio cell for number {number_id}"
    return m.group(1)


def state(body: str, number_id: int) -> str:
    """The state pill's words in a number's Twilio cell."""
    return text_of(re.search(r'<span class="pill[^"]*"[^>]*>(.*?)</span>',
                             cell(body, number_id)).group(1))


def add_targets(app) -> None:
    with app.app_context():
        db.session.add_all([Campaign(ref="auto", name="Auto"),
                            Publisher(ref="acme", name="Acme", afid="5678")])
        db.session.commit()


def add_number(app, e164: str, **fields) -> int:
    with app.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.ref == "auto"))
        row = Number(number=e164, campaign=campaign, **fields)
        db.session.add(row)
        db.session.commit()
        return row.id


def stored(app) -> list[tuple]:
    """Every number row as (number, campaign, publisher, sub_id, sid, drift, missing)."""
    with app.app_context():
        return [(n.number, n.campaign.ref, n.publisher.ref if n.publisher else None, n.sub_id,
                 n.twilio_sid, n.twilio_drift, n.twilio_missing)
                for n in db.session.scalars(select(Number).order_by(Number.number))]
