"""Confirming a picked time: the calendar event, the letter to both parties, the downloads.

How the new time is announced depends on who owns the event (DESIGN.md, Invites): an interview
the candidate organised (and whose UID we know) is updated in place, a REQUEST with the same UID
and SEQUENCE + 1; otherwise the candidate organises a new event with a new UID. The invite is
written from stored fields only, DTSTAMP being the confirmation time, so the .ics offered for
download is the same bytes as the one emailed.

Where the user chose a calendar for confirmed events, the same event (without METHOD, the
attendees marked SCHEDULE-AGENT=CLIENT so the server sends no second invitation) is written there
too, and the holds on the offered times are removed. The calendar comes after the pick: a server
that fails never undoes it, the reason is kept in `event_ref` for the page and its retry button.
An invitation from the company still on the user's Google calendar at the old time is declined.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from icalendar import Calendar

from app import vault
from app.extensions import db
from app.messages.invites import REQUEST, Person, build_invite, new_uid_for
from app.messages.letters import compose, format_slot
from app.messages.mime import build_imip_message
from app.models import CONFIRMED, Interview, Message, Offer, OfferSlot, User
from app.scheduling.model import Slot
from app.services import accounts, cancelling, holds, interview_event, offers, sending
from calendar_providers.base import Conflict, NotFound, ProviderError

log = logging.getLogger(__name__)

CONFIRMATION = "confirmation"
# How an answer to `pick` turned out.
CONFIRMED_NOW, ALREADY_ANSWERED, NO_LONGER_FREE = "confirmed", "already answered", "busy"


@dataclass(frozen=True)
class Confirmation:
    """The confirmed event's invite and the email that carried it (sent, or failed with why)."""

    invite: bytes
    message: Message


@dataclass(frozen=True)
class PickOutcome:
    """What became of a pick: confirmed now, answered before, or the slot filled up meanwhile."""

    result: str
    confirmation: Confirmation | None = None
    free: tuple[OfferSlot, ...] = ()  # when NO_LONGER_FREE: the offered slots still free


def pick(
    offer: Offer,
    slot: OfferSlot,
    note: str,
    now: datetime,
    config: Mapping[str, Any],
    instance_path: str | Path,
) -> PickOutcome:
    """Confirm `slot` unless the candidate's calendars took it meanwhile; exactly once per offer.

    The interviewer's answer and the candidate's own confirmation (when the answer came by
    email) both come here. Of two simultaneous picks the conditional UPDATE lets one through;
    the other sees the offer answered.
    """
    if offer.state != offers.OPEN:
        return PickOutcome(ALREADY_ANSWERED)
    available = offers.availability(
        offer,
        now,
        secret_key=config["VAULT_KEYS"],
        cache_dir=Path(config["FEED_CACHE_DIR"]),
        ignored_uids=_own_events(offer),
    )
    if not available.is_free(slot):
        return PickOutcome(NO_LONGER_FREE, free=available.free)
    if not offers.record_pick(offer, slot, note, now):
        db.session.rollback()
        return PickOutcome(ALREADY_ANSWERED)
    return PickOutcome(CONFIRMED_NOW, confirm(offer, slot, now, config, instance_path))


def _own_events(offer: Offer) -> frozenset[str]:
    """What Newslot itself put on the calendar for this interview, which blocks none of its
    offered times: the offer's holds and the event of an earlier confirmation."""
    confirmed_uid = offer.interview.confirmed_uid
    return holds.hold_uids(offer) | ({confirmed_uid} if confirmed_uid else set())


def confirm(
    offer: Offer,
    slot: OfferSlot,
    now: datetime,
    config: Mapping[str, Any],
    instance_path: str | Path,
) -> Confirmation:
    """Confirm the interview at `slot` (the pick recorded at `now`) and email both parties.

    Everything is committed before the email goes out (`sending.deliver`, which claims it); a
    failed delivery leaves the message 'failed' with its reason for a retry, and the
    confirmation stands. So does a calendar that cannot be written (see `write_event`).
    """
    interview: Interview = offer.interview
    candidate = offers.interview_owner(interview)
    interview.confirmed_uid, interview.confirmed_sequence = _event_identity(interview, candidate)
    interview.confirmed_start, interview.confirmed_end = slot.start, slot.end
    interview.state = CONFIRMED
    # From the address the letter goes out from (Gmail's, when it sends), organising alike.
    sender = Person(candidate.name, sending.sender_address(candidate, config))
    invite = build_invite(REQUEST, interview_event.confirmed(interview, candidate, sender), now)
    interview.confirmed_invite = invite
    email = _confirmation_email(interview, candidate, sender, invite, now)
    message = sending.new_message(
        email, subject=str(email["Subject"]), user_id=candidate.id, interview_id=interview.id,
        kind=CONFIRMATION, now=now,
    )  # fmt: skip
    db.session.add(message)
    db.session.commit()  # the pick, the confirmed interview and its letter, all or nothing
    sending.deliver(message, lambda: sending.transport_for(candidate, config, instance_path), now)
    write_event(interview, secret_key=config["VAULT_KEYS"])
    holds.release_holds(offer, secret_key=config["VAULT_KEYS"])  # the event takes their place
    for problem in cancelling.decline_original(interview, secret_key=config["VAULT_KEYS"]):
        log.info("The original invitation stays undeclined: %s", problem)  # a courtesy only
    return Confirmation(invite, message)


