"""Login and logout; every other UI page requires a logged-in user (see ``require_login``)."""
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp

from sipflask.blueprints.lists import local_path
from sipflask.extensions import db, login_manager
from sipflask.htmx import is_htmx
from sipflask.models import User

bp = Blueprint("auth", __name__)

# Endpoints reachable without a login: Twilio's webhooks carry their own signature instead.
PUBLIC_ENDPOINTS = {"auth.login", "static"}
# Postbacks come from buyers' servers and authenticate with the call's secret key; ops
# (/healthz, /readyz, /metrics) is for probes, which carry no login (/metrics checks its own).
PUBLIC_BLUEPRINTS = {"webhook", "postbacks", "ops"}


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254),
                                            Regexp(r"^[^@\s]+@[^@\s]+$", message="Enter an email address.")])
    password = PasswordField("Password", validators=[DataRequired()])
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


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is not None and user.check_password(form.password.data):
            login_user(user, remember=form.remember.data)
            return redirect(local_path(request.args.get("next"), url_for("home.index")))
        # Same message for unknown email and wrong password: don't reveal which accounts exist.
        form.password.errors.append("Email or password is not right.")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
