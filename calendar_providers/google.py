"""Google Calendar: busy time from free/busy, the day's named events, and writing events.

Reading: `busy()` asks freebusy.query (one request per 50 calendars and 60 days), which is cheap
but carries no titles, statuses or all-day flags, and places all-day events in each calendar's
own zone. `events()` reads events.list, recurrences expanded by Google, for a short window such
as the interview's day: named events under the same busy rules as an .ics file, all-day events
in the user's zone, and the interview itself recognisable by its iCalUID. `events_by_calendar()`
keeps each calendar's events or error apart, so a calendar that cannot be listed can fall back
to its free/busy blocks; `event_items()` hands out raw events (to pick the interview from).

Writing: events carry an id chosen here (`event_id_for`), so an insert retried after a lost
answer finds the event it made instead of making a second one. `send_updates` decides whom Google
emails: with "all", Google sends the invitation itself, so Newslot must not send its own.

Credentials: only {token, refresh_token, expiry, scopes} are kept, and the token endpoint comes
from configuration. google-auth refreshes an expired or refused token; `on_token_refresh` then
receives the new info to store, the refresh token kept when Google omits it. No token ever goes
into a message or a log. One provider per thread: httplib2 is not thread-safe.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httplib2
from google.auth import exceptions as auth_errors
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from app.scheduling.intervals import merge
from app.scheduling.model import BUSY, TENTATIVE, BusyEvent, require_aware
from calendar_providers.base import (
    AuthError,
    BusyReport,
    CalendarInfo,
    CalendarProvider,
    Conflict,
    NotFound,
    ProviderError,
    Unavailable,
)
from calendar_providers.google_errors import (
    refresh_refused,
    refused,
    unreachable,
)

logger = logging.getLogger(__name__)

GOOGLE_API = "https://www.googleapis.com"
# 5xx, 429, rate-limit 403s and timeouts are retried with backoff by googleapiclient. With the
# default 10-second timeout a Google that does not answer costs a page at most ~40 s, once a
# minute (services/account_answers), never a hang.
RETRIES = 2
MAX_FREEBUSY_CALENDARS = 50
MAX_FREEBUSY_SPAN = timedelta(days=60)
# Google filters all-day events in the calendar's zone: ask a day wider, keep what overlaps.
_QUERY_SLACK = timedelta(days=1)
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
MAX_DELETED_IDS = 5  # ids of deleted events stepped over before giving up
# The private extended property that keeps the UID Newslot gave an event it wrote: an event
# inserted under our own id gets an iCalUID of Google's making.
NEWSLOT_UID = "newslotUid"
WRITERS = frozenset({"owner", "writer"})  # access roles that may add events
# What a call needs, in the words of Google's consent screen (for "permission to ..." messages).
SEE_CALENDARS = "see the list of your calendars"
SEE_BUSY = "see when your calendars are busy"
SEE_EVENTS = "see the events on your calendars"
CHANGE_EVENTS = "add and change events on your calendars"
_FREEBUSY_PROBLEMS = {
    "notFound": "it does not exist or is no longer shared with this Google account",
    "internalError": "Google had an internal error; try again later",
    "backendError": "Google had an internal error; try again later",
    "groupTooBig": "it is a group too large to ask about at once",
    "tooManyCalendarsRequested": "too many calendars were asked about at once",
}


def event_id_for(key: str) -> str:
    """A Google event id (base32hex) derived from a stable key such as the invitation's UID.

    The same key always gives the same id, which is what makes a retried insert harmless.
    """
    digest = hashlib.sha256(key.encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


class GoogleProvider(CalendarProvider):
    """One Google account; `calendars` are the ones that count as busy.

    `calendars`: {id: name} of the chosen calendars (busy() then costs one request), a list of
    ids (names read from the calendar list), or None for the calendars selected in Google.
    `me` is another address of the user's, to tell invitations they declined where Google does
    not mark the attendee as the account itself.
    """

    name = "google"
    can_write = True
    can_freebusy = True

    def __init__(
        self,
        credentials_info: Mapping[str, Any],
        *,
        client_id: str,
        client_secret: str,
        token_uri: str,
        api_base: str = GOOGLE_API,
        calendars: Mapping[str, str] | Sequence[str] | None = None,
        me: str | None = None,
        on_token_refresh: Callable[[dict], None] | None = None,
        timeout: float = 10,
    ) -> None:
        self._credentials = Credentials(
            credentials_info.get("token"),
            refresh_token=credentials_info.get("refresh_token"),
            token_uri=token_uri,
            client_id=client_id,
            client_secret=client_secret,
            scopes=credentials_info.get("scopes"),
            expiry=_library_expiry(credentials_info.get("expiry")),
        )
        self._refresh_token = credentials_info.get("refresh_token")
        self._reported_token = self._credentials.token
        self._on_token_refresh = on_token_refresh
        self.api_base = api_base.rstrip("/")
        self.chosen = dict(calendars) if isinstance(calendars, Mapping) else calendars
        self.me = me.strip().lower() if me else None
        self.timeout = timeout
        self._service: Any = None
        self._entries: list[dict] | None = None

    @property
    def credentials_info(self) -> dict:
        """The credentials to store, as they are now (after any refresh)."""
        credentials = self._credentials
        expiry = credentials.expiry  # naive UTC, as google-auth keeps it
        return {
            "token": credentials.token,
            "refresh_token": credentials.refresh_token or self._refresh_token,
            "expiry": expiry.replace(tzinfo=UTC).isoformat() if expiry else None,
            "scopes": list(credentials.granted_scopes or credentials.scopes or []),
        }

    # Reading

    def list_calendars(self) -> list[CalendarInfo]:
        """The account's calendar list, the primary calendar first."""
        return [
            CalendarInfo(entry["id"], entry_name(entry), entry.get("accessRole") in WRITERS)
            for entry in self._calendar_list()
        ]

    def calendar_entries(self) -> list[dict]:
        """The calendar list as Google gives it (primary, selected, hidden, timeZone...)."""
        return [dict(entry) for entry in self._calendar_list()]

    def busy(
        self,
        start: datetime,
        end: datetime,
        tz: ZoneInfo,
        calendar_ids: Collection[str] | None = None,
    ) -> BusyReport:
        """Busy blocks from free/busy: titled "Busy", merged per calendar, never tentative.

        `calendar_ids` narrows the read to some of the chosen calendars (those whose events
        could not be listed, read again as blocks).
        """
        require_aware(start, "window start")
        require_aware(end, "window end")
        calendars = self._busy_calendars()
        if calendar_ids is not None:
            calendars = {key: name for key, name in calendars.items() if key in calendar_ids}
        blocks: dict[str, list[tuple[datetime, datetime]]] = {key: [] for key in calendars}
        notes: dict[str, None] = {}  # ordered and without repeats across chunks
        for group in _batches(list(calendars), MAX_FREEBUSY_CALENDARS):
            for first, last in _spans(start, end, MAX_FREEBUSY_SPAN):
                body = {
                    "timeMin": first.isoformat(),
                    "timeMax": last.isoformat(),
                    "timeZone": tz.key,
                    "items": [{"id": calendar_id} for calendar_id in group],
                }
                answer = self._execute(self._api().freebusy().query(body=body), SEE_BUSY)
                for calendar_id in group:
                    found = answer.get("calendars", {}).get(calendar_id, {})
                    if found.get("errors"):
                        notes[_freebusy_note(calendars[calendar_id], found["errors"])] = None
                    blocks[calendar_id] += (
                        (
                            datetime.fromisoformat(block["start"]),
                            datetime.fromisoformat(block["end"]),
                        )
                        for block in found.get("busy", [])
                    )
        events = [
            BusyEvent(
                uid=f"freebusy:{calendar_id}:{block_start.astimezone(UTC):%Y%m%dT%H%M%SZ}",
                summary="Busy",
                start=block_start.astimezone(tz),
                end=block_end.astimezone(tz),
                calendar=calendars[calendar_id],
            )
            for calendar_id, found in blocks.items()
            for block_start, block_end in merge(found)
            if block_start < end and block_end > start
        ]
        events.sort(key=lambda event: (event.start, event.end, event.uid))
        return BusyReport(tuple(events), tuple(notes))

    def events(self, start: datetime, end: datetime, tz: ZoneInfo) -> BusyReport:
        """The named events overlapping [start, end): one events.list (paged) per calendar.

        A chosen calendar that is gone is a note; any other error is raised.
        """
        names = self._busy_calendars()
        events: list[BusyEvent] = []
        notes: list[str] = []
        for calendar_id, outcome in self.events_by_calendar(start, end, tz).items():
            if isinstance(outcome, NotFound):
                notes.append(
                    f"The Google calendar {names[calendar_id]} is gone or no longer shared with"
                    " this account; choose your calendars again."
                )
            elif isinstance(outcome, ProviderError):
                raise outcome
            else:
                events += outcome.events
        events.sort(key=lambda event: (event.start, event.end, event.uid))
        return BusyReport(tuple(events), tuple(notes))

    def events_by_calendar(
        self, start: datetime, end: datetime, tz: ZoneInfo
    ) -> dict[str, BusyReport | ProviderError]:
        """Each chosen calendar's named events overlapping [start, end), or why that calendar
        could not be listed (gone, or shared for free/busy only), so the others still count.

        A refused grant (AuthError) or Google failing to answer (Unavailable) is raised at once:
        every calendar would fail alike, and each try costs retries.
        """
        require_aware(start, "window start")
        require_aware(end, "window end")
        found: dict[str, BusyReport | ProviderError] = {}
        for calendar_id, calendar_name in self._busy_calendars().items():
            listing = self._api().events().list
            try:
                items = list(
                    self._items(
                        listing,
                        SEE_EVENTS,
                        calendarId=calendar_id,
                        timeMin=(start - _QUERY_SLACK).isoformat(),
                        timeMax=(end + _QUERY_SLACK).isoformat(),
                        singleEvents=True,
                        orderBy="startTime",
                        maxResults=2500,
                    )
                )
            except (AuthError, Unavailable):
                raise
            except ProviderError as error:
                found[calendar_id] = error
                continue
            events = [
                event
                for item in items
                if (event := _busy_event(item, calendar_name, tz, self.me)) is not None
                and event.start < end
                and event.end > start
            ]
            events.sort(key=lambda event: (event.start, event.end, event.uid))
            found[calendar_id] = BusyReport(tuple(events))
        return found

    def event_items(self, calendar_id: str, start: datetime, end: datetime) -> Iterator[dict]:
        """One calendar's events overlapping [start, end) as Google gives them, soonest first,
        recurrences expanded; pages are asked for as the caller reads on (stop early to ask less).
        """
        require_aware(start, "window start")
        require_aware(end, "window end")
        return self._items(
            self._api().events().list,
            SEE_EVENTS,
            calendarId=calendar_id,
            timeMin=start.isoformat(),
            timeMax=end.isoformat(),
            singleEvents=True,
            orderBy="startTime",
            maxResults=250,
        )

    # Writing

    def create_event(
        self, calendar_id: str, event: dict, *, event_id: str, send_updates: str = "none"
    ) -> dict:
        """Insert the event under our own id; if that id is already taken (a retry whose first
        answer was lost, or a second confirm), the event already there is returned.

        Google keeps a deleted event's id for good: when the event under `event_id` was deleted
        on the calendar, the next id of a fixed chain (`event_id_for` of the id) is used, so a
        retry still finds the event the first try made. The stored event's `id` says which.
        """
        if not _EVENT_ID.fullmatch(event_id):
            raise ValueError(f"a Google event id is 5-1024 characters of a-v and 0-9: {event_id!r}")
        api = self._api().events()
        for _ in range(MAX_DELETED_IDS + 1):
            request = api.insert(
                calendarId=calendar_id, body={**event, "id": event_id}, sendUpdates=send_updates
            )
            try:
                return self._execute(request, CHANGE_EVENTS, writing=True)
            except Conflict:
                pass  # the id is taken: fetch the event holding it
            existing = self._execute(
                api.get(calendarId=calendar_id, eventId=event_id), SEE_EVENTS, writing=True
            )
            if existing.get("status") != "cancelled":
                return existing
            event_id = event_id_for(event_id)
        raise Conflict(
            "This event was made and deleted on the Google calendar too many times to be made"
            " again; add it by hand."
        )

    def update_event(self, calendar_id: str, event_id: str, patch: dict, send_updates: str) -> dict:
        """Change only the given fields of the event (events.patch); the event as stored."""
        request = (
            self._api()
            .events()
            .patch(calendarId=calendar_id, eventId=event_id, body=patch, sendUpdates=send_updates)
        )
        return self._execute(request, CHANGE_EVENTS, writing=True)

    def cancel_event(self, calendar_id: str, event_id: str, send_updates: str) -> None:
        """Delete the event; one that is already gone (404 or 410) is fine."""
        request = (
            self._api()
            .events()
            .delete(calendarId=calendar_id, eventId=event_id, sendUpdates=send_updates)
        )
        try:
            self._execute(request, CHANGE_EVENTS, writing=True)
        except NotFound:
            logger.info("The Google event to delete was already gone.")

    def event(self, calendar_id: str, event_id: str) -> dict:
        """One event as stored now (a deleted one comes back with status "cancelled")."""
        request = self._api().events().get(calendarId=calendar_id, eventId=event_id)
        return self._execute(request, SEE_EVENTS, writing=True)

    def events_with_uid(self, calendar_id: str, uid: str) -> list[dict]:
        """The calendar's events with this iCalUID (a recurring one as its series), not deleted."""
        listing = self._api().events().list
        return list(self._items(listing, SEE_EVENTS, calendarId=calendar_id, iCalUID=uid))

    # Plumbing

    def _api(self) -> Any:
        """The Calendar client, built once (no HTTP: the discovery document ships inside)."""
        if self._service is None:
            self._service = build(
                "calendar",
                "v3",
                http=self.authorized_http(),
                client_options={"api_endpoint": f"{self.api_base}/calendar/v3/"},
                static_discovery=True,
                cache_discovery=False,
            )
        return self._service

    def _execute(self, request: Any, needs: str, *, writing: bool = False) -> Any:
        """Run one API request with retries; errors become one-sentence ProviderErrors."""
        try:
            return request.execute(num_retries=RETRIES)
        except HttpError as error:
            raise refused(error, needs, writing=writing) from None
        except auth_errors.RefreshError as error:
            raise refresh_refused(error) from None
        except (auth_errors.TransportError, httplib2.HttpLib2Error, OSError) as error:
            raise unreachable(error, self.timeout) from None
        finally:
            self.report_refresh()

    def _items(self, method: Callable, needs: str, **params: Any) -> Iterator[dict]:
        """Every item of a paged list, page after page."""
        page_token = None
        while True:
            page = self._execute(method(pageToken=page_token, **params), needs)
            yield from page.get("items", [])
            page_token = page.get("nextPageToken")
            if not page_token:
                return

    def _calendar_list(self) -> list[dict]:
        if self._entries is None:
            listing = self._api().calendarList().list
            self._entries = list(self._items(listing, SEE_CALENDARS, maxResults=250))
        return self._entries

    def _busy_calendars(self) -> dict[str, str]:
        """{id: name} of the calendars that count as busy."""
        if isinstance(self.chosen, dict):
            return dict(self.chosen)
        entries = self._calendar_list()
        if self.chosen is None:
            return {entry["id"]: entry_name(entry) for entry in entries if shown_by_default(entry)}
        names = {entry["id"]: entry_name(entry) for entry in entries}
        return {calendar_id: names.get(calendar_id, calendar_id) for calendar_id in self.chosen}

    def authorized_http(self) -> AuthorizedHttp:
        """A fresh HTTP client that signs requests with this account's token, refreshing it when
        Google refuses it; for another Google API (Gmail). Call `report_refresh` after using it."""
        return AuthorizedHttp(self._credentials, http=httplib2.Http(timeout=self.timeout))

    def report_refresh(self) -> None:
        """Hand new credentials to the owner once google-auth has refreshed them."""
        if self._credentials.token == self._reported_token:
            return
        self._reported_token = self._credentials.token
        if self._on_token_refresh is not None:
            self._on_token_refresh(self.credentials_info)


