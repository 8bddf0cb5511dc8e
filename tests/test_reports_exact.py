"""Every figure of a report is the call log's: calls made through the real webhooks (answered,
answered by the second buyer, nobody answering, nobody available, a buyer that could not be
dialled, rejected, hung up while ringing, the status callback before the dial-action, postbacks
with and without revenue, on a call that never connected too), on the account clock of
America/New_York around a local midnight and the night clocks go back (2026-11-01 01:00 EDT ->
01:00 EST); each grouping's rows, totals, skip reasons and SIP codes and the charts' series
are checked against a count in Python over the ORM rows (``brute``)."""
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sipflask.callflow import clock
from sipflask.extensions import db
from sipflask.models import AccountSettings, Buyer, Call
from sipflask.reports import series
from sipflask.reports.query import build_report
from tests.support.webhook import AUTO, BASE, MEDICARE, parse, post, voice

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
BLUESKY, NORTHSTAR, UNKNOWN = "+18664420199", "+18773331212", "+15550001111"
NUMBERS = (AUTO, NORTHSTAR, BLUESKY, MEDICARE)
CALLERS = ("+14155550001", "+14155550002", "+14155550003", "+14155550001", "+14155550004")
STATES = ("CA", "NY", "", "TX", "CA")
GROUPS = ("campaign", "buyer", "day", "hour", "tag:vertical", "state", "number", "publisher",
          "sub_id", "tag:language")
RANGES = ((date(2026, 10, 31), date(2026, 11, 1)), (date(2026, 11, 1), date(2026, 11, 1)),
          (date(2026, 10, 30), date(2026, 11, 2)))


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Instants (UTC) around the local midnights and both 01:30s of the fall-back night: a "before"
# instant stays 30 s clear of its edge (the webhook takes time on the shifted clock).
TIMES = [utc("2026-10-31T03:30:00"), utc("2026-10-31T03:59:30"), utc("2026-10-31T04:00:00"),
         utc("2026-10-31T16:00:00"), utc("2026-11-01T03:59:30"), utc("2026-11-01T04:00:00"),
         utc("2026-11-01T05:30:00"), utc("2026-11-01T05:59:30"), utc("2026-11-01T06:00:00"),
         utc("2026-11-01T06:30:00"), utc("2026-11-01T07:10:00"), utc("2026-11-01T18:45:00"),
         utc("2026-11-02T04:59:30"), utc("2026-11-02T05:00:00"), utc("2026-11-02T05:00:30"),
         utc("2026-11-02T15:00:00"), utc("2026-11-01T05:45:00"), utc("2026-11-01T06:45:00")]


def activate(app, *refs, bad_number=()):
    """Only ``refs`` take calls (open, no caps); ``bad_number`` buyers' URIs can't be built."""
    with app.app_context():
        for buyer in db.session.scalars(select(Buyer)):
            buyer.paused = buyer.ref not in refs
            buyer.hours, buyer.closures, buyer.time_zone = None, [], "UTC"
            for cap in ("concurrency_cap", "hourly_cap", "daily_cap", "monthly_cap", "total_cap"):
                setattr(buyer, cap, None)
            if buyer.ref in bad_number:
                buyer.number = "sip:agent@[missing]"
            elif buyer.ref == "queue":
                buyer.number = "sip:agentqueue@pbx.example.com"
        db.session.commit()


class Caller:
    def __init__(self, client, app, n, when):
        self.client, self.app, self.sid, self.when = client, app, f"CA{n:032d}", when
        self.root = None

    def dial(self, to, caller, state):
        with clock.starting_at(self.when):
            self.root = parse(voice(self.client, to=to, sid=self.sid, caller=caller,
                                    FromState=state))

    def outcome(self, status, code=None, seconds=0):
        dial = self.root.find("Dial")
        assert dial is not None
        data = {"CallSid": self.sid, "DialCallStatus": status, "DialCallDuration": str(seconds)}
        if code:
            data["DialSipResponseCode"] = str(code)
        with clock.starting_at(self.when + timedelta(seconds=5)):
            self.root = parse(post(self.client, dial.get("action")[len(BASE):], data))

    def status(self, status, seconds=None):
        data = {"CallSid": self.sid, "CallStatus": status}
        if seconds is not None:
            data["CallDuration"] = str(seconds)
        with clock.starting_at(self.when + timedelta(seconds=6)):
            assert post(self.client, "/twilio/status", data).status_code in (200, 204)

    def postback(self, revenue=None):
        with self.app.app_context():
            c = db.session.scalar(select(Call).where(Call.call_sid == self.sid))
            data = {"key": c.key, "uuid": c.uuid}
        if revenue:
            data["revenue"] = revenue
        assert self.client.post("/postback", data=data).status_code == 200


