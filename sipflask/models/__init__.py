"""Database models (Flask-SQLAlchemy 3, SQLAlchemy 2 typed style), one module per part of the
product; import them from here (``from sipflask.models import Buyer``).

Words follow SPEC.md: Campaign, Publisher, Number, Buyer, Call, Attempt, Tags. Tables that only
one feature uses live with it (``history/model.py``, ``webhooks/model.py``).
"""
from sipflask.models.calls import Attempt, Call, Postback, new_call_key
from sipflask.models.columns import TZDateTime, utcnow
from sipflask.models.routing import Buyer, BuyerHeader, Campaign, CampaignBuyer, Number, Publisher
from sipflask.models.settings import AccountSettings, InboundCredential, InboundIp, InboundSettings
from sipflask.models.users import User, new_session_token

__all__ = [
    "AccountSettings", "Attempt", "Buyer", "BuyerHeader", "Call", "Campaign", "CampaignBuyer",
    "InboundCredential", "InboundIp", "InboundSettings", "Number", "Postback", "Publisher",
    "TZDateTime", "User", "new_call_key", "new_session_token", "utcnow",
]
