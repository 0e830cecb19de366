"""The one contract every calendar provider meets, and the errors it may raise.

Each provider translates its own library's exceptions into these, so callers (the CLI, the web
views) only ever show `str(error)` to the user: a plain sentence, never a traceback.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from app.scheduling.model import BusyEvent


class ProviderError(Exception):
    """A problem the user can understand and act on; the message is shown as it is."""


class AuthError(ProviderError):
    """The credentials were refused or expired: the user must reconnect."""


class NotFound(ProviderError):
    """The calendar (file, URL, remote calendar) does not exist."""


class Unavailable(ProviderError):
    """The calendar could not be reached right now; retrying later may work."""


class Conflict(ProviderError):
    """The event changed on the server since it was read, or already exists: read it again."""


class InvalidCalendar(ProviderError):
    """The data is not a usable calendar; the message says what is wrong with it."""


@dataclass(frozen=True)
class CalendarInfo:
    """One calendar a provider can read (and maybe write)."""

    id: str
    name: str
    can_write: bool = False


@dataclass(frozen=True)
class BusyReport:
    """Busy occurrences over a window, and notes on anything skipped or cut on the way."""

    events: tuple[BusyEvent, ...]
    notes: tuple[str, ...] = ()


class CalendarProvider(ABC):
    """A source of busy time; writable providers can also create, move and cancel events."""

    name: ClassVar[str]
    can_write: ClassVar[bool] = False
    can_freebusy: ClassVar[bool] = False

    @abstractmethod
    def list_calendars(self) -> list[CalendarInfo]:
        """The calendars this source holds."""

    @abstractmethod
    def busy(self, start: datetime, end: datetime, tz: ZoneInfo) -> BusyReport:
        """Busy occurrences overlapping [start, end); dates and floating times are read in `tz`."""
