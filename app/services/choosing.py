"""Choosing the times to offer: proposals kept in the interview's draft offer, swapped, added
by hand, removed, and the search adjusted."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from app import vault
from app.extensions import db
from app.messages.letters import SlotText, format_slot
from app.models import Interview, Offer, OfferSlot, User
from app.scheduling import model as core
from app.scheduling.conflicts import conflicts
from app.scheduling.intervals import overlaps
from app.scheduling.proposals import propose, search_span
from app.services.busy import read_busy
from app.services.interviews import (
    MAX_SLOTS,
    as_core_interview,
    draft_offer,
    recognise_own_event,
    rules_for,
)
from calendar_providers.base import BusyReport


class SlotProblem(ValueError):
    """Why a time cannot be added to the offer, in plain words."""


@dataclass(frozen=True)
class Card:
    """One chosen time as the page shows it: both zones, their notes, and anything amiss."""

    id: int
    slot: core.Slot
    text: SlotText
    by_hand: bool
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Choices:
    """The draft offer's times as cards, and notes on the calendars and the search."""

    cards: tuple[Card, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class SearchSettings:
    """What the user may adjust about the search; kept on the interview."""

    window_days: int
    work_hours: str
    interviewer_work_hours: str
    buffer_minutes: int
    min_notice_hours: int


@dataclass(frozen=True)
class _Search:
    """One interview's search over busy time read once: proposals, next best, warnings."""

    own: core.Interview
    rules: core.Rules
    now: datetime
    busy: BusyReport

    @classmethod
    def open(
        cls,
        interview: Interview,
        user: User,
        now: datetime,
        slots: Iterable[core.Slot],
        secret_key: vault.Keys,
        cache_dir: Path,
    ) -> _Search:
        """Read busy time over everything the search or the chosen slots can touch.

        The interview's own day is read event by event (`named`), so its event is recognised
        and its clashes are named even where a calendar only tells free/busy elsewhere.
        """
        own, rules = as_core_interview(interview, user), rules_for(interview)
        start, end = search_span(own, rules, now, slots)
        busy = read_busy(
            user, start, end, named=(own.start, own.end), secret_key=secret_key,
            cache_dir=cache_dir,
        )  # fmt: skip
        return cls(recognise_own_event(own, busy.events, interview.company), rules, now, busy)

    @functools.cached_property
    def proposal(self) -> core.Proposal:
        """propose()'s answer under the interview's own rules, found once (next_best reuses it)."""
        return propose(self.own, self.busy.events, self.rules, self.now)

    def next_best(
        self, taken: Sequence[core.Slot], rejected: set[datetime], wanted: int
    ) -> list[core.Slot]:
        """The `wanted` best slots, in propose()'s own ranking, that overlap no taken slot and
        were not rejected.

        propose() with a larger count returns the same slots plus the next ranked one(s), so the
        usable slots among its first k are the best usable ones: k grows until enough are usable
        or the search has no more to give.
        """
        if wanted <= 0:
            return []
        count = wanted
        while True:
            if count == self.rules.count:
                slots = self.proposal.slots
            else:
                rules = replace(self.rules, count=count)
                slots = propose(self.own, self.busy.events, rules, self.now).slots
            usable = [
                slot
                for slot in slots
                if slot.start.astimezone(UTC) not in rejected and not _overlaps_any(slot, taken)
            ]
            if len(usable) >= wanted or len(slots) < count:
                return usable[:wanted]
            count += wanted - len(usable)

    def warnings(self, slot: core.Slot) -> tuple[str, ...]:
        """What speaks against a slot: a clash, hours outside work, too little notice."""
        own, rules, zone = self.own, self.rules, self.own.tz
        moved = replace(own, start=slot.start, end=slot.end)
        found = [
            f"Clashes with {event.summary or 'a busy event'} "
            f"({_clock_span(event.start, event.end, zone)})"
            + (" (tentative)" if event.status == core.TENTATIVE else "")
            for event in conflicts(moved, self.busy.events)
        ]
        if not _within_hours(slot, rules.user_hours, own.tz):
            found.append(f"Outside your working hours ({rules.user_hours} {own.tz.key})")
        if not _within_hours(slot, rules.interviewer_hours, own.interviewer_tz):
            found.append(
                f"Outside the interviewer's working hours "
                f"({rules.interviewer_hours} {own.interviewer_tz.key})"
            )
        if slot.start < self.now + rules.min_notice:
            hours = rules.min_notice // timedelta(hours=1)
            found.append(f"Less than {hours} hours from now (the minimum notice)")
        return tuple(found)

    def card(self, row: OfferSlot) -> Card:
        slot = _slot(row)
        return Card(
            id=row.id,
            slot=slot,
            text=format_slot(slot, self.own.interviewer_tz, self.own.tz, self.now),
            by_hand=row.added_by_hand,
            warnings=self.warnings(slot),
        )


def choose_times(
    interview: Interview,
    user: User,
    now: datetime,
    rejected: set[datetime],
    *,
    secret_key: vault.Keys,
    cache_dir: Path,
) -> Choices:
    """The draft offer's times as cards; an empty draft is first filled with the best times.

    `rejected` are the UTC starts the user swapped away or removed: they are never proposed
    again. An emptied draft is refilled, so the page always has something to offer.
    """
    offer = draft_offer(interview)
    search = _Search.open(interview, user, now, map(_slot, offer.slots), secret_key, cache_dir)
    proposal = search.proposal
    notes = [*search.busy.notes, *proposal.notes]
    if not offer.slots:
        _add_proposed(offer, search.next_best([], rejected, search.rules.count))
    if len(offer.slots) < search.rules.count and len(proposal.slots) == search.rules.count:
        notes.append(
            "The other good times in the search were set aside; widen the search or add a "
            "time by hand."
        )
    return Choices(tuple(search.card(row) for row in offer.slots), tuple(notes))


def offer_slot(interview: Interview, slot_id: int) -> OfferSlot | None:
    """A slot of the interview's draft offer (another offer's or user's is as good as missing)."""
    return next((row for row in draft_offer(interview).slots if row.id == slot_id), None)


def swap_slot(
    interview: Interview,
    user: User,
    row: OfferSlot,
    now: datetime,
    rejected: set[datetime],
    *,
    secret_key: vault.Keys,
    cache_dir: Path,
) -> core.Slot | None:
    """Put the next best time in place of `row`; None (and nothing changed) when none is left."""
    others = [_slot(other) for other in row.offer.slots if other is not row]
    search = _Search.open(interview, user, now, others, secret_key, cache_dir)
    found = search.next_best(others, rejected | {row.start.astimezone(UTC)}, 1)
    if not found:
        return None
    row.start, row.end, row.added_by_hand = found[0].start, found[0].end, False
    db.session.commit()
    return found[0]


def remove_slot(row: OfferSlot) -> None:
    db.session.delete(row)
    db.session.commit()


def add_slot(
    interview: Interview,
    user: User,
    start: datetime,
    now: datetime,
    *,
    secret_key: vault.Keys,
    cache_dir: Path,
) -> tuple[str, ...]:
    """Add a time the user chose; what speaks against it is returned as warnings, not refused.

    Refused (SlotProblem): a time already past, one overlapping a chosen time, more than
    MAX_SLOTS times.
    """
    offer = draft_offer(interview)
    slot = core.Slot(start, start + (interview.end - interview.start))
    chosen = [_slot(row) for row in offer.slots]
    if start <= now:
        raise SlotProblem("That time has already passed; choose a later one.")
    if _overlaps_any(slot, chosen):
        raise SlotProblem("That time overlaps one already chosen.")
    if len(chosen) >= MAX_SLOTS:
        raise SlotProblem(f"At most {MAX_SLOTS} times can be offered; remove one first.")
    search = _Search.open(interview, user, now, [slot], secret_key, cache_dir)
    offer.slots.append(OfferSlot(start=slot.start, end=slot.end, added_by_hand=True))
    db.session.commit()
    return search.warnings(slot)


def adjust_search(
    interview: Interview,
    user: User,
    settings: SearchSettings,
    now: datetime,
    rejected: set[datetime],
    *,
    secret_key: vault.Keys,
    cache_dir: Path,
) -> None:
    """Keep the new settings and propose again: times added by hand stay, the others are redone."""
    for name, value in vars(settings).items():
        setattr(interview, name, value)
    rules_for(interview)  # refuse settings the core would refuse, before anything is saved
    offer = draft_offer(interview)
    for row in [row for row in offer.slots if not row.added_by_hand]:
        offer.slots.remove(row)
    kept = [_slot(row) for row in offer.slots]
    search = _Search.open(interview, user, now, kept, secret_key, cache_dir)
    _add_proposed(offer, search.next_best(kept, rejected, search.rules.count - len(kept)))


def _add_proposed(offer: Offer, slots: Iterable[core.Slot]) -> None:
    for slot in slots:
        offer.slots.append(OfferSlot(start=slot.start, end=slot.end, added_by_hand=False))
    db.session.commit()


def _slot(row: OfferSlot) -> core.Slot:
    return core.Slot(row.start, row.end)


def _overlaps_any(slot: core.Slot, others: Iterable[core.Slot]) -> bool:
    return any(overlaps((slot.start, slot.end), (other.start, other.end)) for other in others)


def _within_hours(slot: core.Slot, hours: core.WorkHours, zone: ZoneInfo) -> bool:
    """Whether the slot lies inside one working day of `hours` in `zone`."""
    working = hours.on(slot.start.astimezone(zone).date(), zone)
    return working is not None and working[0] <= slot.start and slot.end <= working[1]


def _clock_span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    start, end = start.astimezone(zone), end.astimezone(zone)
    if start.date() != end.date():
        return f"{start:%d %b %H:%M}–{end:%d %b %H:%M}"
    return f"{start:%H:%M}–{end:%H:%M}"
