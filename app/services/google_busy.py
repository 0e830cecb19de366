"""A Google account's busy time, read in two parts that are remembered apart.

Free/busy over the window: one freebusy.query for all the chosen calendars, untitled blocks
without UIDs. Over the days a caller names (the interview's day, the offered slots at pick
time), the events themselves: one events.list per calendar, with titles and UIDs, so conflicts
are named and the interview's own event and Newslot's holds are recognised. The proposals page
and the interview's day view share the day's events, and together cost one freebusy.query and
one events.list per calendar while the answers are fresh (account_answers).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from app import vault
from app.models import CalendarSource, User
from app.scheduling.model import BusyEvent
from app.services import accounts, google_accounts
from app.services.account_answers import connection, remembered
from calendar_providers.base import AuthError, BusyReport, ProviderError
from calendar_providers.google import GoogleProvider

Span = tuple[datetime, datetime]


def read(
    source: CalendarSource, user: User, *, wanted: Span, window: Span, named: Span | None,
    tz: ZoneInfo, secret_key: vault.Keys,
) -> BusyReport:  # fmt: skip
    """Free/busy over the window (whole days around `wanted`), the events over `named`;
    free/busy is not asked when `named` covers all that is wanted.

    A calendar whose events cannot be listed (one shared for free/busy only, say) keeps its
    free/busy blocks over the named days too, with a note. No chosen calendar, no request. A
    refused grant marks the account for reconnecting, and it is not asked again until then.
    """
    with google_accounts.refusals_marked(source):
        return _read(source, user, wanted, window, named, tz, secret_key)


def _read(
    source: CalendarSource, user: User, wanted: Span, window: Span, named: Span | None,
    tz: ZoneInfo, secret_key: vault.Keys,
) -> BusyReport:  # fmt: skip
    settings = accounts.settings_of(source)
    chosen = settings.get("busy_calendars") or []
    if not chosen:
        return BusyReport(())
    asked = connection(source, user, tz)

    @functools.cache
    def provider() -> GoogleProvider:  # made only when an answer is not remembered
        return google_accounts.provider(
            source, user, keys=secret_key, client=accounts.configured_google()
        )

    events: list[BusyEvent] = []
    notes: list[str] = []
    as_blocks = list(chosen)  # calendars read as free/busy blocks over the named days too
    if named:
        try:
            by_calendar = remembered(
                (*asked, "events", *named), lambda: provider().events_by_calendar(*named, tz)
            )
        except AuthError:
            raise
        except ProviderError as error:
            notes.append(f"Your Google events could not be read, so they show as “Busy”: {error}")
        else:
            as_blocks = []
            names = settings.get("calendar_names", {})
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
        report = remembered(
            (*asked, "freebusy", *window, None), lambda: provider().busy(*window, tz)
        )
        events += _outside(report.events, named) if named else report.events
        notes += report.notes
    if named and as_blocks:
        only = tuple(sorted(as_blocks))
        report = remembered(
            (*asked, "freebusy", *named, only), lambda: provider().busy(*named, tz, only)
        )
        events += _inside(report.events, named)
        notes += report.notes
    return BusyReport(tuple(events), tuple(dict.fromkeys(notes)))


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
