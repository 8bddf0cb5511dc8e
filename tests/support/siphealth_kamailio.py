"""Kamailio (Debian ``kamailio``) as a real SIP server on 127.0.0.1 for the SIP health tests.

Started in the foreground (``-DD -E``) on a free port with a minimal configuration of its own,
written to the test's directory: it listens on UDP and TCP, answers OPTIONS with
``200 OK`` (``404 Not Found`` for the user ``nobody``, to see a PBX refuse an extension) from
the stateless reply module, and logs each request it routes (method, user, transport), so a
test can count what reached it. Without ``kamailio`` a test skips, under ``CI=true`` it fails.
"""

from __future__ import annotations

import errno
import glob
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.sip.sipp import LOCAL_IP
from tests.support.siphealth import free_port, need_tool

SERVER = "kamailio-sipflask-test"
LOG_MARK = "sipflask-test:"

CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
dns=no
rev_dns=no
listen=udp:{ip}:{port}
listen=tcp:{ip}:{port}
server_header="Server: {server}"
{mpath}
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"

request_route {{
    xlog("L_NOTICE", "{mark} $rm $rU over $pr\\n");
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!is_method("OPTIONS")) {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    if ($rU == "nobody") {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    append_to_reply("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\\r\\n");
    sl_send_reply("200", "OK");
    exit;
}}
"""


def _module_path() -> str:
    """The ``mpath`` line for where Debian put the modules (multiarch), else the built-in one."""
    for pattern in ("/usr/lib/*/kamailio/modules/sl.so", "/usr/lib/kamailio/modules/sl.so",
                    "/usr/local/lib*/kamailio/modules/sl.so"):
        found = sorted(glob.glob(pattern))
        if found:
            return f'mpath="{os.path.dirname(found[0])}/"'
    return ""


def _listening(port: int) -> bool:
    """Both of kamailio's sockets are bound (binding either ourselves fails)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((LOCAL_IP, port))
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
            return False
    return True


class Kamailio:
    def __init__(self, workdir: Path):
        self.exe = need_tool("kamailio", "kamailio")
        self.workdir = Path(workdir)
        self.port = free_port(socket.SOCK_STREAM)
        self.config = self.workdir / f"kamailio_{self.port}.cfg"
        self.log = self.workdir / f"kamailio_{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, ready_timeout: float = 10.0) -> "Kamailio":
        self.config.write_text(CONFIG.format(ip=LOCAL_IP, port=self.port, server=SERVER,
                                             mpath=_module_path(), mark=LOG_MARK))
        args = [self.exe, "-DD", "-E", "-f", str(self.config), "-Y", str(self.workdir),
                "-m", "32", "-M", "8"]
        with open(self.log, "wb") as out:
            # Its own process group: the children it forks go with it in close().
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"kamailio did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self

    def requests(self) -> list[str]:
        """``"OPTIONS agentqueue over udp"`` for each request kamailio routed, in order."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line.split(LOG_MARK, 1)[1].strip() for line in text.splitlines()
                if LOG_MARK in line]

    def close(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever of its group is still there (it normally takes its children along)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=5)

    def __enter__(self) -> "Kamailio":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
