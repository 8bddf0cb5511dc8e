"""The buyer editor's sample call and live preview: TwiML and INVITE for a call the user
describes, made by the webhook's own code from the buyer as typed (nothing is saved).

:class:`SamplePreview` is a part of :class:`sipflask.forms.buyer.BuyerEditor`; it reads the
editor's ``form``, ``buyer``, ``check``, ``number_text``, ``selected_campaign_ids`` and
``will_send_password``.

The sample call's moment (``sample-moment``, a ``datetime-local`` value such as
``2026-12-07T12:30``) is read on the wall clock of the buyer's time zone as typed in the form
(UTC while that zone is not valid); empty means now. At that moment the preview shows whether
the buyer as typed is open, its caps, and who takes the call instead on each ticked campaign.
"""
from __future__ import annotations

from datetime import datetime
from functools import cached_property

from sqlalchemy import select

from sipflask.callflow import clock, preview
from sipflask.core import localclock, validation
from sipflask.extensions import db
from sipflask.forms.common import parse_tags, tags_text, text
from sipflask.models import Number, Publisher

MIN_YEAR, MAX_YEAR = 2000, 2200  # a moment the clock arithmetic can take a few weeks past


class SamplePreview:
    # --- choices ----------------------------------------------------------------------------

    @cached_property
    def all_numbers(self) -> list[Number]:
        return list(db.session.scalars(select(Number).order_by(Number.id)))

    @cached_property
    def all_publishers(self) -> list[Publisher]:
        return list(db.session.scalars(select(Publisher).order_by(Publisher.name, Publisher.id)))

    # --- the sample call --------------------------------------------------------------------

    @property
    def default_number(self) -> Number | None:
        ids = self.selected_campaign_ids
        for number in self.all_numbers:
            if number.campaign_id in ids:
                return number
        return self.all_numbers[0] if self.all_numbers else None

    def number_by_id(self, value) -> Number | None:
        value = text(value)
        return next((n for n in self.all_numbers if str(n.id) == value), None)

    def reset_sample(self, number: Number | None, *, keep_caller: bool = True) -> None:
        """Fill the sample call's fields from a tracking number (its publisher, sub_id, tags)."""
        s = self.form.sample
        s.number.data = str(number.id) if number else ""
        if not keep_caller or not text(s.caller.data).strip():
            s.caller.data = preview.DEFAULT_CALLER
        s.publisher.data = str(number.publisher_id) if number and number.publisher_id else ""
        s.sub_id.data = (number.sub_id or "") if number else ""
        s.tags.data = tags_text(number.tags) if number else ""

    @cached_property
    def sample(self) -> tuple[preview.SampleCall, list[str]]:
        s = self.form.sample
        tags, problems = parse_tags(text(s.tags.data))
        report = validation.Report()
        tags = validation.check_tags(report, tags)
        problems += [m for msgs in report.errors.values() for m in msgs]
        publisher = next((p for p in self.all_publishers if str(p.id) == text(s.publisher.data)),
                         None)
        call = preview.SampleCall(caller=text(s.caller.data).strip(),
                                  number=self.number_by_id(s.number.data), publisher=publisher,
                                  sub_id=text(s.sub_id.data).strip(), tags=tags)
        return call, problems

    # --- preview ----------------------------------------------------------------------------

    @cached_property
    def preview(self) -> preview.Preview:
        _report, clean, _rec, _ = self.check
        # The same spec the webhook plans with, from the checked values; the password is never read.
        spec = preview.draft_spec(clean, buyer_id=self.buyer.id if self.buyer else None,
                                  number=clean["number"] or self.number_text,
                                  send_password=self.will_send_password)
        sample, _problems = self.sample
        return preview.build(spec, sample, self.buyer.id if self.buyer else None)

    # --- the sample call's moment -----------------------------------------------------------

    @cached_property
    def moment(self) -> tuple[datetime, list[str]]:
        """The instant of the sample call and what is wrong with the typed moment, if anything."""
        typed = text(self.form.sample.moment.data).strip()
        if not typed:
            return clock.now(), []
        zone = localclock.zone(self.check[1]["time_zone"] or "UTC")
        try:
            local = datetime.fromisoformat(typed)
        except ValueError:
            local = None
        if local is None or not MIN_YEAR <= local.year <= MAX_YEAR:
            return clock.now(), [f"{typed[:40]!r} is not a date and time such as "
                                 "2026-12-07T12:30; the preview uses now."]
        if local.tzinfo is not None:  # not what the browser sends, but unambiguous
            return local, []
        instant = local.replace(tzinfo=zone).astimezone(localclock.UTC)
        if localclock.wall(zone, instant) != local:
            shown = localclock.clock_text(zone, instant)
            return instant, [f"{local:%Y-%m-%d %H:%M} does not happen in {zone.key} (the clocks "
                             f"go forward): read as {shown}."]
        return instant, []

    @cached_property
    def at_moment(self) -> preview.Moment:
        _report, clean, _rec, _ = self.check
        names = {c.id: c.name for c in self.all_campaigns}
        ticked = [(cid, names[cid]) for cid in sorted(self.selected_campaign_ids, key=lambda i: (
            names.get(i, ""), i)) if cid in names]
        return preview.at_moment(clean, self.buyer, ticked, self.moment[0])
