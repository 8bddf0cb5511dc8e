"""SIP endpoint health: resolve a buyer's SIP URI like a SIP client (RFC 3263) and probe it with
OPTIONS. The decisions live in the pure core (``core/sipresolve.py``, ``core/sipoptions.py``);
this package holds the network: DNS (``dns.py``) and sockets (``probe.py``)."""
