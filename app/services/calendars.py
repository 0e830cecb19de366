"""A user's calendar sources: add an upload or a feed, refresh, remove (busy time: busy.py).

Views call these and show `CalendarProblem` messages as they are; nothing here knows about HTTP.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from app import vault
from app.extensions import db
from app.models import CalendarSource, User
from calendar_providers.base import ProviderError
from calendar_providers.fetch import fetch_calendar, is_icalendar, normalize_url
from calendar_providers.ics_prefilter import count_events

SAMPLE = Path(__file__).resolve().parent.parent / "demo" / "demo.ics"
UPLOAD = "upload"
FEED = "feed"


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
    user: User, url: str, name: str, now: datetime, *, secret_key: str, cache_dir: Path
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
    _refresh_feed(source, url, now, cache_dir)
    if source.error:
        raise CalendarProblem(source.error)
    db.session.add(source)
    db.session.commit()
    return source


def refresh(source: CalendarSource, now: datetime, *, secret_key: str, cache_dir: Path) -> None:
    """Read the source again; a failure is recorded on it, in words, and shown on the page."""
    if source.kind == FEED:
        _refresh_feed(source, vault.unseal(secret_key, source.sealed_url), now, cache_dir)
    else:
        source.event_count = count_events(source.content or b"")
        source.refreshed_at, source.error = now, None
    db.session.commit()


def remove(source: CalendarSource) -> None:
    db.session.delete(source)
    db.session.commit()


def owned_source(user: User, source_id: int) -> CalendarSource | None:
    """The user's own source with that id; another user's is as good as missing."""
    return db.session.scalar(db.select(CalendarSource).filter_by(id=source_id, user_id=user.id))


def _refresh_feed(source: CalendarSource, url: str, now: datetime, cache_dir: Path) -> None:
    try:
        fetched = fetch_calendar(url, cache_dir)
    except ProviderError as error:
        source.error = str(error)
        return
    source.event_count = count_events(fetched.data)
    source.refreshed_at = now
    source.error = fetched.note
