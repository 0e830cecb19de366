"""Propose alternative times for an interview that has to move.

A slot qualifies when it
- lasts as long as the interview, in elapsed time (so a slot across a DST change is still right);
- keeps `rules.buffer` clear of every busy event on both sides. The event with the interview's
  UID is ignored (it is what is being moved); zero-length events hold no time and are ignored;
- lies within one working day of the user (`rules.user_hours` in `interview.tz`) and within one
  working day of the interviewer (`rules.interviewer_hours` in `interview.interviewer_tz`), each
  day's hours taken on that party's own local calendar, so DST days are right;
- starts at least `rules.min_notice` after `now` and ends by `now + rules.window`;
- does not start at the original time;
- starts on the user's wall-clock grid: a multiple of `rules.step` after local midnight
  (:00 :15 :30 :45). The night clocks fall back that includes both 02:15s; the night they spring
  forward it skips the times that never happen.

Ranking (deterministic):
1. Days are the user's local days. The soonest `rules.count` days with room get one slot each.
2. Within a day, the slot whose start reads closest on the interviewer's clock to the original
   start on that clock wins (the plain difference of the two clock readings, not wrapped past
   midnight); a tie goes to the earlier slot.
3. When fewer days than `rules.count` have room, those days take turns, soonest first, each
   adding its best slot that does not overlap the slots it already has, until the count is met
   or no day has room left.

Slots come back in chronological order, in UTC (convert only for display). Notes say in plain
words why fewer than `rules.count` slots were found, and when slots share a day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.scheduling.intervals import (
    Interval,
    intersect,
    is_empty,
    merge,
    subtract,
    to_utc,
    utc_interval,
)
from app.scheduling.model import (
    BusyEvent,
    Interview,
    Proposal,
    Rules,
    Slot,
    WorkHours,
    require_aware,
)

_PRECISION = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Search:
    """Everything fixed for one proposal run, in UTC."""

    interview: Interview
    rules: Rules
    window: Interval  # [now + min_notice, now + rules.window): where slots may lie
    blocked: list[Interval]


def propose(
    interview: Interview, busy: Iterable[BusyEvent], rules: Rules, now: datetime
) -> Proposal:
    """Up to `rules.count` good alternative slots for the interview, with notes on any shortfall."""
    require_aware(now, "now")
    search = _Search(
        interview=interview,
        rules=rules,
        window=(to_utc(now) + rules.min_notice, to_utc(now) + rules.window),
        blocked=_blocked(interview, busy, rules.buffer),
    )
    shared = _shared_hours(search)
    days_with_room = [
        ranked for day, pieces in shared if (ranked := _ranked_starts(search, day, pieces))
    ]
    starts = _choose(days_with_room, rules.count, interview.duration)
    slots = tuple(Slot(start, start + interview.duration) for start in starts)
    return Proposal(slots, _notes(search, shared, len(slots), len(days_with_room)))


def search_span(
    interview: Interview, rules: Rules, now: datetime, slots: Iterable[Slot] = ()
) -> tuple[datetime, datetime]:
    """Where busy time matters: the search from `now`, the interview and any chosen `slots`,
    widened by the buffer."""
    slots = list(slots)
    start = min(now, interview.start, *(slot.start for slot in slots))
    end = max(interview.end, *(slot.end for slot in slots), now + rules.window)
    return start - rules.buffer, end + rules.buffer


def _blocked(interview: Interview, busy: Iterable[BusyEvent], buffer: timedelta) -> list[Interval]:
    """Busy time widened by the buffer, merged once so each day's walk can bisect it."""
    padded = []
    for event in busy:
        start, end = utc_interval(event.start, event.end)
        if event.uid != interview.uid and start < end:  # zero-length events hold no time
            padded.append((start - buffer, end + buffer))
    return merge(padded)


def _shared_hours(search: _Search) -> list[tuple[date, list[Interval]]]:
    """Per user-local day, the UTC pieces inside both parties' working hours."""
    interview, rules = search.interview, search.rules
    interviewer_days = [
        interval
        for _, interval in _working_days(rules.interviewer_hours, interview.interviewer_tz, search)
    ]
    return [
        (day, intersect([interval], interviewer_days))
        for day, interval in _working_days(rules.user_hours, interview.tz, search)
    ]


def _working_days(hours: WorkHours, zone: ZoneInfo, search: _Search) -> list[tuple[date, Interval]]:
    """Each local day touching the search window, with its working interval in UTC."""
    first, last = (moment.astimezone(zone).date() for moment in search.window)
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        interval = hours.on(day, zone)
        if interval is not None and not is_empty(interval):
            days.append((day, utc_interval(*interval)))
    return days


def _ranked_starts(search: _Search, day: date, pieces: list[Interval]) -> list[datetime]:
    """The day's valid starts, best first (closest to the original on the interviewer's clock)."""
    interview = search.interview
    original = to_utc(interview.start)
    target = _clock(interview.start.astimezone(interview.interviewer_tz))
    starts = [
        start
        for piece in intersect(pieces, [search.window])
        for gap in subtract(piece, search.blocked)
        for start in _grid_starts(gap, interview.duration, day, interview.tz, search.rules.step)
        if start != original
    ]
    return sorted(
        starts,
        key=lambda start: (abs(_clock(start.astimezone(interview.interviewer_tz)) - target), start),
    )


