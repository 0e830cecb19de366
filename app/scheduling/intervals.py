"""Half-open [start, end) interval arithmetic on aware datetimes, done in UTC.

Two aware datetimes that share one ZoneInfo compare and subtract by wall clock: on the night
Berlin falls back, 02:30 (the second time) sorts before 02:45 (the first time), and on the night
it springs forward 04:00 - 01:00 is "three hours" that lasted two. So every function here turns
its input into UTC first and returns UTC intervals; callers convert only for display.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

Interval = tuple[datetime, datetime]


def to_utc(moment: datetime) -> datetime:
    """The same instant in UTC, where ordering and arithmetic are by elapsed time."""
    if moment.tzinfo is UTC:  # already converted: the common case inside the core
        return moment
    if moment.tzinfo is None:  # astimezone would silently read it as the machine's local time
        raise ValueError(f"a moment must be a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def utc_interval(start: datetime, end: datetime) -> Interval:
    """An interval with both ends in UTC."""
    return to_utc(start), to_utc(end)


def is_empty(interval: Interval) -> bool:
    """True for [t, t) (and inverted intervals): they hold no time."""
    start, end = utc_interval(*interval)
    return end <= start


def overlaps(first: Interval, second: Interval) -> bool:
    """Whether two intervals share time; touching ones and empty ones never do."""
    first_start, first_end = utc_interval(*first)
    second_start, second_end = utc_interval(*second)
    return max(first_start, second_start) < min(first_end, second_end)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted UTC intervals with overlapping or touching ones joined and empty ones dropped."""
    merged: list[Interval] = []
    for start, end in sorted(utc_interval(*interval) for interval in intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersect(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    """The time covered by both lists, as UTC pieces in order.

    Each list must be sorted and free of overlaps; touching intervals are fine and stay separate
    pieces, which keeps one working day apart from the next.
    """
    first_utc = [utc_interval(*interval) for interval in first]
    second_utc = [utc_interval(*interval) for interval in second]
    pieces: list[Interval] = []
    i = j = 0
    while i < len(first_utc) and j < len(second_utc):
        start = max(first_utc[i][0], second_utc[j][0])
        end = min(first_utc[i][1], second_utc[j][1])
        if start < end:
            pieces.append((start, end))
        if first_utc[i][1] < second_utc[j][1]:
            i += 1
        else:
            j += 1
    return pieces


def subtract(within: Interval, merged_holes: Sequence[Interval]) -> list[Interval]:
    """The UTC pieces of `within` that no hole covers.

    `merged_holes` must come from `merge` (sorted, disjoint, UTC): that lets a bisection find the
    first relevant hole, so subtracting from many small intervals stays cheap.
    """
    start, end = utc_interval(*within)
    pieces: list[Interval] = []
    index = bisect_right(merged_holes, start, key=_end)
    cursor = start
    while index < len(merged_holes) and merged_holes[index][0] < end:
        hole_start, hole_end = merged_holes[index]
        if cursor < hole_start:
            pieces.append((cursor, hole_start))
        cursor = max(cursor, hole_end)
        index += 1
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def free_gaps(within: Interval, busy: Iterable[Interval]) -> list[Interval]:
    """The free UTC gaps of `within` around any (unsorted, overlapping) busy intervals."""
    return subtract(within, merge(busy))


def _end(interval: Interval) -> datetime:
    return interval[1]