def scenario(app, c: Caller, kind: int, to, caller, state):
    if kind == 0:    # answered at once, converted with revenue
        activate(app, "queue", "secure", "overflow")
        c.dial(to, caller, state)
        c.outcome("completed", 200, 95)
        c.postback("12.50")
    elif kind == 1:  # the first buyer busy, the second answers; converted without revenue
        activate(app, "queue", "secure", "ny-floor")
        c.dial(to, caller, state)
        c.outcome("busy", 486)
        c.outcome("completed", 200, 30)
        c.postback()
    elif kind == 2:  # two dialled, nobody answers, nobody left; a postback all the same
        activate(app, "queue", "secure", "ny-floor")
        c.dial(to, caller, state)
        c.outcome("no-answer", 480)
        c.outcome("failed", 503)
        c.postback("5.00")
    elif kind == 3:  # nobody available: all paused
        activate(app)
        c.dial(to, caller, state)
    elif kind == 4:  # rejected: not a tracking number
        activate(app, "queue")
        c.dial(UNKNOWN, caller, state)
    elif kind == 5:  # the first buyer could not be dialled, the next one answers
        activate(app, "queue", "phone", bad_number=("queue",))
        c.dial(to, caller, state)
        c.outcome("completed", 200, 61)
        c.postback("0.99")
    elif kind == 6:  # the only buyer could not be dialled: no buyer
        activate(app, "queue", bad_number=("queue",))
        c.dial(to, caller, state)
    elif kind == 7:  # the caller hung up while it rang
        activate(app, "queue")
        c.dial(to, caller, state)
        c.status("canceled")
        c.outcome("canceled", 487)
    elif kind == 8:  # the status callback before the dial-action
        activate(app, "queue")
        c.dial(to, caller, state)
        c.status("completed", 50)
        c.outcome("completed", 200, 45)
        c.postback("100.01")
    elif kind == 9:  # answered, never converted
        activate(app, "queue", "overflow")
        c.dial(to, caller, state)
        c.outcome("answered", 200, 7)


KINDS = 10


@pytest.fixture
def calls(app, client, demo):
    with app.app_context():
        db.session.add(AccountSettings(time_zone="America/New_York"))
        db.session.commit()
    n = 0
    for i, when in enumerate(TIMES):
        for kind in (i % KINDS, (i * 5 + 3) % KINDS):
            n += 1
            scenario(app, Caller(client, app, n, when), kind, NUMBERS[n % 4],
                     CALLERS[n % 5], STATES[n % 5])
    return n


# --- the count in Python ----------------------------------------------------------------------

ANSWERED = ("completed", "answered")
KIND_LABELS = {"paused": "paused", "not dialled": "could not be dialled"}


def not_dialled(a):
    return a.dial_status == "failed" and a.sip_code is None and any(
        s.get("buyer_id") == a.buyer_id and s.get("reason", "").startswith("not dialled: ")
        for s in a.skipped or ())


def skip_kinds(call):
    kinds = set()
    for a in call.attempts:
        for s in a.skipped or ():
            reason = s.get("reason", "")
            if reason == "already tried":
                continue
            kinds.add("not dialled" if reason.startswith("not dialled: ") else reason)
    if not call.attempts:
        parts = call.reason.split(": ", 1)[1].split("; ")
        kinds = {p.rsplit(": ", 1)[1] for p in parts}
    return {KIND_LABELS[k] for k in kinds}


def facts(call, buyer=None):
    """(routed, connected, no_buyer, talk) of a call, or of a buyer's part in it."""
    attempts = [a for a in call.attempts if buyer is None or a.buyer_id == buyer]
    routed = any(not not_dialled(a) for a in attempts)
    answered = [a for a in attempts if a.dial_status in ANSWERED]
    no_buyer = call.status == "no-buyer" and not routed
    return routed, bool(answered), no_buyer, sum(a.duration or 0 for a in answered)


def keys_of(call, group):
    local = call.created_at.astimezone(NY)
    if group == "buyer":
        return [(a.buyer.ref, a.buyer_id) for a in call.attempts if not not_dialled(a)]
    record = {"campaign": call.campaign, "publisher": call.publisher}.get(group)
    if group in ("campaign", "publisher"):
        return [(record.ref if record else "", None)]
    simple = {"day": local.date().isoformat(), "hour": f"{local.hour:02d}",
              "number": call.number.number if call.number else "", "sub_id": call.sub_id or "",
              "state": call.tags.get("caller_state", "")}
    if group.startswith("tag:"):
        return [(call.tags.get(group[4:], ""), None)]
    return [(simple[group], None)]


def top(counter):
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:3]


class Sums:
    def __init__(self):
        self.calls, self.callers, self.routed, self.connected = set(), set(), 0, 0
        self.no_buyer, self.converted, self.revenue, self.talk = 0, 0, Decimal("0.00"), 0
        self.codes, self.skips = Counter(), Counter()

    def add(self, call, buyer=None):
        if call.id in self.calls:
            return
        routed, connected, no_buyer, talk = facts(call, buyer)
        self.calls.add(call.id)
        self.callers.add(call.caller)
        self.routed += routed
        self.connected += connected
        self.no_buyer += no_buyer
        self.talk += talk
        if connected and call.converted:
            self.converted += 1
            self.revenue += Decimal(call.revenue or 0)
        self.codes.update(a.sip_code for a in call.attempts if (a.sip_code or 0) >= 300
                          and (buyer is None or a.buyer_id == buyer))
        if no_buyer:
            self.skips.update(skip_kinds(call))

    def figures(self):
        return dict(calls=len(self.calls), unique_callers=len(self.callers), routed=self.routed,
                    connected=self.connected, no_buyer=self.no_buyer, converted=self.converted,
                    revenue=self.revenue, talk_seconds=self.talk, sip_codes=top(self.codes),
                    skip_reasons=top(self.skips))


