"""What the list pages share: the search text, LIKE patterns, pagination, ids from URLs, counts
of numbers per row, and the one rule for "back"/"next" URLs (also used by the login page)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, request
from sqlalchemy import func, or_, select

from sipflask.core import validation
from sipflask.extensions import db
from sipflask.models import Number

MAX_PAGE = 100_000
MAX_QUERY = 100


def get_or_404(model, ident: int):
    # PostgreSQL INTEGER: a larger id in a URL is simply "not found", not a database error.
    if ident > validation.MAX_ID:
        abort(404)
    return db.get_or_404(model, ident)


def search_text() -> str:
    """The ``q`` argument, trimmed, without control characters (PostgreSQL refuses NUL)."""
    q = request.args.get("q", "", type=str)
    return validation.CONTROL_RE.sub("", q).strip()[:MAX_QUERY]


def like(q: str) -> str:
    """A LIKE pattern matching ``q`` anywhere, with ``%``/``_`` taken literally (escape ``\\``)."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching(stmt, q: str, *columns, extra=()):
    """``stmt`` narrowed to rows where any of ``columns`` contains ``q`` (case-insensitive), or
    any of the ``extra`` conditions holds; unchanged when nothing was typed."""
    if not q:
        return stmt
    pattern = like(q)
    return stmt.where(or_(*(c.ilike(pattern, escape="\\") for c in columns), *extra))


def number_counts(column, ids) -> dict[int, int]:
    """How many tracking numbers each of ``ids`` has, by ``column`` (``Number.campaign_id``,
    ``Number.publisher_id``): one GROUP BY for a whole list page."""
    if not ids:
        return {}
    return dict(db.session.execute(select(column, func.count(Number.id))
                                   .where(column.in_(ids)).group_by(column)).all())


def paginate(stmt):
    page = request.args.get("page", 1, type=int)
    page = min(max(page, 1), MAX_PAGE)
    return db.paginate(stmt, page=page, per_page=current_app.config["PER_PAGE"],
                       error_out=False, count=True)


def local_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``.

    An open redirect would turn the login page and every "back" link into a phishing aid.
    Browsers read ``/\\host`` like ``//host``, so no backslash is accepted anywhere.
    """
    if target:
        parts = urlsplit(target)
        if target.startswith("/") and not target.startswith("//") and not parts.scheme \
                and not parts.netloc and "\\" not in target:
            return target
    return default


def safe_back(default: str) -> str:
    """The ``next`` form (or query) value if it is a path on this site, else ``default``."""
    return local_path(request.form.get("next") or request.args.get("next"), default)


def list_url() -> str:
    """Where a plain (non-htmx) POST from a list row sends the user back to."""
    return request.full_path.rstrip("?")
