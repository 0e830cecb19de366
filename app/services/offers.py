"""The offer's life on the interviewer's side: open it behind a link, find it, answer it once.

The link carries a random token; only its SHA-256 is stored, so a copy of the database cannot
answer for anyone. An answer is recorded by a conditional UPDATE (`... WHERE state = 'open'`), so
of two simultaneous answers the database lets exactly one through, whatever the web workers do.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import joinedload

from app import vault
from app.extensions import db
from app.messages.letters import format_slot
from app.models import Interview, Offer, OfferSlot, User
from app.scheduling.conflicts import conflicts
from app.scheduling.model import Interview as CoreInterview
from app.scheduling.model import Slot, require_aware
from app.services.busy import read_busy

DRAFT, OPEN, PICKED, DECLINED, WITHDRAWN = "draft", "open", "picked", "declined", "withdrawn"
EXPIRED = "expired"  # not stored: an open offer whose time has run out
NOTE_LIMIT = 2000


def hash_token(token: str) -> str:
    """What the database keeps of a link's token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_offer(offer: Offer, now: datetime, expires_at: datetime) -> str:
    """Open a draft offer behind a new link; returns the raw token (it is not stored).

    The caller commits, together with the letter that carries the link, so a link is never
    live without the letter that announces it (nor the other way round).
    """
    require_aware(now, "now")
    require_aware(expires_at, "expires_at")
    if offer.state != DRAFT:
        raise ValueError(f"only a draft offer can be opened; this one is {offer.state}")
    if not offer.slots:
        raise ValueError("an offer needs at least one time to pick from")
    if expires_at <= now:
        raise ValueError("the offer would expire before it is sent")
    token = secrets.token_urlsafe(32)  # 256 random bits
    offer.token_hash = hash_token(token)
    offer.expires_at = expires_at
    offer.state = OPEN
    db.session.flush()
    return token


def find_offer(token: str) -> Offer | None:
    """The sent offer behind a link's token, or None (drafts have no link)."""
    if not token or len(token) > 200:
        return None
    # One round trip for the offer, its interview, candidate and slots: the public
    # page is the app's hottest (see bench/public_page_load.py).
    return db.session.scalar(
        db.select(Offer)
        .filter_by(token_hash=hash_token(token))
        .options(joinedload(Offer.interview).joinedload(Interview.user), joinedload(Offer.slots))
    )


def status(offer: Offer, now: datetime) -> str:
    """The stored state, except that an open offer past its expiry reads as expired.

    Only the open question expires: once answered, the page keeps showing the answer (and the
    confirmed invite), which the interviewer may come back for after the reply-by date.
    """
    if offer.state == OPEN and offer.expires_at is not None and offer.expires_at <= now:
        return EXPIRED
    return offer.state


def slot_of(offer: Offer, slot_id: int | None) -> OfferSlot | None:
    """One of the offer's own slots by id; any other id is as good as missing."""
    return next((slot for slot in offer.slots if slot.id == slot_id), None)


def record_pick(offer: Offer, slot: OfferSlot, note: str, now: datetime) -> bool:
    """Record the pick if the offer is still open; False if someone answered first.

    The UPDATE runs in the caller's transaction, so the confirmation written after it commits
    with it or not at all.
    """
    if slot.offer_id != offer.id:
        raise ValueError("the slot belongs to another offer")
    values = {"picked_slot_id": slot.id, "state": PICKED}
    return _answer(offer, values, note, now)


def decline(offer: Offer, note: str, now: datetime) -> bool:
    """'None of these work', with the interviewer's note; False if already answered."""
    answered = _answer(offer, {"state": DECLINED}, note, now)
    db.session.commit()
    return answered


