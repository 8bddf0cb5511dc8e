"""The password rule, one place for the CLI (``users create``, ``users set-password``) and the
web forms (My account, an admin's user page).

A password must be at least ``MIN_LENGTH`` characters, not only spaces, not one character
repeated, not the account's email (or the part before ``@``), and not one of the 20,000 common
passwords bundled in ``sipflask/data/common-passwords.txt.gz`` (Django's list, BSD licence: see
``sipflask/data/common-passwords.LICENSE``). Length is what makes a guess expensive; the rest
refuses the passwords an attacker tries first.
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 12
# Far above any passphrase, and below what would let one login request cost seconds of hashing.
MAX_LENGTH = 1024
COMMON_LIST = Path(__file__).resolve().parents[1] / "data" / "common-passwords.txt.gz"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list, lower-cased as Django stores it (read once per process, ~20 ms)."""
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is refused for the account ``email``, as a sentence; None when it is fine."""
    if password is None or not password.strip():
        return "Enter a password (spaces alone are not one)."
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters (this one has {len(password)})."
    if len(password) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters."
    if len(set(password)) == 1:
        return "The password must not be one character repeated."
    folded = password.strip().lower()
    email = (email or "").strip().lower()
    if email and folded in {email, email.split("@", 1)[0]}:
        return "The password must not be the email address."
    if folded in common_passwords():
        return "This password is on a list of common passwords; choose another."
    return None
