"""Run a real ``sipp`` (Debian ``sip-tester``) as the buyer's PBX in tests.

sipp runs in the FOREGROUND in a subprocess (with ``-bg`` its exit code says nothing), one call
(``-m 1``), bounded by ``-timeout`` and by the subprocess wait; it is always killed in ``close()``.
Exit codes: 0 all calls passed, 1 some failed, 99 none ran, 255 its -timeout hit (we pass
-timeout_error), negative: killed by us after the subprocess timeout.

Scenarios in ``scenarios/`` are templates: ``render_*`` fills them in (expected header values
regex-escaped and XML-escaped) and writes the result to a temporary directory.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape

SCENARIOS = Path(__file__).parent / "scenarios"
LOCAL_IP = "127.0.0.1"
LOG_PREFIX = "sipflask-test:"


def sipp_path() -> str | None:
    return shutil.which("sipp")


def xml_attr(value: str) -> str:
    """Escape for a double-quoted attribute. sipp's XML parser knows &lt; &gt; &amp; &quot;
    but not &apos; (it stays literal), so ' is left as is."""
    return _xml_escape(value, {'"': "&quot;"})


def ere_escape(value: str) -> str:
    r"""``value`` as a POSIX extended regex matching exactly it, in the form sipp needs.

    sipp (3.6) turns ``\\`` into ``\`` in the ``regexp`` attribute before regcomp
    (REG_EXTENDED), so backslash escapes are avoided: each special character goes in a bracket
    expression (``[.]``, ``[[]``, ...), ``^`` as ``\^``, and a backslash as ``[\\]``,
    which sipp hands to regcomp as ``[\]`` (a literal backslash in POSIX brackets).
    """
    out = []
    for c in value:
        if c == "\\":
            out.append("[\\\\]")
        elif c == "^":
            out.append("\\^")
        elif c in ".[]()*+?{}|$":
            out.append(f"[{c}]")
        else:
            out.append(c)
    return "".join(out)


def _header_checks(expected: list[tuple[str, str]]) -> tuple[str, str, str]:
    """(ereg actions, log actions, Reference element) checking each header's exact value.

    sipp's ``search_in="hdr"`` content keeps the whitespace after the colon (it sees
    ``' value'``), hence the leading ``[[:space:]]*``; the name match is case-sensitive.
    A failed ``check_it`` ereg skips the actions after it, and in a <recv>'s own actions
    ``[last_Name:]`` still means the message before, so the logs go in a <nop> right after
    the <recv> (the scenario goes on after a failed check; the call is counted failed).
    """
    checks, logs, names = [], [], []
    for i, (name, value) in enumerate(expected):
        var = f"hdr{i}"
        names.append(var)
        checks.append(
            f'      <ereg regexp="{xml_attr("^[[:space:]]*" + ere_escape(value) + "$")}" search_in="hdr" '
            f'header="{xml_attr(name)}:" check_it="true" assign_to="{var}"/>'
        )
        # [last_Name:] gives the whole received line ("Name: value"), empty if absent.
        logs.append(f'      <log message="{LOG_PREFIX} HDR {xml_attr(name)}=[last_{xml_attr(name)}:]"/>')
    reference = f'  <Reference variables="{",".join(names)}"/>' if names else ""
    log_nop = ('  <nop hide="true">\n    <action>\n' + "\n".join(logs) + "\n    </action>\n  </nop>"
               if logs else "")
    return "\n".join(checks), log_nop, reference


def render_scenario(template: str, out_dir: Path, expected_headers: list[tuple[str, str]],
                    **fields: str) -> Path:
    """Fill ``scenarios/<template>`` and write it to ``out_dir``; return its path."""
    text = (SCENARIOS / template).read_text(encoding="utf-8")
    checks, logs, reference = _header_checks(expected_headers)
    fields = {"CHECKS": checks, "LOGS": logs, "REFERENCE": reference, **fields}
    for key, value in fields.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text.split("-->", 1)[-1]:
        raise ValueError(f"unfilled marker in {template}")
    out = out_dir / template
    out.write_text(text, encoding="utf-8")
    return out


def render_headers_scenario(out_dir: Path, expected_headers: list[tuple[str, str]]) -> Path:
    return render_scenario("uas_headers.xml", out_dir, expected_headers)


def render_auth_scenario(out_dir: Path, expected_headers: list[tuple[str, str]], username: str,
                         password: str, qop: bool = False) -> Path:
    return render_scenario(
        "uas_auth.xml", out_dir, expected_headers,
        USERNAME=xml_attr(username), PASSWORD=xml_attr(password),
        QOP=', qop="auth"' if qop else "",
    )


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOCAL_IP, 0))
        return s.getsockname()[1]


