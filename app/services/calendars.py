"""A user's calendar sources: add an upload, a feed or a CalDAV account, refresh, remove
(connecting Google: google_accounts.py; busy time: busy.py; turning an account row into a
provider: accounts.py).

Views call these and show `CalendarProblem` messages as they are; nothing here knows about HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from app import vault
from app.extensions import db
from app.hosts import is_loopback
from app.models import CalendarSource, User
from app.services import accounts, google_accounts
from calendar_providers import provider_class
from calendar_providers.base import CalendarInfo, ProviderError
from calendar_providers.fetch import fetch_calendar, is_icalendar, normalize_url
from calendar_providers.ics_prefilter import count_events

SAMPLE = Path(__file__).resolve().parent.parent / "demo" / "demo.ics"
UPLOAD = "upload"
FEED = "feed"
CALDAV = accounts.CALDAV
GOOGLE = accounts.GOOGLE
ACCOUNT_KINDS = accounts.ACCOUNT_KINDS


class CalendarProblem(Exception):
    """Why a calendar could not be added or read, in plain words."""


def add_upload(user: User, filename: str, data: bytes, now: datetime) -> CalendarSource:
    """Keep an uploaded .ics file, once it is known to be a calendar."""
    name = Path(filename or "calendar.ics").name[:200]
    if not data.strip():
        raise CalendarProblem(f"{name} is empty.")
    if not is_icalendar(data):
        raise CalendarProblem(
            f"{name} is not an iCalendar (.ics) file. Export your calendar as .ics and try again."
        )
    for kept in user.calendars:  # a double click, or the same export twice
        if kept.kind == UPLOAD and kept.content == data:
            raise CalendarProblem(f"This calendar is already here, as {kept.name}.")
    source = CalendarSource(
        user_id=user.id, kind=UPLOAD, name=name, content=data, event_count=count_events(data),
        refreshed_at=now, created_at=now,
    )  # fmt: skip
    db.session.add(source)
    db.session.commit()
    return source


def add_sample(user: User, now: datetime) -> CalendarSource:
    """The bundled demo calendar, for a first look without exporting one's own."""
    return add_upload(user, "sample.ics", SAMPLE.read_bytes(), now)


def add_feed(
    user: User, url: str, name: str, now: datetime, *, secret_key: vault.Keys, cache_dir: Path
) -> CalendarSource:
    """Subscribe to a feed address; it is read once now so a wrong address is caught at once."""
    try:
        url = normalize_url(url)
    except ProviderError as error:
        raise CalendarProblem(str(error)) from None
    source = CalendarSource(
        user_id=user.id, kind=FEED, name=(name.strip() or "Calendar feed")[:200],
        sealed_url=vault.seal(secret_key, url), created_at=now,
    )  # fmt: skip
    _refresh_feed(source, now, secret_key, cache_dir)
    if source.error:
        raise CalendarProblem(source.error)
    db.session.add(source)
    db.session.commit()
    return source


def refresh(
    source: CalendarSource, now: datetime, *, secret_key: vault.Keys, cache_dir: Path
) -> None:
    """Read the source again; a failure is recorded on it, in words, and shown on the page."""
    _REFRESHERS[source.kind](source, now, secret_key, cache_dir)
    db.session.commit()


def _recount(source: CalendarSource, now: datetime, secret_key: vault.Keys, cache_dir: Path):
    """An upload does not change: only its count is read again."""
    source.event_count = count_events(source.content or b"")
    source.refreshed_at, source.error = now, None


def _refresh_google(
    source: CalendarSource, now: datetime, secret_key: vault.Keys, cache_dir: Path
) -> None:
    try:
        client = accounts.configured_google()
    except ProviderError as error:
        source.error = str(error)
    else:
        google_accounts.refresh(source, now, keys=secret_key, client=client)


def remove(source: CalendarSource, *, secret_key: vault.Keys) -> bool | None:
    """Delete the row, and with it any sealed address, password or token.

    A Google account's grant is revoked at Google first; the answer says whether Google
    confirmed it (None for sources that hold no grant).
    """
    if source.kind == GOOGLE:
        try:
            client = accounts.configured_google()
        except ProviderError:
            client = None
        return google_accounts.disconnect(source, keys=secret_key, client=client)
    db.session.delete(source)
    db.session.commit()
    return None


def owned_source(user: User, source_id: int) -> CalendarSource | None:
    """The user's own source with that id; another user's is as good as missing."""
    return db.session.scalar(db.select(CalendarSource).filter_by(id=source_id, user_id=user.id))


def _refresh_feed(
    source: CalendarSource, now: datetime, secret_key: vault.Keys, cache_dir: Path
) -> None:
    url = vault.unseal(secret_key, source.sealed_url)
    try:
        fetched = fetch_calendar(url, cache_dir)
    except ProviderError as error:
        source.error = str(error)
        return
    source.event_count = count_events(fetched.data)
    source.refreshed_at = now
    source.error = fetched.note


# --- CalDAV accounts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountChoice:
    """An account's calendars and what the user chose: which count as busy, which receives
    confirmed events (None: none does)."""

    calendars: tuple[CalendarInfo, ...]
    busy: frozenset[str]
    write: str | None


