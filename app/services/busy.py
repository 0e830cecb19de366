"""A user's busy time over a window, read from all their calendar sources, with a parse cache.

Reading a large calendar costs hundreds of milliseconds; pages that show conflicts or proposals
are opened again and again with the same data. Results are cached by the calendar's content
(SHA-256 of the bytes), the user's address and zone, and a day-aligned window, so a page view
re-parses only when a calendar changed or the day did.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from threading import Lock
from zoneinfo import ZoneInfo

from app import vault
from app.models import CalendarSource, User
from app.scheduling.model import BusyEvent
from calendar_providers.base import BusyReport, ProviderError
from calendar_providers.fetch import fetch_calendar
from calendar_providers.ics import IcsProvider

CACHE_ENTRIES = 64
_cache: OrderedDict[tuple, BusyReport] = OrderedDict()
_lock = Lock()


@dataclass(frozen=True)
class Busy:
    """Busy events from every source, and notes (skipped parts, unreadable sources)."""

    events: tuple[BusyEvent, ...]
    notes: tuple[str, ...]


def read_busy(
    user: User, start: datetime, end: datetime, *, secret_key: str, cache_dir: Path
) -> Busy:
    """Busy time of all the user's calendars over [start, end), in the user's zone.

    A source that cannot be read adds a note instead of failing the whole page.
    """
    tz = ZoneInfo(user.time_zone)
    day_start, day_end = _whole_days(start, tz), _whole_days(end, tz) + timedelta(days=1)
    events: list[BusyEvent] = []
    notes: list[str] = []
    for source in user.calendars:
        try:
            data = _content(source, secret_key, cache_dir)
            report = _cached_busy(source.name, data, user.email, day_start, day_end, tz)
        except ProviderError as error:
            notes.append(f"{source.name}: {error}")
            continue
        events.extend(event for event in report.events if event.end > start and event.start < end)
        notes.extend(report.notes)
    return Busy(tuple(events), tuple(notes))


def _content(source: CalendarSource, secret_key: str, cache_dir: Path) -> bytes:
    """An upload's bytes, or a feed's (revalidated with its server, served from disk on 304)."""
    if source.kind == "feed":
        return fetch_calendar(vault.unseal(secret_key, source.sealed_url), cache_dir).data
    return source.content or b""


def _cached_busy(
    name: str, data: bytes, me: str, start: datetime, end: datetime, tz: ZoneInfo
) -> BusyReport:
    key = (hashlib.sha256(data).hexdigest(), me, start, end, tz.key)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    report = IcsProvider(name, me=me, data=data).busy(start, end, tz)
    with _lock:
        _cache[key] = report
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return report


def _whole_days(moment: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of the moment's day: windows that start the same day share a cache entry."""
    return datetime.combine(moment.astimezone(tz).date(), time(0), tzinfo=tz)