def brute(app, group, first, last):
    with app.app_context():
        calls = db.session.scalars(select(Call).options(
            selectinload(Call.attempts), selectinload(Call.campaign),
            selectinload(Call.publisher), selectinload(Call.number))).all()
        groups, totals = defaultdict(Sums), Sums()
        for call in calls:
            if not first <= call.created_at.astimezone(NY).date() <= last:
                continue
            for key, buyer in keys_of(call, group):
                groups[key].add(call, buyer)
            if group != "buyer" or facts(call)[0]:
                totals.add(call)
        return {k: s.figures() for k, s in groups.items()}, totals.figures()


def figures(row):
    return dict(calls=row.calls, unique_callers=row.unique_callers, routed=row.routed,
                connected=row.connected, no_buyer=row.no_buyer, converted=row.converted,
                revenue=row.revenue, talk_seconds=row.talk_seconds, sip_codes=row.sip_codes,
                skip_reasons=row.skip_reasons)


# --- the checks -------------------------------------------------------------------------------

@pytest.mark.parametrize("first, last", RANGES)
def test_every_figure_matches_the_count_in_python(app, calls, first, last):
    for group in GROUPS:
        expected, expected_totals = brute(app, group, first, last)
        with app.app_context():
            report = build_report(group, first, last)
        assert report.time_zone == "America/New_York"
        got = {r.key: figures(r) for r in report.rows if r.calls}
        assert got == expected, group
        assert figures(report.totals) == expected_totals, group
        if group in ("day", "hour"):
            assert all(r.calls == 0 for r in report.rows if r.key not in expected)


def test_the_data_covers_what_it_should(app, calls):
    """The count above is not vacuous: both 01:00s, every kind of outcome, two buyers."""
    rows, _ = brute(app, "hour", date(2026, 11, 1), date(2026, 11, 1))
    assert rows["01"]["calls"] >= 6 and rows["00"]["calls"] >= 2
    _, totals = brute(app, "campaign", date(2026, 10, 30), date(2026, 11, 2))
    assert totals["no_buyer"] and totals["routed"] > totals["connected"] > totals["converted"]
    assert {"paused", "could not be dialled"} == {k for k, _ in totals["skip_reasons"]}
    assert totals["revenue"] > 0 and len(totals["sip_codes"]) == 3
    buyers, _ = brute(app, "buyer", date(2026, 10, 30), date(2026, 11, 2))
    assert len(buyers) >= 3


def _series_brute(app, first, last):
    hours, days, revenue = Counter(), Counter(), Counter()
    with app.app_context():
        for call in db.session.scalars(select(Call).options(selectinload(Call.attempts))):
            local = call.created_at.astimezone(NY)
            if not first <= local.date() <= last:
                continue
            routed, connected, no_buyer, _ = facts(call)
            outcome = ("connected" if connected else "not_answered" if routed else
                       "no_buyer" if no_buyer else "rejected" if call.status == "rejected"
                       else None)
            label = f"{local:%Y-%m-%d %H:00} {local.tzname()}"
            hours[label, outcome] += 1
            days[local.date().isoformat(), outcome] += 1
            if connected and call.converted:
                revenue[local.date().isoformat()] += Decimal(call.revenue or 0)
    return hours, days, revenue


@pytest.mark.parametrize("first, last", RANGES)
def test_series_match_the_count_in_python(app, calls, first, last):
    hours, days, revenue = _series_brute(app, first, last)
    with app.app_context():
        hourly = series.outcome_series(first, last, "hour")
        daily = series.outcome_series(first, last, "day")
        money = series.revenue_series(first, last)
    n_days = (last - first).days + 1
    assert len(hourly["buckets"]) == 24 * n_days + (1 if first <= date(2026, 11, 1) <= last
                                                    else 0)
    assert len(set(hourly["buckets"])) == len(hourly["buckets"])
    for name in series.OUTCOMES:
        assert {b: v for b, v in zip(hourly["buckets"], hourly[name]) if v} == \
            {b: v for (b, o), v in hours.items() if o == name}, name
        assert {b: v for b, v in zip(daily["buckets"], daily[name]) if v} == \
            {b: v for (b, o), v in days.items() if o == name}, name
    assert {b: Decimal(v) for b, v in zip(money["buckets"], money["revenue"]) if v != "0.00"} \
        == {b: v for b, v in revenue.items() if v}
    if first <= date(2026, 11, 1) <= last:
        assert "2026-11-01 01:00 EDT" in hourly["buckets"]
        assert "2026-11-01 01:00 EST" in hourly["buckets"]
