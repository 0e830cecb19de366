"""CalDAV servers (iCloud, Fastmail, Nextcloud, Radicale, ...): read busy time, write events.

Reading: the `caldav` library discovers the calendars (principal -> calendar-home-set ->
calendars); busy time is one time-range REPORT per calendar for the raw iCalendar of the objects
that overlap the window, expanded here by the same code and busy rules as the ICS provider, so a
calendar gives the same busy time whether exported to a file or read from its server.

Writing: whole objects are PUT with ETag preconditions (If-None-Match on create, If-Match on
update and delete), so a change made elsewhere since the event was read is reported as a
`Conflict`, never overwritten. ORGANIZER and ATTENDEEs carry SCHEDULE-AGENT=CLIENT (RFC 6638):
Newslot sends its own invitation, so the server must not send a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from urllib.parse import unquote, urljoin, urlsplit
from uuid import NAMESPACE_URL, uuid5
from zoneinfo import ZoneInfo

import caldav
import icalendar
from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http
from lxml import etree

from app.scheduling.model import BusyEvent, require_aware
from calendar_providers import ics_expand
from calendar_providers.base import (
    AuthError,
    BusyReport,
    CalendarInfo,
    CalendarProvider,
    Conflict,
    InvalidCalendar,
    NotFound,
    ProviderError,
    Unavailable,
)
from calendar_providers.busy_rules import busy_report, values_of

logger = logging.getLogger(__name__)

AUTH_REFUSED = "The CalDAV server refused the user name or app-specific password."
_DISPLAY_NAME = "{DAV:}displayname"
_PRIVILEGES = "{DAV:}current-user-privilege-set"
_COMPONENTS = "{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set"
_NO_UID_CONFLICT = "{urn:ietf:params:xml:ns:caldav}no-uid-conflict"
_WRITE_PRIVILEGES = frozenset({"{DAV:}all", "{DAV:}write", "{DAV:}write-content", "{DAV:}bind"})
_DETAILS_QUERY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>'
    "<D:displayname/><D:current-user-privilege-set/><C:supported-calendar-component-set/>"
    "</D:prop></D:propfind>"
)
_ICS_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}


class CaldavProvider(CalendarProvider):
    """One CalDAV account; `calendars` are the ids (URLs) that count as busy, None for all.

    `me` is the user's address, to tell invitations they declined. The password (usually an
    app-specific one) is only ever sent to the server, never put in a message.
    """

    name = "caldav"
    can_write = True
    can_freebusy = False  # busy() reads the events themselves: it needs their busy rules

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        me: str | None = None,
        calendars: list[str] | None = None,
        timeout: float = 20,
    ) -> None:
        self.url = url.strip()
        self.username = username
        self._password = password
        self.me = me.strip().lower() if me else None
        self.chosen = None if calendars is None else [_path_key(url) for url in calendars]
        self.timeout = timeout
        self.label = _server_label(self.url)
        self._calendars: list[CalendarInfo] | None = None

    def list_calendars(self) -> list[CalendarInfo]:
        """The account's event calendars (task lists left out), found once per provider."""
        with self._connected(writing=False) as client:
            return list(self._discovered(client))

    def busy(self, start: datetime, end: datetime, tz: ZoneInfo) -> BusyReport:
        require_aware(start, "window start")
        require_aware(end, "window end")
        events: list[BusyEvent] = []
        notes: list[str] = []
        with self._connected(writing=False) as client:
            for calendar in self._busy_calendars(client, notes):
                # A day's slack each side: the server reads dates and floating times in UTC.
                found = client.calendar(url=calendar.id).search(
                    event=True,
                    start=start - ics_expand.QUERY_SLACK,
                    end=end + ics_expand.QUERY_SLACK,
                    expand=False,
                    post_filter=False,
                )
                parsed = _parsed(found, calendar.name, notes)
                expansion = ics_expand.expand(parsed, start, end, tz)
                report = busy_report(expansion, calendar.name, self.me)
                events += report.events
                notes += report.notes
        events.sort(key=lambda event: (event.start, event.end, event.uid))
        return BusyReport(tuple(events), tuple(notes))

    def create_event(self, calendar_id: str, ics_bytes: bytes) -> tuple[str, str]:
        """Store a new event in the calendar; its (href, ETag). Never replaces an existing one."""
        data, uid = _prepared(ics_bytes)
        href = urljoin(calendar_id.rstrip("/") + "/", f"{uuid5(NAMESPACE_URL, uid)}.ics")
        with self._connected(writing=True) as client:
            response = client.put(href, data, {**_ICS_HEADERS, "If-None-Match": "*"})
            if response.status == 412:
                raise Conflict(
                    "The calendar already holds this event (same UID); update it instead."
                )
            _require_success(response)
            return href, _etag(client, response, href)

    def update_event(self, href: str, ics_bytes: bytes, etag: str) -> str:
        """Replace the event if it is unchanged since it was read (its ETag); the new ETag."""
        data, _ = _prepared(ics_bytes)
        with self._connected(writing=True) as client:
            response = client.put(href, data, {**_ICS_HEADERS, "If-Match": _quoted(etag)})
            _require_unchanged(client, response, href)
            return _etag(client, response, href)

    def find_event(self, uid: str) -> tuple[str, str] | None:
        """Where the event with this UID lives on the account's calendars: (href, ETag), or None.

        The user's own interview event is moved in place (same UID, higher SEQUENCE), so it
        must be found first.
        """
        with self._connected(writing=False) as client:
            for info in self._discovered(client):
                calendar = client.calendar(url=info.id)
                try:
                    found = calendar.get_event_by_uid(uid)
                except dav_error.NotFoundError:
                    continue
                href = str(found.url)
                return href, _etag(client, client.request(href, "HEAD"), href)
        return None

    def cancel_event(self, href: str, etag: str) -> None:
        """Remove the event from the calendar if it is unchanged since it was read."""
        with self._connected(writing=True) as client:
            response = client.delete(href, {"If-Match": _quoted(etag)})
            _require_unchanged(client, response, href)

    @contextmanager
    def _connected(self, *, writing: bool) -> Iterator[caldav.DAVClient]:
        """A client for one operation, closed after it; library errors become ProviderErrors."""
        if not self.label:
            raise NotFound(
                "The CalDAV server address must be a full address starting with https://,"
                " such as https://caldav.example.com/."
            )
        client = caldav.DAVClient(
            url=self.url,
            username=self.username,
            password=self._password,
            timeout=self.timeout,
            enable_rfc6764=False,  # the address is given in full: no DNS guessing
        )
        try:
            with _translated(self.label, self.timeout, writing=writing):
                yield client
        finally:
            client.close()

    def _discovered(self, client: caldav.DAVClient) -> list[CalendarInfo]:
        if self._calendars is None:
            self._calendars = _discover(client)
        return self._calendars

    def _busy_calendars(self, client: caldav.DAVClient, notes: list[str]) -> list[CalendarInfo]:
        """The calendars that count as busy, with a note for any chosen one that is gone."""
        calendars = self._discovered(client)
        if self.chosen is None:
            return calendars
        keys = {_path_key(calendar.id) for calendar in calendars}
        notes += [
            f"The calendar {key} is no longer on the CalDAV server; choose your calendars again."
            for key in self.chosen
            if key not in keys
        ]
        return [calendar for calendar in calendars if _path_key(calendar.id) in self.chosen]


