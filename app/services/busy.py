"""A user's busy time over a window, read from all their calendar sources, with a parse cache.

Reading a large calendar costs hundreds of milliseconds; pages that show conflicts or proposals
are opened again and again with the same data. Results are cached by the calendar's content
(SHA-256 of the bytes), the user's address and zone, and a day-aligned window, so a page view
re-parses only when a calendar changed or the day did.

Accounts (CalDAV, Google) are asked over the network instead; their answers (or errors) are kept
for ACCOUNT_TTL seconds, keyed by the connection, its chosen calendars and the window, so one
page view that reads busy time several times costs one request per calendar, and a server that
is down costs one timeout, not one per read.

Google is read in two parts, cached apart: free/busy over the window (one freebusy.query for all
the chosen calendars: untitled blocks, no UIDs) and, over the days the caller names (the
interview's day), the events themselves (one events.list per calendar). So the proposals page and
the interview's day view share the day's events, and together cost one freebusy.query and one
events.list per calendar while the answers are fresh.
"""

from __future__ import annotations

import functools
import hashlib
import time as clock
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from threading import Lock
from typing import TypeVar
from zoneinfo import ZoneInfo

from app import vault
from app.models import CalendarSource, User
from app.scheduling.model import BusyEvent
from app.services import accounts, google_accounts
from calendar_providers.base import AuthError, BusyReport, ProviderError
from calendar_providers.fetch import fetch_calendar
from calendar_providers.google import RECONNECT, GoogleProvider
from calendar_providers.ics import IcsProvider

CACHE_ENTRIES = 64
ACCOUNT_TTL = 60.0  # seconds an account's answer is reused: fresh enough, one read per page
_cache: OrderedDict[tuple, BusyReport] = OrderedDict()
# key -> (when it was asked, on the monotonic clock; the report, or the error to raise again)
_account_cache: OrderedDict[tuple, tuple[float, object]] = OrderedDict()
_lock = Lock()
Span = tuple[datetime, datetime]
T = TypeVar("T")


@dataclass(frozen=True)
class Busy:
    """Busy events from every source, and notes (skipped parts, unreadable sources)."""

    events: tuple[BusyEvent, ...]
    notes: tuple[str, ...]


def read_busy(
    user: User,
    start: datetime,
    end: datetime,
    *,
    named: Span | None = None,
    secret_key: vault.Keys,
    cache_dir: Path,
) -> Busy:
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
    day_start, day_end = _whole_days(start, tz), _whole_days(end, tz) + timedelta(days=1)
    events: list[BusyEvent] = []
    notes: list[str] = []
    for source in user.calendars:
        try:
            if source.kind == accounts.GOOGLE:
                days = _named_days(named, tz) if named else None
                report = _google_busy(
                    source, user, (start, end), (day_start, day_end), days, tz, secret_key
                )
            elif source.kind in accounts.ACCOUNT_KINDS:
                report = _account_busy(source, user, day_start, day_end, tz, secret_key)
            else:
                data = _content(source, secret_key, cache_dir)
                report = _cached_busy(source.name, data, user.email, day_start, day_end, tz)
        except ProviderError as error:
            if isinstance(error, AuthError) and source.kind == accounts.GOOGLE:
                _mark_refused(source, error)
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
    """A CalDAV account's busy time, asked of its server at most once per ACCOUNT_TTL seconds."""

    def ask() -> BusyReport:
        try:
            provider = accounts.provider_for(source, user, secret_key=secret_key)
        except vault.VaultError:
            raise AuthError(
                "The saved password cannot be read any more; remove the account and connect again."
            ) from None
        return provider.busy(start, end, tz)

    return _remembered((*_connection(source, user, tz), "busy", start, end), ask)


