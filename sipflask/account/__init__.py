"""The account: settings that apply to the whole installation (edited on the admin settings
page, :mod:`sipflask.blueprints.settings`), first of all the account time zone every time in
the UI is shown in.

:mod:`.settings` reads and writes the settings (the saved zone, else ``TIME_ZONE`` from the
configuration, default UTC, cached per request; and the Twilio account saved on the settings
page, whose use is :mod:`sipflask.twilio_rest.account`'s); :mod:`.clock` prints instants on that clock
and turns a local date filter into UTC instants. :func:`init_app` checks the configured zone at
start-up (a bad ``SIPFLASK_TIME_ZONE`` stops the app with a message naming it) and gives the
templates ``|localtime``, ``|localdate``, ``same_local_day()`` and ``account_zone()`` (the
zone's name, for headers like ``Time (America/New_York)``).
"""
from __future__ import annotations

from flask import Flask

from sipflask.account import clock, settings
from sipflask.account.settings import ConfigError, account_zone, zone_name

__all__ = ["ConfigError", "account_zone", "clock", "init_app", "settings", "zone_name"]


def init_app(app: Flask) -> None:
    settings.check_config(app.config)
    app.add_template_filter(clock.localtime, "localtime")
    app.add_template_filter(clock.localdate, "localdate")
    app.add_template_global(clock.same_local_day, "same_local_day")
    app.add_template_global(settings.zone_name, "account_zone")
