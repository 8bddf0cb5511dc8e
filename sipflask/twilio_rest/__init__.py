"""Talking to Twilio's REST API (named so it does not shadow the twilio package)."""
