"""What the Twilio numbers pages share (``blueprints/twilio_numbers.py``,
``blueprints/twilio_check.py``): what stops Twilio from being asked at all, in words with what to
do; Twilio's refusals the same way; and the account's numbers as the import page lists them,
filtered and paged in memory (Twilio's list has no search, and thousands of numbers come in a
few requests of 1,000).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from flask import request, url_for
from flask_login import current_user
from sqlalchemy import select

from sipflask.blueprints.lists import MAX_PAGE, search_text
from sipflask.core.phone import digits_only
from sipflask.extensions import db
from sipflask.models import Campaign, Number
from sipflask.twilio_rest import numbers as twilio
from sipflask.twilio_rest.client import TwilioError, make_client
from sipflask.twilio_rest.number_errors import NumbersError

SHOW = {"all": "all numbers", "new": "not in sipflask", "tracked": "in sipflask"}


@dataclass(frozen=True)
class Problem:
    """Something that stops a Twilio page from working, and what to do about it."""

    text: str
    link: str = ""
    link_text: str = ""


def _settings_link(admin_words: str) -> tuple[str, str]:
    if current_user.is_authenticated and current_user.is_admin:
        return url_for("settings.index") + "#twilio", admin_words
    return "", ""


def no_credentials(why: str) -> Problem:
    """``why`` (make_client's words: which setting is missing, and where) with the way there."""
    link, words = _settings_link("Connect the Twilio account on the settings page")
    ask = "" if link else " Only admins open the settings page: ask one to connect the account."
    return Problem(why + ask, link, words)


def setup_problems(need_public_url: bool = True) -> list[Problem]:
    """What stops these pages before any request: no credentials, no ``PUBLIC_URL``."""
    found = []
    try:
        make_client()  # builds the client only: no request
    except TwilioError as exc:
        found.append(no_credentials(str(exc)))
    if need_public_url:
        try:
            twilio.expected_config()
        except NumbersError as exc:
            found.append(Problem(f"{exc} Until then numbers can't be imported, bought or "
                                 "fixed."))
    return found


def problem_for(exc: NumbersError) -> Problem:
    """Twilio's refusal (or the missing setup behind it) as a :class:`Problem`."""
    if exc.kind == "config":
        missing = setup_problems()
        return missing[0] if missing else Problem(str(exc))
    if exc.kind == "auth":
        link, words = _settings_link("Check the credentials on the settings page")
        return Problem(str(exc) + ("" if link else " Ask an admin to check them."), link, words)
    return Problem(str(exc))


# --- the account's numbers, listed ----------------------------------------------------------------

@dataclass
class ListPage:
    """One page of a list held in memory, shaped like Flask-SQLAlchemy's pagination (for the
    ``pager`` macro)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def page_of(items: list, per_page: int) -> ListPage:
    """The ``page`` argument's page of ``items`` (the last one when it is past the end)."""
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE, pages)
    return ListPage(items[(page - 1) * per_page:page * per_page], page, per_page, len(items))


@dataclass
class AccountRow:
    """One of the account's numbers on the import page."""

    remote: twilio.AccountNumber
    tracked_id: int | None = None
    campaign: str = ""
    drift: list[str] | None = None  # None: not compared (no PUBLIC_URL)

    @property
    def capabilities(self) -> str:
        return twilio.capability_words(self.remote.capabilities)


@dataclass
class Listing:
    """The import page's view of the account: the filter and the page of numbers shown."""

    q: str = ""
    show: str = "all"
    results: ListPage | None = None
    account_total: int = 0
    tracked_total: int = 0
    problem: Problem | None = None
    args: dict = field(default_factory=dict)  # the filter, for the pager's links


def _tracked() -> dict[str, tuple[int, str]]:
    """Every tracking number -> (its id, its campaign's name): one query, whatever the count."""
    rows = db.session.execute(select(Number.number, Number.id, Campaign.name)
                              .join(Number.campaign))
    return {number: (ident, name) for number, ident, name in rows}


def _matches(remote: twilio.AccountNumber, q: str, digits: str) -> bool:
    if not q:
        return True
    if len(digits) >= 3 and digits in remote.phone_number:
        return True
    return q.casefold() in remote.friendly_name.casefold() or q in remote.phone_number


def account_listing(per_page: int, client=None) -> Listing:
    """The account's numbers (all of Twilio's pages), filtered by ``q`` and ``show``, and the
    page asked for, each marked with its tracking number and compared with the configuration
    sipflask sets."""
    q = search_text()
    show = request.args.get("show", "all", type=str)
    listing = Listing(q=q, show=show if show in SHOW else "all")
    listing.args = {k: v for k, v in (("q", q), ("show", listing.show)) if v and v != "all"}
    try:
        account = twilio.list_account_numbers(client)
    except NumbersError as exc:
        listing.problem = problem_for(exc)
        return listing
    try:
        config = twilio.expected_config()
    except NumbersError:
        config = None
    tracked, digits = _tracked(), digits_only(q)
    listing.account_total = len(account)
    listing.tracked_total = sum(n.phone_number in tracked for n in account)
    wanted = {"all": (True, False), "new": (False,), "tracked": (True,)}[listing.show]
    chosen = [n for n in account if (n.phone_number in tracked) in wanted
              and _matches(n, q, digits)]
    listing.results = page_of(chosen, per_page)
    rows = []
    for remote in listing.results.items:
        ident, campaign = tracked.get(remote.phone_number, (None, ""))
        rows.append(AccountRow(remote, ident, campaign,
                               twilio.drift(remote, config) if config else None))
    listing.results.items = rows
    return listing
