"""Setup records (buyers, campaigns, numbers, publishers, inbound SIP): the one writer, JSON import/export."""
