"""Test-only SIP tooling: a tiny UAC playing Twilio, and helpers to run sipp as the buyer's PBX."""
