"""A real HTTP receiver on 127.0.0.1 for the webhook tests: a threaded server that records
every request and answers as told, in order: a status (200 by default), ``Retry-After``,
slowly, or by resetting the connection; over TLS with a certificate of the test's making.
``certificate`` makes one for a host name (self-signed; the client trusts that file)."""
from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0     # seconds before answering ("slow")
    reset: bool = False    # close the connection with a TCP reset instead of answering


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict  # lower-case names
    body: bytes
    raw_target: str
    at: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        receiver: Receiver = self.server.receiver
        receiver.record(Seen(self.command, parts.path, parse_qsl(parts.query,
                                                                  keep_blank_values=True),
                             {k.lower(): v for k, v in self.headers.items()}, body, self.path,
                             time.monotonic()))
        reply = receiver.next_reply()
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = _handle

    def log_message(self, *args):  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that times out or gives up drops its connection: expected here, not noise.
        pass


class Receiver:
    def __init__(self, host: str = "127.0.0.1", tls: tuple[str, str] | None = None):
        """``tls``: (certificate file, key file) to answer https instead."""
        self.server = _Server((host, 0), _Handler)
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.receiver = self
        self.port = self.server.server_address[1]
        self.requests: list[Seen] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def answer(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; then the default (200 ok)."""
        self.replies.extend(replies)

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def next_reply(self) -> Reply:
        with self._lock:
            return self.replies.popleft() if self.replies else self.default

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Seen]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def certificate(folder, host: str) -> tuple[str, str]:
    """A self-signed certificate for ``host`` and its key, written to ``folder``."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{host}.pem", folder / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)
