"""Google accounts as calendar sources: connect, keep the tokens fresh, refresh, disconnect.

A connected account is a CalendarSource of kind "google": `settings` holds the account's address,
its calendars as last listed, the ones that count as busy (Google's "selected" ones at first),
the calendar that receives confirmed interviews (the primary one) and whether letters go out
through Gmail; `sealed_credentials` holds {token, refresh_token, expiry, scopes}, encrypted.

Tokens change under the app's feet: google-auth refreshes an expired access token in the
middle of a read, so the provider hands the new credentials back and they are sealed and saved
at once, in their own short transaction (the request's own session may be in the middle of
something else). A refresh token is never overwritten with nothing: Google leaves it out of
later answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import update

from app import vault
from app.extensions import db
from app.google_client import GoogleClient
from app.models import CalendarSource, User
from app.services import google_auth
from app.services.account_settings import GOOGLE, has_write_target, settings_of
from app.services.google_auth import GoogleAuthProblem, Grant
from calendar_providers import google_errors
from calendar_providers.base import AuthError, ProviderError
from calendar_providers.google import WRITERS, GoogleProvider, entry_name, shown_by_default

log = logging.getLogger(__name__)

RECONNECT = "reconnect"  # settings flag: Google refused the saved access
UNREADABLE = "The saved Google access cannot be read any more; reconnect Google."


def connect(
    user: User, grant: Grant, now: datetime, *, keys: vault.Keys, client: GoogleClient
) -> CalendarSource:
    """Keep a new grant: a new account source, or the same account's source renewed (its
    choices kept). Its calendars are listed now, so a grant that cannot read them is refused."""
    missing = grant.missing(google_auth.SCOPES[google_auth.CONNECT])
    if missing:
        raise GoogleAuthProblem(
            f"Newslot still needs permission to {_joined(missing)}. Connect again and leave"
            " those boxes ticked on Google's screen."
        )
    provider = GoogleProvider(grant.credentials, **client.provider_settings())
    try:
        entries = provider.calendar_entries()
    except ProviderError as error:
        raise GoogleAuthProblem(str(error)) from None
    primary = next((entry for entry in entries if entry.get("primary")), None)
    if primary is None:
        raise GoogleAuthProblem("This Google account has no calendar of its own to use.")
    account = primary["id"].lower()
    source = _account_source(user, account)
    if source is None:
        source = CalendarSource(
            user_id=user.id, kind=GOOGLE, name=f"{account} on Google"[:200], created_at=now
        )
        db.session.add(source)
        settings: dict[str, Any] = {
            "account": account,
            "busy_calendars": [e["id"] for e in entries if shown_by_default(e)],
            # Confirmed interviews go to one calendar: the primary, unless another account's.
            "write_calendar": None if has_write_target(user) else primary["id"],
            "send_mail": False,
        }
        stored: Mapping[str, Any] = {}
    else:
        settings = settings_of(source)
        stored = _replaced_credentials(source, keys)
    _list_into(settings, entries)
    settings.pop(RECONNECT, None)
    source.settings = json.dumps(settings)
    source.sealed_credentials = vault.seal(keys, json.dumps(_merged(stored, grant.credentials)))
    source.refreshed_at, source.error = now, None
    db.session.commit()
    return source


def enable_gmail(source: CalendarSource, grant: Grant, *, keys: vault.Keys) -> None:
    """Send the user's letters through Gmail from now on (the grant must include gmail.send)."""
    missing = grant.missing(google_auth.SCOPES[google_auth.GMAIL])
    if missing:
        raise GoogleAuthProblem(
            "Google did not give Newslot permission to send email for you, so letters still go"
            " out the usual way."
        )
    settings = settings_of(source)
    settings["send_mail"] = True
    settings.pop(RECONNECT, None)
    source.settings = json.dumps(settings)
    stored = _replaced_credentials(source, keys)
    source.sealed_credentials = vault.seal(keys, json.dumps(_merged(stored, grant.credentials)))
    source.error = None
    db.session.commit()


def disable_gmail(source: CalendarSource) -> None:
    """Letters go out the usual way again (the permission stays until disconnected)."""
    settings = settings_of(source)
    settings["send_mail"] = False
    source.settings = json.dumps(settings)
    db.session.commit()


def provider(
    source: CalendarSource, user: User, *, keys: vault.Keys, client: GoogleClient
) -> GoogleProvider:
    """The account's provider, saving refreshed tokens as google-auth obtains them."""
    settings = settings_of(source)
    credentials = _credentials(source, keys)
    source_id = source.id

    def save(refreshed: dict) -> None:
        sealed = vault.seal(keys, json.dumps(_merged(credentials, refreshed)))
        with db.engine.begin() as connection:
            connection.execute(
                update(CalendarSource)
                .where(CalendarSource.id == source_id)
                .values(sealed_credentials=sealed)
            )

    return GoogleProvider(
        credentials,
        **client.provider_settings(),
        calendars={
            calendar_id: settings.get("calendar_names", {}).get(calendar_id, calendar_id)
            for calendar_id in settings.get("busy_calendars", ())
        },
        me=user.email,
        on_token_refresh=save,
    )


