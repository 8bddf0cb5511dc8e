"""A report's figures: :class:`Row` (one group, or the totals), :class:`Report` and
:class:`ReportError`; ``reports/query.py`` re-exports them (the shared names)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass
class Row:
    """One group's figures (or the totals)."""

    key: str
    label: str
    calls: int = 0
    unique_callers: int = 0
    routed: int = 0
    connected: int = 0
    no_buyer: int = 0
    converted: int = 0
    revenue: Decimal = Decimal("0.00")
    talk_seconds: int = 0
    skip_reasons: list[tuple[str, int]] = field(default_factory=list)
    sip_codes: list[tuple[int, int]] = field(default_factory=list)
    ident: int | None = None  # the record's id (campaign, publisher, buyer, number), for links

    @property
    def connect_rate(self) -> float:
        return self.connected / self.routed if self.routed else 0.0

    @property
    def conversion_rate(self) -> float:
        return self.converted / self.connected if self.connected else 0.0

    @property
    def avg_talk_seconds(self) -> float:
        return self.talk_seconds / self.connected if self.connected else 0.0


@dataclass
class Report:
    group: str
    date_from: date
    date_to: date
    time_zone: str
    rows: list[Row]
    totals: Row


class ReportError(ValueError):
    """A report that cannot be made as asked: the message says why, ``field`` which argument."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class ReportTimeout(ReportError):
    """The database gave up on the report (``DB_STATEMENT_TIMEOUT``): fewer days will do. A 503,
    not a 400: the arguments were fine."""

    status = 503

    def __init__(self):
        super().__init__("This report took longer than the database allows; choose fewer days.",
                         "to")
