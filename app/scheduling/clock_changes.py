"""When a zone's clocks change: the one search both the letters' notes and the invites'
VTIMEZONE rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_SEARCH_STEP = timedelta(days=1)


def offset_changes(zone: ZoneInfo, since: datetime, until: datetime) -> list[datetime]:
    """The UTC instants in (since, until] at which `zone` changes its UTC offset.

    Steps a day at a time and bisects each step whose ends differ down to the whole second
    (zoneinfo's changes fall on whole seconds). A step holds at most one change: no zone has
    changed twice within two days since 1900.
    """
    changes = []
    step_start, until = since.astimezone(UTC), until.astimezone(UTC)
    while step_start < until:
        step_end = min(step_start + _SEARCH_STEP, until)
        if step_start.astimezone(zone).utcoffset() != step_end.astimezone(zone).utcoffset():
            changes.append(_change_within(zone, step_start, step_end))
        step_start = step_end
    return changes


def _change_within(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first whole UTC second in (before, after] with after's offset (the ends differ)."""
    target = after.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
