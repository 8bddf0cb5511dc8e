"""Check one SIP endpoint end to end: resolve its URI (RFC 3263), then probe the targets in
order the way a SIP client fails over (RFC 3263 section 4.3: on a timeout, a transport error or
a 503 it tries the next target; any other reply is the endpoint's answer).

``Diagnosis.as_dict()`` is plain data: the CLI's ``--json`` and the pages read the same thing.

A ``deadline`` (a ``time.monotonic()`` instant) bounds the whole check, DNS included, for a
caller that must answer in time (a web page): every DNS query and every target gets what is
left of it, and targets still waiting when it passes are not probed (``Diagnosis.cut_short``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from sipflask.core.sipoptions import DEFAULT_ACCEPTED
from sipflask.core.sipresolve import Answer, Resolution, resolve
from sipflask.core.sipverdict import RETRY_ON, ProbeResult, verdict
from sipflask.siphealth import dns as sipdns
from sipflask.siphealth.probe import DEFAULT_TIMEOUT, probe

__all__ = ["Diagnosis", "check_endpoint", "lookup_from_config"]

#: Seconds below which a target is not worth probing: not even one UDP retransmission fits.
MIN_WAIT = 0.2


@dataclass
class Diagnosis:
    uri: str
    resolution: Resolution
    probes: list[ProbeResult] = field(default_factory=list)
    alive: bool = False
    verdict: str = ""
    cut_short: bool = False  # the deadline passed before every target that should was probed

    def _targets(self) -> list[dict]:
        """Every resolved target in order; those after the answering one were not probed."""
        out = []
        for i, t in enumerate(self.resolution.targets):
            p = self.probes[i] if i < len(self.probes) else None
            out.append({"host": t.host, "address": t.address, "port": t.port,
                        "transport": t.transport, "probed": p is not None,
                        "status": p.status if p else None, "failure": p.failure if p else None,
                        "alive": p.alive if p else None, "rtt_ms": p.rtt_ms if p else None})
        return out

    def as_dict(self) -> dict:
        return {
            "uri": self.uri,
            "alive": self.alive,
            "verdict": self.verdict,
            "cut_short": self.cut_short,
            "transport": self.resolution.transport,
            "dns": [vars(s) | {"answer": list(s.answer)} for s in self.resolution.steps],
            "targets": self._targets(),
            "probes": [p.as_dict() for p in self.probes],
        }


def lookup_from_config(config, lifetime: float = sipdns.DEFAULT_LIFETIME,
                       deadline: float | None = None):
    """The DNS lookup for ``DNS_NAMESERVERS`` (env ``SIPFLASK_DNS_NAMESERVERS``); with a
    ``deadline`` no query outlives it (one asked after it is a timeout without being sent).
    Raises ``sipdns.NameserverError`` when that setting cannot be used."""
    resolver = sipdns.make_resolver(config.get("DNS_NAMESERVERS"), lifetime)
    lookup = sipdns.make_lookup(resolver)
    if deadline is None:
        return lookup

    def bounded(name: str, rdtype: str) -> Answer:
        left = deadline - time.monotonic()
        if left <= 0:
            return Answer(error="timeout")
        resolver.lifetime = resolver.timeout = min(lifetime, left)
        return lookup(name, rdtype)
    return bounded


def _user(uri: str) -> str:
    rest = uri.split(":", 1)[-1]
    return rest.split("@", 1)[0] if "@" in rest else ""


def check_endpoint(uri: str, lookup, headers=(), timeout: float = DEFAULT_TIMEOUT,
                   accepted=DEFAULT_ACCEPTED, ssl_context=None,
                   rng: random.Random | None = None, deadline: float | None = None) -> Diagnosis:
    """Resolve ``uri`` and probe its targets until one gives the endpoint's answer."""
    resolution = resolve(uri, lookup, rng)
    diagnosis = Diagnosis(resolution.uri, resolution)
    request_uri = resolution.uri
    for target in resolution.targets if not resolution.error else ():
        wait = timeout if deadline is None else min(timeout, deadline - time.monotonic())
        if wait < MIN_WAIT:
            diagnosis.cut_short = True
            break
        result = probe(target, request_uri, headers, wait, accepted, ssl_context)
        diagnosis.probes.append(result)
        if result.failure is None and result.status not in RETRY_ON:
            break
    last = diagnosis.probes[-1] if diagnosis.probes else None
    diagnosis.alive = bool(last and last.alive)
    diagnosis.verdict = verdict(resolution.error, diagnosis.probes, _user(request_uri))
    if diagnosis.cut_short:
        left = len(resolution.targets) - len(diagnosis.probes)
        note = f"out of time, {left} target{'s' if left != 1 else ''} not probed"
        diagnosis.verdict = (f"{diagnosis.verdict}; {note}" if diagnosis.probes
                             else f"not known: {note}")
    return diagnosis