def port_taken(kind: int, port: int) -> bool:
    """Whether something on LOCAL_IP holds ``port`` for ``kind`` (SOCK_DGRAM or SOCK_STREAM)."""
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((LOCAL_IP, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise
    return False


@dataclass
class SippResult:
    returncode: int | None
    errors: str  # -trace_err file
    logs: str  # -trace_logs file (<log> actions)
    messages: str  # -trace_msg file
    stdout: str
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.returncode == 0

    def logged(self, marker: str) -> list[str]:
        return [line for line in self.logs.splitlines() if marker in line]

    def received_headers(self) -> dict[str, str]:
        """What sipp's <log> lines say it received: {name: value}."""
        out = {}
        for line in self.logged(f"{LOG_PREFIX} HDR "):
            rest = line.split(f"{LOG_PREFIX} HDR ", 1)[1]
            name, _, received = rest.partition("=")  # received: "Name: value" or ""
            if received:
                out[name] = received.split(":", 1)[1].lstrip(" \t")
        return out

    def describe(self, limit: int = 4000) -> str:
        def tail(s: str) -> str:
            return s[-limit:] if len(s) > limit else s
        return (
            f"sipp exit code {self.returncode}{' (timed out, killed)' if self.timed_out else ''}\n"
            f"--- sipp error log ---\n{tail(self.errors)}\n"
            f"--- sipp <log> lines ---\n{tail(self.logs)}\n"
            f"--- sipp messages ---\n{tail(self.messages)}\n"
            f"--- sipp stdout (tail) ---\n{tail(self.stdout)[-1500:]}"
        )


class Sipp:
    """``with Sipp(scenario, workdir) as pbx: ...dial 127.0.0.1:pbx.port...; res = pbx.wait()``"""

    def __init__(self, scenario: Path, workdir: Path, timeout: float = 20.0):
        self.scenario = Path(scenario)
        self.workdir = Path(workdir)
        self.timeout = timeout
        self.port = free_udp_port()
        self.media_port = free_udp_port()
        self.proc: subprocess.Popen | None = None
        self.files = {k: self.workdir / f"sipp_{self.port}_{k}.log"
                      for k in ("errors", "logs", "messages", "stdout")}
        self._result: SippResult | None = None

    def command(self) -> list[str]:
        exe = sipp_path()
        if not exe:
            raise RuntimeError("sipp is not on PATH (apt-get install sip-tester)")
        return [
            exe, "-sf", str(self.scenario),
            "-i", LOCAL_IP, "-p", str(self.port), "-mp", str(self.media_port),
            "-m", "1", "-timeout", f"{int(self.timeout)}s", "-timeout_error",
            "-nostdin",
            "-trace_err", "-error_file", str(self.files["errors"]),
            "-trace_logs", "-log_file", str(self.files["logs"]),
            "-trace_msg", "-message_file", str(self.files["messages"]),
        ]

    def start(self, ready_timeout: float = 5.0) -> "Sipp":
        stdout = open(self.files["stdout"], "wb")
        try:
            self.proc = subprocess.Popen(
                self.command(), cwd=self.workdir, stdin=subprocess.DEVNULL,
                stdout=stdout, stderr=subprocess.STDOUT, env={**os.environ, "TERM": "dumb"},
            )
        finally:
            stdout.close()
        deadline = time.monotonic() + ready_timeout
        while not port_taken(socket.SOCK_DGRAM, self.port):
            if self.proc.poll() is not None:
                raise RuntimeError("sipp exited before listening:\n" + self._collect(False).describe())
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("sipp did not bind its port in time:\n" + self._collect(True).describe())
            time.sleep(0.02)
        return self

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for sipp to finish its one call; kill it after ``timeout`` (default: its own
        -timeout plus 5 s)."""
        assert self.proc is not None
        timed_out = False
        try:
            self.proc.wait(timeout=self.timeout + 5 if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.close()
        self._result = self._collect(timed_out)
        return self._result

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def _collect(self, timed_out: bool) -> SippResult:
        def read(key: str) -> str:
            try:
                return self.files[key].read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                return ""
        rc = self.proc.returncode if self.proc is not None else None
        return SippResult(rc, read("errors"), read("logs"), read("messages"), read("stdout"), timed_out)

    def __enter__(self) -> "Sipp":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
