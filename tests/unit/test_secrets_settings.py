"""Keys that seal stored secrets, and the Google settings checked at start."""

from __future__ import annotations

import pytest

from app import google_client, vault
from app.config import DEFAULTS


def test_a_retired_key_still_opens_what_it_sealed_and_the_new_key_seals():
    old = vault.seal("old key", "refresh token")
    assert vault.unseal(("new key", "old key"), old) == "refresh token"
    new = vault.seal(("new key", "old key"), "refresh token")
    assert vault.unseal("new key", new) == "refresh token"
    with pytest.raises(vault.VaultError):
        vault.unseal("new key", old)  # once the old key is dropped, its secrets are gone
    with pytest.raises(vault.VaultError):
        vault.unseal("old key", new)


def test_keys_come_from_secret_key_then_its_fallbacks():
    config = {"SECRET_KEY": "now", "SECRET_KEY_FALLBACKS": ["before", "long ago"]}
    assert vault.keys_of(config) == ("now", "before", "long ago")


def _google(**changes) -> dict:
    return {**DEFAULTS, "GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "secret", **changes}


def test_google_is_off_without_a_client_and_refuses_half_a_client():
    assert google_client.from_config(DEFAULTS) is None
    google_client.check(DEFAULTS)
    with pytest.raises(ValueError, match="GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET"):
        google_client.check({**DEFAULTS, "GOOGLE_CLIENT_ID": "id"})


@pytest.mark.parametrize(
    "name, value",
    [
        ("GOOGLE_TOKEN_URI", "http://oauth2.example.org/token"),
        ("GOOGLE_API_BASE", "ftp://www.googleapis.com"),
        ("GOOGLE_AUTH_URI", ""),
    ],
)
def test_tokens_never_travel_unencrypted_except_on_this_machine(name, value):
    with pytest.raises(ValueError, match=name):
        google_client.check(_google(**{name: value}))
    google_client.check(_google(GOOGLE_TOKEN_URI="http://127.0.0.1:8080/token"))


def test_the_defaults_are_googles_own_addresses():
    client = google_client.from_config(_google())
    assert client.auth_uri == "https://accounts.google.com/o/oauth2/auth"
    assert client.token_uri == "https://oauth2.googleapis.com/token"
    assert client.provider_settings()["api_base"] == "https://www.googleapis.com"


def test_resealing_moves_a_secret_to_the_current_key_and_refuses_a_stranger():
    old = vault.seal("old key", "app password")
    moved = vault.reseal(("new key", "old key"), old)
    assert vault.unseal("new key", moved) == "app password"
    with pytest.raises(vault.VaultError):
        vault.reseal(("new key",), old)
