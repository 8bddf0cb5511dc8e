"""Login and logout; every other UI page requires a logged-in user (see ``require_login``)."""
import math
import secrets

from flask import (Blueprint, current_app, flash, make_response, redirect, render_template,
                   request, url_for)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp

from sipflask import throttle
from sipflask.blueprints.lists import local_path
from sipflask.extensions import login_manager
from sipflask.htmx import is_htmx
from sipflask.models import User
from sipflask.records import users

bp = Blueprint("auth", __name__)

# Endpoints reachable without a login: Twilio's webhooks carry their own signature instead.
PUBLIC_ENDPOINTS = {"auth.login", "static"}
# Postbacks come from buyers' servers and authenticate with the call's secret key; ops
# (/healthz, /readyz, /metrics) is for probes, which carry no login (/metrics checks its own).
PUBLIC_BLUEPRINTS = {"webhook", "postbacks", "ops"}


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254),
                                            Regexp(r"^[^@\s]+@[^@\s]+$", message="Enter an email address.")])
    # No password may be longer (core/passwords.py): a megabyte of "password" is not hashed.
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in")


@bp.before_app_request
def require_login():
    if request.endpoint is None:  # 404s render normally
        return None
    if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS:
        return None
    if not current_user.is_authenticated:
        if is_htmx():
            # htmx would follow a redirect and put the login page inside a table cell:
            # tell it to load the login page as a whole page instead.
            response = make_response("", 401)
            response.headers["HX-Redirect"] = url_for("auth.login", next=request.full_path
                                                      if request.method == "GET" else None)
            return response
        return login_manager.unauthorized()
    return None


def _dummy_hash() -> str:
    """A hash of a random password in the configured method, checked when the email is unknown
    so that a wrong email costs the same hash work as a wrong password (made once per method)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASHES[method]


_DUMMY_HASHES: dict[str, str] = {}


def authenticate(email: str, password: str) -> User | None:
    """The user with this email and password, or None; the same work whichever part is wrong."""
    user = users.find(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            return redirect(local_path(request.args.get("next"), url_for("home.index")))
        # Same message for unknown email and wrong password: don't reveal which accounts exist.
        form.password.errors.append("Email or password is not right.")
    return render_template("auth/login.html", form=form)


@bp.errorhandler(429)
def too_many_attempts(exc):
    """``throttle`` refused this sign-in: say so on the form, with when to try again."""
    seconds = throttle.retry_after()
    wait = f"{math.ceil(seconds / 60)} minutes" if seconds > 90 else f"{seconds} seconds"
    form = LoginForm()
    form.email.data = (request.form.get("email") or "")[:254]
    message = (f"Too many sign-in attempts for this account or from your network. "
               f"Try again in {wait}.")
    response = make_response(render_template("auth/login.html", form=form,
                                             throttled=message), 429)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # A new session token: this session's cookies, and any copy of them, stop working.
        users.sign_out_everywhere(current_user._get_current_object())
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
