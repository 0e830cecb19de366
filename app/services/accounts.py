"""Calendar accounts (CalDAV, Google): their settings, credentials and providers.

A CalendarSource of an account kind keeps its non-secret settings as JSON in `settings`
(server URL, user name, the calendars that count as busy, the calendar that receives confirmed
events) and its secret in `sealed_credentials` (encrypted with app.vault). This module is the one
place that turns such a row into a provider, so every use case reads and writes alike.

Google's client settings are the deployment's, read from the running app's config (services run
inside its context already, for the database); GoogleProvider itself never sees Flask.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from app import google_client, vault
from app.extensions import db
from app.models import CalendarSource, User
from app.services import google_accounts
from app.services.account_settings import (  # noqa: F401 (the kinds are used as accounts.*)
    ACCOUNT_KINDS,
    CALDAV,
    GOOGLE,
    has_write_target,
    settings_of,
)
from calendar_providers import provider_class
from calendar_providers.base import AuthError, NotFound
from calendar_providers.google_objects import GoogleCalendarObjects


@dataclass(frozen=True)
class WriteTarget:
    """Where confirmed events (and holds) go: a writable provider and one of its calendars."""

    source: CalendarSource
    provider: Any
    calendar_id: str


def provider_for(source: CalendarSource, user: User, *, secret_key: vault.Keys):
    """The provider behind an account source (busy reads limited to the chosen calendars)."""
    try:
        make = _PROVIDERS[source.kind]
    except KeyError:
        raise ValueError(f"{source.kind!r} is not an account kind") from None
    return make(source, user, secret_key)


def _caldav_provider(source: CalendarSource, user: User, secret_key: vault.Keys):
    settings = settings_of(source)
    secret = json.loads(vault.unseal(secret_key, source.sealed_credentials or ""))
    return provider_class(CALDAV)(
        settings["url"], settings["username"], secret["password"], me=user.email,
        calendars=settings.get("busy_calendars"),
    )  # fmt: skip


def _google_provider(source: CalendarSource, user: User, secret_key: vault.Keys):
    """Written to as calendar objects, like a CalDAV account (google_objects)."""
    settings = settings_of(source)
    return GoogleCalendarObjects(
        google_accounts.provider(source, user, keys=secret_key, client=configured_google()),
        account=settings.get("account", ""),
        write_calendar=settings.get("write_calendar"),
    )


_PROVIDERS = {CALDAV: _caldav_provider, GOOGLE: _google_provider}


def configured_google() -> google_client.GoogleClient:
    """This server's Google client; AuthError when Google was switched off since connecting."""
    from flask import current_app

    client = google_client.from_config(current_app.config)
    if client is None:
        raise AuthError("Google is not set up on this Newslot server any more.")
    return client


def write_target(user: User, *, secret_key: vault.Keys) -> WriteTarget | None:
    """The first account with a calendar chosen for confirmed events, or None."""
    for source in user.calendars:
        if source.kind in ACCOUNT_KINDS and (calendar := settings_of(source).get("write_calendar")):
            return WriteTarget(source, provider_for(source, user, secret_key=secret_key), calendar)
    return None


def owned_provider(user: User, source_id: int, *, secret_key: vault.Keys, unreadable: str):
    """The provider of the user's account `source_id`; None when the account is gone from Newslot
    (another user's is as good as gone). AuthError(`unreadable`) when its saved access cannot be
    read."""
    source = db.session.get(CalendarSource, source_id)
    if source is None or source.user_id != user.id:
        return None
    try:
        return provider_for(source, user, secret_key=secret_key)
    except vault.VaultError:
        raise AuthError(unreadable) from None


def remove_event(provider: Any | None, href: str, etag: str) -> None:
    """Delete an event Newslot wrote, guarded by its ETag (Conflict when it changed there since).

    One deleted there already, or on an account that is gone (`provider` None), is as wanted.
    """
    if provider is None:
        return
    with suppress(NotFound):
        provider.cancel_event(href, etag)


def calendar_name(source: CalendarSource | None, calendar_id: str | None) -> str:
    """The name the user knows a calendar of the account `source` by."""
    if source is None:
        return "your calendar"
    return settings_of(source).get("calendar_names", {}).get(calendar_id, source.name)
