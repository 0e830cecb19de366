"""Calendar invites that clients act on correctly (RFC 5545, 5546 iTIP), and reading received ones.

A client recognises an event by UID and applies a message only if its SEQUENCE is not older than
what it has, so the rules here are about who may say what: the organizer sends REQUEST and CANCEL
(and alone raises SEQUENCE, see `InviteEvent.revised`); an attendee answers with REPLY or COUNTER
quoting the organizer's UID and SEQUENCE unchanged. Offered, unconfirmed slots never become
calendar objects: only a confirmed time is written here.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, vCalAddress
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from app.messages.vtimezone import vtimezone
from app.scheduling.intervals import to_utc
from app.scheduling.model import require_aware

REQUEST, CANCEL, REPLY, COUNTER = "REQUEST", "CANCEL", "REPLY", "COUNTER"
METHODS = (REQUEST, CANCEL, REPLY, COUNTER)
_UID_FALLBACK_DOMAIN = "newslot.invalid"
ANSWERS = ("ACCEPTED", "DECLINED", "TENTATIVE")
PRODID = "-//Newslot//Newslot//EN"
# Methods a received file may carry and still be an invitation to an event we can take in.
_IMPORTABLE_METHODS = ("REQUEST", "PUBLISH")
# What icalendar raises on malformed input besides its own ValueErrors (for example a VTIMEZONE
# with two TZIDs gives an AttributeError); all of it means "this file cannot be read".
_PARSER_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError)
_UTC_ZONE_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Etc/Zulu", "Universal", "Zulu"})
_EMAIL = re.compile(r"[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"]+")
_PERSON = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>")
# Properties that name the meeting link outright, best first (RFC 7986, Google, Microsoft).
_CONFERENCE_PROPERTIES = ("CONFERENCE", "X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL")
_MEETING_LINK = re.compile(
    r"https://(?:[\w-]+\.)*(?:zoom\.us|meet\.google\.com|teams\.microsoft\.com|teams\.live\.com"
    r"|webex\.com)/[^\s<>\"']*",
    re.IGNORECASE,
)


class InviteError(ValueError):
    """An invite that cannot be written or read; the message says why in plain words."""


def has_control_character(text: str) -> bool:
    """Line breaks and control characters: what could forge a header or a property line."""
    return any(unicodedata.category(character) in ("Cc", "Zl", "Zp") for character in text)


@dataclass(frozen=True)
class Person:
    """Someone with a calendar address. Validated here so no header or property can be forged."""

    name: str
    email: str

    def __post_init__(self) -> None:
        if has_control_character(self.name) or has_control_character(self.email):
            raise InviteError(
                f"{self.name!r} <{self.email!r}> contains a line break or control character"
            )
        if not _EMAIL.fullmatch(self.email):
            raise InviteError(f"{self.email!r} is not an email address")
        if not self.email.partition("@")[0].isascii():
            # Such (SMTPUTF8) addresses cannot be written into standard email headers.
            raise InviteError(f"{self.email!r}: the part before @ must use plain ASCII letters")


def parse_person(text: str) -> Person:
    """Read 'Name <email>', '"Name" <email>' or a bare 'email'."""
    text = text.strip()
    match = _PERSON.fullmatch(text)
    if match is None:
        return Person("", text)
    return Person(match["name"].strip().strip('"').strip(), match["email"].strip())


@dataclass(frozen=True)
class Attendee:
    """An invited person and where they stand (RFC 5545 ATTENDEE parameters)."""

    person: Person
    partstat: str = "NEEDS-ACTION"
    role: str = "REQ-PARTICIPANT"
    rsvp: bool = True


@dataclass(frozen=True)
class InviteEvent:
    """One scheduled event as invites carry it. Times are aware; the end is exclusive."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    organizer: Person | None
    attendees: tuple[Attendee, ...] = ()
    sequence: int = 0
    location: str | None = None
    url: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.uid.strip() or has_control_character(self.uid):
            raise InviteError("an invite needs a UID on one line, so clients recognise the event")
        if self.sequence < 0:
            raise InviteError(f"SEQUENCE cannot be negative, got {self.sequence}")
        try:
            require_aware(self.start, "the start")
            require_aware(self.end, "the end")
        except ValueError as error:
            raise InviteError(str(error)) from None
        if to_utc(self.end) <= to_utc(self.start):  # elapsed time, whatever the wall clocks say
            raise InviteError(
                f"the event must end after it starts ({self.start.isoformat()} to "
                f"{self.end.isoformat()})"
            )

    def revised(self, **changes: Any) -> InviteEvent:
        """The organizer's next version of the event: same UID, SEQUENCE one higher."""
        return replace(self, sequence=self.sequence + 1, **changes)


