"""Sessions that can be ended (issue 10, finding 4) and cookies that hold up (finding 3): the
session token in every cookie, logout / password / role / "sign out everywhere" ending the
cookies issued before, Secure and SameSite, lifetime and idle timeout."""
import pytest
from sqlalchemy import select

from sipflask import sessions
from sipflask.extensions import db
from sipflask.models import User
from tests.support.app import ADMIN_EMAIL, MEMBER_EMAIL, PASSWORD
from tests.support.signin import HttpClient, cookie_header, serving


def user(app, email=ADMIN_EMAIL) -> User:
    with app.app_context():
        found = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(found)
        return found


def test_logout_refuses_the_old_session_and_remember_cookies_over_http(app, auth):
    """The attacker's view: cookies copied before logout, replayed after it, through a real
    server (before: both still opened /buyers/ after logout)."""
    with serving(app) as base:
        browser = HttpClient(base)
        assert browser.login(ADMIN_EMAIL, PASSWORD, remember=True).status == 302
        assert browser.get("/buyers/").status == 200
        stolen = dict(browser.cookies)
        assert {"session", "remember_token"} <= set(stolen)
        assert browser.post("/logout", {}).status == 302
        only_session = HttpClient(base, {"session": stolen["session"]})
        only_remember = HttpClient(base, {"remember_token": stolen["remember_token"]})
        for replay in (only_session, only_remember, HttpClient(base, dict(stolen))):
            answer = replay.get("/buyers/")
            assert answer.status == 302 and "/login" in answer.headers["Location"]
        # and a new sign-in works as before
        again = HttpClient(base)
        assert again.login(ADMIN_EMAIL, PASSWORD).status == 302
        assert again.get("/buyers/").status == 200


def test_cookies_carry_the_session_token_and_the_sign_in_time(app, auth, client, monkeypatch):
    monkeypatch.setattr(sessions, "now", lambda: 1_800_000_000)
    auth.login()
    admin = user(app)
    assert admin.get_id() == f"{admin.id}:{admin.session_token}" and len(admin.session_token) >= 40
    with client.session_transaction() as sess:
        assert sess["_user_id"] == admin.get_id() + ":1800000000"


@pytest.mark.parametrize("cookie_id", ["1", "1:", ":x", "abc:def:1", "99999999999999999:x:1",
                                       "{id}:wrong:{t}", "{id}:{token}", "{id}:{token}:x",
                                       "{id}:{token}:{too_old}"])
def test_cookies_without_the_current_token_or_too_old_load_no_one(app, auth, cookie_id,
                                                                   monkeypatch):
    t = 1_800_000_000
    monkeypatch.setattr(sessions, "now", lambda: t)
    admin = user(app)
    values = dict(id=admin.id, token=admin.session_token, t=t, too_old=t - 14 * 86400 - 1)
    with app.test_request_context():
        assert sessions.load_user(cookie_id.format(**values)) is None
        assert sessions.load_user("{id}:{token}:{t}".format(**values)).email == ADMIN_EMAIL
        assert sessions.load_user("{id}:{token}:{old}".format(
            old=t - 14 * 86400 + 5, **values)).email == ADMIN_EMAIL


@pytest.mark.parametrize("command", [["users", "set-password", ADMIN_EMAIL, "--password-stdin"],
                                     ["users", "sign-out", ADMIN_EMAIL],
                                     ["users", "set-role", ADMIN_EMAIL, "member"]])
def test_cli_changes_end_the_users_sessions(app, auth, runner, command):
    make_second_admin = runner.invoke(args=["users", "set-role", MEMBER_EMAIL, "admin"])
    assert make_second_admin.exit_code == 0, make_second_admin.output
    with serving(app) as base:
        browser = HttpClient(base)
        browser.login(ADMIN_EMAIL, PASSWORD, remember=True)
        assert browser.get("/buyers/").status == 200
        result = runner.invoke(args=command, input="a-brand-new-passphrase\n")
        assert result.exit_code == 0, result.output
        answer = browser.get("/buyers/")
        assert answer.status == 302 and "/login" in answer.headers["Location"]


