"""Sending one webhook request, safely: only http(s), only to addresses the rules allow
(``core/webhook_delivery.address_refusal``), connected to the very address that was checked.

The host is resolved once (the system resolver, ``socket.getaddrinfo``); every address it
resolves to must be allowed, or nothing is sent. The connection then goes to the first checked
address itself (urllib3 with the IP as the pool's host), with the original ``Host`` header,
TLS SNI and certificate check on the URL's host name: no second lookup that a DNS rebinding
could answer differently. No proxy from the environment is used (it would resolve again), and
redirects are never followed (a 3xx could point anywhere). Connect and read timeouts bound
each step; the response body is read up to ``READ_LIMIT`` within a deadline, and only the first
``KEEP_BODY`` bytes are kept.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3
from urllib3 import exceptions as u3

from sipflask.core.webhook_delivery import address_refusal

__all__ = ["Response", "send", "READ_LIMIT", "KEEP_BODY"]

READ_LIMIT = 65536
KEEP_BODY = 2048
MAX_HEADERS_KEPT = 50


@dataclass
class Response:
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    duration_ms: int = 0
    error: str = ""
    refused: bool = False  # by the address rules: nothing was sent


def _addresses(host: str, port: int, resolve) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    found = resolve(host, port, 0, socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for family, _, _, _, sockaddr in found:
        if family in (socket.AF_INET, socket.AF_INET6):
            seen.setdefault(sockaddr[0], None)
    return list(seen)


def _pool(scheme: str, address: str, port: int, host: str, timeout, ca_bundle: str | None):
    common = dict(host=address, port=port, timeout=timeout, retries=False, maxsize=1,
                  block=False)
    if scheme == "http":
        return urllib3.HTTPConnectionPool(**common)
    try:
        ipaddress.ip_address(host)
        sni = None  # no SNI for an IP literal; the certificate must name the IP
    except ValueError:
        sni = host
    if ca_bundle is None:
        import certifi
        ca_bundle = certifi.where()
    return urllib3.HTTPSConnectionPool(**common, server_hostname=sni, assert_hostname=host,
                                       cert_reqs="CERT_REQUIRED", ca_certs=ca_bundle)


def _error(exc: Exception) -> str:
    if isinstance(exc, u3.NewConnectionError):  # before its base class, ConnectTimeoutError
        return f"connection failed: {exc}"[:300]
    if isinstance(exc, u3.ConnectTimeoutError):
        return "connect timeout"
    if isinstance(exc, (u3.ReadTimeoutError, socket.timeout, TimeoutError)):
        return "read timeout"
    if isinstance(exc, u3.SSLError):
        return f"TLS error: {exc}"[:300]
    if isinstance(exc, u3.ProtocolError):
        return f"connection error: {exc.args[-1] if exc.args else exc}"[:300]
    return f"connection error: {type(exc).__name__}: {exc}"[:300]


def _read(response, deadline: float) -> bytes:
    chunks, size = [], 0
    while size < READ_LIMIT and time.monotonic() < deadline:
        chunk = response.read(min(8192, READ_LIMIT - size), decode_content=False)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"


def send(method: str, url: str, headers: list[tuple[str, str]], body: bytes, *,
         timeout: tuple[float, float], allow_private: bool = False,
         ca_bundle: str | None = None, resolve=None) -> Response:
    """Send one request (never following a redirect) and return what came back, or why not."""
    started = time.monotonic()
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        return Response(error="only http:// and https:// URLs with a host are allowed",
                        refused=True)
    port = parts.port or (443 if scheme == "https" else 80)
    try:
        addresses = _addresses(host, port, resolve or socket.getaddrinfo)
    except (OSError, UnicodeError) as exc:
        return Response(error=f"DNS: {host} could not be resolved ({exc})"[:300],
                        duration_ms=int((time.monotonic() - started) * 1000))
    if not addresses:
        return Response(error=f"DNS: {host} has no address")
    for address in addresses:
        refusal = address_refusal(address, allow_private)
        if refusal:
            via = "" if address == host else f"{host} resolves to "
            return Response(error=f"refused: {via}{refusal}"[:500], refused=True)
    connect, read = timeout
    pool = _pool(scheme, addresses[0], port, host,
                 urllib3.Timeout(connect=connect, read=read), ca_bundle)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {"Host": _host_header(host, port, scheme), "Accept-Encoding": "identity"}
    sent.update({name: value.encode("utf-8") for name, value in headers})
    try:
        answer = pool.urlopen(method, target, body=body or None, headers=sent, redirect=False,
                              retries=False, preload_content=False, assert_same_host=False,
                              decode_content=False)
        kept = [(str(k), str(v)[:500]) for k, v in list(answer.headers.items())
                [:MAX_HEADERS_KEPT]]
        result = Response(status=answer.status, headers=kept)
        try:
            result.body = _read(answer, started + connect + 2 * read)[:KEEP_BODY]
        except (u3.HTTPError, OSError) as exc:
            # The status came: it counts; the body's trouble is noted beside it.
            result.error = f"reading the response body: {_error(exc)}"[:300]
        finally:
            answer.release_conn()
    except (u3.HTTPError, OSError) as exc:
        result = Response(error=_error(exc))
    finally:
        pool.close()
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result
