"""Changing the Twilio account through its REST API (not named ``twilio``: that is the library).

``client`` holds what every change shares (the account's client, webhook URLs, requests taken
as named steps, safe error messages); each kind of thing kept at Twilio has a module of its
own next to it: ``sip_sync`` (inbound SIP domains, their lists and mappings) with ``sip_lists``
(the credentials and IP addresses in those lists). Phone numbers (importing, buying, checking
for drift) belong in a ``numbers`` module beside them.
"""
