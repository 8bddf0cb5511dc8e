"""Masking secrets (SIP passwords, postback keys) in text that is shown, logged or exported."""
from __future__ import annotations

import re
from typing import Iterable

MASK = "********"
# Shorter strings would mask innocent text ("1" in every number): not secrets worth the name.
MIN_MASKED_LENGTH = 4
# sip:user:password@host -- never produced by sipflask, masked anyway should one be typed.
_USERINFO_PASSWORD = re.compile(r"(?i)(sips?:[^:@;?\s]*):[^@;?\s]*@")


def redact(text, secrets: Iterable[str] = ()) -> str:
    """``text`` with any URI password and any of ``secrets`` replaced by :data:`MASK`."""
    if text is None:
        return ""
    text = _USERINFO_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", str(text))
    # Longest first, so a secret containing another is masked whole.
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_MASKED_LENGTH},
                         key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
