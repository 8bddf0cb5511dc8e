"""Start Prism (Stoplight's OpenAPI mock server) on Twilio's own OpenAPI spec, for tests.

Prism answers each request with the spec's example, and a request that breaks the spec (a
missing required field, a SID of the wrong shape, a bad path...) with 422 and a log line
"Request did not pass the validation rules" (:meth:`Prism.request_violations`).

Prism is started *without* ``--errors``: that flag also turns Prism's check of its own answers
into 500 errors, and Twilio's spec fails its own schema there (its examples' ``uri`` and
``first_page_uri`` are relative paths declared ``format: uri``), so every list request would
fail. Invalid requests are refused with 422 either way (``test_provisioning_prism.py`` checks it).

* The spec is looked for at ``../shared/twilio-oai/twilio_api_v2010.json`` relative to the
  repository root (CI copies ``shared/`` beside the clone), or at ``$SIPFLASK_TWILIO_SPEC``.
* Prism is ``node_modules/.bin/prism`` (``npm ci`` at the repository root installs the version
  pinned in ``package-lock.json``), or ``prism`` on PATH, or ``$SIPFLASK_PRISM``.

Without either, :func:`prism_or_skip` skips the test, or fails it when ``CI=true``.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# $SIPFLASK_TWILIO_SPEC: the spec elsewhere (e.g. a checkout whose shared/ is not beside it).
SPEC = Path(os.environ.get("SIPFLASK_TWILIO_SPEC")
            or REPO.parent / "shared" / "twilio-oai" / "twilio_api_v2010.json")
IN_CI = os.environ.get("CI") == "true"
INSTALL_HINT = "run 'npm ci' in the repository root (installs @stoplight/prism-cli@5)"
START_TIMEOUT = float(os.environ.get("SIPFLASK_PRISM_START_TIMEOUT", "120"))


def prism_executable() -> str | None:
    for candidate in (os.environ.get("SIPFLASK_PRISM"), str(REPO / "node_modules/.bin/prism")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("prism")


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"CI=true but {reason}: the Prism tests must run in CI.")
    pytest.skip(reason)


def prism_or_skip() -> tuple[str, Path]:
    """Prism's executable and the spec, or skip (fail under CI=true) saying what is missing."""
    if not SPEC.is_file():
        _unavailable(f"Twilio's OpenAPI spec is not at {SPEC} (copy shared/twilio-oai beside "
                     "the repository)")
    exe = prism_executable()
    if exe is None:
        _unavailable(f"Prism is not installed: {INSTALL_HINT}")
    if shutil.which("node") is None:
        _unavailable("Node.js is not installed (Prism needs it)")
    return exe, SPEC


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Prism:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def request_violations(self, since: int = 0) -> list[str]:
        """Prism's complaints about requests logged after byte ``since`` of its log."""
        with open(self.log_path, "rb") as fh:
            fh.seek(since)
            lines = fh.read().decode(errors="replace").splitlines()
        found, inside = [], False
        for line in lines:
            if "Request did not pass the validation rules" in line:
                inside = True
                continue
            if inside and "[VALIDATOR]" in line and "error" in line:
                found.append(line.split("error", 1)[1].strip())
            else:
                inside = False
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_prism(exe: str, spec: Path, port: int | None = None) -> Prism:
    """Start ``prism mock`` on 127.0.0.1 and wait until it accepts connections."""
    port = port or free_port()
    log_file = tempfile.NamedTemporaryFile("wb", prefix="prism-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [exe, "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)],
        stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(REPO))
    log_file.close()
    prism = Prism(f"http://127.0.0.1:{port}", process, Path(log_file.name))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prism exited with {process.returncode}:\n{prism.log_tail()}")
        if "Prism is listening" in prism.log_tail(5):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return prism
            except OSError:
                pass
        time.sleep(0.2)
    prism.stop()
    raise RuntimeError(f"Prism did not start within {START_TIMEOUT:.0f} s:\n{prism.log_tail()}")