def caldav_address(url: str) -> str:
    """The server address to connect to; refused unless the password would travel encrypted.

    Plain http is allowed only to this machine (a server under test, or a local Radicale).
    """
    url = url.strip()
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - a bad port raises ValueError here
    except ValueError:
        host = None
    if scheme not in ("https", "http") or not host:
        raise CalendarProblem("Give the server's address, such as https://caldav.fastmail.com/.")
    if parts.username or parts.password:
        raise CalendarProblem(
            "Leave the user name and password out of the address; use the fields below it."
        )
    if scheme == "http" and not is_loopback(host):
        raise CalendarProblem(
            "Use an https:// address: over plain http your password would travel unencrypted."
        )
    return url


def add_caldav(
    user: User, url: str, username: str, password: str, now: datetime, *, secret_key: vault.Keys
) -> CalendarSource:
    """Connect an account: its calendars are discovered now, so a wrong password or address is
    caught at once and nothing is kept. All calendars count as busy until the user chooses."""
    url = caldav_address(url)
    username = username.strip()
    for source in user.calendars:
        settings = accounts.settings_of(source) if source.kind == CALDAV else {}
        if (settings.get("url"), settings.get("username")) == (url, username):
            raise CalendarProblem(f"{source.name} is already connected; refresh it instead.")
    found = _discover(url, username, password)
    writable = [calendar.id for calendar in found if calendar.can_write]
    source = CalendarSource(
        user_id=user.id, kind=CALDAV,
        name=f"{username} on {urlsplit(url).hostname}"[:200],
        settings=json.dumps({
            "url": url, "username": username,
            "calendar_names": {calendar.id: calendar.name for calendar in found},
            "writable_calendars": writable,
            "busy_calendars": [calendar.id for calendar in found],
            # Confirmed interviews go to one calendar: the first account's, until chosen.
            "write_calendar": writable[0] if writable and not accounts.has_write_target(user)
            else None,
        }),
        sealed_credentials=vault.seal(secret_key, json.dumps({"password": password})),
        refreshed_at=now, created_at=now,
    )  # fmt: skip
    db.session.add(source)
    db.session.commit()
    return source


def account_choice(source: CalendarSource) -> AccountChoice:
    """The account's calendars as last discovered, and the user's current choice."""
    settings = accounts.settings_of(source)
    writable = set(settings.get("writable_calendars", ()))
    calendars = tuple(
        CalendarInfo(calendar_id, name, can_write=calendar_id in writable)
        for calendar_id, name in settings.get("calendar_names", {}).items()
    )
    return AccountChoice(
        calendars, frozenset(settings.get("busy_calendars", ())), settings.get("write_calendar")
    )


def choose_account_calendars(
    source: CalendarSource, busy_calendars: Collection[str], write_calendar: str | None
) -> list[str]:
    """Keep which calendars count as busy and which one receives confirmed events.

    Confirmed interviews go to one calendar only: choosing one here takes the role from the
    user's other accounts, whose names are returned (to tell the user).
    """
    settings = accounts.settings_of(source)
    known = settings.get("calendar_names", {}).keys()
    writable = known & set(settings.get("writable_calendars", ()))
    if not set(busy_calendars) <= known:
        raise CalendarProblem("Choose among the calendars listed.")
    if write_calendar is not None and write_calendar not in writable:
        raise CalendarProblem("Confirmed events can go only to a calendar you can write to.")
    settings["busy_calendars"] = [
        id_ for id_ in settings["calendar_names"] if id_ in busy_calendars
    ]
    settings["write_calendar"] = write_calendar
    source.settings = json.dumps(settings)
    relieved = []
    if write_calendar is not None:
        for other in source.user.calendars:
            other_settings = accounts.settings_of(other) if other.kind in ACCOUNT_KINDS else {}
            if other is not source and other_settings.get("write_calendar"):
                other_settings["write_calendar"] = None
                other.settings = json.dumps(other_settings)
                relieved.append(other.name)
    db.session.commit()
    return relieved


def _refresh_caldav(
    source: CalendarSource, now: datetime, secret_key: vault.Keys, cache_dir: Path
) -> None:
    """Discover the calendars again: choices stay for the ones still there; a calendar that
    appeared counts as busy (as every calendar did at connection); one that went is dropped."""
    settings = accounts.settings_of(source)
    try:
        password = json.loads(vault.unseal(secret_key, source.sealed_credentials or ""))["password"]
        found = _discover(settings["url"], settings["username"], password)
    except vault.VaultError:
        source.error = "The saved password cannot be read any more; remove and connect again."
        return
    except CalendarProblem as problem:
        source.error = str(problem)
        return
    known = settings.get("calendar_names", {})
    chosen = set(settings.get("busy_calendars", ()))
    writable = [calendar.id for calendar in found if calendar.can_write]
    settings.update(
        calendar_names={calendar.id: calendar.name for calendar in found},
        writable_calendars=writable,
        busy_calendars=[c.id for c in found if c.id in chosen or c.id not in known],
    )
    if settings.get("write_calendar") not in writable:
        settings["write_calendar"] = None
    source.settings = json.dumps(settings)
    source.refreshed_at, source.error = now, None


_REFRESHERS = {
    UPLOAD: _recount,
    FEED: _refresh_feed,
    CALDAV: _refresh_caldav,
    GOOGLE: _refresh_google,
}


def _discover(url: str, username: str, password: str) -> list[CalendarInfo]:
    try:
        found = provider_class(CALDAV)(url, username, password).list_calendars()
    except ProviderError as error:
        raise CalendarProblem(str(error)) from None
    if not found:
        raise CalendarProblem(
            "The account has no calendars; create one on the server first, then connect again."
        )
    return found
