"""The interview as an event the candidate organises: what every announcement is written from.

The confirmation's REQUEST, and the CANCEL a cancel letter carries, describe the same event from
stored fields only, so what the interviewer's calendar holds and what replaces or removes it
always agree (same UID, same people, times in the interviewer's zone).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.messages.invites import Attendee, InviteEvent, Person
from app.messages.letters import format_slot
from app.models import Interview, User
from app.scheduling.model import Slot


def confirmed(
    interview: Interview, candidate: User, organizer: Person | None = None
) -> InviteEvent:
    """The confirmed event, under `organizer`'s address if given (the letter's From)."""
    if interview.confirmed_start is None or interview.confirmed_end is None:
        raise ValueError("the interview has no confirmed time yet")
    if interview.confirmed_uid is None or interview.confirmed_sequence is None:
        raise ValueError("the interview's confirmed event has no UID yet")
    return _event(
        interview, candidate, organizer, interview.confirmed_uid, interview.confirmed_sequence,
        interview.confirmed_start, interview.confirmed_end,
    )  # fmt: skip


def original(interview: Interview, candidate: User, organizer: Person | None = None) -> InviteEvent:
    """The interview at its first time, as the candidate organised it (the UID they sent)."""
    if not (interview.organised_by_user and interview.uid):
        raise ValueError("the candidate did not organise this interview's event")
    return _event(
        interview, candidate, organizer, interview.uid, interview.sequence, interview.start,
        interview.end,
    )  # fmt: skip


def _event(
    interview: Interview, candidate: User, organizer: Person | None, uid: str, sequence: int,
    start: datetime, end: datetime,
) -> InviteEvent:  # fmt: skip
    zone = ZoneInfo(interview.interviewer_tz)
    organizer = organizer or Person(candidate.name, candidate.email)
    interviewer = Person(interview.interviewer_name, interview.interviewer_email)
    return InviteEvent(
        uid=uid,
        summary=f"Interview: {interview.role}, {interview.company} ({candidate.name})",
        start=start.astimezone(zone),
        end=end.astimezone(zone),
        organizer=organizer,
        attendees=(Attendee(interviewer), Attendee(organizer, partstat="ACCEPTED", rsvp=False)),
        sequence=sequence,
        location=interview.location,
        url=interview.meeting_link,
        description=_description(interview, candidate, Slot(start, end)),
    )


def _description(interview: Interview, candidate: User, slot: Slot) -> str:
    """The time in both zones (the interviewer's first) and the meeting link, as plain text."""
    written = format_slot(
        slot, ZoneInfo(interview.interviewer_tz), ZoneInfo(candidate.time_zone), slot.start
    )
    lines = [
        f"Interview for the {interview.role} position at {interview.company}.",
        f"{interview.interviewer_name}: {written.interviewer}",
    ]
    if written.candidate:
        lines.append(f"{candidate.name}: {written.candidate}")
    if interview.meeting_link:
        lines.append(f"Join: {interview.meeting_link}")
    return "\n".join(lines)
