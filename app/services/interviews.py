"""The user's interviews: enter one (typed, or read from the invite they received), see what
clashes on its day, and choose the times to offer, kept in the interview's draft offer.

Views call these and show the problems' messages as they are; nothing here knows about HTTP,
sessions or the clock (`now` is passed in). Each call reads the user's busy time once (cached by
`busy.read_busy`), so a page costs one read of the calendars.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from app.extensions import db
from app.messages.invites import Person, import_invite
from app.messages.letters import SlotText, format_slot
from app.models import DRAFT, Interview, Offer, OfferSlot, User
from app.scheduling import model as core
from app.scheduling.conflicts import conflicts
from app.scheduling.proposals import propose
from app.services.busy import Busy, read_busy

OFFER_DRAFT = "draft"
MAX_SLOTS = 6  # more times than this make a letter hard to answer
DAY_FIRST_HOUR, DAY_LAST_HOUR = 7, 21  # the hours the day view draws (widened for the interview)


DOUBLE_SUBMIT = timedelta(minutes=1)


class TimeProblem(ValueError):
    """A date and time that cannot be used, in plain words."""


# --- Entering an interview ----------------------------------------------------------------------


@dataclass(frozen=True)
class Details:
    """What the user tells about an interview, typed in or read from its invite.

    `title` is the invite's own title, shown to help fill in the company and the role.
    """

    company: str
    role: str
    interviewer_name: str
    interviewer_email: str
    interviewer_tz: str
    start: datetime
    end: datetime
    location: str | None = None
    meeting_link: str | None = None
    uid: str | None = None
    sequence: int = 0
    organised_by_user: bool = False
    title: str = ""


def wall_clock(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The moment a local date and time name (the earlier one on the night clocks go back).

    A time the clocks skip (the night they go forward) is refused rather than silently moved.
    """
    moment = datetime.combine(day, clock, tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise TimeProblem(
            f"{clock:%H:%M} does not exist on {day.isoformat()} in {zone.key}: "
            "the clocks skip it that night."
        )
    return moment


def details_from_invite(data: bytes, user: User) -> Details:
    """Read the invite the user received; InviteError says in plain words why it cannot be used.

    Times without a zone are read in the user's zone. The interviewer is the organizer, or the
    first other attendee when the user organised the event. An invite written in UTC does not
    say where the interviewer is, so their zone is left for the user to choose.
    """
    zone = ZoneInfo(user.time_zone)
    event = import_invite(data, default_tz=zone).event
    me = user.email.strip().lower()
    organised = event.organizer is not None and event.organizer.email.lower() == me
    others = [
        attendee.person for attendee in event.attendees if attendee.person.email.lower() != me
    ]
    interviewer: Person | None = next(iter(others), None)
    if not organised and event.organizer is not None:
        interviewer = event.organizer
    company, role = company_and_role(event.summary)
    return Details(
        company=company,
        role=role,
        interviewer_name=interviewer.name if interviewer else "",
        interviewer_email=interviewer.email if interviewer else "",
        interviewer_tz=_named_zone(event.start),
        start=event.start,
        end=event.end,
        location=event.location,
        meeting_link=event.url,
        uid=event.uid,
        sequence=event.sequence,
        organised_by_user=organised,
        title=event.summary,
    )


_INTERVIEW_PREFIX = re.compile(r"^\s*interview\s*[:|–—-]\s*", re.IGNORECASE)
_ROLE_AT_COMPANY = re.compile(r"(?P<role>.+)\s+at\s+(?P<company>.+)", re.IGNORECASE)
_COMPANY_SEPARATOR = re.compile(r"\s*,\s+|\s+[|–—-]\s+")
_TRAILING_INTERVIEW = re.compile(r"\s+interview$", re.IGNORECASE)


def company_and_role(title: str) -> tuple[str, str]:
    """Company and role from titles such as 'Interview: Acme, Data Engineer' or
    'Data Engineer interview at Acme'; ('', '') when the title does not say them clearly.
    """
    text = _INTERVIEW_PREFIX.sub("", title).strip()
    found = _ROLE_AT_COMPANY.fullmatch(text)
    if found:
        return found["company"].strip(), _TRAILING_INTERVIEW.sub("", found["role"].strip())
    parts = _COMPANY_SEPARATOR.split(text, maxsplit=1)
    if len(parts) == 2 and all(part.strip() for part in parts):
        return parts[0].strip(), _TRAILING_INTERVIEW.sub("", parts[1].strip())
    return "", ""


def _named_zone(moment: datetime) -> str:
    """The IANA zone a time was written in, or '' when it says nothing about a place (UTC)."""
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo) and zone.key and zone.key != "UTC" and "Etc/" not in zone.key:
        return zone.key
    return ""


def create_interview(user: User, details: Details, now: datetime) -> Interview:
    """Keep a new interview, as a draft, with the default search settings.

    The same interview saved again within a minute (a double click, a resubmitted form) is the
    one already kept, not a second copy.
    """
    same = db.session.scalar(
        db.select(Interview).filter_by(
            user_id=user.id, company=details.company, role=details.role,
            interviewer_email=details.interviewer_email, start=details.start, end=details.end,
        ).filter(Interview.created_at >= now - DOUBLE_SUBMIT)
    )  # fmt: skip
    if same is not None:
        return same
    interview = Interview(
        user_id=user.id,
        company=details.company,
        role=details.role,
        interviewer_name=details.interviewer_name,
        interviewer_email=details.interviewer_email,
        interviewer_tz=details.interviewer_tz,
        start=details.start,
        end=details.end,
        location=details.location or None,
        meeting_link=details.meeting_link or None,
        uid=details.uid,
        sequence=details.sequence,
        organised_by_user=details.organised_by_user,
        state=DRAFT,
        created_at=now,
    )
    db.session.add(interview)
    db.session.commit()
    return interview


