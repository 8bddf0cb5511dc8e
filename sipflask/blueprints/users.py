"""My account (any signed-in user: change the password, sign out everywhere) and, for admins,
the users: their list, and one user's page with a role change and "Sign out everywhere".

Plain POST forms (CSRF-checked like every form). Every write goes through
:mod:`sipflask.records.users`, which ends the user's sessions by giving it a new session token;
a user who changed their own password is signed in again here, so only the *other* browsers are
signed out.
"""
from __future__ import annotations

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo

from sipflask.records import users

bp = Blueprint("users", __name__)


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("New password again",
                            validators=[DataRequired(), EqualTo("new", "The two new passwords differ.")])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=["member", "admin"])


def _remembered() -> bool:
    """Whether this browser holds a remember-me cookie (a new one replaces it after a change)."""
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


@bp.route("/account/", methods=["GET", "POST"])
def account():
    form, me = PasswordForm(), current_user._get_current_object()
    if form.validate_on_submit():
        if not me.check_password(form.current.data):
            form.current.errors.append("This is not your current password.")
        else:
            try:
                users.set_password(me, form.new.data)
            except users.UserError as exc:
                form.new.errors.append(str(exc))
            else:
                # The new token signed every browser out; this one signs in again with it.
                login_user(me, remember=_remembered())
                flash("Password changed. Every other browser has been signed out.", "success")
                return redirect(url_for(".account"))
    return render_template("users/account.html", form=form)


@bp.route("/account/sign-out-everywhere", methods=["POST"])
def sign_out_everywhere():
    users.sign_out_everywhere(current_user._get_current_object())
    logout_user()
    flash("Signed out on every browser, this one included.", "info")
    return redirect(url_for("auth.login"))


def _admin_only() -> None:
    if not current_user.is_admin:
        abort(403)


def _user_or_404(user_id: int):
    user = users.get(user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/")
def index():
    _admin_only()
    return render_template("users/index.html", users=users.all_users())


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def show(user_id: int):
    _admin_only()
    user = _user_or_404(user_id)
    form = RoleForm(role=user.role)
    if form.validate_on_submit():
        itself = user.id == current_user.id
        try:
            changed = users.set_role(user, form.role.data)
        except users.UserError as exc:
            form.role.errors.append(str(exc))
        else:
            if changed and itself:
                logout_user()
                flash(f"You are now {user.role}; sign in again.", "info")
                return redirect(url_for("auth.login"))
            flash(f"{user.email} is {user.role}" + ("; their sessions have ended." if changed
                                                   else " already."), "success")
            return redirect(url_for(".show", user_id=user.id))
    return render_template("users/show.html", user=user, form=form)


@bp.route("/users/<int:user_id>/sign-out", methods=["POST"])
def sign_out_user(user_id: int):
    _admin_only()
    user = _user_or_404(user_id)
    users.sign_out_everywhere(user)
    if user.id == current_user.id:
        logout_user()
        flash("Signed out on every browser, this one included.", "info")
        return redirect(url_for("auth.login"))
    flash(f"{user.email} is signed out on every browser.", "success")
    return redirect(url_for(".show", user_id=user.id))
