"""``flask users set-password``: a new password for an existing user, with clear refusals."""
from sqlalchemy import select

from sipflask.extensions import db
from sipflask.models import User


def stored(app, email):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_set_password_from_stdin(runner, app):
    runner.invoke(args=["users", "create", "a@example.com", "--password-stdin"],
                  input="first-password-1\n")
    result = runner.invoke(args=["users", "set-password", "A@Example.com", "--password-stdin"],
                           input="second-password-2\n")
    assert result.exit_code == 0, result.output
    assert "Password changed for a@example.com." in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "a@example.com"))
        assert user.check_password("second-password-2")
        assert not user.check_password("first-password-1")


def test_set_password_prompts_twice(runner, app):
    runner.invoke(args=["users", "create", "a@example.com", "--password-stdin"],
                  input="first-password-1\n")
    result = runner.invoke(args=["users", "set-password", "a@example.com"],
                           input="second-password-2\nsecond-password-2\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(User)).check_password("second-password-2")


def test_set_password_refusals_are_clear(runner, app):
    runner.invoke(args=["users", "create", "a@example.com", "--password-stdin"],
                  input="first-password-1\n")
    missing = runner.invoke(args=["users", "set-password", "b@example.com", "--password-stdin"],
                            input="second-password-2\n")
    assert missing.exit_code == 1 and "No user with email b@example.com" in missing.output
    short = runner.invoke(args=["users", "set-password", "a@example.com", "--password-stdin"],
                          input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    empty = runner.invoke(args=["users", "set-password", "a@example.com", "--password-stdin"],
                          input="")
    assert empty.exit_code == 1 and "Enter a password" in empty.output
    for result in (missing, short, empty):
        assert "Traceback" not in result.output and result.exception is None or \
            isinstance(result.exception, SystemExit)
    with app.app_context():
        assert db.session.scalar(select(User)).check_password("first-password-1")
