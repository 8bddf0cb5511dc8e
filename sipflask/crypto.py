"""Encryption at rest for stored secrets (SIP passwords, inbound SIP credentials).

The Fernet key is derived from the instance's SECRET_KEY with HKDF, so a database dump alone
does not reveal SIP passwords, and no second key file has to be managed.
"""
import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretError(Exception):
    """A stored secret cannot be decrypted (the secret key changed?)."""


def _fernet(secret_key: str | bytes) -> Fernet:
    if isinstance(secret_key, str):
        secret_key = secret_key.encode()
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"sipflask secrets at rest v1").derive(secret_key)
    return Fernet(base64.urlsafe_b64encode(raw))


def encrypt(secret_key, plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key, token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        # Never include the token or key in the message: it ends up in logs.
        raise SecretError("a stored secret could not be decrypted; was SECRET_KEY changed?") from None
