"""This server's registration with Google: its OAuth client and the endpoints it talks to.

Google is optional: without GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET the app runs as before and
offers no Google buttons. The endpoints are settings so tests (and a proxy) can stand in for
Google on 127.0.0.1; plain http is accepted only there, never for a real address.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.hosts import is_loopback

_ENDPOINTS = (
    "GOOGLE_AUTH_URI",
    "GOOGLE_TOKEN_URI",
    "GOOGLE_REVOKE_URI",
    "GOOGLE_USERINFO_URI",
    "GOOGLE_API_BASE",
)


@dataclass(frozen=True)
class GoogleClient:
    """The OAuth client (ID and secret) and Google's addresses, as configured."""

    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str
    revoke_uri: str
    userinfo_uri: str
    api_base: str

    def provider_settings(self) -> dict[str, str]:
        """What GoogleProvider needs besides the user's own credentials."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "token_uri": self.token_uri,
            "api_base": self.api_base,
        }


def from_config(config: Mapping[str, Any]) -> GoogleClient | None:
    """The configured client, or None when Google is not set up on this server."""
    if not (config.get("GOOGLE_CLIENT_ID") and config.get("GOOGLE_CLIENT_SECRET")):
        return None
    return GoogleClient(
        client_id=config["GOOGLE_CLIENT_ID"],
        client_secret=config["GOOGLE_CLIENT_SECRET"],
        auth_uri=config["GOOGLE_AUTH_URI"],
        token_uri=config["GOOGLE_TOKEN_URI"],
        revoke_uri=config["GOOGLE_REVOKE_URI"],
        userinfo_uri=config["GOOGLE_USERINFO_URI"],
        api_base=config["GOOGLE_API_BASE"].rstrip("/"),
    )


def check(config: Mapping[str, Any]) -> None:
    """Refuse half a client or an endpoint that would carry tokens unencrypted (ValueError).

    oauthlib refuses plain http outright; with every http endpoint on this machine (a test
    server) it is told to allow it. Newslot checks granted scopes itself (see google_auth), so
    oauthlib is told not to raise when Google grants fewer than were asked. requests-oauthlib
    logs whole token answers and code verifiers at DEBUG: its loggers are kept above that.
    """
    if bool(config.get("GOOGLE_CLIENT_ID")) != bool(config.get("GOOGLE_CLIENT_SECRET")):
        raise ValueError("GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET must be set together")
    if from_config(config) is None:
        return
    insecure = False
    for name in _ENDPOINTS:
        parts = urlsplit(str(config.get(name) or ""))
        if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
            insecure = True
        elif parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"{name} must be an https:// address, got {config.get(name)!r}")
    for chatty in ("requests_oauthlib", "oauthlib"):
        logging.getLogger(chatty).setLevel(logging.INFO)
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    if insecure or _loopback_site(config):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _loopback_site(config: Mapping[str, Any]) -> bool:
    """Whether this server is reached over plain http on this machine (development)."""
    public = urlsplit(str(config.get("PUBLIC_URL") or "http://127.0.0.1"))
    return public.scheme == "http" and is_loopback(public.hostname or "")
