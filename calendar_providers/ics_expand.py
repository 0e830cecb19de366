"""Parse iCalendar bytes and expand events over a window, within bounded work.

Recurrence expansion is recurring-ical-events' job (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides,
X-WR-TIMEZONE); this module adds what a scheduler needs around it:
- bounds: a rule that would take too many steps to reach the window (FREQ=SECONDLY since 2010) is
  skipped with a note, open-ended rules are cut just after the window so the expander stops there,
  and at most MAX_SERIES_OCCURRENCES per series and MAX_OCCURRENCES in all are read, with a note
  when a cap was hit;
- isolation: one broken series is skipped with a note instead of losing the whole calendar;
- exact times: dates and floating times are read in the owner's zone, and a DURATION's hours are
  added in elapsed time (RFC 5545 3.3.6), where the expander adds them in wall-clock time.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from recurring_ical_events.errors import BadRuleStringFormat, PeriodEndBeforeStart

MAX_OCCURRENCES = 20_000
MAX_SERIES_OCCURRENCES = 5_000
MAX_RULE_STEPS = 200_000
QUERY_SLACK = timedelta(days=1)
_FREQUENCY_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}
# A BY-part expands a rule when its unit is finer than the rule's frequency.
_BY_PART_UNIT = {
    "BYSECOND": "SECONDLY",
    "BYMINUTE": "MINUTELY",
    "BYHOUR": "HOURLY",
    "BYDAY": "DAILY",
    "BYMONTHDAY": "DAILY",
    "BYYEARDAY": "DAILY",
    "BYWEEKNO": "WEEKLY",
    "BYMONTH": "MONTHLY",
}
# What the libraries raise on bad data inside one component.
DATA_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    OverflowError,
    IndexError,
    BadRuleStringFormat,
    PeriodEndBeforeStart,
    icalendar.InvalidCalendar,
)


@dataclass(frozen=True)
class Occurrence:
    """One expanded occurrence: its own component copy and its exact [start, end)."""

    component: icalendar.Event
    start: datetime
    end: datetime
    all_day: bool


@dataclass(frozen=True)
class Expansion:
    """The occurrences overlapping the window, and notes on what was skipped or cut."""

    occurrences: list[Occurrence]
    notes: list[str]


def parse(data: bytes) -> list[icalendar.Calendar]:
    """Every VCALENDAR in the bytes; ValueError with the parser's reason when unreadable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # guessed vendor TZIDs and the like: not the user's concern
        try:
            components = icalendar.Calendar.from_ical(data, multiple=True)
        except DATA_ERRORS as error:
            raise ValueError(_reason(error)) from None
    if not components:
        raise ValueError("it contains no calendar")
    for component in components:
        if component.name != "VCALENDAR":
            raise ValueError(f"it holds a bare {component.name} outside any VCALENDAR")
    return components


def expand(
    calendars: list[icalendar.Calendar], start: datetime, end: datetime, tz: ZoneInfo
) -> Expansion:
    """The occurrences of every VEVENT overlapping [start, end), bounded in work."""
    notes: list[str] = []
    occurrences: list[Occurrence] = []
    for calendar in calendars:
        durations = _Durations(calendar)
        skipped = _bound_rules(calendar, end, tz, notes)
        query_start = start.astimezone(tz) - QUERY_SLACK
        query_end = end.astimezone(tz) + QUERY_SLACK
        for series in _series(calendar, notes):
            if series.uid in skipped:
                continue
            try:
                for number, occurrence in enumerate(series.between(query_start, query_end)):
                    if len(occurrences) >= MAX_OCCURRENCES:
                        notes.append(
                            f"Stopped reading after {MAX_OCCURRENCES:,} occurrences in the window;"
                            " the rest were not counted."
                        )
                        return Expansion(occurrences, notes)
                    if number >= MAX_SERIES_OCCURRENCES:
                        notes.append(
                            f"Read only the first {MAX_SERIES_OCCURRENCES:,} occurrences of"
                            f" {_describe(str(series.uid))} in the window."
                        )
                        break
                    found = _occurrence(occurrence, durations, tz)
                    if found.end < found.start:
                        notes.append(
                            f"Skipped {_describe(str(series.uid), found.component)}: it ends"
                            " before it starts."
                        )
                    elif found.start < end and found.end > start:
                        occurrences.append(found)
            except DATA_ERRORS as error:
                notes.append(f"Skipped {_describe(str(series.uid))}: {_reason(error)}.")
    return Expansion(occurrences, notes)


def _series(calendar: icalendar.Calendar, notes: list[str]) -> list:
    """The calendar's series; a broken series is left out with a note, the rest still load."""
    try:
        return recurring_ical_events.of(calendar).series
    except DATA_ERRORS:
        pass
    timezones = calendar.walk("VTIMEZONE")
    by_uid: dict[str, list[icalendar.Event]] = {}
    for event in calendar.walk("VEVENT"):
        by_uid.setdefault(str(event.get("UID", "")), []).append(event)
    series = []
    for uid, events in by_uid.items():
        alone = icalendar.Calendar()
        for component in (*timezones, *events):
            alone.add_component(component)
        try:
            series.extend(recurring_ical_events.of(alone).series)
        except DATA_ERRORS as error:
            notes.append(f"Skipped {_describe(uid, events[0])}: {_reason(error)}.")
    return series