def new_uid(domain: str) -> str:
    """A UID no other event has (RFC 5545 suggests 'unique@domain')."""
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        raise InviteError(f"{domain!r} is not a domain name")
    return f"{uuid.uuid4()}@{domain}"


def new_uid_for(email: str) -> str:
    """A new UID under the organizer's mail domain (in ASCII), as their own calendar would make;
    under `newslot.invalid` when the domain cannot be written in ASCII."""
    try:
        domain = email.rpartition("@")[2].encode("idna").decode("ascii")
    except UnicodeError:
        domain = _UID_FALLBACK_DOMAIN
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        domain = _UID_FALLBACK_DOMAIN
    return new_uid(domain)


def build_invite(
    method: str,
    event: InviteEvent,
    now: datetime,
    *,
    answering: Person | None = None,
    partstat: str | None = None,
) -> bytes:
    """The .ics bytes of one iTIP message about `event`.

    REQUEST and CANCEL come from the organizer and list every attendee. REPLY and COUNTER come
    from `answering` and contain that attendee alone, with `partstat` (a REPLY declines unless
    told otherwise); a COUNTER's start and end are the proposed time. SEQUENCE is written as the
    event has it: raising it is the organizer's decision (`InviteEvent.revised`).
    """
    method = method.upper()
    if method not in METHODS:
        raise InviteError(f"the method must be one of {', '.join(METHODS)}, got {method!r}")
    try:
        require_aware(now, "now")
    except ValueError as error:
        raise InviteError(str(error)) from None
    if event.organizer is None:
        raise InviteError(f"a {method} needs the organizer's address, and the event has none")

    vevent = Event()
    vevent.add("UID", event.uid)
    vevent.add("SEQUENCE", event.sequence)
    vevent.add("DTSTAMP", now.astimezone(UTC))
    vevent.add("DTSTART", _written_time(event.start))
    vevent.add("DTEND", _written_time(event.end))
    vevent.add("SUMMARY", event.summary)
    vevent.add("ORGANIZER", _address(event.organizer))
    if method in (REQUEST, CANCEL):
        for attendee in event.attendees:
            vevent.add("ATTENDEE", _attendee_address(attendee))
        vevent.add("STATUS", "CONFIRMED" if method == REQUEST else "CANCELLED")
    else:
        vevent.add("ATTENDEE", _answer_address(method, answering, partstat))
    if method != REPLY:
        _add_details(vevent, event)

    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    for zone in _zones_written(event):
        calendar.add_component(vtimezone(zone, event.start))
    calendar.add_component(vevent)
    return calendar.to_ical()


def _written_time(value: datetime) -> datetime:
    """A named IANA zone is kept (TZID + VTIMEZONE); UTC and unnamed zones are written in UTC.

    So is the second of a wall-clock time that happens twice (clocks going back): with a TZID a
    client reads the first one (RFC 5545 §3.3.5), an hour early.
    """
    zone = value.tzinfo
    repeated = value.fold == 1 and value.replace(fold=0).utcoffset() != value.utcoffset()
    if isinstance(zone, ZoneInfo) and zone.key and zone.key not in _UTC_ZONE_KEYS and not repeated:
        return value
    return value.astimezone(UTC)