# --- The event on the user's own calendar ------------------------------------------------------


@dataclass(frozen=True)
class CalendarWrite:
    """Where the confirmed event stands on the user's calendar, for the candidate's page."""

    calendar: str  # the calendar's name, as the user chose it
    written: bool
    problem: str | None  # in plain words; None once written
    can_retry: bool  # False when retrying could only overwrite someone else's change


def write_event(interview: Interview, *, secret_key: vault.Keys) -> CalendarWrite | None:
    """Put the confirmed event on the user's calendar for confirmed events, if they chose one.

    The event written for an earlier confirmation (a second reschedule) is updated in place,
    guarded by its ETag: a change made on the calendar since then is never overwritten, the user
    is told instead. Any failure is kept in `event_ref` beside what was written before.
    """
    invite = confirmed_invite(interview)
    if invite is None:
        raise ValueError("the interview has no confirmed event to write")
    earlier = cancelling.event_ref(interview)
    try:
        target = accounts.write_target(offers.interview_owner(interview), secret_key=secret_key)
    except vault.VaultError:
        return _write_failed(interview, earlier, holds.UNREADABLE_PASSWORD)
    except ProviderError as error:  # e.g. Google switched off on this server since connecting
        return _write_failed(interview, earlier, str(error))
    if target is None:
        return None
    event = calendar_object(invite)
    revising = (
        earlier.get("href")
        and earlier.get("source_id") == target.source.id
        and earlier.get("uid") == interview.confirmed_uid
    )
    # What a failure keeps: the event to revise on a retry, or where the first one goes.
    kept = earlier if revising else {"source_id": target.source.id, "calendar": target.calendar_id}
    try:
        if not revising and _moves_users_own_event(interview):
            # The user organised the original: move that very event (same UID, higher SEQUENCE)
            # wherever it lives on the account, instead of adding a second one.
            found = target.provider.find_event(interview.confirmed_uid)
            if found is not None:
                revising = True
                earlier = {**kept, "href": found[0], "etag": found[1]}
        if revising:
            href = earlier["href"]
            try:
                etag = target.provider.update_event(href, event, earlier["etag"])
            except NotFound:  # deleted on the calendar: the new time is written afresh
                href, etag = target.provider.create_event(target.calendar_id, event)
        else:
            href, etag = target.provider.create_event(target.calendar_id, event)
    except Conflict:
        note = _changed_there(interview, revised=bool(revising))
        return _write_failed(interview, kept, note, conflict=True)
    except ProviderError as error:
        return _write_failed(interview, kept, str(error))
    interview.event_ref = json.dumps(
        {
            "source_id": target.source.id,
            "calendar": target.calendar_id,
            "href": href,
            "etag": etag,
            "uid": interview.confirmed_uid,
            "sequence": interview.confirmed_sequence,
        }
    )
    db.session.commit()
    return calendar_write(interview)


def _moves_users_own_event(interview: Interview) -> bool:
    """Whether the confirmed event is the user's own original, kept under its UID."""
    return bool(
        interview.organised_by_user and interview.uid and interview.uid == interview.confirmed_uid
    )


def calendar_write(interview: Interview) -> CalendarWrite | None:
    """What became of writing the confirmed event; None when nothing was to be written."""
    ref = cancelling.event_ref(interview)
    if not ref:
        return None
    problem = ref.get("error")
    source = next((own for own in interview.user.calendars if own.id == ref.get("source_id")), None)
    return CalendarWrite(
        calendar=accounts.calendar_name(source, ref.get("calendar")),
        written=problem is None,
        problem=problem,
        can_retry=problem is not None and not ref.get("conflict"),
    )