def _discover(client: caldav.DAVClient) -> list[CalendarInfo]:
    """The account's event calendars (task lists left out), principal -> home set -> calendars."""
    found = client.principal().get_calendars()
    details = _details(client, found)
    calendars = []
    for calendar in found:
        props = details.get(_path_key(str(calendar.url)), {})
        components = props.get(_COMPONENTS)
        if components and "VEVENT" not in components:
            continue  # a task list: never busy, cannot take an event
        privileges = props.get(_PRIVILEGES)  # unknown: let the server decide on write
        calendars.append(
            CalendarInfo(
                id=str(calendar.url),
                name=props.get(_DISPLAY_NAME) or _last_segment(str(calendar.url)),
                can_write=privileges is None or bool(_WRITE_PRIVILEGES & set(privileges)),
            )
        )
    return calendars


def _details(client: caldav.DAVClient, calendars: list) -> dict[str, dict]:
    """Names, privileges and component types of the calendars: one PROPFIND per parent."""
    details: dict[str, dict] = {}
    parents = dict.fromkeys(urljoin(str(c.url).rstrip("/") + "/", "..") for c in calendars)
    for parent in parents:
        response = client.propfind(parent, props=_DETAILS_QUERY, depth=1)
        for result in getattr(response, "results", None) or []:
            details[_path_key(urljoin(parent, result.href))] = result.properties
    return details


def _parsed(found: list, calendar: str, notes: list[str]) -> list[icalendar.Calendar]:
    """The objects' iCalendar as the server sent it; an unreadable one is skipped with a note."""
    parsed: list[icalendar.Calendar] = []
    for item in found:
        data = item.raw_data or str(item.data or "").encode()
        try:
            parsed += ics_expand.parse(data)
        except ValueError as error:
            name = _last_segment(str(item.url))
            notes.append(f"{calendar}: skipped the unreadable event {name}: {error}.")
    return parsed


