"""Real peers on 127.0.0.1 for the SIP health tests: a ``dnsmasq`` serving A, SRV and NAPTR
records on a free port, and ``sipp`` answering OPTIONS (with a given code, or not at all) over
UDP or TCP.

Without the tool (Debian ``dnsmasq-base``, ``sip-tester``) a test skips, except under
``CI=true`` where it fails: there the test command must install them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sipflask.siphealth import dns as sipdns
from tests.sip.sipp import LOCAL_IP, Sipp, port_taken
from tests.support.app import IN_CI


def need_tool(name: str, package: str) -> str:
    """The tool's path; skip without it, fail under CI=true."""
    path = shutil.which(name) or (shutil.which(name, path="/usr/sbin:/sbin"))
    if path:
        return path
    msg = f"{name} is not installed (apt-get install -y {package})"
    if IN_CI:
        pytest.fail(f"CI=true but {msg}: the SIP health tests must run in CI.", pytrace=False)
    pytest.skip(msg)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for ``kind`` (and, for safety, for the other one too)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((LOCAL_IP, 0))
            port = s.getsockname()[1]
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        if not port_taken(other, port):
            return port
    raise RuntimeError("no free port")


# ----------------------------------------------------------------------------------------------
# dnsmasq


class Dnsmasq:
    """``dnsmasq`` in the foreground answering only for ``.test`` from its command line.

    ``records`` are dnsmasq options without the leading dashes, e.g.
    ``"host-record=pbx.test,127.0.0.1"``, ``"srv-host=_sip._udp.a.test,pbx.test,5070,10,50"``,
    ``"naptr-record=a.test,10,50,s,SIP+D2T,,_sip._tcp.a.test"``. Names under ``.test`` that are
    not configured get NXDOMAIN (``--local=/test/``), as from a real authoritative server.
    """

    def __init__(self, records: list[str], workdir: Path):
        self.exe = need_tool("dnsmasq", "dnsmasq-base")
        self.records = records
        self.port = free_port(socket.SOCK_DGRAM)
        self.log = Path(workdir) / f"dnsmasq_{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def nameservers(self) -> str:
        return f"{LOCAL_IP}:{self.port}"

    def start(self, ready_timeout: float = 5.0) -> "Dnsmasq":
        args = [self.exe, "--keep-in-foreground", f"--port={self.port}", "--no-resolv",
                "--no-hosts", "--conf-file=/dev/null", "--pid-file",
                # As root dnsmasq would switch to "nobody"; staying root keeps the log writable.
                *(["--user=root"] if os.geteuid() == 0 else []),
                f"--listen-address={LOCAL_IP}", "--bind-interfaces", "--local=/test/",
                "--log-queries", "--log-facility=-", *[f"--{r}" for r in self.records]]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        lookup = sipdns.make_lookup(sipdns.make_resolver(self.nameservers, lifetime=0.3))
        deadline = time.monotonic() + ready_timeout
        while lookup("ready.probe.test", "A").error not in ("nxdomain", "nodata"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"dnsmasq did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self

    def queries(self) -> list[str]:
        """``"SRV _sip._udp.a.test"`` for each query dnsmasq logged, in order."""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if "query[" in line:
                rdtype = line.split("query[", 1)[1].split("]", 1)[0]
                out.append(f"{rdtype} {line.split('] ', 1)[1].split(' from ', 1)[0]}")
        return out

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self) -> "Dnsmasq":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------
# sipp answering OPTIONS

_ANSWER = """  <send>
    <![CDATA[
SIP/2.0 {code} {reason}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Server: sipflask-test-pbx
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS
Content-Length: 0

    ]]>
  </send>
"""


def options_scenario(workdir: Path, code: int | None, reason: str = "") -> Path:
    """A UAS scenario: receive one OPTIONS, answer ``code`` (or, with None, stay silent long
    enough for any probe to give up, so its retransmissions meet a live port)."""
    answer = (_ANSWER.format(code=code, reason=reason) if code is not None
              else '  <pause milliseconds="7000"/>\n')
    text = (f'<?xml version="1.0" encoding="UTF-8"?>\n<scenario name="options {code}">\n'
            f'  <recv request="OPTIONS"/>\n{answer}</scenario>\n')
    path = Path(workdir) / f"options_{code}.xml"
    path.write_text(text, encoding="utf-8")
    return path


class SippOptions(Sipp):
    """sipp answering one OPTIONS over ``transport`` (``udp`` or ``tcp``; this sipp has no TLS)."""

    def __init__(self, workdir: Path, code: int | None, reason: str = "", transport="udp",
                 timeout: float = 15.0, calls: int = 1, port: int | None = None):
        need_tool("sipp", "sip-tester")
        super().__init__(options_scenario(workdir, code, reason), workdir, timeout)
        self.transport, self.calls = transport, calls
        if port is not None:
            self.port = port
        elif transport == "tcp":
            self.port = free_port(socket.SOCK_STREAM)

    def command(self) -> list[str]:
        # ``calls`` OPTIONS (each its own Call-ID) before sipp exits, or its timeout.
        command = super().command()
        command[command.index("-m") + 1] = str(self.calls)
        return command + (["-t", "t1"] if self.transport == "tcp" else [])

    def start(self, ready_timeout: float = 5.0) -> "SippOptions":
        if self.transport == "udp":
            return super().start(ready_timeout)
        stdout = open(self.files["stdout"], "wb")
        try:
            self.proc = subprocess.Popen(self.command(), cwd=self.workdir,
                                         stdin=subprocess.DEVNULL, stdout=stdout,
                                         stderr=subprocess.STDOUT)
        finally:
            stdout.close()
        deadline = time.monotonic() + ready_timeout
        while not port_taken(socket.SOCK_STREAM, self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("sipp (TCP) did not listen:\n" + self._collect(True).describe())
            time.sleep(0.02)
        return self

    def options_received(self) -> int:
        """How many OPTIONS requests sipp's message trace shows it received."""
        text = self.files["messages"].read_text(errors="replace") if self.files[
            "messages"].exists() else ""
        return sum(1 for line in text.splitlines() if line.startswith("OPTIONS sip:"))

