"""The diagnosis as text lines for a terminal: DNS, targets, each probe, the verdict. The same
steps the ``--json`` output holds (``Diagnosis.as_dict()``), in reading order."""

from __future__ import annotations

from sipflask.core.sipverdict import describe

__all__ = ["lines"]


def _probe_lines(index: int, probe, user: str) -> list[str]:
    out = [f"  {index}. {probe.where} ({probe.host})"]
    if probe.sent:
        request_line, *headers = probe.sent.split("\r\n\r\n", 1)[0].split("\r\n")
        out.append(f"     sent: {request_line} ({len(headers)} headers"
                   + (f", {probe.retransmits} retransmissions)" if probe.retransmits else ")"))
    if probe.connect_ms is not None:
        out.append(f"     connected in {probe.connect_ms:.0f} ms")
    if probe.status is not None:
        out.append(f"     reply: SIP/2.0 {probe.status} {probe.reason} in {probe.rtt_ms:.0f} ms")
        out += [f"     {name}: {value}" for name, value in probe.reply_headers.items()]
    out += [f"     ignored: {why}" for why in probe.ignored[:3]]
    out.append(f"     => {describe(probe, user)}")
    return out


def _twilio_lines(ranges: dict) -> list[str]:
    if not ranges["known_region"]:
        return [f"Twilio: ;region={ranges['region']} is not a region Twilio lists"]
    return [f"Twilio dials this URI from region {ranges['region']} "
            f"({', '.join(ranges['signalling'])}): a PBX that whitelists IPs must allow it, "
            "and may answer this probe (sent from here) differently"]


def lines(diagnosis, dropped=(), ranges: dict | None = None) -> list[str]:
    res = diagnosis.resolution
    out = [f"Endpoint {diagnosis.uri}", "DNS:"]
    out += [f"  {'?' if s.kind == 'query' else '-'} {s.note}" for s in res.steps] or [
        "  (nothing to ask)"]
    out.append("Targets:" if res.targets else "Targets: none")
    out += [f"  {t.transport.upper()} {t.address}:{t.port} ({t.host})" for t in res.targets]
    out += [f"Header left out: {d}" for d in dropped]
    if diagnosis.probes:
        out.append("Probes (SIP OPTIONS):")
        user = diagnosis.uri.split(":", 1)[-1].split("@", 1)[0]
        for i, probe in enumerate(diagnosis.probes, 1):
            out += _probe_lines(i, probe, user)
    out += _twilio_lines(ranges) if ranges else []
    out.append(f"Verdict: {diagnosis.verdict}")
    return out