def test_set_role_keeps_the_last_admin_and_names_the_roles(app, auth, runner):
    last = runner.invoke(args=["users", "set-role", ADMIN_EMAIL, "member"])
    assert last.exit_code == 1 and "only admin" in last.output and last.exception is not None
    bad = runner.invoke(args=["users", "set-role", ADMIN_EMAIL, "owner"])
    assert bad.exit_code == 2 and "admin" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(args=["users", "sign-out", "nobody@example.com"])
    assert missing.exit_code == 1 and "No user with email nobody@example.com" in missing.output
    same = runner.invoke(args=["users", "set-role", ADMIN_EMAIL, "admin"])
    assert same.exit_code == 0 and "already admin" in same.output
    assert user(app).role == "admin"


def _login_cookies(client, remember=True, **headers):
    response = client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD,
                                           "remember": "y" if remember else ""}, headers=headers)
    assert response.status_code == 302, response.text
    return response.headers.getlist("Set-Cookie")


def _cookie(lines, name):
    return next(c for c in lines if c.startswith(name + "="))


@pytest.mark.app_config(PUBLIC_URL="https://calls.example.com")
def test_cookies_are_secure_and_lax_when_the_public_url_is_https(client, auth):
    lines = _login_cookies(client)
    for name in ("session", "remember_token"):
        cookie = _cookie(lines, name)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


