"""When an occurrence takes the user's time: one rule set for every provider that reads iCalendar.

As a person reads their own calendar: transparent ("free") and cancelled events and events the
user declined take no time; tentative ones do, and say so; zero-length events take none. Shared so
an .ics file and the same events on a CalDAV server give the same busy time.
"""

from __future__ import annotations

import icalendar

from app.scheduling.model import BUSY, TENTATIVE, BusyEvent
from calendar_providers.base import BusyReport
from calendar_providers.ics_expand import Expansion, Occurrence


def busy_report(
    expansion: Expansion, calendar: str, me: str | None, *, label: str | None = None
) -> BusyReport:
    """The expanded occurrences that take time, on `calendar`; the expansion's notes start with
    `label` (the calendar's name unless given)."""
    events = tuple(
        event
        for occurrence in expansion.occurrences
        if (event := busy_event(occurrence, calendar, me)) is not None
    )
    prefix = f"{calendar if label is None else label}: "
    return BusyReport(events, tuple(prefix + note for note in expansion.notes))


def busy_event(occurrence: Occurrence, calendar: str, me: str | None) -> BusyEvent | None:
    """The occurrence as busy time, or None when it leaves the user free."""
    component = occurrence.component
    status = str(component.get("STATUS", "")).upper()
    if status == "CANCELLED" or str(component.get("TRANSP", "")).upper() == "TRANSPARENT":
        return None
    if occurrence.end <= occurrence.start or declined(component, me):
        return None
    return BusyEvent(
        uid=str(component.get("UID", "")),
        summary=str(component.get("SUMMARY", "")).strip() or "(no title)",
        start=occurrence.start,
        end=occurrence.end,
        status=TENTATIVE if status == "TENTATIVE" else BUSY,
        calendar=calendar,
        all_day=occurrence.all_day,
    )


def declined(component: icalendar.Event, me: str | None) -> bool:
    """Whether `me` (a lower-case address, or None when unknown) is an attendee who declined."""
    if not me:
        return False
    for attendee in values_of(component, "ATTENDEE"):
        address = str(attendee).lower().removeprefix("mailto:").strip()
        if address == me:
            return str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
    return False


def values_of(component: icalendar.Component, name: str) -> list:
    """Every value of a property: icalendar gives one value alone, several as a list."""
    values = component.get(name, [])
    return values if isinstance(values, list) else [values]
