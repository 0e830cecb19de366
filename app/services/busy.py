"""A user's busy time over a window, read from all their calendar sources, with a parse cache.

Reading a large calendar costs hundreds of milliseconds; pages that show conflicts or proposals
are opened again and again with the same data. Results are cached by the calendar's content
(SHA-256 of the bytes), the user's address and zone, and a day-aligned window, so a page view
re-parses only when a calendar changed or the day did.

Accounts (CalDAV) are asked over the network instead; their answers (or errors) are kept for
ACCOUNT_TTL seconds, keyed by the connection, its chosen calendars and the window, so one page
view that reads busy time several times costs one REPORT per calendar, and a server that is down
costs one timeout, not one per read.
"""

from __future__ import annotations

import hashlib
import time as clock
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from threading import Lock
from zoneinfo import ZoneInfo

from app import vault
from app.models import CalendarSource, User
from app.scheduling.model import BusyEvent
from app.services import accounts
from calendar_providers.base import AuthError, BusyReport, ProviderError
from calendar_providers.fetch import fetch_calendar
from calendar_providers.ics import IcsProvider

CACHE_ENTRIES = 64
ACCOUNT_TTL = 60.0  # seconds an account's answer is reused: fresh enough, one read per page
_cache: OrderedDict[tuple, BusyReport] = OrderedDict()
# key -> (when it was asked, on the monotonic clock; the report, or the error to raise again)
_account_cache: OrderedDict[tuple, tuple[float, BusyReport | ProviderError]] = OrderedDict()
_lock = Lock()


@dataclass(frozen=True)
class Busy:
    """Busy events from every source, and notes (skipped parts, unreadable sources)."""

    events: tuple[BusyEvent, ...]
    notes: tuple[str, ...]


def read_busy(
    user: User, start: datetime, end: datetime, *, secret_key: vault.Keys, cache_dir: Path
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
            if source.kind in accounts.ACCOUNT_KINDS:
                report = _account_busy(source, user, day_start, day_end, tz, secret_key)
            else:
                data = _content(source, secret_key, cache_dir)
                report = _cached_busy(source.name, data, user.email, day_start, day_end, tz)
        except ProviderError as error:
            notes.append(f"{source.name}: {error}")
            continue
        events.extend(event for event in report.events if event.end > start and event.start < end)
        notes.extend(report.notes)
    return Busy(tuple(events), tuple(notes))


def _content(source: CalendarSource, secret_key: vault.Keys, cache_dir: Path) -> bytes:
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


def _account_busy(
    source: CalendarSource, user: User, start: datetime, end: datetime, tz: ZoneInfo,
    secret_key: vault.Keys,
) -> BusyReport:  # fmt: skip
    """The account's busy time, asked of its server at most once per ACCOUNT_TTL seconds.

    The key holds the sealed credentials (new ciphertext at every connection), so a reused row
    id never serves another connection's answer.
    """
    key = (
        source.id, source.settings, source.sealed_credentials, user.email, start, end, tz.key
    )  # fmt: skip
    with _lock:
        kept = _account_cache.get(key)
    if kept is None or clock.monotonic() - kept[0] >= ACCOUNT_TTL:
        try:
            outcome: BusyReport | ProviderError = _ask_account(
                source, user, start, end, tz, secret_key
            )
        except ProviderError as error:
            outcome = error
        kept = (clock.monotonic(), outcome)
        with _lock:
            _account_cache[key] = kept
            _account_cache.move_to_end(key)
            while len(_account_cache) > CACHE_ENTRIES:
                _account_cache.popitem(last=False)
    if isinstance(kept[1], ProviderError):
        raise kept[1].with_traceback(None)  # the same error again, without piling up tracebacks
    return kept[1]


def _ask_account(
    source: CalendarSource, user: User, start: datetime, end: datetime, tz: ZoneInfo,
    secret_key: vault.Keys,
) -> BusyReport:  # fmt: skip
    try:
        provider = accounts.provider_for(source, user, secret_key=secret_key)
    except vault.VaultError:
        raise AuthError(
            "The saved password cannot be read any more; remove the account and connect again."
        ) from None
    return provider.busy(start, end, tz)


def _whole_days(moment: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of the moment's day: windows that start the same day share a cache entry."""
    return datetime.combine(moment.astimezone(tz).date(), time(0), tzinfo=tz)