def refresh(source: CalendarSource, now: datetime, *, keys: vault.Keys, client: GoogleClient):
    """List the calendars again: choices stay for those still there, a new calendar counts as
    busy if Google shows it (selected); a refused grant asks the user to reconnect."""
    settings = settings_of(source)
    try:
        entries = provider(source, source.user, keys=keys, client=client).calendar_entries()
    except vault.VaultError:
        source.error = UNREADABLE
        settings[RECONNECT] = True
    except AuthError as error:
        source.error = str(error)
        settings[RECONNECT] = True
    except ProviderError as error:
        source.error = str(error)
    else:
        known = settings.get("calendar_names", {})
        chosen = set(settings.get("busy_calendars", ()))
        settings["busy_calendars"] = [
            e["id"]
            for e in entries
            if e["id"] in chosen or (e["id"] not in known and shown_by_default(e))
        ]
        _list_into(settings, entries)
        if settings.get("write_calendar") not in settings["writable_calendars"]:
            settings["write_calendar"] = None
        settings.pop(RECONNECT, None)
        source.refreshed_at, source.error = now, None
    source.settings = json.dumps(settings)
    db.session.commit()


@contextmanager
def refusals_marked(source: CalendarSource) -> Iterator[None]:
    """A use of the account: refused at once while it waits to be reconnected; a refused grant,
    or tokens no key opens, mark it for reconnecting and come out as AuthError."""
    if needs_reconnect(source):
        raise AuthError(source.error or google_errors.RECONNECT)
    try:
        yield
    except vault.VaultError:
        mark_refused(source, UNREADABLE)
        raise AuthError(UNREADABLE) from None
    except AuthError as error:
        mark_refused(source, str(error))
        raise


def mark_refused(source: CalendarSource, problem: str) -> None:
    """Remember that Google refused the saved access, so the page offers "Reconnect Google"."""
    settings = settings_of(source)
    settings[RECONNECT] = True
    source.settings, source.error = json.dumps(settings), problem
    db.session.commit()


def disconnect(source: CalendarSource, *, keys: vault.Keys, client: GoogleClient | None) -> bool:
    """Revoke the grant at Google and delete the account here; whether Google confirmed it."""
    credentials = _replaced_credentials(source, keys)
    token = credentials.get("refresh_token") or credentials.get("token")
    revoked = client is not None and google_auth.revoke(client, token)
    db.session.delete(source)
    db.session.commit()
    return revoked


def needs_reconnect(source: CalendarSource) -> bool:
    return bool(settings_of(source).get(RECONNECT))


def sends_mail(source: CalendarSource) -> bool:
    return source.kind == GOOGLE and bool(settings_of(source).get("send_mail"))


def account_of(source: CalendarSource) -> str:
    return settings_of(source).get("account", "")


def _account_source(user: User, account: str) -> CalendarSource | None:
    for source in user.calendars:
        if source.kind == GOOGLE and account_of(source) == account:
            return source
    return None


def _list_into(settings: dict, entries: list[dict]) -> None:
    """The calendars as listed now (hidden ones left out unless already counted as busy)."""
    chosen = set(settings.get("busy_calendars", ()))
    shown = [e for e in entries if not e.get("hidden") or e["id"] in chosen]
    settings["calendar_names"] = {e["id"]: entry_name(e) for e in shown}
    settings["writable_calendars"] = [e["id"] for e in shown if e.get("accessRole") in WRITERS]
    settings["busy_calendars"] = [
        c for c in settings.get("busy_calendars", ()) if c in settings["calendar_names"]
    ]
    zone = next((e.get("timeZone") for e in entries if e.get("primary")), None)
    if zone:
        settings["time_zone"] = zone


def _merged(stored: Mapping[str, Any], new: Mapping[str, Any]) -> dict:
    """New credentials over the stored ones, keeping the refresh token Google left out."""
    merged = {**stored, **{key: value for key, value in new.items() if value is not None}}
    merged["refresh_token"] = new.get("refresh_token") or stored.get("refresh_token")
    merged["expiry"] = new.get("expiry")
    return merged


def _credentials(source: CalendarSource, keys: vault.Keys) -> dict[str, Any]:
    return json.loads(vault.unseal(keys, source.sealed_credentials or ""))


def _replaced_credentials(source: CalendarSource, keys: vault.Keys) -> dict[str, Any]:
    """The stored credentials about to be replaced or revoked; none when no key opens them any
    more (a new grant then takes their place whole: consent always brings a refresh token)."""
    try:
        return _credentials(source, keys)
    except vault.VaultError:
        return {}


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
