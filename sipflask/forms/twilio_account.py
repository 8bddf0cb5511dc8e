"""The settings page's Twilio section: the posted fields, checked by
:func:`sipflask.core.twilio_account.check_account` against what is saved, then written by
:func:`sipflask.account.settings.save_twilio`; each error goes next to its field.

The auth token and the API secret are ``PasswordField``s, which never render a value: a saved
secret shows only as "set", with "Keep it" / "Clear it" beside it, like a buyer's SIP password.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField

from sipflask.account import settings as account_settings
from sipflask.core import twilio_account as rules
from sipflask.forms.common import apply_report, refuse_unstorable, text

FIELDS = ("account_sid", "auth_token", "token_action", "api_key_sid", "api_secret",
          "secret_action")
SID_FIELDS = ("account_sid", "api_key_sid")
MAX_SHOWN = 100  # a SID field's value longer than this is not a SID: it is not shown again
ACTIONS = [(rules.KEEP, "Keep it"), (rules.CLEAR, "Clear it")]


class TwilioAccountForm(FlaskForm):
    account_sid = StringField("Account SID")
    auth_token = PasswordField("Auth Token")  # PasswordField never renders its value
    # Choices set per instance (as the buyer editor does): wtforms warns about tuples given
    # to the field's constructor.
    token_action = RadioField("Saved auth token", default=rules.KEEP, validate_choice=False)
    api_key_sid = StringField("API Key SID")
    api_secret = PasswordField("API secret")
    secret_action = RadioField("Saved API secret", default=rules.KEEP, validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.token_action.choices = list(ACTIONS)
        self.secret_action.choices = list(ACTIONS)


def saved_form(stored: rules.Stored) -> TwilioAccountForm:
    """The form as saved (never a secret), for a page that was not posted to."""
    return TwilioAccountForm(formdata=None, data={"account_sid": stored.account_sid,
                                                  "api_key_sid": stored.api_key_sid})


def save(form: TwilioAccountForm, stored: rules.Stored) -> bool:
    """Check the posted form and save it; False (nothing saved) with errors on the fields."""
    typed = {name: text(form[name].data) for name in FIELDS}
    report, change = rules.check_account(typed, stored)
    refuse_unstorable(form, report)
    if not report.ok:
        apply_report(form, report)
        _hide_secrets_typed_as_sids(form)
        return False
    account_settings.save_twilio(change)
    return True


def _hide_secrets_typed_as_sids(form: TwilioAccountForm) -> None:
    # A token pasted into a SID field must not come back in the page.
    for name in SID_FIELDS:
        value = text(form[name].data).strip()
        if rules.looks_like_secret(value) or len(value) > MAX_SHOWN:
            form[name].data = ""
            form[name].raw_data = [""]
