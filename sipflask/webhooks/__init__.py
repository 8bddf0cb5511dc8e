"""Outbound webhooks on call events (docs/webhooks.md).

``model`` holds the tables; ``events`` writes a delivery (the outbox row) in the call's own
transaction for each enabled webhook whose event and filters match; ``request`` turns a webhook
and a delivery into the request to send (``core/webhook_render.py`` escapes each token for its
place); ``transport`` sends it to a checked, pinned address; ``deliver`` is the job that sends
what is due, with retries, and the "Send test" / "Retry now" actions; ``queries`` reads the
delivery log. ``records/webhooks.py`` is the one writer of the setup.
"""