def _google_busy(
    source: CalendarSource, user: User, wanted: Span, window: Span, named: Span | None,
    tz: ZoneInfo, secret_key: vault.Keys,
) -> BusyReport:  # fmt: skip
    """A Google account's busy time: free/busy over the window (whole days around the `wanted`
    span), the events over `named`; free/busy is not asked when `named` covers all that is wanted.

    A calendar whose events cannot be listed (one shared for free/busy only, say) keeps its
    free/busy blocks over the named days too, with a note. No chosen calendar, no request.
    """
    if google_accounts.needs_reconnect(source):
        raise AuthError(source.error or RECONNECT)
    chosen = accounts.settings_of(source).get("busy_calendars") or []
    if not chosen:
        return BusyReport(())
    connection = _connection(source, user, tz)

    @functools.cache
    def provider() -> GoogleProvider:  # made only when an answer is not cached
        try:
            return google_accounts.provider(
                source, user, keys=secret_key, client=accounts.configured_google()
            )
        except vault.VaultError:
            raise AuthError(
                "The saved Google access cannot be read any more; reconnect Google."
            ) from None

    events: list[BusyEvent] = []
    notes: list[str] = []
    as_blocks = list(chosen)  # calendars read as free/busy blocks over the named days too
    if named:
        try:
            by_calendar = _remembered(
                (*connection, "events", *named),
                lambda: provider().events_by_calendar(*named, tz),
            )
        except AuthError:
            raise
        except ProviderError as error:
            notes.append(f"Your Google events could not be read, so they show as “Busy”: {error}")
        else:
            as_blocks = []
            names = accounts.settings_of(source).get("calendar_names", {})
            for calendar_id, outcome in by_calendar.items():
                if isinstance(outcome, ProviderError):
                    as_blocks.append(calendar_id)
                    name = names.get(calendar_id, calendar_id)
                    notes.append(
                        f"The events of {name} could not be read, so they show as “Busy”: {outcome}"
                    )
                else:
                    events += outcome.events
    if named is None or not (named[0] <= wanted[0] and wanted[1] <= named[1]):
        report = _remembered(
            (*connection, "freebusy", *window, None), lambda: provider().busy(*window, tz)
        )
        events += _outside(report.events, named) if named else report.events
        notes += report.notes
    if named and as_blocks:
        only = tuple(sorted(as_blocks))
        report = _remembered(
            (*connection, "freebusy", *named, only), lambda: provider().busy(*named, tz, only)
        )
        events += _inside(report.events, named)
        notes += report.notes
    return BusyReport(tuple(events), tuple(dict.fromkeys(notes)))


def _mark_refused(source: CalendarSource, error: AuthError) -> None:
    """Google refused the saved access: the calendars page offers "Reconnect Google"."""
    if not google_accounts.needs_reconnect(source):
        google_accounts.mark_refused(source, str(error))


def _connection(source: CalendarSource, user: User, tz: ZoneInfo) -> tuple:
    """What an account's answers depend on, besides the window.

    The sealed credentials are new ciphertext at every connection, so a reused row id never
    serves another connection's answer; the settings hold the chosen calendars.
    """
    return (source.id, source.settings, source.sealed_credentials, user.email, tz.key)


def _remembered(key: tuple, ask: Callable[[], T]) -> T:
    """ask()'s answer, or its error raised again, reused for ACCOUNT_TTL seconds."""
    with _lock:
        kept = _account_cache.get(key)
    if kept is None or clock.monotonic() - kept[0] >= ACCOUNT_TTL:
        try:
            outcome: object = ask()
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
    return kept[1]  # type: ignore[return-value]


def _named_days(span: Span, tz: ZoneInfo) -> Span:
    """The whole days a span touches, in the user's zone: pages naming the same day share it."""
    first, last = _whole_days(span[0], tz), _whole_days(span[1], tz)
    return first, last if last == span[1].astimezone(tz) else last + timedelta(days=1)


def _outside(events: Iterable[BusyEvent], span: Span) -> list[BusyEvent]:
    """The parts of the events before and after the span."""
    parts = []
    for event in events:
        if event.start < span[0]:
            parts.append(replace(event, end=min(event.end, span[0])))
        if event.end > span[1]:
            parts.append(replace(event, start=max(event.start, span[1])))
    return parts


def _inside(events: Iterable[BusyEvent], span: Span) -> list[BusyEvent]:
    """The parts of the events within the span."""
    return [
        replace(event, start=max(event.start, span[0]), end=min(event.end, span[1]))
        for event in events
        if event.start < span[1] and event.end > span[0]
    ]


def _whole_days(moment: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of the moment's day: windows that start the same day share a cache entry."""
    return datetime.combine(moment.astimezone(tz).date(), time(0), tzinfo=tz)
