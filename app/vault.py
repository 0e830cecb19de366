"""Encryption at rest for secrets the app must keep (feed addresses, passwords, OAuth tokens).

A calendar's "secret address" is a credential: anyone holding it reads the calendar. Such values
are stored only encrypted (Fernet: AES-128-CBC + HMAC), with keys derived from SECRET_KEY, so a
copied database file alone reveals nothing.

Keys rotate: `keys` is the current secret key, or a sequence whose first key seals and whose
others (SECRET_KEY_FALLBACKS, the retired keys) still unseal, so changing SECRET_KEY loses no
stored secret. `flask --app app reseal-secrets` seals every stored one under the new key, after
which the old key can be dropped.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

Keys = str | Sequence[str]


class VaultError(Exception):
    """A stored secret could not be decrypted (SECRET_KEY changed without keeping the old one)."""


def keys_of(config) -> tuple[str, ...]:
    """The current secret key, then the retired ones, from the app's settings."""
    return (config["SECRET_KEY"], *config.get("SECRET_KEY_FALLBACKS", ()))


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"newslot vault v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _keyring(keys: Keys) -> MultiFernet:
    listed = [keys] if isinstance(keys, str) else list(keys)
    if not listed:
        raise ValueError("the vault needs at least one secret key")
    return MultiFernet([_fernet(key) for key in listed])


def seal(keys: Keys, text: str) -> str:
    """The text encrypted and authenticated under the current key, as ASCII for a text column."""
    return _keyring(keys).encrypt(text.encode()).decode("ascii")


def reseal(keys: Keys, token: str) -> str:
    """The same secret sealed under the current key (VaultError if no key opens it)."""
    try:
        return _keyring(keys).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        raise VaultError("a stored secret cannot be read: was SECRET_KEY changed?") from None


def unseal(keys: Keys, token: str) -> str:
    """The text back, or VaultError if none of the keys is the one it was sealed with."""
    try:
        return _keyring(keys).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise VaultError("a stored secret cannot be read: was SECRET_KEY changed?") from None
