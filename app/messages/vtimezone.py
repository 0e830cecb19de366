"""VTIMEZONE components that every calendar client reads the same way.

icalendar's own generator lists a zone's transitions as one comma-separated RDATE, and ical.js
(so Thunderbird and others) reads only its first value, which puts a Berlin time after the March
change an hour off. Outlook and Google write one STANDARD and one DAYLIGHT observance with a yearly
RRULE; we derive that rule from zoneinfo's own transitions and check it reproduces them. A zone
whose changes follow no such rule (Israel, Morocco) gets one observance per transition instead.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from app.scheduling.clock_changes import offset_changes

_WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_YEARS_BEFORE = 1
_YEARS_AFTER = 2


@dataclass(frozen=True)
class _Transition:
    """One change of a zone's UTC offset, with its onset in the wall-clock time before it."""

    onset: datetime  # naive local time, as VTIMEZONE's DTSTART wants it
    offset_from: timedelta
    offset_to: timedelta
    name: str

    @property
    def daylight(self) -> bool:
        """Clocks going forward start a DAYLIGHT observance (Dublin's 'negative DST' included)."""
        return self.offset_to > self.offset_from

    @property
    def rule(self) -> tuple[int, int, int, int, int]:
        """(month, weekday, ordinal, hour, minute): ordinal -1 means the last such weekday."""
        last_day = calendar.monthrange(self.onset.year, self.onset.month)[1]
        ordinal = -1 if self.onset.day + 7 > last_day else (self.onset.day - 1) // 7 + 1
        return (
            self.onset.month,
            self.onset.weekday(),
            ordinal,
            self.onset.hour,
            self.onset.minute,
        )


def vtimezone(zone: ZoneInfo, around: datetime) -> Timezone:
    """The VTIMEZONE for `zone`, correct from a year before `around` to two years after it."""
    first, _ = _window(around.year)
    transitions = _transitions(zone, around.year)
    component = Timezone()
    component.add("TZID", zone.key)
    if not transitions:
        component.add_component(_fixed_observance(zone, first))
    elif _yearly_rules_hold(transitions):
        for transition in _first_of_each_kind(transitions):
            observance = _observance(transition)
            observance.add("RRULE", _yearly_rrule(transition))
            component.add_component(observance)
    else:
        component.add_component(_fixed_observance(zone, first))
        for transition in transitions:
            component.add_component(_observance(transition))
    return component


def _window(year: int) -> tuple[datetime, datetime]:
    """The UTC span a VTIMEZONE written for an event in `year` is checked to be right for."""
    return (
        datetime(year - _YEARS_BEFORE, 1, 1, tzinfo=UTC),
        datetime(year + _YEARS_AFTER + 1, 1, 1, tzinfo=UTC),
    )


@functools.lru_cache(maxsize=256)
def _transitions(zone: ZoneInfo, year: int) -> tuple[_Transition, ...]:
    """Every offset change in the years around `year`.

    Cached: a zone's changes in a given year never change, and searching four years costs
    milliseconds that every invite to the same zone would otherwise pay again.
    """
    return tuple(_describe(zone, instant) for instant in offset_changes(zone, *_window(year)))


def _describe(zone: ZoneInfo, instant: datetime) -> _Transition:
    old = (instant - timedelta(seconds=1)).astimezone(zone)
    new = instant.astimezone(zone)
    offset_from = old.utcoffset()
    offset_to = new.utcoffset()
    assert offset_from is not None and offset_to is not None  # ZoneInfo always answers
    return _Transition(
        onset=(instant + offset_from).replace(tzinfo=None),
        offset_from=offset_from,
        offset_to=offset_to,
        name=new.tzname() or "",
    )


def _kind(transition: _Transition) -> tuple[timedelta, timedelta]:
    return transition.offset_from, transition.offset_to


def _first_of_each_kind(transitions: tuple[_Transition, ...]) -> list[_Transition]:
    firsts: dict[tuple[timedelta, timedelta], _Transition] = {}
    for transition in transitions:
        firsts.setdefault(_kind(transition), transition)
    return list(firsts.values())


def _yearly_rules_hold(transitions: tuple[_Transition, ...]) -> bool:
    """True when two kinds of change recur each year on the same 'nth weekday of month' rule."""
    firsts = _first_of_each_kind(transitions)
    if len(firsts) != 2:
        return False
    years = range(transitions[0].onset.year, transitions[-1].onset.year + 1)
    for first in firsts:
        onsets = [t.onset for t in transitions if _kind(t) == _kind(first)]
        if onsets != [_onset_in(year, first.rule) for year in years]:
            return False
    return True


def _onset_in(year: int, rule: tuple[int, int, int, int, int]) -> datetime:
    """The local onset a (month, weekday, ordinal, hour, minute) rule gives in one year."""
    month, weekday, ordinal, hour, minute = rule
    last_day = calendar.monthrange(year, month)[1]
    days = [day for day in range(1, last_day + 1) if calendar.weekday(year, month, day) == weekday]
    day = days[-1] if ordinal == -1 else days[ordinal - 1]
    return datetime(year, month, day, hour, minute)  # noqa: DTZ001 - local wall time


def _yearly_rrule(transition: _Transition) -> vRecur:
    month, weekday, ordinal, _, _ = transition.rule
    return vRecur(FREQ="YEARLY", BYMONTH=month, BYDAY=f"{ordinal}{_WEEKDAY_CODES[weekday]}")


def _observance(transition: _Transition) -> TimezoneDaylight | TimezoneStandard:
    observance = TimezoneDaylight() if transition.daylight else TimezoneStandard()
    observance.add("DTSTART", transition.onset)
    observance.add("TZOFFSETFROM", transition.offset_from)
    observance.add("TZOFFSETTO", transition.offset_to)
    observance.add("TZNAME", transition.name)
    return observance


def _fixed_observance(zone: ZoneInfo, since: datetime) -> TimezoneDaylight | TimezoneStandard:
    """The offset in force at `since`, stated as an observance that changes nothing."""
    local = since.astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None  # ZoneInfo always answers
    return _observance(
        _Transition(
            onset=local.replace(tzinfo=None),
            offset_from=offset,
            offset_to=offset,
            name=local.tzname() or "",
        )
    )
