"""Setup records as stored (buyers, campaigns, numbers, publishers, inbound SIP).

``write`` and ``routing`` are the one writer every form, the buyer editor, the inbound page and
``flask import`` use; ``setup_check`` and ``setup_json`` check, import and export the JSON
document; ``inbound`` reads and writes the inbound SIP settings.
"""