def _zones_written(event: InviteEvent) -> list[ZoneInfo]:
    zones = []
    for value in (event.start, event.end):
        zone = _written_time(value).tzinfo
        if isinstance(zone, ZoneInfo) and zone not in zones:
            zones.append(zone)
    return zones


def _address(person: Person, **params: Any) -> vCalAddress:
    return vCalAddress.new(person.email, cn=person.name or None, **params)


def _attendee_address(attendee: Attendee) -> vCalAddress:
    return _address(
        attendee.person, role=attendee.role, partstat=attendee.partstat, rsvp=attendee.rsvp
    )


def _answer_address(method: str, answering: Person | None, partstat: str | None) -> vCalAddress:
    if answering is None:
        raise InviteError(f"a {method} must say which attendee is answering")
    if partstat is None and method == REPLY:
        partstat = "DECLINED"
    if partstat is not None and partstat.upper() not in ANSWERS:
        raise InviteError(f"the answer must be one of {', '.join(ANSWERS)}, got {partstat!r}")
    return _address(answering, partstat=partstat.upper() if partstat else None)


def _add_details(vevent: Event, event: InviteEvent) -> None:
    if event.location:
        vevent.add("LOCATION", event.location)
    if event.url:
        vevent.add("URL", event.url)
    if event.description:
        vevent.add("DESCRIPTION", event.description)


# --- Reading a received invite ------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedInvite:
    """A received invite: its METHOD (None for a plain .ics download) and the event."""

    method: str | None
    event: InviteEvent

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, times in ISO 8601 with their offset."""
        event = self.event
        organizer = event.organizer
        return {
            "method": self.method,
            "uid": event.uid,
            "sequence": event.sequence,
            "summary": event.summary,
            "start": event.start.isoformat(),
            "end": event.end.isoformat(),
            "organizer": {"name": organizer.name, "email": organizer.email} if organizer else None,
            "attendees": [
                {"name": a.person.name, "email": a.person.email, "partstat": a.partstat}
                for a in event.attendees
            ],
            "location": event.location,
            "url": event.url,
        }


def import_invite(data: bytes, *, default_tz: ZoneInfo | None = None) -> ImportedInvite:
    """Read the one event of a received invite (Google, Outlook, Apple...).

    Floating times are read in the file's X-WR-TIMEZONE, else in `default_tz`. Anything that is
    not a single timed event (a calendar export, a repeating series, an all-day event, a reply)
    is refused with an InviteError that says what the file is instead.
    """
    calendar = _parse_one_calendar(data)
    method = str(calendar.get("METHOD", "")).strip().upper() or None
    if method is not None and method not in _IMPORTABLE_METHODS:
        raise InviteError(f"this file is a {method} message, not an invitation to an event")
    vevent = _the_one_event(calendar)
    try:
        start, end = vevent.start, vevent.end
        sequence = int(vevent.get("SEQUENCE", 0))
    except _PARSER_ERRORS as error:
        raise InviteError(
            f"the event's times or SEQUENCE cannot be read ({_one_line(error)})"
        ) from None
    zone = _floating_zone(calendar, default_tz)
    event = InviteEvent(
        uid=_text(vevent["UID"]) or "",
        summary=_text(vevent.get("SUMMARY")) or "",
        start=_aware(start, _tzid(vevent, "DTSTART"), zone),
        end=_aware(end, _tzid(vevent, "DTEND" if "DTEND" in vevent else "DTSTART"), zone),
        organizer=_person(vevent.get("ORGANIZER")),
        attendees=tuple(
            attendee for attendee in map(_attendee, _as_list(vevent.get("ATTENDEE"))) if attendee
        ),
        sequence=sequence,
        location=_text(vevent.get("LOCATION")),
        url=_meeting_link(vevent),
        description=_text(vevent.get("DESCRIPTION")),
    )
    return ImportedInvite(method, event)


def _parse_one_calendar(data: bytes) -> Calendar:
    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except _PARSER_ERRORS as error:
        raise InviteError(f"this is not a readable iCalendar file ({_one_line(error)})") from None
    if len(calendars) != 1:
        raise InviteError(f"an invite is one calendar; this file holds {len(calendars)}")
    if calendars[0].name != "VCALENDAR":
        raise InviteError(f"this file is a bare {calendars[0].name}, not a calendar (VCALENDAR)")
    return calendars[0]


def _one_line(error: Exception) -> str:
    """The parser's own words, kept to one line so a CLI can print them as the reason."""
    return " ".join(str(error).split())


