"""Encryption at rest for secrets the app must keep (feed addresses, later OAuth tokens).

A calendar's "secret address" is a credential: anyone holding it reads the calendar. Such values
are stored only encrypted (Fernet: AES-128-CBC + HMAC), with a key derived from SECRET_KEY, so a
copied database file alone reveals nothing.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class VaultError(Exception):
    """A stored secret could not be decrypted (the SECRET_KEY changed)."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"newslot vault v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, text: str) -> str:
    """The text encrypted and authenticated, as ASCII for a text column."""
    return _fernet(secret_key).encrypt(text.encode()).decode("ascii")


def unseal(secret_key: str, token: str) -> str:
    """The text back, or VaultError if the key is not the one it was sealed with."""
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise VaultError("a stored secret cannot be read: was SECRET_KEY changed?") from None