def _busy_event(item: dict, calendar: str, tz: ZoneInfo, me: str | None) -> BusyEvent | None:
    """The event as busy time, or None when it leaves the user free (the rules of busy_rules)."""
    if item.get("status") == "cancelled" or item.get("transparency") == "transparent":
        return None
    if item.get("eventType") == "workingLocation":  # where the user works, not a meeting
        return None
    response = _my_response(item, me)
    if response == "declined":
        return None
    start, all_day = _moment(item["start"], tz)
    end, _ = _moment(item["end"], tz)
    if end <= start:
        return None
    tentative = response == "tentative" or item.get("status") == "tentative"
    return BusyEvent(
        uid=newslot_uid(item) or item.get("iCalUID") or item["id"],
        summary=str(item.get("summary", "")).strip() or "(no title)",
        start=start,
        end=end,
        status=TENTATIVE if tentative else BUSY,
        calendar=calendar,
        all_day=all_day,
    )


def newslot_uid(item: dict) -> str | None:
    """The UID Newslot gave the event when it wrote it; None for any other event."""
    return item.get("extendedProperties", {}).get("private", {}).get(NEWSLOT_UID)


def _my_response(item: dict, me: str | None) -> str | None:
    """The user's own answer to the invitation: Google marks it `self`, else `me`'s address."""
    attendees = item.get("attendees", [])
    mine = [a for a in attendees if a.get("self")] or [
        a for a in attendees if me and str(a.get("email", "")).lower() == me
    ]
    return mine[0].get("responseStatus") if mine else None