def _the_one_event(calendar: Calendar) -> Event:
    vevents = calendar.walk("VEVENT")
    if not vevents:
        raise InviteError("this file holds no event")
    uids = {_text(vevent.get("UID")) for vevent in vevents}
    if None in uids:
        raise InviteError("the event has no UID, so no answer could refer to it")
    if len(uids) > 1:
        raise InviteError(
            f"this file holds {len(uids)} different events (a calendar export?); an invite "
            "holds one"
        )
    repeats = ("RRULE", "RDATE", "RECURRENCE-ID")
    if len(vevents) > 1 or any(name in vevents[0] for name in repeats):
        raise InviteError("this is a repeating event; Newslot moves single interviews")
    return vevents[0]


def _floating_zone(calendar: Calendar, default_tz: ZoneInfo | None) -> ZoneInfo | None:
    """The zone a time without one is read in: the calendar's X-WR-TIMEZONE, else the default."""
    name = _text(calendar.get("X-WR-TIMEZONE"))
    try:
        return ZoneInfo(name) if name else default_tz
    except (ZoneInfoNotFoundError, ValueError):
        return default_tz


def _tzid(vevent: Event, name: str) -> str:
    return str(vevent[name].params.get("TZID", "")).strip()


def _aware(value: date, tzid: str, floating_zone: ZoneInfo | None) -> datetime:
    """An aware datetime, with Outlook's Windows zone names turned into IANA zones."""
    if not isinstance(value, datetime):
        raise InviteError("this is an all-day event; an interview needs a start time")
    if value.tzinfo is None:
        if floating_zone is None:
            raise InviteError(
                "the event's time has no zone; say which zone it is in (the organizer's)"
            )
        return value.replace(tzinfo=floating_zone)
    if isinstance(value.tzinfo, ZoneInfo):
        return value
    iana = WINDOWS_TO_OLSON.get(tzid)
    if iana is not None:
        converted = value.astimezone(ZoneInfo(iana))
        if converted.utcoffset() == value.utcoffset():
            return converted
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _person(address: Any) -> Person | None:
    """The person behind an ORGANIZER/ATTENDEE, or None when it is not a usable mail address."""
    if not isinstance(address, vCalAddress) or not address.lower().startswith("mailto:"):
        return None
    email = address.email.strip()
    name = str(address.params.get("CN", "")).strip()
    try:
        return Person("" if name.lower() == email.lower() else name, email)
    except InviteError:
        return None


def _attendee(address: Any) -> Attendee | None:
    person = _person(address)
    if person is None:
        return None
    params = address.params
    return Attendee(
        person,
        partstat=str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
        role=str(params.get("ROLE", "REQ-PARTICIPANT")).upper(),
        rsvp=str(params.get("RSVP", "FALSE")).upper() == "TRUE",
    )


def _text(value: Any) -> str | None:
    """A property's text, stripped; the first one where a file repeats a single property."""
    values = _as_list(value)
    text = str(values[0]).strip() if values else ""
    return text or None


def _meeting_link(vevent: Event) -> str | None:
    """The meeting link: a conference property, else URL, else a known host in the text."""
    for name in (*_CONFERENCE_PROPERTIES, "URL"):
        link = _text(vevent.get(name))
        if link:
            return link
    for name in ("LOCATION", "DESCRIPTION"):
        found = _MEETING_LINK.search(_text(vevent.get(name)) or "")
        if found:
            return found.group(0)
    return None