@pytest.mark.app_config(PUBLIC_URL="http://calls.example.com", PROXY_HOPS=1)
def test_cookies_are_secure_when_the_proxy_says_https(app, auth):
    """Through a real server: X-Forwarded-Proto from the one trusted proxy hop (ProxyFix)."""
    with serving(app) as base:
        answer = HttpClient(base).login(ADMIN_EMAIL, PASSWORD, remember=True)
        assert "Secure" not in cookie_header(answer, "session")
        proxied = HttpClient(base).request(
            "POST", "/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "remember": "y"},
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        for name in ("session", "remember_token"):
            assert "; Secure" in cookie_header(proxied, name), proxied.set_cookies
            assert "SameSite=Lax" in cookie_header(proxied, name)


@pytest.mark.app_config(PUBLIC_URL="http://calls.example.com")
def test_forwarded_proto_is_ignored_without_proxy_hops(client, auth):
    lines = _login_cookies(client, **{"X-Forwarded-Proto": "https"})
    assert "Secure" not in _cookie(lines, "session")
    assert "Secure" not in _cookie(lines, "remember_token")


@pytest.mark.parametrize("setting, secure", [("true", True), (True, True), ("false", False)])
def test_cookie_secure_setting_forces_it(tmp_path, setting, secure):
    from tests.support.app import make_app, make_user
    app = make_app(tmp_path, COOKIE_SECURE=setting, PUBLIC_URL="https://calls.example.com"
                   if setting == "false" else "http://calls.example.com")
    make_user(app, ADMIN_EMAIL, "admin")
    lines = _login_cookies(app.test_client())
    assert ("Secure" in _cookie(lines, "session")) is secure
    assert ("Secure" in _cookie(lines, "remember_token")) is secure


def test_cookie_secure_refuses_a_typo(tmp_path):
    from tests.support.app import make_app
    with pytest.raises(RuntimeError, match="must be auto, true or false"):
        make_app(tmp_path, COOKIE_SECURE="sometimes")


@pytest.mark.app_config(REMEMBER_DAYS=3, SESSION_LIFETIME_HOURS=5)
def test_cookie_lifetimes_follow_the_settings(app, client, auth):
    lines = _login_cookies(client)
    assert app.permanent_session_lifetime.total_seconds() == 5 * 3600
    assert "Expires=" in _cookie(lines, "session") and "Expires=" in _cookie(lines, "remember_token")
    assert app.config["REMEMBER_COOKIE_DURATION"].days == 3


class Clock:
    def __init__(self, monkeypatch):
        self.t = 1_800_000_000
        monkeypatch.setattr(sessions, "now", lambda: self.t)


@pytest.fixture
def browser(app, auth, monkeypatch):
    """A browser on a real server (each request its own context, as in production) and the
    sessions' clock, which the test moves."""
    clock = Clock(monkeypatch)
    with serving(app) as base:
        yield HttpClient(base), clock


def test_idle_session_ends_after_the_idle_limit(browser):
    browser, clock = browser
    browser.login(ADMIN_EMAIL, PASSWORD)
    clock.t += 59 * 60
    assert browser.get("/buyers/").status == 200  # activity moves the idle clock on
    clock.t += 59 * 60
    assert browser.get("/buyers/").status == 200
    clock.t += 61 * 60
    answer = browser.get("/buyers/")
    assert answer.status == 302 and "/login" in answer.headers["Location"]
    assert "Your session has ended" in browser.get("/login").text


def test_session_lifetime_is_absolute(browser):
    browser, clock = browser
    browser.login(ADMIN_EMAIL, PASSWORD)
    for _ in range(13):  # busy all day, never idle: 11 h 55 min
        clock.t += 55 * 60
        assert browser.get("/buyers/").status == 200
    clock.t += 10 * 60  # 12 h 5 min after sign-in
    assert browser.get("/buyers/").status == 302


def test_remember_me_opens_a_new_session_after_the_idle_limit(browser):
    browser, clock = browser
    browser.login(ADMIN_EMAIL, PASSWORD, remember=True)
    clock.t += 3 * 3600
    assert browser.get("/buyers/").status == 200
    clock.t += 10 * 24 * 3600
    assert browser.get("/buyers/").status == 200
    clock.t += 4 * 24 * 3600 + 60  # past REMEMBER_DAYS: refused even if a browser sends it
    answer = browser.get("/buyers/")
    assert answer.status == 302 and "/login" in answer.headers["Location"]


def test_an_overlapping_request_does_not_put_back_an_older_session(app, browser):
    """An htmx preview sent before Save was answered, and answered after it (the CI failure of
    stop 21): its answer must not carry the session it read, or the browser loses "saved"."""
    from sipflask.models import Buyer
    with app.app_context():
        db.session.add(Buyer(name="Queue", ref="queue", number="+14155550000"))
        db.session.commit()
    browser, clock = browser
    browser.login(ADMIN_EMAIL, PASSWORD)
    browser.get("/buyers/")
    early = HttpClient(browser.base, dict(browser.cookies))  # the preview, sent first
    assert browser.post("/buyers/1/pause", {}).status == 302  # Save: its message in the cookie
    late = early.get("/buyers/", headers={"HX-Request": "true"})
    assert late.status == 200 and late.set_cookies == []
    assert "Paused buyer Queue." in browser.get("/buyers/").text


@pytest.mark.parametrize("path", ["/favicon.ico", "/login", "/static/sipflask.css"])
def test_a_request_sent_before_sign_in_does_not_sign_the_browser_out(browser, path):
    """The CI failure after stop 21: the browser asked for /favicon.ico with the login page's
    cookie, the answer came after the sign-in's and its cookie (the session with only Flask-Login's
    "not fresh" mark added) replaced the signed-in one. Nothing here changes such a session."""
    browser, clock = browser
    assert browser.get("/login").status == 200
    early = HttpClient(browser.base, dict(browser.cookies))
    assert early.cookies, "the login page puts its CSRF token in a session cookie"
    assert browser.login(ADMIN_EMAIL, PASSWORD).status == 302
    late = early.get(path)
    assert late.set_cookies == []
    assert browser.get("/buyers/").status == 200


def test_activity_still_moves_the_session_cookie_on(browser):
    browser, clock = browser
    browser.login(ADMIN_EMAIL, PASSWORD)
    browser.get("/buyers/")  # may take a message out of the session
    assert browser.get("/buyers/").set_cookies == []  # nothing changed
    clock.t += sessions.SEEN_RESOLUTION
    assert cookie_header(browser.get("/buyers/"), "session")  # the idle clock moved


@pytest.mark.parametrize("setting, value, message", [
    ("SESSION_IDLE_MINUTES", "soon", "SESSION_IDLE_MINUTES"),
    ("REMEMBER_DAYS", 0, "must be a number above 0"),
    ("THROTTLE_LOGIN_ACCOUNT", "ten a minute", "use limits like 10/minute"),
    ("PROXY_HOPS", "one", "PROXY_HOPS is 'one'"),
    ("PROXY_HOPS", -1, "0 when none"),
])
def test_bad_settings_stop_the_app_with_their_name(tmp_path, setting, value, message):
    from tests.support.app import make_app
    with pytest.raises(RuntimeError, match=message):
        make_app(tmp_path, **{setting: value})
