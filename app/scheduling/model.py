"""The values the scheduling core works on.

Every datetime here is timezone-aware (naive ones are refused at construction), so nothing
downstream has to guess which zone a wall-clock time was meant in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BUSY = "busy"
TENTATIVE = "tentative"
MONDAY_TO_FRIDAY = frozenset(range(5))


def require_aware(value: datetime, what: str) -> None:
    """Refuse naive datetimes: their zone would be a guess."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")


def local_moment(day: date, clock: time, zone: ZoneInfo) -> datetime | None:
    """The moment a local date and time name in `zone` (the earlier one on the night clocks go
    back), or None for a time the clocks skip (the night they go forward)."""
    moment = datetime.combine(day, clock, tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        return None
    return moment


def _require_interval(start: datetime, end: datetime, what: str) -> None:
    require_aware(start, f"{what} start")
    require_aware(end, f"{what} end")
    if end.astimezone(UTC) < start.astimezone(UTC):  # same-zone comparison is wall-clock
        raise ValueError(f"{what} ends ({end.isoformat()}) before it starts ({start.isoformat()})")


@dataclass(frozen=True)
class BusyEvent:
    """One occurrence that blocks time on the user's calendar, over [start, end)."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    status: str = BUSY
    calendar: str = ""
    all_day: bool = False

    def __post_init__(self) -> None:
        _require_interval(self.start, self.end, f"event {self.summary!r}")
        if self.status not in (BUSY, TENTATIVE):
            raise ValueError(f"status must be {BUSY!r} or {TENTATIVE!r}, got {self.status!r}")


@dataclass(frozen=True)
class Interview:
    """The interview being moved: its time, both parties' zones and its own calendar UID."""

    start: datetime
    end: datetime
    tz: ZoneInfo
    interviewer_tz: ZoneInfo
    uid: str | None = None

    def __post_init__(self) -> None:
        _require_interval(self.start, self.end, "the interview")
        if self.duration == timedelta(0):
            raise ValueError("the interview must last longer than zero minutes")

    @property
    def duration(self) -> timedelta:
        """Elapsed (not wall-clock) length, so a slot across a DST change keeps its real length."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


@dataclass(frozen=True)
class WorkHours:
    """Daily working hours in one zone, as minutes after local midnight (end may be 24:00)."""

    start_minute: int = 9 * 60
    end_minute: int = 17 * 60
    weekdays: frozenset[int] = MONDAY_TO_FRIDAY

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= 24 * 60:
            raise ValueError("working hours must start before they end, within one day")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("working days must be weekday numbers 0 (Monday) to 6 (Sunday)")

    @classmethod
    def parse(cls, text: str, weekdays: frozenset[int] = MONDAY_TO_FRIDAY) -> WorkHours:
        """Read 'HH:MM-HH:MM' (24:00 allowed as the end)."""
        try:
            first, last = text.split("-")
            start, end = _minute_of_day(first), _minute_of_day(last)
        except ValueError:
            raise ValueError(f"working hours must look like 09:00-17:00, got {text!r}") from None
        return cls(start, end, weekdays)

    def on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The working interval of one local day, or None on a day off."""
        if day.weekday() not in self.weekdays:
            return None
        return _local(day, self.start_minute, zone), _local(day, self.end_minute, zone)

    def __str__(self) -> str:
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


def _minute_of_day(text: str) -> int:
    hours, minutes = text.strip().split(":")
    if len(hours) not in (1, 2) or len(minutes) != 2:
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or not 0 <= value <= 24 * 60:
        raise ValueError(text)
    return value


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _local(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """Wall-clock minute of a local day as an aware datetime (24:00 is the next midnight)."""
    extra_days, minute = divmod(minute, 24 * 60)
    day = day + timedelta(days=extra_days)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)


@dataclass(frozen=True)
class Rules:
    """What makes a slot acceptable; the defaults are what a careful candidate would pick."""

    count: int = 3
    buffer: timedelta = timedelta(minutes=15)
    min_notice: timedelta = timedelta(hours=24)
    window: timedelta = timedelta(days=14)
    user_hours: WorkHours = field(default_factory=WorkHours)
    interviewer_hours: WorkHours = field(default_factory=WorkHours)
    step: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("the number of slots must be at least 1")
        if self.buffer < timedelta(0) or self.min_notice < timedelta(0):
            raise ValueError("buffer and minimum notice cannot be negative")
        if self.window <= timedelta(0):
            raise ValueError("the search window must be at least one day")
        if self.step <= timedelta(0):
            raise ValueError("the slot grid step must be positive")


@dataclass(frozen=True)
class Slot:
    """One offered time, [start, end); slots sort by instant, whatever zone they are in."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_interval(self.start, self.end, "a slot")

    def __lt__(self, other: Slot) -> bool:
        return (self.start.astimezone(UTC), self.end.astimezone(UTC)) < (
            other.start.astimezone(UTC),
            other.end.astimezone(UTC),
        )


@dataclass(frozen=True)
class Proposal:
    """The slots to offer (chronological) and plain-language notes on anything missing."""

    slots: tuple[Slot, ...]
    notes: tuple[str, ...] = ()