def _bound_rules(
    calendar: icalendar.Calendar, end: datetime, tz: ZoneInfo, notes: list[str]
) -> set[str]:
    """Cut open-ended rules after the window; return the UIDs of rules too costly to expand."""
    too_costly: set[str] = set()
    for event in calendar.walk("VEVENT"):
        try:
            rules = _repaired(event, notes)
            if not rules:
                continue
            dtstart = event["DTSTART"].dt
            for rule in rules if isinstance(rules, list) else [rules]:
                if _rule_steps(rule, _aware(dtstart, tz), end) > MAX_RULE_STEPS:
                    uid = str(event.get("UID", ""))
                    too_costly.add(uid)
                    notes.append(
                        f"Skipped {_describe(uid, event)}: it repeats too often "
                        f"(FREQ={rule['FREQ'][0]}) to expand up to the window."
                    )
                elif "UNTIL" not in rule and "COUNT" not in rule:
                    rule["UNTIL"] = [_until_after(end + QUERY_SLACK, dtstart, tz)]
        except DATA_ERRORS:
            continue  # a broken rule: the expander reports it for its series
    return too_costly


def _repaired(event: icalendar.Event, notes: list[str]):
    """The event's RRULE; a rule broken only by spaces or escapes (seen in exports) is mended."""
    rules = event.get("RRULE")
    if not isinstance(rules, icalendar.vBroken):
        return rules
    text = re.sub(r"\s*([;,=])\s*", r"\1", str(rules).replace("\\", ""))
    try:
        rules = icalendar.vRecur.from_ical(text)
    except DATA_ERRORS:
        return None  # left broken: the expander reports it for the series
    event["RRULE"] = rules
    described = _describe(str(event.get("UID", "")), event)
    notes.append(f"Read the malformed repeat rule of {described} as {text}.")
    return rules


def _rule_steps(rule: icalendar.vRecur, dtstart: datetime, end: datetime) -> float:
    """An upper estimate of the candidate times the expander visits from DTSTART to `end`."""
    frequency = str(rule.get("FREQ", ["DAILY"])[0]).upper()
    period = _FREQUENCY_SECONDS.get(frequency, 86400) * max(1, int(rule.get("INTERVAL", [1])[0]))
    steps = max(0.0, (end - dtstart).total_seconds()) / period + 1
    if "COUNT" in rule:
        steps = min(steps, int(rule["COUNT"][0]) + 1)
    rank = list(_FREQUENCY_SECONDS)
    for part, unit in _BY_PART_UNIT.items():
        if part in rule and rank.index(unit) < rank.index(frequency):
            steps *= max(1, len(rule[part]))
    return steps if math.isfinite(steps) else math.inf


def _until_after(moment: datetime, dtstart: date | datetime, tz: ZoneInfo) -> date | datetime:
    """UNTIL of the value type RFC 5545 requires for this DTSTART."""
    if not isinstance(dtstart, datetime):
        return moment.astimezone(tz).date()
    if dtstart.tzinfo is None:
        return moment.astimezone(tz).replace(tzinfo=None)
    return moment.astimezone(UTC)


class _Durations:
    """The DURATION (in place of DTEND) of each master and override, to end occurrences exactly."""

    def __init__(self, calendar: icalendar.Calendar) -> None:
        self.masters: dict[str, timedelta | None] = {}
        self.overrides: dict[tuple[str, object], timedelta | None] = {}
        for event in calendar.walk("VEVENT"):
            try:
                duration = (
                    event["DURATION"].dt if "DURATION" in event and "DTEND" not in event else None
                )
                key = str(event.get("UID", ""))
                if "RECURRENCE-ID" in event:
                    self.overrides[(key, _key(event["RECURRENCE-ID"].dt))] = duration
                else:
                    self.masters[key] = duration
            except DATA_ERRORS:
                continue

    def of(self, component: icalendar.Event) -> timedelta | None:
        uid = str(component.get("UID", ""))
        recurrence_id = component.get("RECURRENCE-ID")
        if recurrence_id is not None:
            key = (uid, _key(recurrence_id.dt))
            if key in self.overrides:
                return self.overrides[key]
        return self.masters.get(uid)


def _occurrence(occurrence, durations: _Durations, tz: ZoneInfo) -> Occurrence:
    """Turn the expander's occurrence into aware, exact times."""
    component = occurrence.as_component(False)
    start = _aware(occurrence.start, tz)
    end = _aware(occurrence.end, tz)
    duration = durations.of(component)
    if duration is not None and isinstance(occurrence.start, datetime):
        nominal = timedelta(days=duration.days)
        end = ((start + nominal).astimezone(UTC) + (duration - nominal)).astimezone(start.tzinfo)
    return Occurrence(component, start, end, all_day=not isinstance(occurrence.start, datetime))


def _aware(value: date | datetime, tz: ZoneInfo) -> datetime:
    """Dates start at local midnight and floating times are local, both in the owner's zone."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _key(value: date | datetime) -> object:
    """RECURRENCE-IDs compare by instant when aware, by value otherwise."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def _describe(uid: str, event: icalendar.Event | None = None) -> str:
    summary = str(event.get("SUMMARY", "")) if event is not None else ""
    if summary:
        return f"the event {summary!r}"
    return f"the event with UID {uid!r}" if uid else "an event without UID"


def _reason(error: BaseException) -> str:
    """The first line of a library's message, short enough for a one-line error."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."
