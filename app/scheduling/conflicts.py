"""Which calendar events clash with the interview."""

from __future__ import annotations

from collections.abc import Iterable

from app.scheduling.intervals import overlaps, to_utc
from app.scheduling.model import BusyEvent, Interview


def conflicts(interview: Interview, busy: Iterable[BusyEvent]) -> list[BusyEvent]:
    """The events that share time with the interview, by start (in UTC) then summary.

    Half-open: an event ending at 10:00 leaves a 10:00 interview alone, and a zero-length event
    holds no time. The event carrying the interview's own UID is the interview itself, not a
    clash. Tentative events count (the user may well go) and keep their status for display.
    """
    slot = (interview.start, interview.end)
    clashing = [
        event
        for event in busy
        if event.uid != interview.uid and overlaps((event.start, event.end), slot)
    ]
    return sorted(clashing, key=lambda event: (to_utc(event.start), event.summary))
