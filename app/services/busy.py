"""A user's busy time over a window, read from all their calendar sources, with a parse cache.

Reading a large calendar costs hundreds of milliseconds; pages that show conflicts or proposals
are opened again and again with the same data. Results are cached by the calendar's content
(SHA-256 of the bytes), the user's address and zone, and a day-aligned window, so a page view
re-parses only when a calendar changed or the day did.

Accounts (CalDAV, Google) are asked over the network instead, their answers remembered for a
minute (account_answers); Google's two-part read (free/busy, and the events of named days) is
google_busy's. Each kind of source has its reader in `_READERS`.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from threading import Lock
from zoneinfo import ZoneInfo

from app import vault
from app.models import CalendarSource, User
from app.scheduling.model import BusyEvent
from app.services import accounts, google_busy
from app.services.account_answers import connection, remembered
from calendar_providers.base import AuthError, BusyReport, ProviderError
from calendar_providers.fetch import fetch_calendar
from calendar_providers.ics import IcsProvider

CACHE_ENTRIES = 64
_cache: OrderedDict[tuple, BusyReport] = OrderedDict()
_lock = Lock()
Span = tuple[datetime, datetime]


def read_busy(
    user: User,
    start: datetime,
    end: datetime,
    *,
    named: Span | None = None,
    secret_key: vault.Keys,
    cache_dir: Path,
) -> BusyReport:
    """Busy time of all the user's calendars over [start, end), in the user's zone.

    Files, feeds and CalDAV give every event with its title and UID. Google gives free/busy
    blocks, titled "Busy" and without UIDs, except over `named`: the whole days (in the user's
    zone) of that span are read event by event, so conflicts there are named and the interview's
    own event (or Newslot's holds) is recognised by its UID. Choosing times names the interview's
    day; the day view and the check at pick time, which must tell events apart everywhere, name
    their whole window (free/busy is then not asked at all). Events cost a request per calendar
    and bring every event along, so callers name only the span they must.

    A source that cannot be read adds a note instead of failing the whole page; a Google account
    whose access was refused is marked for reconnecting (and not asked again until then).
    """
    tz = ZoneInfo(user.time_zone)
    query = _Query(
        wanted=(start, end),
        window=(_whole_days(start, tz), _whole_days(end, tz) + timedelta(days=1)),
        named=_named_days(named, tz) if named else None,
        tz=tz,
        secret_key=secret_key,
        cache_dir=cache_dir,
    )
    events: list[BusyEvent] = []
    notes: list[str] = []
    for source in user.calendars:
        try:
            report = _READERS[source.kind](source, user, query)
        except ProviderError as error:
            notes.append(f"{source.name}: {error}")
            continue
        events.extend(event for event in report.events if event.end > start and event.start < end)
        notes.extend(report.notes)
    return BusyReport(tuple(events), tuple(notes))


@dataclass(frozen=True)
class _Query:
    """One read: the span wanted, the whole days around it (shared by reads on the same days),
    the whole days to read event by event, and how to reach the calendars."""

    wanted: Span
    window: Span
    named: Span | None
    tz: ZoneInfo
    secret_key: vault.Keys
    cache_dir: Path


def _upload_busy(source: CalendarSource, user: User, query: _Query) -> BusyReport:
    """An uploaded file's busy time, parsed once per content and window."""
    return _cached_busy(source.name, source.content or b"", user.email, *query.window, query.tz)


def _feed_busy(source: CalendarSource, user: User, query: _Query) -> BusyReport:
    """A feed's busy time: revalidated with its server (from disk on 304), parsed once per
    content and window. A copy kept from before, used because the server failed, says so."""
    fetched = fetch_calendar(vault.unseal(query.secret_key, source.sealed_url), query.cache_dir)
    report = _cached_busy(source.name, fetched.data, user.email, *query.window, query.tz)
    if fetched.note:
        return replace(report, notes=(f"{source.name}: {fetched.note}", *report.notes))
    return report


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


def _caldav_busy(source: CalendarSource, user: User, query: _Query) -> BusyReport:
    """A CalDAV account's busy time over the window, remembered for a minute."""

    def ask() -> BusyReport:
        try:
            provider = accounts.provider_for(source, user, secret_key=query.secret_key)
        except vault.VaultError:
            raise AuthError(
                "The saved password cannot be read any more; remove the account and connect again."
            ) from None
        return provider.busy(*query.window, query.tz)

    return remembered((*connection(source, user, query.tz), "busy", *query.window), ask)


def _google_busy(source: CalendarSource, user: User, query: _Query) -> BusyReport:
    return google_busy.read(
        source, user, wanted=query.wanted, window=query.window, named=query.named,
        tz=query.tz, secret_key=query.secret_key,
    )  # fmt: skip


_READERS: dict[str, Callable[[CalendarSource, User, _Query], BusyReport]] = {
    "upload": _upload_busy,
    "feed": _feed_busy,
    accounts.CALDAV: _caldav_busy,
    accounts.GOOGLE: _google_busy,
}


def _named_days(span: Span, tz: ZoneInfo) -> Span:
    """The whole days a span touches, in the user's zone: pages naming the same day share it."""
    first, last = _whole_days(span[0], tz), _whole_days(span[1], tz)
    return first, last if last == span[1].astimezone(tz) else last + timedelta(days=1)


def _whole_days(moment: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of the moment's day: windows that start the same day share a cache entry."""
    return datetime.combine(moment.astimezone(tz).date(), time(0), tzinfo=tz)
