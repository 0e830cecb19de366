"""Read the user's calendars around an interview, then find conflicts and proposals.

The one place where calendars meet the pure core, so `newslot propose`, `newslot letter` and the
web pages give the same answer for the same input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.scheduling.conflicts import conflicts
from app.scheduling.model import BusyEvent, Interview, Proposal, Rules
from app.scheduling.proposals import propose, search_span
from calendar_providers import provider_class


@dataclass(frozen=True)
class Plan:
    """What the user needs to decide: what clashes, what to offer, and why anything is missing."""

    interview: Interview
    now: datetime
    conflicts: tuple[BusyEvent, ...]
    proposal: Proposal
    notes: tuple[str, ...]


def plan(
    calendars: Sequence[str],
    interview: Interview,
    rules: Rules,
    now: datetime,
    *,
    me: str | None = None,
    cache_dir: Path | None = None,
) -> Plan:
    """Read every calendar over the span the search can touch and run the core on it."""
    start, end = search_span(interview, rules, now)
    busy: list[BusyEvent] = []
    notes: list[str] = []
    ics = provider_class("ics")
    for location in calendars:
        report = ics(location, me=me, cache_dir=cache_dir).busy(start, end, interview.tz)
        busy.extend(report.events)
        notes.extend(report.notes)
    proposal = propose(interview, busy, rules, now)
    return Plan(
        interview=interview,
        now=now,
        conflicts=tuple(conflicts(interview, busy)),
        proposal=proposal,
        notes=tuple(notes) + proposal.notes,
    )
