"""Every setting in one place, with defaults that run on one machine with no credentials.

Settings come from DEFAULTS, then `instance/config.py`, then `NEWSLOT_*` environment variables
(NEWSLOT_SMTP_HOST sets SMTP_HOST), and are validated once at start-up: a bad value stops the app
with a message that names it, instead of failing on the first request that needs it.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app import google_client, vault
from app.mail import transport_from_config

MIB = 1024 * 1024
DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,  # None: generated once and kept in instance/secret_key
    # Retired keys: sessions and stored secrets made with them still open (rotate without loss).
    "SECRET_KEY_FALLBACKS": [],
    "SQLALCHEMY_DATABASE_URI": None,  # None: SQLite in the instance folder
    "MAX_CONTENT_LENGTH": 20 * MIB,  # uploads (calendars, invites)
    "PUBLIC_URL": None,  # e.g. https://newslot.example.org, for links in letters
    "MAIL_TRANSPORT": "outbox",  # or "smtp"; the outbox keeps each email as an .eml file
    "OUTBOX_DIR": None,  # None: instance/outbox
    "SMTP_HOST": None,
    "SMTP_PORT": 587,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_SECURITY": "starttls",
    "FEED_CACHE_DIR": None,  # None: instance/cache
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "SIGN_IN_RATE_LIMIT": "10 per minute",
    # Upgrade the schema at start: right for the single-process default; with several workers
    # set it False and run `flask --app app db upgrade` once per deployment instead.
    "AUTO_MIGRATE": True,
    # Google (Calendar, Gmail, sign-in): off until a client ID and secret are set. The endpoints
    # are settings so a test or a proxy can stand in for Google.
    "GOOGLE_CLIENT_ID": None,
    "GOOGLE_CLIENT_SECRET": None,
    "GOOGLE_AUTH_URI": "https://accounts.google.com/o/oauth2/auth",
    "GOOGLE_TOKEN_URI": "https://oauth2.googleapis.com/token",
    "GOOGLE_REVOKE_URI": "https://oauth2.googleapis.com/revoke",
    "GOOGLE_USERINFO_URI": "https://openidconnect.googleapis.com/v1/userinfo",
    "GOOGLE_API_BASE": "https://www.googleapis.com",  # Calendar v3 and Gmail v1 live under it
}


def finish(config: dict[str, Any], instance_path: Path) -> None:
    """Fill the derived defaults and refuse bad values (ValueError naming the setting)."""
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance_path / "secret_key")
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, str):  # NEWSLOT_SECRET_KEY_FALLBACKS="old1 old2"
        fallbacks = fallbacks.split()
    config["SECRET_KEY_FALLBACKS"] = list(fallbacks)
    config["VAULT_KEYS"] = vault.keys_of(config)
    google_client.check(config)  # ValueError naming a bad Google setting
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_path / 'newslot.sqlite3'}"
    config["FEED_CACHE_DIR"] = Path(config.get("FEED_CACHE_DIR") or instance_path / "cache")
    public_url = config.get("PUBLIC_URL")
    if public_url:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"PUBLIC_URL must be an http(s) address, got {public_url!r}")
        config["PUBLIC_URL"] = public_url.rstrip("/")
        secure = parts.scheme == "https"
        config.setdefault("SESSION_COOKIE_SECURE", secure)
        config.setdefault("REMEMBER_COOKIE_SECURE", secure)
    transport_from_config(config, instance_path)  # ValueError naming a bad mail setting
    if not isinstance(config.get("MAX_CONTENT_LENGTH"), int) or config["MAX_CONTENT_LENGTH"] <= 0:
        raise ValueError("MAX_CONTENT_LENGTH must be a positive number of bytes")


def _instance_secret(path: Path) -> str:
    """A random key made on first start and kept, so sessions survive restarts."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    return key