# --- One interview, as the rest of the app needs it ---------------------------------------------


def owned_interview(user: User, interview_id: int) -> Interview | None:
    """The user's own interview with that id; another user's is as good as missing."""
    return db.session.scalar(db.select(Interview).filter_by(id=interview_id, user_id=user.id))


def rules_for(interview: Interview) -> core.Rules:
    """The search settings kept on the interview, as the scheduling core reads them."""
    return core.Rules(
        buffer=timedelta(minutes=interview.buffer_minutes),
        min_notice=timedelta(hours=interview.min_notice_hours),
        window=timedelta(days=interview.window_days),
        user_hours=core.WorkHours.parse(interview.work_hours),
        interviewer_hours=core.WorkHours.parse(interview.interviewer_work_hours),
    )


def as_core_interview(interview: Interview, user: User) -> core.Interview:
    """The interview as the scheduling core and the letters take it: times in the user's zone."""
    zone = ZoneInfo(user.time_zone)
    return core.Interview(
        start=interview.start.astimezone(zone),
        end=interview.end.astimezone(zone),
        tz=zone,
        interviewer_tz=ZoneInfo(interview.interviewer_tz),
        uid=interview.uid,
    )


def draft_offer(interview: Interview) -> Offer:
    """The times the user is choosing, with their slots; saved the first time it is asked for.

    Every interview has one draft from its creation on; its row is written only when needed,
    so it carries the interview's creation time.
    """
    for offer in interview.offers:
        if offer.state == OFFER_DRAFT:
            return offer
    offer = Offer(interview=interview, state=OFFER_DRAFT, created_at=interview.created_at)
    db.session.add(offer)
    db.session.commit()
    return offer


def in_both_zones(interview: Interview, user: User, now: datetime) -> SlotText:
    """The interview's time for both parties, with the day-shift and clock-change notes."""
    own = as_core_interview(interview, user)
    return format_slot(core.Slot(own.start, own.end), own.interviewer_tz, own.tz, now)


def _read(user: User, start: datetime, end: datetime, secret_key: str, cache_dir: Path) -> Busy:
    return read_busy(user, start, end, secret_key=secret_key, cache_dir=cache_dir)


def _recognise_own_event(
    own: core.Interview, busy: Iterable[core.BusyEvent], company: str
) -> core.Interview:
    """A typed-in interview has no UID; the calendar event at exactly its time that names the
    company is the interview itself, not a clash, so its UID is borrowed for the search."""
    if own.uid is not None or not company.strip():
        return own
    for event in busy:
        if (
            event.start == own.start
            and event.end == own.end
            and company.strip().lower() in event.summary.lower()
        ):
            return replace(own, uid=event.uid)
    return own


# --- The interview's day ------------------------------------------------------------------------


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


def look_at_day(interview: Interview, user: User, *, secret_key: str, cache_dir: Path) -> Day:
    """What the interview's day holds and what clashes with the interview."""
    own = as_core_interview(interview, user)
    zone, day = own.tz, own.start.date()
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    busy = _read(user, min(midnight, own.start), max(next_midnight, own.end), secret_key, cache_dir)
    own = _recognise_own_event(own, busy.events, interview.company)
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


# --- Choosing the times to offer ----------------------------------------------------------------


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
    busy: Busy

    @classmethod
    def open(
        cls,
        interview: Interview,
        user: User,
        now: datetime,
        slots: Iterable[core.Slot],
        secret_key: str,
        cache_dir: Path,
    ) -> _Search:
        """Read busy time over everything the search or the chosen slots can touch."""
        own, rules = as_core_interview(interview, user), rules_for(interview)
        starts = [now, own.start, *(slot.start for slot in slots)]
        ends = [now + rules.window, own.end, *(slot.end for slot in slots)]
        start, end = min(starts) - rules.buffer, max(ends) + rules.buffer
        busy = _read(user, start, end, secret_key, cache_dir)
        return cls(_recognise_own_event(own, busy.events, interview.company), rules, now, busy)

    def proposal(self) -> core.Proposal:
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
            slots = propose(
                self.own, self.busy.events, replace(self.rules, count=count), self.now
            ).slots
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
    secret_key: str,
    cache_dir: Path,
) -> Choices:
    """The draft offer's times as cards; an empty draft is first filled with the best times.

    `rejected` are the UTC starts the user swapped away or removed: they are never proposed
    again. An emptied draft is refilled, so the page always has something to offer.
    """
    offer = draft_offer(interview)
    search = _Search.open(interview, user, now, map(_slot, offer.slots), secret_key, cache_dir)
    proposal = search.proposal()
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
    secret_key: str,
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
    secret_key: str,
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
    secret_key: str,
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
    return any(slot.start < other.end and other.start < slot.end for other in others)


def _within_hours(slot: core.Slot, hours: core.WorkHours, zone: ZoneInfo) -> bool:
    """Whether the slot lies inside one working day of `hours` in `zone`."""
    working = hours.on(slot.start.astimezone(zone).date(), zone)
    return working is not None and working[0] <= slot.start and slot.end <= working[1]


def _clock_span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    start, end = start.astimezone(zone), end.astimezone(zone)
    if start.date() != end.date():
        return f"{start:%d %b %H:%M}–{end:%d %b %H:%M}"
    return f"{start:%H:%M}–{end:%H:%M}"
