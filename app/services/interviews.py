"""The user's interviews: enter one (typed, or read from the invite they received), and the
interview as the rest of the app needs it. Its day is drawn by dayview.py; the times to offer
are chosen in choosing.py.

Views call these and show the problems' messages as they are; nothing here (nor in dayview.py
and choosing.py) knows about HTTP, sessions or the clock (`now` is passed in). A page's service
call reads the user's busy time once (cached by `busy.read_busy`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.extensions import db
from app.messages.invites import Person, import_invite
from app.messages.letters import SlotText, format_slot
from app.models import DRAFT, Interview, Offer, User
from app.scheduling import model as core
from app.services import offers

MAX_SLOTS = 6  # more times than this make a letter hard to answer


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
    moment = core.local_moment(day, clock, zone)
    if moment is None:
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
        if offer.state == offers.DRAFT:
            return offer
    offer = Offer(interview=interview, state=offers.DRAFT, created_at=interview.created_at)
    db.session.add(offer)
    db.session.commit()
    return offer


def in_both_zones(interview: Interview, user: User, now: datetime) -> SlotText:
    """The interview's time for both parties, with the day-shift and clock-change notes."""
    own = as_core_interview(interview, user)
    return format_slot(core.Slot(own.start, own.end), own.interviewer_tz, own.tz, now)


def recognise_own_event(
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
