"""Login for the whole UI, roles, CSRF, and ``flask users``."""
import pytest
from sqlalchemy import select

from sipflask.blueprints.auth import PUBLIC_BLUEPRINTS, PUBLIC_ENDPOINTS
from sipflask.extensions import db
from sipflask.models import User
from tests.support.app import ADMIN_EMAIL, PASSWORD
from tests.support.html import csrf_token_from


def ui_rules(app):
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        if rule.endpoint in PUBLIC_ENDPOINTS or blueprint in PUBLIC_BLUEPRINTS:
            continue
        yield rule


def test_every_ui_page_requires_login(app, client):
    checked = 0
    for rule in ui_rules(app):
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", "1").replace(f"<int:{arg}>", "1")
            path = path.replace(f"<string:{arg}>", "1")
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(path, method=method)
        assert response.status_code == 302, (rule.endpoint, response.status_code)
        assert "/login" in response.headers["Location"], rule.endpoint
        checked += 1
    assert checked >= 10


def test_login_and_logout(client, auth):
    assert client.get("/").status_code == 302
    response = auth.login()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and ADMIN_EMAIL.encode() in page.data
    auth.logout()
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_next_to_the_field(client, auth):
    response = auth.login(password="wrong-password")
    assert response.status_code == 200
    assert b"Email or password is not right." in response.data
    assert client.get("/").status_code == 302
    unknown = auth.login(email="nobody@example.com")
    assert b"Email or password is not right." in unknown.data


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/",
                                    "/\\evil.example/", "javascript:alert(1)"])
def test_login_never_redirects_off_site(client, auth, target):
    response = client.post("/login", query_string={"next": target},
                           data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_login_redirects_to_the_page_asked_for(client, auth):
    response = client.post("/login?next=/numbers/", data={"email": ADMIN_EMAIL,
                                                           "password": PASSWORD})
    assert response.headers["Location"] == "/numbers/"


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_csrf_refuses_login_without_token(client, auth):
    response = client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_csrf_refuses_logout_without_token(client, auth):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token})
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_passwords_are_hashed(app, auth):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == ADMIN_EMAIL))
        assert PASSWORD not in user.password_hash and user.check_password(PASSWORD)


def test_users_create_with_password_stdin(runner, app):
    result = runner.invoke(args=["users", "create", "New@Example.com", "--admin",
                                 "--password-stdin"], input="a-long-password\n")
    assert result.exit_code == 0, result.output
    assert "Created admin new@example.com" in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new@example.com"))
        assert user.is_admin and user.check_password("a-long-password")


def test_users_create_prompts_for_password(runner, app):
    result = runner.invoke(args=["users", "create", "m@example.com"],
                           input="secret-password-1\nsecret-password-1\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "m@example.com")).role == "member"


def test_users_create_refuses_bad_input(runner, app):
    short = runner.invoke(args=["users", "create", "a@example.com", "--password-stdin"],
                          input="short\n")
    assert short.exit_code != 0 and "at least 12" in short.output
    bad = runner.invoke(args=["users", "create", "not-an-email", "--password-stdin"],
                        input="long-enough-pass\n")
    assert bad.exit_code != 0 and "not an email" in bad.output
    runner.invoke(args=["users", "create", "a@example.com", "--password-stdin"], input="long-enough-pass\n")
    dup = runner.invoke(args=["users", "create", "A@example.com", "--password-stdin"],
                        input="long-enough-pass\n")
    assert dup.exit_code != 0 and "already exists" in dup.output
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(User)) == 1


def test_ensure_admin_prints_password_once(runner, app):
    first = runner.invoke(args=["users", "ensure-admin", "boss@example.com"])
    assert first.exit_code == 0 and "with password: " in first.output
    password = first.output.split("with password: ")[1].split()[0]
    with app.app_context():
        assert db.session.scalar(select(User)).check_password(password)
    second = runner.invoke(args=["users", "ensure-admin", "boss@example.com"])
    assert second.exit_code == 0 and "password" not in second.output.split("(")[0]
    assert "already exists" in second.output
