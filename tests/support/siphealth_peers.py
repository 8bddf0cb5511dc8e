"""Scripted SIP peers on 127.0.0.1 for what sipp cannot do: TLS (this sipp has none), exact
retransmission timings, provisional, malformed and foreign replies."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path

from tests.sip.sipp import LOCAL_IP


def answer_to(request: bytes, status: str = "200 OK") -> bytes:
    """A reply to ``request`` echoing its Via, From, To, Call-ID and CSeq."""
    lines = request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
    keep = [line for line in lines if line.split(":", 1)[0] in ("Via", "From", "To", "Call-ID",
                                                               "CSeq")]
    return ("\r\n".join([f"SIP/2.0 {status}", *keep, "Server: scripted-peer",
                         "Content-Length: 0"]) + "\r\n\r\n").encode()


class UdpPeer:
    """A UDP socket on 127.0.0.1 that records when each datagram arrived and answers with
    ``script(n, data) -> list[bytes]`` (n counts datagrams from 0)."""

    def __init__(self, script=lambda n, data: []):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCAL_IP, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.script, self.arrivals, self.data = script, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.arrivals.append(time.monotonic())
            self.data.append(data)
            for out in self.script(len(self.data) - 1, data):
                self.sock.sendto(out, peer)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def self_signed(workdir: Path, name: str) -> tuple[Path, Path]:
    """(cert, key) PEM files for ``name`` (a DNS name or an IP), valid for a day."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alt = x509.DNSName(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = Path(workdir) / f"{name}.crt", Path(workdir) / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TlsPeer:
    """A TLS listener on 127.0.0.1 answering each OPTIONS with ``status``."""

    def __init__(self, cert: Path, key: Path, status: str = "200 OK"):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server((LOCAL_IP, 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.status, self.received = status, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(3)
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65535)
                        if not chunk:
                            break
                        data += chunk
                    self.received.append(data)
                    conn.sendall(answer_to(data, self.status))
            except (ssl.SSLError, OSError):
                raw.close()  # the client refused our certificate: that is the test

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
