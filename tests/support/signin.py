"""For the sign-in and session tests: the app served by werkzeug in a thread on a free port (real
HTTP, real cookies), and a small browser-like client that keeps cookies and never follows
redirects, so each answer is seen as the server sent it."""
from __future__ import annotations

import http.cookies
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field

from werkzeug.serving import make_server


@contextmanager
def serving(app):
    """``app`` on http://127.0.0.1:<free port>, for the length of the ``with``."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Answer:
    status: int
    headers: dict
    set_cookies: list[str]
    text: str


@dataclass
class HttpClient:
    """Cookies by name, sent back on every request (the server sets no Domain or Path that
    would matter on one host)."""
    base: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, data: dict | None = None,
                headers: dict | None = None) -> Answer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers=dict(headers or {}))
        if self.cookies:
            req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=30) as response:
                answer = self._answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            answer = self._answer(exc.code, exc.headers, exc.read())
        return answer

    def _answer(self, status, headers, body) -> Answer:
        set_cookies = headers.get_all("Set-Cookie") or []
        for raw in set_cookies:
            jar = http.cookies.SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["expires"] and "1970" in morsel["expires"] or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Answer(status, dict(headers.items()), set_cookies, body.decode(errors="replace"))

    def get(self, path: str, **kw) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict, **kw) -> Answer:
        return self.request("POST", path, data=data, **kw)

    def login(self, email: str, password: str, remember: bool = False) -> Answer:
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return self.post("/login", data)


def cookie_header(answer: Answer, name: str) -> str:
    """The Set-Cookie line of cookie ``name`` in ``answer`` ('' when it sets none)."""
    return next((c for c in answer.set_cookies if c.startswith(name + "=")), "")
