"""My account and the admin's user pages (issue 10, finding 4): a password change keeps this
browser signed in and signs out the others, "sign out everywhere", role changes, and the same
password rule as the CLI (finding 5). Several browsers at once: real HTTP to a served app."""
import pytest
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import User
from tests.support.app import ADMIN_EMAIL, MEMBER_EMAIL, PASSWORD
from tests.support.signin import HttpClient, serving

NEW = "a-brand-new-passphrase"


@pytest.fixture
def site(app, auth):
    with serving(app) as base:
        yield base


def signed_in(base, email=ADMIN_EMAIL, password=PASSWORD, remember=False) -> HttpClient:
    browser = HttpClient(base)
    assert browser.login(email, password, remember=remember).status == 302
    return browser


def is_in(browser) -> bool:
    return browser.get("/buyers/").status == 200


def stored(app, email):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def change(browser, current=PASSWORD, new=NEW, confirm=None):
    return browser.post("/account/", {"current": current, "new": new,
                                      "confirm": new if confirm is None else confirm})


def test_password_change_keeps_this_browser_and_signs_out_the_others(app, site):
    here, laptop = signed_in(site, remember=True), signed_in(site, remember=True)
    answer = change(here)
    assert answer.status == 302 and answer.headers["Location"] == "/account/"
    assert "Every other browser has been signed out" in here.get("/account/").text
    assert is_in(here) and not is_in(laptop)
    assert HttpClient(site, {"remember_token": here.cookies["remember_token"]}).get(
        "/buyers/").status == 200  # this browser's remember-me cookie was renewed too
    assert stored(app, ADMIN_EMAIL).check_password(NEW)
    assert signed_in(site, password=NEW)


@pytest.mark.parametrize("current, new, confirm, message", [
    ("not-my-password", NEW, NEW, "This is not your current password."),
    (PASSWORD, "1234567890", "1234567890", "at least 12 characters"),
    (PASSWORD, "qwerty123456", "qwerty123456", "common passwords"),
    (PASSWORD, "a" * 14, "a" * 14, "one character repeated"),
    (PASSWORD, ADMIN_EMAIL, ADMIN_EMAIL, "must not be the email"),
    (PASSWORD, NEW, NEW + "x", "The two new passwords differ."),
])
def test_password_change_refusals_are_next_to_the_field(app, site, current, new, confirm,
                                                        message):
    here = signed_in(site)
    answer = change(here, current, new, confirm)
    assert answer.status == 200 and message in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert is_in(here) and stored(app, ADMIN_EMAIL).check_password(PASSWORD)


def test_sign_out_everywhere_from_my_account(site):
    here, phone = signed_in(site, remember=True), signed_in(site, remember=True)
    kept = dict(phone.cookies)
    answer = here.post("/account/sign-out-everywhere", {})
    assert answer.status == 302 and "/login" in answer.headers["Location"]
    assert not is_in(here) and not is_in(phone) and not is_in(HttpClient(site, kept))


def test_members_see_their_account_but_not_the_users(site):
    member = signed_in(site, MEMBER_EMAIL)
    assert MEMBER_EMAIL in member.get("/account/").text
    assert member.get("/users/").status == 403 and member.get("/users/1").status == 403
    assert member.post("/users/1/sign-out", {}).status == 403
    assert member.post("/users/1", {"role": "member"}).status == 403


def test_admin_lists_users_and_signs_one_out_everywhere(app, site):
    admin, member = signed_in(site), signed_in(site, MEMBER_EMAIL, remember=True)
    page = admin.get("/users/").text
    assert ADMIN_EMAIL in page and MEMBER_EMAIL in page
    member_id = stored(app, MEMBER_EMAIL).id
    assert "Sign out everywhere" in admin.get(f"/users/{member_id}").text
    answer = admin.post(f"/users/{member_id}/sign-out", {})
    assert answer.status == 302
    assert "signed out on every browser" in admin.get(answer.headers["Location"]).text
    assert not is_in(member) and is_in(admin)
    assert admin.get("/users/999").status == 404


def test_admin_changes_a_role_which_ends_that_users_sessions(app, site):
    admin, member = signed_in(site), signed_in(site, MEMBER_EMAIL)
    member_id = stored(app, MEMBER_EMAIL).id
    answer = admin.post(f"/users/{member_id}", {"role": "admin"})
    assert answer.status == 302 and stored(app, MEMBER_EMAIL).role == "admin"
    assert not is_in(member) and is_in(admin)
    promoted = signed_in(site, MEMBER_EMAIL)
    assert promoted.get("/users/").status == 200


def test_the_last_admin_keeps_its_role(app, site):
    admin = signed_in(site)
    admin_id = stored(app, ADMIN_EMAIL).id
    answer = admin.post(f"/users/{admin_id}", {"role": "member"})
    assert answer.status == 200 and "only admin" in answer.text
    assert stored(app, ADMIN_EMAIL).role == "admin" and is_in(admin)
    bad = admin.post(f"/users/{admin_id}", {"role": "owner"})
    assert bad.status == 200 and "Not a valid choice" in bad.text


def test_nav_links_to_my_account_and_for_admins_users(site):
    assert 'href="/users/"' in signed_in(site).get("/").text
    member_page = signed_in(site, MEMBER_EMAIL).get("/").text
    assert 'href="/account/"' in member_page and 'href="/users/"' not in member_page