def _grid_starts(
    gap: Interval, duration: timedelta, day: date, zone: ZoneInfo, step: timedelta
) -> Iterator[datetime]:
    """Starts in the gap that leave room for the interview and sit on the local wall-clock grid.

    Within a stretch of constant UTC offset, wall-clock and UTC advance together, so the grid is
    found once per stretch and then stepped in UTC.
    """
    gap_end = gap[1]
    for stretch_start, stretch_end in _constant_offset_stretches(gap, zone):
        local = stretch_start.astimezone(zone)
        since_midnight = (local.date() - day) + _clock(local)
        start = stretch_start + (-since_midnight) % step
        while start < stretch_end and start + duration <= gap_end:
            yield start
            start += step


def _constant_offset_stretches(interval: Interval, zone: ZoneInfo) -> list[Interval]:
    """The interval cut where the zone's UTC offset changes (at a DST change)."""
    start, end = interval
    stretches = []
    while start < end:
        change = _next_offset_change(start, end, zone)
        stretches.append((start, change))
        start = change
    return stretches


def _next_offset_change(start: datetime, end: datetime, zone: ZoneInfo) -> datetime:
    """The first instant before `end` with another offset than `start`, else `end`.

    Bisection, assuming that equal offsets at both ends mean no change in between: true of every
    zone within the span of one working day.
    """
    offset = start.astimezone(zone).utcoffset()
    low, high = start, end - _PRECISION
    if high.astimezone(zone).utcoffset() == offset:
        return end
    while high - low > _PRECISION:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


def _clock(local: datetime) -> timedelta:
    """How far a local datetime's wall clock reads past its midnight."""
    return timedelta(
        hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


def _choose(days: list[list[datetime]], count: int, duration: timedelta) -> list[datetime]:
    """One best start per soonest day; if days run short, the days take turns adding more."""
    chosen = [[ranked[0]] for ranked in days[:count]]
    total = len(chosen)
    added = True
    while total < count and added:
        added = False
        for ranked, picked in zip(days, chosen, strict=True):
            if total == count:
                break
            extra = next((start for start in ranked if _apart(start, picked, duration)), None)
            if extra is not None:
                picked.append(extra)
                total += 1
                added = True
    return sorted(start for picked in chosen for start in picked)


def _apart(start: datetime, picked: list[datetime], duration: timedelta) -> bool:
    """Whether a slot at `start` overlaps none of the picked ones (all are equally long)."""
    return all(abs(start - other) >= duration for other in picked)


def _notes(
    search: _Search,
    shared: list[tuple[date, list[Interval]]],
    found: int,
    days_with_room: int,
) -> tuple[str, ...]:
    """Plain sentences on why the proposal falls short of what was asked, if it does."""
    rules, window = search.rules, _amount(search.rules.window)
    notes = []
    if found < rules.count:
        if found == 0:
            notes.append(f"No free slot in the next {window}.")
        else:
            notes.append(f"Only {_count(found, 'free slot')} in the next {window}.")
        notes.append(_shortfall_reason(search, shared))
    if found > days_with_room:
        if days_with_room == 1:
            everyone = "Both" if found == 2 else f"All {found}"
            notes.append(f"{everyone} slots are on the same day: only one day had room.")
        elif found - days_with_room == 1:
            notes.append(f"Two slots are on the same day: only {days_with_room} days had room.")
        else:
            notes.append(f"Some days have several slots: only {days_with_room} days had room.")
    return tuple(notes)


def _shortfall_reason(search: _Search, shared: list[tuple[date, list[Interval]]]) -> str:
    """The most specific reason there was no more room."""
    interview, rules = search.interview, search.rules
    earliest, latest = search.window
    length = _amount(interview.duration)
    if earliest + interview.duration > latest:
        room = f"no room for the interview ({length}) in the {_amount(rules.window)} searched"
        if rules.min_notice:
            notice = _amount(rules.min_notice)
            return f"Slots must start at least {notice} from now: that leaves {room}."
        return f"There is {room}."
    both = (
        f"Your working hours ({rules.user_hours} {interview.tz.key}) and the interviewer's "
        f"({rules.interviewer_hours} {interview.interviewer_tz.key})"
    )
    longest = max((end - start for _, pieces in shared for start, end in pieces), default=None)
    if longest is None:
        return f"{both} do not overlap on any day in the next {_amount(rules.window)}."
    if longest < interview.duration:
        return (
            f"{both} overlap by at most {_amount(longest)} a day, "
            f"less than the interview's {length}."
        )
    bookable = intersect([piece for _, pieces in shared for piece in pieces], [search.window])
    if intersect(bookable, search.blocked):
        reason = "The rest of the time when you both work is taken by your calendar"
        if rules.buffer:
            reason += f" (with {_amount(rules.buffer)} kept clear around each event)"
        return reason + "."
    period = f"in the next {_amount(rules.window)}"
    if rules.min_notice:
        period = (
            f"between {_amount(rules.min_notice)} from now (the minimum notice) "
            f"and the end of the {_amount(rules.window)} searched"
        )
    shared_time = sum((end - start for start, end in bookable), timedelta(0))
    if not shared_time:
        return f"{both} do not overlap {period}."
    return f"{both} overlap for only {_amount(shared_time)} {period}."


def _amount(span: timedelta) -> str:
    """'14 days', '24 hours', '90 minutes': the largest whole unit people would say."""
    if span >= timedelta(days=2) and span % timedelta(days=1) == timedelta(0):
        return _count(span.days, "day")
    if span >= timedelta(hours=1) and span % timedelta(hours=1) == timedelta(0):
        return _count(span // timedelta(hours=1), "hour")
    return _count(round(span / timedelta(minutes=1)), "minute")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
