"""Tentative "hold" events for the offered times, so nothing else is booked over them meanwhile.

A hold is an entry on the candidate's own calendar (the one chosen for confirmed interviews):
STATUS:TENTATIVE and TRANSP:OPAQUE, busy but plainly provisional, one per offered time. It lives
only while the question is open: a pick (the confirmed event takes over), a decline, a withdrawn
or an expired offer removes them all. Removal is ETag-guarded: a hold the user changed meanwhile
is theirs now and stays; one that is already gone is fine.

Calendar servers are called after the database has committed, never inside a transaction, so a
slow server holds no database lock. What went wrong is kept on the slot (`hold_ref` "error") to
be shown on the candidate's page; a release that failed is tried again by `release_finished`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from app import vault
from app.extensions import db
from app.messages.invites import PRODID
from app.messages.letters import format_slot
from app.models import Interview, Offer, OfferSlot, User
from app.scheduling.model import Slot
from app.services import accounts, offers
from calendar_providers.base import Conflict, ProviderError

HOLD_UID_PREFIX = "hold-"
_UID_DOMAIN = "newslot"
UNREADABLE_PASSWORD = (
    "The saved password of your calendar account cannot be read any more; remove the account "
    "and connect it again."
)


@dataclass(frozen=True)
class HoldStatus:
    """What the candidate's page says about an offer's holds."""

    held: int  # offered times held on the calendar now
    problems: tuple[str, ...]  # why some are not held (or not removed), in plain words


def place_holds(offer: Offer, user: User, now: datetime, *, secret_key: vault.Keys) -> int:
    """Hold each offered time on the user's calendar for confirmed events; how many are held.

    A slot held already is skipped, so asking twice places nothing twice. The first failure
    stops the rest (a server that is down would otherwise cost a timeout per slot); each slot
    not held keeps the reason.
    """
    unheld = [slot for slot in offer.slots if not _ref(slot).get("href")]
    if not unheld:
        return 0
    try:
        target = accounts.write_target(user, secret_key=secret_key)
    except vault.VaultError:
        _not_held(unheld, UNREADABLE_PASSWORD)
        return 0
    except ProviderError as error:  # e.g. Google switched off on this server since connecting
        _not_held(unheld, f"The offered times could not be held on your calendar: {error}")
        return 0
    if target is None:
        return 0
    company = offer.interview.company
    placed = 0
    for slot in unheld:
        uid = f"{HOLD_UID_PREFIX}{slot.id}-{secrets.token_hex(8)}@{_UID_DOMAIN}"
        try:
            href, etag = target.provider.create_event(
                target.calendar_id, hold_event(uid, slot, company, now)
            )
        except ProviderError as error:
            _not_held(
                [left for left in unheld if not _ref(left).get("href")],
                f"The offered times could not be held on your calendar: {error}",
            )
            break
        slot.hold_ref = _json(source_id=target.source.id, href=href, etag=etag, uid=uid)
        db.session.commit()  # kept at once: a hold on the server is never unknown here
        placed += 1
    return placed


def hold_event(uid: str, slot: OfferSlot, company: str, now: datetime) -> bytes:
    """One hold as a calendar object (no METHOD: it is stored, not sent), times in UTC."""
    event = Event()
    event.add("UID", uid)
    event.add("DTSTAMP", now.astimezone(UTC))
    event.add("DTSTART", slot.start.astimezone(UTC))
    event.add("DTEND", slot.end.astimezone(UTC))
    event.add("SUMMARY", f"Hold: interview with {company}")
    event.add(
        "DESCRIPTION",
        "Newslot keeps this time free while the interviewer picks one of the times you offered. "
        "It is removed when a time is picked, or when the offer is declined, withdrawn or expires.",
    )
    event.add("STATUS", "TENTATIVE")
    event.add("TRANSP", "OPAQUE")
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add_component(event)
    return calendar.to_ical()


def release_holds(offer: Offer, *, secret_key: vault.Keys) -> None:
    """Remove the offer's holds from the calendar they are on.

    Already gone counts as removed; one the user changed there (its ETag moved) is left alone
    with a note; a failure keeps the hold's address and the reason, for a later try. A server
    that fails is not asked again for the offer's other holds.
    """
    held = [slot for slot in offer.slots if _ref(slot).get("href")]
    unplaced = [slot for slot in offer.slots if slot.hold_ref and "uid" not in _ref(slot)]
    for slot in unplaced:
        slot.hold_ref = None  # why it was never held no longer matters
    providers: dict[int, Any] = {}
    failed: dict[int, str] = {}
    for slot in held:
        ref = _ref(slot)
        source_id = ref["source_id"]
        if source_id not in failed:
            try:
                if source_id not in providers:
                    providers[source_id] = accounts.owned_provider(
                        offer.interview.user,
                        source_id,
                        secret_key=secret_key,
                        unreadable=UNREADABLE_PASSWORD,
                    )
                accounts.remove_event(providers[source_id], ref["href"], ref["etag"])
            except Conflict:
                slot.hold_ref = _json(
                    uid=ref["uid"],
                    error=f"The hold for {_when(slot)} was changed on your calendar, so Newslot "
                    "left it there: remove it yourself if you no longer need it.",
                )
                continue
            except ProviderError as error:
                failed[source_id] = f"A hold could not be removed from your calendar yet: {error}"
        if source_id in failed:
            slot.hold_ref = _json(**{**ref, "error": failed[source_id]})
        else:
            slot.hold_ref = None
    if held or unplaced:
        db.session.commit()


def release_finished(user: User, now: datetime, *, secret_key: vault.Keys) -> None:
    """Release the holds of the user's offers that are no longer open (expired, or released
    before while the server was down). One query when there is nothing to do."""
    query = (
        db.select(Offer)
        .join(OfferSlot, OfferSlot.offer_id == Offer.id)
        .join(Interview, Interview.id == Offer.interview_id)
        .where(Interview.user_id == user.id, OfferSlot.hold_ref.is_not(None))
        .distinct()
    )
    for offer in db.session.scalars(query).all():
        if offers.status(offer, now) != offers.OPEN:
            release_holds(offer, secret_key=secret_key)


def hold_uids(offer: Offer) -> frozenset[str]:
    """The UIDs of the offer's own holds: not busy time when one of its slots is picked."""
    return frozenset(
        uid
        for slot in offer.slots
        if (uid := _ref(slot).get("uid", "")).startswith(HOLD_UID_PREFIX)
    )


def status(interview: Interview) -> HoldStatus:
    """How many of the current offer's times are held, and every note left about holds."""
    current = offers.current_offer(interview)
    held = sum(1 for slot in current.slots if _ref(slot).get("href")) if current else 0
    problems = tuple(
        dict.fromkeys(
            error
            for offer in interview.offers
            for slot in offer.slots
            if (error := _ref(slot).get("error"))
        )
    )
    return HoldStatus(held if current and current.state == offers.OPEN else 0, problems)


def _not_held(slots: list[OfferSlot], reason: str) -> None:
    for slot in slots:
        slot.hold_ref = _json(error=reason)
    db.session.commit()


def _when(slot: OfferSlot) -> str:
    """The hold's time in the candidate's zone, with its date, for a note about it."""
    zone = ZoneInfo(slot.offer.interview.user.time_zone)
    return format_slot(Slot(slot.start, slot.end), zone, zone, slot.start).interviewer


def _ref(slot: OfferSlot) -> dict[str, Any]:
    return json.loads(slot.hold_ref) if slot.hold_ref else {}


def _json(**values: Any) -> str:
    return json.dumps(values)