def calendar_object(invite: bytes) -> bytes:
    """The emailed invite as a stored calendar object: the same event and zones, no METHOD."""
    calendar = Calendar.from_ical(invite)
    calendar.pop("METHOD", None)  # RFC 4791 4.1: calendar object resources carry no METHOD
    return calendar.to_ical()


def _write_failed(
    interview: Interview, kept: dict[str, Any], problem: str, *, conflict: bool = False
) -> CalendarWrite | None:
    """Keep the reason beside the event a retry revises (or the calendar it writes to)."""
    kept = {key: value for key, value in kept.items() if key not in ("error", "conflict")}
    interview.event_ref = json.dumps({**kept, "error": problem, "conflict": conflict})
    db.session.commit()
    return calendar_write(interview)


def _changed_there(interview: Interview, *, revised: bool) -> str:
    """The note for an event someone else changed (or wrote) on the calendar first."""
    zone = ZoneInfo(interview.user.time_zone)
    slot = Slot(interview.confirmed_start, interview.confirmed_end)
    when = format_slot(slot, zone, zone, slot.start).interviewer  # the user's zone, with date
    if revised:
        return (
            "The interview on your calendar was changed there after Newslot wrote it, so Newslot "
            f"did not overwrite it: please move it to {when} yourself."
        )
    return (
        "Your calendar already holds an event for this interview, so Newslot did not overwrite "
        f"it: please check that it shows {when}."
    )


def confirmed_invite(interview: Interview) -> bytes | None:
    """The confirmed event's invite, byte for byte as emailed; None before confirmation."""
    return interview.confirmed_invite if interview.state == CONFIRMED else None


@dataclass(frozen=True)
class CalendarLinks:
    """'Add to calendar' addresses for people who do not open .ics files."""

    google: str
    outlook: str


def calendar_links(interview: Interview) -> CalendarLinks:
    """Google Calendar and Outlook.com links for the confirmed time (UTC, URL-encoded)."""
    event = interview_event.confirmed(interview, offers.interview_owner(interview))
    start, end = event.start.astimezone(UTC), event.end.astimezone(UTC)
    where = interview.location or interview.meeting_link or ""
    google = {
        "action": "TEMPLATE",
        "text": event.summary,
        "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}",
        "details": event.description or "",
        "location": where,
    }
    outlook = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": event.summary,
        "startdt": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "enddt": f"{end:%Y-%m-%dT%H:%M:%SZ}",
        "body": event.description or "",
        "location": where,
    }
    return CalendarLinks(
        google="https://calendar.google.com/calendar/render?" + _query(google),
        outlook="https://outlook.live.com/calendar/0/deeplink/compose?" + _query(outlook),
    )


def _query(values: dict[str, str]) -> str:
    """Percent-encoding throughout (a space is %20, not '+', which Outlook shows literally)."""
    return urlencode({key: value for key, value in values.items() if value}, quote_via=quote)


def _event_identity(interview: Interview, candidate: User) -> tuple[str, int]:
    """The UID and SEQUENCE the confirmed event is announced with.

    An event we announced before (a second reschedule) or one the candidate organised is
    revised in place; the company's own event cannot be, so the new time is a new event.
    """
    if interview.confirmed_uid and interview.confirmed_sequence is not None:
        return interview.confirmed_uid, interview.confirmed_sequence + 1
    if interview.organised_by_user and interview.uid:
        return interview.uid, interview.sequence + 1
    return new_uid_for(candidate.email), 0


def _confirmation_email(
    interview: Interview, candidate: User, sender: Person, invite: bytes, now: datetime
) -> EmailMessage:
    """The confirmation letter from the candidate (`sender`), to the interviewer and a copy to
    themselves."""
    letter = compose(
        CONFIRMATION,
        "personal",  # a confirmation gives no reason
        sending.letter_context(
            interview,
            candidate,
            now,
            confirmed=Slot(interview.confirmed_start, interview.confirmed_end),
            candidate_organised=interview.confirmed_sequence > 0,
        ),
    )
    interviewer = Person(interview.interviewer_name, interview.interviewer_email)
    return build_imip_message(
        sender=sender, to=[interviewer, sender], subject=letter.subject, text=letter.text,
        html=letter.html, invite=invite, now=now,
    )  # fmt: skip


def confirmation_message(interview: Interview) -> Message | None:
    """The latest confirmation email for the interview, to show whether it went out."""
    return db.session.scalar(
        db.select(Message)
        .filter_by(interview_id=interview.id, kind=CONFIRMATION)
        .order_by(Message.id.desc())
        .limit(1)
    )
