"""Blueprints: one module per area, each defining ``bp`` at the top."""
from importlib import import_module

BLUEPRINTS = ("auth", "home", "publishers", "campaigns", "numbers", "buyers", "webhook",
              "plugins_page", "calls", "postbacks", "inbound", "ops",
              "settings", "users", "history", "siphealth", "twilio_numbers", "twilio_check",
              "reports", "reports_data", "webhooks", "webhook_send")


def register_blueprints(app):
    for name in BLUEPRINTS:
        module = import_module(f"{__name__}.{name}")
        app.register_blueprint(module.bp)
