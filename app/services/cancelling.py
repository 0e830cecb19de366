"""A cancelled interview leaves the calendars, as far as Newslot or the candidate put it there.

The cancel letter carries an iMIP CANCEL (same UID, SEQUENCE one higher) when the candidate
organised the event the interviewer holds: the one a Newslot confirmation announced, or their
own original invitation. So the interviewer's calendar removes the event instead of keeping a
ghost of it (RFC 5546 §3.2.5).

The event Newslot wrote for a confirmed time (`event_ref`) is deleted from the calendar it was
written to, through the account's provider (CalDAV and Google alike), guarded by its ETag: one
changed on the calendar since is the user's now and stays, with a note; a failure keeps the
event's address beside the reason. And an invitation from someone else that sits on the user's
Google calendar is declined there (here, and by confirming once a new time replaces it), which
frees the time and tells the organiser's calendar.

Calendars are called after the cancellation is committed and never undo it; what could not be
done is kept in `event_ref` ("error") and shown to the user.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from app import vault
from app.extensions import db
from app.messages.invites import CANCEL, Person, build_invite
from app.models import CalendarSource, Interview, User
from app.services import accounts, interview_event
from calendar_providers.base import Conflict, ProviderError

# The cancel letter carries no iMIP REPLY (only a CANCEL, for events the candidate organised),
# so only Google's own notice tells the organiser's calendar that the user declined. An
# attendee's answer goes to the organiser alone, so "all" sends exactly that one notice.
DECLINE_UPDATES = "all"
UNREADABLE = (
    "The saved access to your calendar account cannot be read any more; remove the account and"
    " connect it again."
)


def cancel_notice(
    interview: Interview, candidate: User, organizer: Person, now: datetime
) -> bytes | None:
    """The CANCEL for the event the candidate organised and the interviewer holds, or None.

    The event's SEQUENCE is raised and kept, so a later announcement goes higher still.
    """
    if interview.confirmed_invite is not None and interview.confirmed_uid:
        interview.confirmed_sequence = (interview.confirmed_sequence or 0) + 1
        event = interview_event.confirmed(interview, candidate, organizer)
    elif interview.organised_by_user and interview.uid:
        interview.sequence += 1
        event = interview_event.original(interview, candidate, organizer)
    else:
        return None  # the company's event: only its organiser can cancel it
    return build_invite(CANCEL, event, now)


def take_off_calendars(interview: Interview, *, secret_key: vault.Keys) -> str | None:
    """Remove the event Newslot wrote and decline someone else's invitation; what failed."""
    written = event_ref(interview)
    notes: list[str] = []
    still_there: dict[str, Any] = {}
    if written.get("href"):
        name = accounts.calendar_name(
            db.session.get(CalendarSource, written["source_id"]), written.get("calendar")
        )
        try:
            provider = accounts.owned_provider(
                interview.user, written["source_id"], secret_key=secret_key, unreadable=UNREADABLE
            )
            accounts.remove_event(provider, written["href"], written["etag"])
        except Conflict:
            notes.append(
                f"The interview on your calendar “{name}” was changed there after Newslot wrote"
                " it, so Newslot left it there: remove it yourself."
            )
        except ProviderError as error:
            notes.append(f"The interview could not be removed from your calendar “{name}”: {error}")
            still_there = {key: written[key] for key in ("source_id", "calendar", "href", "etag")}
    notes += decline_original(interview, secret_key=secret_key)
    problem = " ".join(notes) or None
    interview.event_ref = json.dumps({**still_there, "error": problem}) if problem else None
    db.session.commit()
    return problem


def problem(interview: Interview) -> str | None:
    """What the cancellation could not do on the user's calendars, if anything."""
    return event_ref(interview).get("error")


def decline_original(interview: Interview, *, secret_key: vault.Keys) -> list[str]:
    """Decline the interview's original invitation on the user's Google calendars, when someone
    else organised it: on cancelling, and once a new time is confirmed (the old time is then
    neither kept nor busy). What could not be done, in words."""
    if interview.organised_by_user or not interview.uid:
        return []
    notes = []
    for source in interview.user.calendars:
        if source.kind != accounts.GOOGLE:
            continue
        try:
            provider = accounts.provider_for(source, interview.user, secret_key=secret_key)
            if provider.decline(interview.uid, send_updates=DECLINE_UPDATES):
                return []
        except vault.VaultError:
            notes.append(f"The invitation on {source.name} could not be declined: {UNREADABLE}")
        except ProviderError as error:
            notes.append(f"The invitation on {source.name} could not be declined: {error}")
    return notes


def event_ref(interview: Interview) -> dict[str, Any]:
    """What Newslot wrote to the user's calendar for the interview, and what failed there."""
    return json.loads(interview.event_ref) if interview.event_ref else {}
