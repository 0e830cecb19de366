"""The interview's day as the interview page draws it: every event, the clashes marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from app import vault
from app.models import Interview, User
from app.scheduling import model as core
from app.scheduling.conflicts import conflicts
from app.services.busy import read_busy
from app.services.interviews import (
    as_core_interview,
    recognise_own_event,
)

DAY_FIRST_HOUR, DAY_LAST_HOUR = 7, 21  # the hours the day view draws (widened for the interview)


@dataclass(frozen=True)
class Entry:
    """One thing on the day, in the user's zone: the interview or a busy event."""

    summary: str
    calendar: str
    start: datetime
    end: datetime
    interview: bool = False
    conflict: bool = False
    tentative: bool = False
    all_day: bool = False


@dataclass(frozen=True)
class Block:
    """An entry as drawn: minutes below the first hour shown, and its lane among overlaps."""

    entry: Entry
    top: int
    height: int
    lane: int
    lanes: int


@dataclass(frozen=True)
class Day:
    """The interview's day in the user's zone: the same entries drawn and listed."""

    date: date
    first_hour: int
    last_hour: int
    entries: tuple[Entry, ...]
    blocks: tuple[Block, ...]
    conflicts: tuple[Entry, ...]
    notes: tuple[str, ...]


def look_at_day(
    interview: Interview, user: User, *, secret_key: vault.Keys, cache_dir: Path
) -> Day:
    """What the interview's day holds and what clashes with the interview."""
    own = as_core_interview(interview, user)
    zone, day = own.tz, own.start.date()
    start = datetime.combine(day, time(0), tzinfo=zone)  # the interview starts on this day
    end = max(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone), own.end)
    busy = read_busy(  # every event named: the day lists them, and the interview is among them
        user, start, end, named=(start, end), secret_key=secret_key, cache_dir=cache_dir
    )
    own = recognise_own_event(own, busy.events, interview.company)
    clashing = set(conflicts(own, busy.events))
    entries = [
        Entry(f"Interview: {interview.company}, {interview.role}", "", own.start, own.end, True)
    ]
    for event in busy.events:
        if event.uid == own.uid:
            continue
        entries.append(
            Entry(
                summary=event.summary or "Busy",
                calendar=event.calendar,
                start=event.start.astimezone(zone),
                end=event.end.astimezone(zone),
                conflict=event in clashing,
                tentative=event.status == core.TENTATIVE,
                all_day=event.all_day,
            )
        )
    entries.sort(key=lambda entry: (entry.start, not entry.interview, entry.summary))
    first_hour, last_hour = _hours_shown(own, day)
    return Day(
        date=day,
        first_hour=first_hour,
        last_hour=last_hour,
        entries=tuple(entries),
        blocks=_blocks(entries, day, first_hour, last_hour),
        conflicts=tuple(entry for entry in entries if entry.conflict),
        notes=busy.notes,
    )


def _minute_of(moment: datetime, day: date) -> int:
    """Wall-clock minutes after the day's midnight, clamped to the day (0..1440)."""
    if moment.date() < day:
        return 0
    if moment.date() > day:
        return 24 * 60
    return moment.hour * 60 + moment.minute


def _hours_shown(own: core.Interview, day: date) -> tuple[int, int]:
    """The usual hours, widened so the whole interview is on the drawing."""
    first = min(DAY_FIRST_HOUR, _minute_of(own.start, day) // 60)
    last = max(DAY_LAST_HOUR, -(-_minute_of(own.end, day) // 60))
    return first, last


def _blocks(
    entries: Sequence[Entry], day: date, first_hour: int, last_hour: int
) -> tuple[Block, ...]:
    """The timed entries inside the hours shown, with overlapping ones side by side."""
    low, high = first_hour * 60, last_hour * 60
    spans = []
    for entry in entries:
        start = max(_minute_of(entry.start, day), low)
        end = min(_minute_of(entry.end, day), high)
        if not entry.all_day and start < end:
            spans.append((start, end, entry))
    spans.sort(key=lambda span: (span[0], not span[2].interview, -span[1]))
    blocks: list[Block] = []
    cluster: list[tuple[int, int, int, Entry]] = []
    lane_ends: list[int] = []

    def close_cluster() -> None:
        lanes = len(lane_ends)
        blocks.extend(
            Block(entry, start - low, end - start, lane, lanes)
            for start, end, lane, entry in cluster
        )
        cluster.clear()
        lane_ends.clear()

    for start, end, entry in spans:
        if lane_ends and start >= max(lane_ends):
            close_cluster()
        lane = next((index for index, free_at in enumerate(lane_ends) if free_at <= start), None)
        if lane is None:
            lane = len(lane_ends)
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        cluster.append((start, end, lane, entry))
    close_cluster()
    return tuple(blocks)