def _prepared(ics_bytes: bytes) -> tuple[bytes, str]:
    """The object to store and its UID: one VCALENDAR and UID, no METHOD, client scheduling."""
    try:
        calendars = ics_expand.parse(ics_bytes)
    except ValueError as error:
        raise InvalidCalendar(f"The event to save is not valid iCalendar: {error}.") from None
    events = calendars[0].walk("VEVENT") if len(calendars) == 1 else []
    uids = {str(event.get("UID", "")) for event in events}
    if len(uids) != 1 or "" in uids:
        raise InvalidCalendar(
            "The event to save must be one VCALENDAR whose VEVENTs share one UID."
        )
    calendar = calendars[0]
    calendar.pop("METHOD", None)  # a stored calendar object has no METHOD (RFC 4791 4.1)
    for event in events:
        for name in ("ORGANIZER", "ATTENDEE"):
            for address in values_of(event, name):
                address.params["SCHEDULE-AGENT"] = "CLIENT"
    return calendar.to_ical(), uids.pop()


def _require_unchanged(client: caldav.DAVClient, response, href: str) -> None:
    """Raise Conflict when the If-Match failed because the event changed, NotFound if it is gone."""
    if response.status == 412:
        if client.request(href, "GET").status == 404:
            raise NotFound("The event is no longer on the CalDAV server; it was deleted there.")
        raise Conflict(
            "The event was changed on the calendar server since it was read; read it again"
            " before saving."
        )
    _require_success(response)


def _require_success(response) -> None:
    if not 200 <= response.status < 300:
        raise dav_error.error_from_response(dav_error.DAVError, response)


def _etag(client: caldav.DAVClient, response, href: str) -> str:
    """The stored object's ETag; asked for when the server changed what it stored and says none."""
    etag = response.headers.get("ETag")
    if not etag:
        etag = client.request(href, "GET").headers.get("ETag", "")
    return etag


def _quoted(etag: str) -> str:
    """ETags travel quoted (RFC 9110 8.8.3); accept them bare too."""
    return etag if etag.startswith(('"', "W/")) else f'"{etag}"'


@contextmanager
def _translated(label: str, timeout: float, *, writing: bool) -> Iterator[None]:
    """Turn the library's and the HTTP stack's exceptions into one-sentence ProviderErrors."""
    try:
        yield
    except ProviderError:
        raise
    except dav_error.DAVError as error:
        logger.debug("CalDAV request to %s failed", label, exc_info=True)
        raise _refused(error, label, writing=writing) from None
    except http.exceptions.SSLError:
        raise Unavailable(
            f"No secure connection to {label}: its TLS certificate is not trusted or it does"
            " not speak https."
        ) from None
    except http.exceptions.Timeout:
        raise Unavailable(
            f"The CalDAV server at {label} did not answer within {timeout:g} seconds;"
            " try again later."
        ) from None
    except http.exceptions.RequestException:
        raise Unavailable(
            f"The CalDAV server at {label} cannot be reached; check the address, or try again"
            " later if it is down."
        ) from None
    except etree.LxmlError:
        raise NotFound(
            f"{label} did not answer as a CalDAV server; check the server address."
        ) from None


def _refused(error: dav_error.DAVError, label: str, *, writing: bool) -> ProviderError:
    """The ProviderError for a request the server answered with an error status."""
    status = getattr(error, "status", None)
    preconditions = getattr(error, "preconditions", [])
    if isinstance(error, dav_error.RateLimitError):
        return Unavailable(f"The CalDAV server at {label} is busy; try again in a few minutes.")
    if status == 401:
        return AuthError(AUTH_REFUSED)
    if _NO_UID_CONFLICT in preconditions:
        return Conflict("The calendar already holds an event with this UID; update that event.")
    if preconditions or (writing and status in (400, 415, 422)):
        return InvalidCalendar("The CalDAV server refused the event as invalid calendar data.")
    if status == 403:
        if writing:
            return ProviderError(
                "The CalDAV server does not let this account change that calendar."
            )
        return NotFound(
            f"The CalDAV server at {label} does not let this account read that address;"
            " check the server address."
        )
    if status == 404 or isinstance(error, dav_error.NotFoundError) or (writing and status == 409):
        if writing:  # 409: the calendar to hold the event is missing (RFC 4918 9.7.1)
            return NotFound("The event or its calendar is no longer on the CalDAV server.")
        return NotFound(f"There is no CalDAV calendar at that address on {label}.")
    if status in (405, 501):
        return NotFound(f"{label} is not a CalDAV server; check the server address.")
    if status is None or status >= 500:
        return Unavailable(f"The CalDAV server at {label} failed to answer; try again later.")
    return ProviderError(f"The CalDAV server at {label} refused the request (HTTP {status}).")


def _server_label(url: str) -> str:
    """scheme://host[:port] for messages: never the path's account name or any credentials."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2]}"


def _path_key(url: str) -> str:
    """A collection's identity: its decoded path (servers vary in hosts, slashes and quoting)."""
    return unquote(urlsplit(url).path).rstrip("/")


def _last_segment(url: str) -> str:
    return unquote(url.rstrip("/")).rsplit("/", 1)[-1]