def _moment(value: dict, tz: ZoneInfo) -> tuple[datetime, bool]:
    """A start or end in the user's zone, and whether it is a date (all-day, read in `tz`)."""
    if "date" in value:
        day = date.fromisoformat(value["date"])
        return datetime(day.year, day.month, day.day, tzinfo=tz), True
    moment = datetime.fromisoformat(value["dateTime"])
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=ZoneInfo(value.get("timeZone") or tz.key))
    return moment.astimezone(tz), False


def shown_by_default(entry: dict) -> bool:
    """Whether Google shows the calendar in the user's list: the primary one, or a selected one
    that is not hidden (what counts as busy until the user chooses)."""
    return bool(entry.get("primary") or (entry.get("selected") and not entry.get("hidden")))


def entry_name(entry: dict) -> str:
    """The calendar's name as the user sees it in Google Calendar."""
    return entry.get("summaryOverride") or entry.get("summary") or entry["id"]


def _freebusy_note(calendar: str, errors: list[dict]) -> str:
    reason = str(errors[0].get("reason", ""))
    problem = _FREEBUSY_PROBLEMS.get(reason, f"Google reported {reason or 'an unnamed error'}")
    return f"Google could not give the busy times of {calendar}: {problem}."


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def _spans(
    start: datetime, end: datetime, longest: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into pieces no longer than `longest` in elapsed time (UTC arithmetic)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    while start < end:
        stop = min(start + longest, end)
        yield start, stop
        start = stop


def _library_expiry(value: str | datetime | None) -> datetime | None:
    """The stored expiry as google-auth compares it: naive UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.utcoffset() is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