def _answer(offer: Offer, values: dict, note: str, now: datetime) -> bool:
    note = note.strip()[:NOTE_LIMIT] or None
    result = db.session.execute(
        update(Offer)
        .where(Offer.id == offer.id, Offer.state == OPEN)
        .values(**values, answer_note=note, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(offer)  # the row as it now stands, whoever answered
    return result.rowcount == 1


@dataclass(frozen=True)
class Availability:
    """Which of the offered slots the candidate's calendars still leave free.

    A calendar that cannot be read right now blocks nothing (busy.read_busy notes it): the
    candidate chose these times with it, and a feed being down should not stop the answer.
    """

    free: tuple[OfferSlot, ...]

    def is_free(self, slot: OfferSlot) -> bool:
        return any(free.id == slot.id for free in self.free)


def upcoming(offer: Offer, now: datetime) -> list[OfferSlot]:
    """The offered slots that have not started yet (an open offer can outlive its first ones)."""
    return [slot for slot in offer.slots if slot.start > now]


def availability(
    offer: Offer,
    now: datetime,
    *,
    secret_key: vault.Keys,
    cache_dir: Path,
    ignored_uids: frozenset[str] = frozenset(),
) -> Availability:
    """Read the candidate's calendars again over the offered times (they may have filled up).

    A slot is free when it has not started and nothing on the calendars overlaps it; the
    interview's own event (its UID) is what is being moved, so it never blocks a slot, and
    neither do the events in `ignored_uids` (the offer's own holds on those times).
    """
    interview: Interview = offer.interview
    slots = upcoming(offer, now)
    if not slots:
        return Availability(())
    start, end = min(slot.start for slot in slots), max(slot.end for slot in slots)
    busy = read_busy(  # named: the interview's and the holds' UIDs must be seen to be ignored
        interview_owner(interview),
        start,
        end,
        named=(start, end),
        secret_key=secret_key,
        cache_dir=cache_dir,
    )
    events = [event for event in busy.events if event.uid not in ignored_uids]
    free = tuple(slot for slot in slots if not conflicts(_at(interview, slot), events))
    return Availability(free)


def interview_owner(interview: Interview) -> User:
    """The candidate whose interview it is."""
    return interview.user


def _at(interview: Interview, slot: OfferSlot) -> CoreInterview:
    """The interview as the core sees it, moved to the slot (its UID kept, so it is ignored)."""
    zone = ZoneInfo(interview.interviewer_tz)
    return CoreInterview(slot.start, slot.end, zone, zone, uid=interview.uid)


def current_offer(interview: Interview) -> Offer | None:
    """The latest offer sent for the interview (drafts were never sent)."""
    sent = [offer for offer in interview.offers if offer.state != DRAFT]
    return sent[-1] if sent else None


@dataclass(frozen=True)
class WrittenSlot:
    """A time as the pages show it: the interviewer's zone first, then the candidate's."""

    id: int | None  # the offered slot's id; None for the confirmed time
    start: datetime  # UTC; the browser writes it in its own zone too
    end: datetime
    interviewer: str
    candidate: str | None  # None where both zones are the same (or not to be shown)
    notes: tuple[str, ...]


def written(
    interview: Interview, slots: list[OfferSlot], now: datetime, *, candidate_zone: bool
) -> list[WrittenSlot]:
    """Offered slots written for a page; `candidate_zone=False` on the interviewer's page."""
    return [
        _write(interview, slot.id, Slot(slot.start, slot.end), now, candidate_zone)
        for slot in slots
    ]


def confirmed_time(interview: Interview, now: datetime) -> WrittenSlot | None:
    """The confirmed time in both zones, for the candidate."""
    if interview.confirmed_start is None or interview.confirmed_end is None:
        return None
    slot = Slot(interview.confirmed_start, interview.confirmed_end)
    return _write(interview, None, slot, now, candidate_zone=True)


def _write(
    interview: Interview, slot_id: int | None, slot: Slot, now: datetime, candidate_zone: bool
) -> WrittenSlot:
    interviewer_tz = ZoneInfo(interview.interviewer_tz)
    own_tz = ZoneInfo(interview_owner(interview).time_zone) if candidate_zone else interviewer_tz
    text = format_slot(slot, interviewer_tz, own_tz, now)
    return WrittenSlot(slot_id, slot.start, slot.end, text.interviewer, text.candidate, text.notes)
