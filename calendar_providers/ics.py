"""Read-only provider for an .ics file or a feed URL (Outlook, iCloud, Google secret addresses).

Busy semantics (`busy_rules`), as a person reads their own calendar: transparent ("free") and
cancelled events and events the user declined take no time; tentative ones do, and say so; an
opaque all-day event (out of office, a conference) blocks its whole days in the user's zone.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

from app.scheduling.model import require_aware
from calendar_providers import ics_expand
from calendar_providers.base import (
    BusyReport,
    CalendarInfo,
    CalendarProvider,
    InvalidCalendar,
    NotFound,
    ProviderError,
)
from calendar_providers.busy_rules import busy_report
from calendar_providers.fetch import fetch_calendar, is_icalendar, redact_url
from calendar_providers.ics_prefilter import prefilter

MAX_FILE_BYTES = 100 * 1024 * 1024
_URL = re.compile(r"^(https?|webcals?)://", re.I)


class IcsProvider(CalendarProvider):
    """One iCalendar file, feed or upload; `me` is the user's address, to tell declined invitations.

    `location` is a path or an http(s)/webcal URL; with `data` (an upload kept by the app) it is
    only the name shown in messages.
    """

    name = "ics"

    def __init__(
        self,
        location: str,
        *,
        me: str | None = None,
        cache_dir: Path | None = None,
        data: bytes | None = None,
    ) -> None:
        self.location = location
        self.me = me.strip().lower() if me else None
        self.cache_dir = cache_dir
        self.data = data
        self.is_url = data is None and bool(_URL.match(location))
        self.label = redact_url(location) if self.is_url else Path(location).name

    def list_calendars(self) -> list[CalendarInfo]:
        return [CalendarInfo(id=self.location, name=self.label)]

    def busy(self, start: datetime, end: datetime, tz: ZoneInfo) -> BusyReport:
        require_aware(start, "window start")
        require_aware(end, "window end")
        data, notes = self._read()
        cut = prefilter(data, start, end)
        if cut.cut:
            notes.append(
                f"{self.label}: only the first {cut.kept:,} events near the dates searched were"
                f" read; {cut.cut:,} more were left out."
            )
        with _collector_paused():
            try:
                calendars = ics_expand.parse(cut.data)
            except ValueError as error:
                raise InvalidCalendar(f"{self.label} is not a valid calendar: {error}.") from None
            expansion = ics_expand.expand(calendars, start, end, tz)
        name = _calendar_name(calendars) or self.label
        found = busy_report(expansion, name, self.me, label=self.label)
        return BusyReport(found.events, (*notes, *found.notes))

    def _read(self) -> tuple[bytes, list[str]]:
        """The raw bytes and any note about where they came from."""
        if self.is_url:
            fetched = fetch_calendar(self.location, self.cache_dir)
            return fetched.data, [fetched.note] if fetched.note else []
        data = self._read_file() if self.data is None else self.data
        if not data.strip():
            raise InvalidCalendar(f"{self.label} is empty.")
        if not is_icalendar(data):
            raise InvalidCalendar(
                f"{self.label} is not an iCalendar file (it does not start with BEGIN:VCALENDAR)."
            )
        return data, []

    def _read_file(self) -> bytes:
        path = Path(self.location).expanduser()
        try:
            size = path.stat().st_size
            if path.is_dir():
                raise InvalidCalendar(f"{self.location} is a folder, not an .ics file.")
            if size > MAX_FILE_BYTES:
                raise InvalidCalendar(
                    f"{self.label} is larger than {MAX_FILE_BYTES // 2**20} MB; "
                    "export a shorter period."
                )
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"There is no calendar file at {self.location}.") from None
        except OSError as error:
            raise ProviderError(f"{self.location} could not be read: {error.strerror}.") from None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing builds a large, acyclic object graph; cyclic GC passes over it cost 10-40%."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _calendar_name(calendars: list[icalendar.Calendar]) -> str:
    """The calendar's own display name, when it has one."""
    for calendar in calendars:
        name = str(calendar.get("X-WR-CALNAME", "")).strip()
        if name:
            return name
    return ""
