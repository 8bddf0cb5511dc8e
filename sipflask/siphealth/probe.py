"""Send one SIP OPTIONS to one target and wait for its final reply: UDP with RFC 3261
retransmission (timer E: T1 = 500 ms, doubling up to T2 = 4 s), TCP, and TLS with the
certificate checked against the SIP domain. Messages are built and read by
:mod:`sipflask.core.sipoptions`; this module only moves bytes and measures time.

A connected UDP socket is used on purpose: the kernel then reports an ICMP port unreachable as
``ConnectionRefusedError``, so "nothing listens on 5060" is told apart from "packets dropped".
"""

from __future__ import annotations

import socket
import ssl
import time

from sipflask.core.sipoptions import (DEFAULT_ACCEPTED, SipMessageError, build_options,
                                      head_complete, is_alive, parse_reply)
from sipflask.core.sipresolve import Target
from sipflask.core.sipverdict import ProbeResult

__all__ = ["probe", "T1", "T2", "DEFAULT_TIMEOUT"]

T1 = 0.5
T2 = 4.0
DEFAULT_TIMEOUT = 4.0
SHOWN_HEADERS = ("Server", "User-Agent", "Allow", "Supported", "Contact")


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _finish(result: ProbeResult, reply, started: float, accepted) -> ProbeResult:
    result.rtt_ms = _ms(time.monotonic() - started)
    result.status, result.reason = reply.status, reply.reason
    result.alive = is_alive(reply.status, accepted)
    result.reply_headers = {h: reply.header(h) for h in SHOWN_HEADERS if reply.header(h)}
    return result


def _fail(result: ProbeResult, failure: str, detail: str = "") -> ProbeResult:
    result.failure, result.detail = failure, detail
    return result


def _udp(target: Target, result: ProbeResult, build, timeout: float, accepted) -> ProbeResult:
    with socket.socket(_family(target.address), socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((target.address, target.port))
        except OSError as exc:
            return _fail(result, "unreachable", exc.strerror or str(exc))
        request = build(sock.getsockname()[:2])
        result.sent = request.text
        started = time.monotonic()
        deadline, next_send, interval, sends = started + timeout, started, T1, 0
        while True:
            now = time.monotonic()
            if now >= deadline:
                result.retransmits = max(sends - 1, 0)
                return _fail(result, "timeout", f"no reply in {timeout:g} s")
            try:
                if now >= next_send:
                    sock.send(request.wire())
                    sends += 1
                    next_send, interval = now + interval, min(interval * 2, T2)
                sock.settimeout(max(min(next_send, deadline) - time.monotonic(), 0.001))
                data = sock.recv(65535)
            except TimeoutError:
                continue
            except ConnectionRefusedError:
                result.retransmits = max(sends - 1, 0)
                return _fail(result, "refused", "ICMP port unreachable")
            except OSError as exc:
                return _fail(result, "unreachable", exc.strerror or str(exc))
            try:
                reply = parse_reply(data, request)
            except SipMessageError as exc:
                result.ignored.append(str(exc))
                continue
            if reply.status < 200:  # provisional: the server has it, retransmit slowly
                interval = T2
                continue
            result.retransmits = max(sends - 1, 0)
            return _finish(result, reply, started, accepted)


def _connect(target: Target, result: ProbeResult, timeout: float, context):
    started = time.monotonic()
    try:
        sock = socket.create_connection((target.address, target.port), timeout=timeout)
    except ConnectionRefusedError:
        return _fail(result, "refused", "connection refused")
    except TimeoutError:
        return _fail(result, "connect-timeout", f"not accepted in {timeout:g} s")
    except OSError as exc:
        return _fail(result, "unreachable", exc.strerror or str(exc))
    if target.transport == "tls":
        sock.settimeout(max(timeout - (time.monotonic() - started), 0.01))  # one budget
        try:
            sock = (context or ssl.create_default_context()).wrap_socket(
                sock, server_hostname=target.tls_name)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            return _fail(result, "tls-cert", exc.verify_message or str(exc))
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            return _fail(result, "tls", str(exc))
    result.connect_ms = _ms(time.monotonic() - started)
    return sock


def _read_reply(sock, request, result: ProbeResult, deadline: float):
    """The first final reply on the stream, or a failure word."""
    buffer = b""
    while True:
        size = head_complete(buffer)
        if size is not None:
            reply = parse_reply(buffer[:size], request, stream=True)
            buffer = buffer[size:]
            if reply.status >= 200:
                return reply
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        sock.settimeout(remaining)
        chunk = sock.recv(65535)
        if not chunk:
            return "closed"
        buffer += chunk


def _stream(target: Target, result: ProbeResult, build, timeout: float, accepted,
            context) -> ProbeResult:
    deadline = time.monotonic() + timeout
    sock = _connect(target, result, timeout, context)
    if isinstance(sock, ProbeResult):
        return sock
    with sock:
        request = build(sock.getsockname()[:2])
        result.sent = request.text
        started = time.monotonic()
        try:
            sock.sendall(request.wire())
            reply = _read_reply(sock, request, result, deadline)
        except SipMessageError as exc:
            return _fail(result, "malformed", str(exc))
        except TimeoutError:
            reply = "timeout"
        except OSError as exc:
            return _fail(result, "closed", exc.strerror or str(exc))
    if reply == "timeout":
        return _fail(result, "timeout", f"no reply in {timeout:g} s")
    if reply == "closed":
        return _fail(result, "closed", "the connection closed before a reply")
    return _finish(result, reply, started, accepted)


def probe(target: Target, request_uri: str, headers=(), timeout: float = DEFAULT_TIMEOUT,
          accepted=DEFAULT_ACCEPTED, ssl_context: ssl.SSLContext | None = None) -> ProbeResult:
    """One OPTIONS to ``target``; never raises for network trouble (it is the result)."""
    result = ProbeResult(target.host, target.address, target.port, target.transport)

    def build(local):
        return build_options(request_uri, target.transport, local, headers)

    if target.transport == "udp":
        return _udp(target, result, build, timeout, accepted)
    if target.transport in ("tcp", "tls"):
        return _stream(target, result, build, timeout, accepted, ssl_context)
    return _fail(result, "unsupported", f"transport {target.transport}")
