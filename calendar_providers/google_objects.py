"""Google Calendar behind the calendar-object contract that confirming and holds are written to.

Those services store whole iCalendar objects addressed by (href, ETag), the way CalDAV keeps
them (calendar_providers/caldav.py). `GoogleCalendarObjects` turns such an object into a Google
event resource and answers in the same terms, so no service needs to know whose calendar it is:

- An event is inserted under an id derived from its UID (`event_id_for`): an insert retried
  after its answer was lost finds the event it made (GoogleProvider returns it on 409) instead
  of making a second. One already there at another time is a Conflict, as on CalDAV.
- The href is "<calendar id>/events/<event id>" (calendar ids hold no "/"); the ETag is
  Google's. Updates and deletions read the event first: an ETag that moved (the event was
  changed on Google since Newslot wrote it) is a Conflict, a deleted event NotFound.
- An event Newslot did not write (the user's own original interview, found by `find_event`)
  is moved by patching its times, title and description only: Google keeps its attendees,
  conference data and whatever else the user set on it.
- The UID goes into a private extended property (Google gives an event inserted under our id
  an iCalUID of its own), so busy reads still recognise Newslot's holds and events.

Every write passes sendUpdates="none": Newslot emails the one invitation itself, the iMIP
letter with the .ics attached that the confirmation must carry, so Google must not send a
second. The interviewer is still listed as an attendee, so the event shows whom it is with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar

from calendar_providers.base import (
    BusyReport,
    CalendarInfo,
    CalendarProvider,
    Conflict,
    InvalidCalendar,
    NotFound,
)
from calendar_providers.busy_rules import values_of
from calendar_providers.google import NEWSLOT_UID, GoogleProvider, event_id_for, newslot_uid

SEND_UPDATES = "none"  # Newslot's own email carries the invitation
_HREF_SEPARATOR = "/events/"
_MOVED = ("start", "end", "summary", "description")  # what a move changes on the user's event
_RESPONSES = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative"}


class GoogleCalendarObjects(CalendarProvider):
    """One Google account written to as calendar objects; reads are the provider's own.

    `account` is the account's address (its primary calendar's id); `write_calendar` the
    calendar chosen for confirmed events. Both are searched for an event by its UID.
    """

    name = "google"
    can_write = True
    can_freebusy = True

    def __init__(
        self, provider: GoogleProvider, *, account: str, write_calendar: str | None
    ) -> None:
        self.provider = provider
        self.account = account.strip().lower()
        self._searched = tuple(dict.fromkeys(c for c in (write_calendar, account) if c))

    # Reading

    def list_calendars(self) -> list[CalendarInfo]:
        return self.provider.list_calendars()

    def busy(self, start: datetime, end: datetime, tz: ZoneInfo) -> BusyReport:
        return self.provider.busy(start, end, tz)

    # Writing

    def create_event(self, calendar_id: str, ics_bytes: bytes) -> tuple[str, str]:
        """Insert the event; its (href, ETag). The same event inserted again is found, not
        duplicated; a different one under the same UID is a Conflict."""
        uid, body = google_event(ics_bytes, self.account)
        event_id = event_id_for(uid)
        stored = self.provider.create_event(
            calendar_id, body, event_id=event_id, send_updates=SEND_UPDATES
        )
        if _span(stored) != _span(body):
            raise Conflict(
                "The calendar already holds this event (same UID) at another time; update it"
                " instead."
            )
        return _href(calendar_id, stored["id"]), _etag(stored)

    def update_event(self, href: str, ics_bytes: bytes, etag: str) -> str:
        """Move the event if it is unchanged since it was read (its ETag); the new ETag.

        Newslot's own event takes every field of the object; someone's own event only the
        new times, title and description.
        """
        calendar_id, event_id = _parts(href)
        uid, body = google_event(ics_bytes, self.account)
        current = self._unchanged(calendar_id, event_id, etag)
        patch = body if newslot_uid(current) == uid else {key: body[key] for key in _MOVED}
        return _etag(self.provider.update_event(calendar_id, event_id, patch, SEND_UPDATES))

    def cancel_event(self, href: str, etag: str) -> None:
        """Delete the event if it is unchanged since it was read."""
        calendar_id, event_id = _parts(href)
        self._unchanged(calendar_id, event_id, etag)
        self.provider.cancel_event(calendar_id, event_id, SEND_UPDATES)

    def find_event(self, uid: str) -> tuple[str, str] | None:
        """Where the event with this UID is: (href, ETag), or None."""
        found = self._find(uid)
        if found is None:
            return None
        calendar_id, event = found
        return _href(calendar_id, event["id"]), _etag(event)

    def decline(self, uid: str, *, send_updates: str) -> bool:
        """Answer "declined" to the invitation with this UID; whether there was one to answer
        (an event the account organises, or is not invited to, is left alone)."""
        found = self._find(uid)
        if found is None:
            return False
        calendar_id, event = found
        if event.get("organizer", {}).get("self"):
            return False
        attendees = event.get("attendees", [])
        mine = next((a for a in attendees if self._is_mine(a)), None)
        if mine is None:
            return False
        if mine.get("responseStatus") != "declined":
            answered = [
                {key: value for key, value in attendee.items() if key != "self"}
                | ({"responseStatus": "declined"} if attendee is mine else {})
                for attendee in attendees
            ]
            patch = {"attendees": answered}
            self.provider.update_event(calendar_id, event["id"], patch, send_updates)
        return True

    def _find(self, uid: str) -> tuple[str, dict] | None:
        """The event by its iCalUID, else by the id Newslot gives the events it writes."""
        for calendar_id in self._searched:
            found = self.provider.events_with_uid(calendar_id, uid)
            if found:
                return calendar_id, found[0]
            try:
                event = self.provider.event(calendar_id, event_id_for(uid))
            except NotFound:
                continue
            if event.get("status") != "cancelled":
                return calendar_id, event
        return None

    def _unchanged(self, calendar_id: str, event_id: str, etag: str) -> dict:
        """The event as stored, if its ETag is still the one read (checked by reading it)."""
        current = self.provider.event(calendar_id, event_id)
        if current.get("status") == "cancelled":
            raise NotFound("The event is no longer on the Google calendar; it was deleted there.")
        if _etag(current) != etag:
            raise Conflict(
                "The event was changed on Google Calendar since it was read; read it again"
                " before saving."
            )
        return current

    def _is_mine(self, attendee: dict) -> bool:
        email = str(attendee.get("email", "")).lower()
        return bool(attendee.get("self")) or email in (self.account, self.provider.me)


def google_event(ics_bytes: bytes, account: str) -> tuple[str, dict]:
    """The UID of the object's one VEVENT, and that event as a Google event resource.

    The ORGANIZER is the user, whom Google shows as the account itself, so the attendees are
    the others (the interviewer), with their answers so far.
    """
    try:
        calendar = Calendar.from_ical(ics_bytes)
    except ValueError as error:
        raise InvalidCalendar(f"The event to save is not valid iCalendar: {error}.") from None
    events = calendar.walk("VEVENT")
    if len(events) != 1 or not events[0].get("UID"):
        raise InvalidCalendar("The event to save must be one VEVENT with a UID.")
    (vevent,) = events
    uid = str(vevent["UID"])
    body: dict = {
        "summary": str(vevent.get("SUMMARY", "")),
        "description": _description(vevent),
        "start": _moment(vevent, "DTSTART"),
        "end": _moment(vevent, "DTEND"),
        "extendedProperties": {"private": {NEWSLOT_UID: uid}},
    }
    if vevent.get("LOCATION"):
        body["location"] = str(vevent["LOCATION"])
    status = str(vevent.get("STATUS", "")).lower()
    if status in ("confirmed", "tentative"):
        body["status"] = status
    transparency = str(vevent.get("TRANSP", "")).lower()
    if transparency in ("opaque", "transparent"):
        body["transparency"] = transparency
    left_out = {account, _address(vevent["ORGANIZER"]).lower() if "ORGANIZER" in vevent else ""}
    attendees = [
        _attendee(value)
        for value in values_of(vevent, "ATTENDEE")
        if _address(value).lower() not in left_out
    ]
    if attendees:
        body["attendees"] = attendees
    return uid, body


def _description(vevent) -> str:
    """The description, with the meeting link (URL) added where it does not mention it."""
    description = str(vevent.get("DESCRIPTION", ""))
    url = str(vevent.get("URL", ""))
    if url and url not in description:
        description = f"{description}\n\nJoin: {url}".strip()
    return description


def _moment(vevent, name: str) -> dict:
    """A start or end as Google takes it: the local time in its named zone, or UTC."""
    value = vevent.get(name)
    moment = value.dt if value is not None else None
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidCalendar(f"The event to save needs a {name} with a date, time and zone.")
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo) and zone.key != "UTC":
        return {"dateTime": moment.isoformat(), "timeZone": zone.key}
    return {"dateTime": moment.astimezone(UTC).isoformat(), "timeZone": "UTC"}


def _attendee(value) -> dict:
    attendee = {
        "email": _address(value),
        "responseStatus": _RESPONSES.get(
            str(value.params.get("PARTSTAT", "")).upper(), "needsAction"
        ),
    }
    if value.params.get("CN"):
        attendee["displayName"] = str(value.params["CN"])
    return attendee


def _address(value) -> str:
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


def _span(event: dict) -> tuple[datetime, datetime]:
    """The event's start and end as instants (Google answers with offsets)."""
    return (
        datetime.fromisoformat(event["start"]["dateTime"]),
        datetime.fromisoformat(event["end"]["dateTime"]),
    )


def _href(calendar_id: str, event_id: str) -> str:
    return f"{calendar_id}{_HREF_SEPARATOR}{event_id}"


def _parts(href: str) -> tuple[str, str]:
    calendar_id, _, event_id = href.rpartition(_HREF_SEPARATOR)
    return calendar_id, event_id


def _etag(event: dict) -> str:
    return str(event.get("etag", ""))
