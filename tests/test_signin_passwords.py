"""The password rule (issue 10, finding 5) in the pure core, and the same rule through
``users create`` and ``users set-password``: a clear line and exit 1, nothing saved."""
import pytest
from sqlalchemy import func, select

from sipflask.core.passwords import MIN_LENGTH, common_passwords, password_problem
from sipflask.extensions import db
from sipflask.models import User

EMAIL = "pat@example.com"
# What the attack got accepted, then what a 12-character rule alone would still let in.
WEAK = {
    " " * 10: "Enter a password",
    "1234567890": "at least 12 characters",
    "aaaaaaaaaa": "at least 12 characters",
    " " * 14: "Enter a password",
    "a" * 14: "one character repeated",
    "123456123456": "common passwords",
    "Qwerty123456": "common passwords",
    "1q2w3e4r5t6y": "common passwords",
    "  qazwsxedcrfv ": "common passwords",
    "pat@example.com": "not be the email",
    "PAT@Example.com": "not be the email",
    "x" * 1025: "at most 1024",
}


@pytest.mark.parametrize("password, reason", WEAK.items())
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    assert reason in (password_problem(password, EMAIL) or "")


@pytest.mark.parametrize("password", ["correct-horse-battery", "a-long-passphrase",
                                      "Zq8!vR2#kW5m", "pat-example-company-2026"])
def test_good_passwords_pass(password):
    assert password_problem(password, EMAIL) is None


def test_the_bundled_list_is_djangos_20k():
    common = common_passwords()
    assert 19_000 < len(common) < 21_000 and "password" in common
    assert all(p == p.lower() for p in list(common)[:500])
    assert len(common_passwords.__wrapped__()) == len(common)


def test_the_rule_is_12_characters():
    assert MIN_LENGTH == 12
    assert password_problem("k7#Vq2!mZp9", EMAIL).startswith("The password must be at least 12")


def count_users(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("password, reason", [("          ", "Enter a password"),
                                              ("1234567890", "at least 12"),
                                              ("aaaaaaaaaaaaaa", "one character repeated"),
                                              ("qwerty123456", "common passwords"),
                                              ("new@example.com", "not be the email")])
def test_users_create_refuses_weak_passwords(runner, app, password, reason):
    result = runner.invoke(args=["users", "create", "new@example.com", "--password-stdin"],
                           input=password + "\n")
    assert result.exit_code == 1 and reason in result.output, result.output
    assert "Traceback" not in result.output and count_users(app) == 0


@pytest.mark.parametrize("password, reason", [("          ", "Enter a password"),
                                              ("aaaaaaaaaaaaaa", "one character repeated"),
                                              ("123456123456", "common passwords")])
def test_users_set_password_refuses_weak_passwords(runner, app, password, reason):
    created = runner.invoke(args=["users", "create", EMAIL, "--password-stdin"],
                            input="correct-horse-battery\n")
    assert created.exit_code == 0, created.output
    result = runner.invoke(args=["users", "set-password", EMAIL, "--password-stdin"],
                           input=password + "\n")
    assert result.exit_code == 1 and reason in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(User)).check_password("correct-horse-battery")
