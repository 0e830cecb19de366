"""An interview that is already in the user's Google calendar: the upcoming events to choose
from, and the chosen one's details for the new-interview form, as a received invite gives them.

The events come from each Google account's calendar for confirmed interviews (its primary one
unless the user chose another), soonest first; only timed events are offered, since an
interview has a time. Choosing one reads the list again rather than trusting what the browser
sends back: the form is filled from what Google says now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app import vault
from app.models import CalendarSource, User
from app.services import accounts, google_accounts
from app.services.interviews import Details, company_and_role
from calendar_providers.base import ProviderError

LOOK_AHEAD = timedelta(days=60)
MOST_SHOWN = 50


@dataclass(frozen=True)
class Upcoming:
    """One event as the list shows it; `choice` names it in the form that picks it."""

    choice: str
    title: str
    start: datetime
    end: datetime
    organiser: str  # their name or address; "" when the user organised it
    account: str


@dataclass(frozen=True)
class Listing:
    """The events to choose from, soonest first, and why an account could not be read."""

    events: tuple[Upcoming, ...]
    notes: tuple[str, ...]


def google_sources(user: User) -> list[CalendarSource]:
    """The user's connected Google accounts (read from the database: no request)."""
    return [source for source in user.calendars if source.kind == accounts.GOOGLE]


def upcoming(user: User, now: datetime, *, secret_key: vault.Keys) -> Listing:
    """The timed events of the next LOOK_AHEAD days, soonest first, at most MOST_SHOWN."""
    found: list[Upcoming] = []
    notes: list[str] = []
    for source in google_sources(user):
        try:
            items = _upcoming_items(source, user, now, secret_key)
        except ProviderError as error:
            notes.append(f"{source.name}: {error}")
            continue
        account = google_accounts.account_of(source)
        found += (_upcoming(source, account, item, user) for item in items)
    found.sort(key=lambda event: event.start)
    return Listing(tuple(found[:MOST_SHOWN]), tuple(notes))


def chosen_details(user: User, choice: str, now: datetime, *, secret_key: vault.Keys) -> Details:
    """The interview form's details from the chosen event (ProviderError says why not)."""
    source_id, _, event_id = choice.partition(":")
    source = next((s for s in google_sources(user) if str(s.id) == source_id), None)
    if source is None:
        raise ProviderError("That Google account is no longer connected.")
    for item in _upcoming_items(source, user, now, secret_key):
        if item["id"] == event_id:
            return details_from_event(item, user)
    raise ProviderError("That event is no longer among your upcoming Google events.")


def details_from_event(item: dict, user: User) -> Details:
    """What a Google event says about the interview.

    The interviewer is the organiser, or the first other guest when the user organised it.
    Their zone is the one the event was written in, else the user's own.
    """
    me = user.email.strip().lower()
    organizer = item.get("organizer", {})
    organised = bool(organizer.get("self")) or organizer.get("email", "").lower() == me
    others = [
        attendee
        for attendee in item.get("attendees", [])
        if not attendee.get("self")
        and not attendee.get("resource")
        and attendee.get("email", "").lower() != me
    ]
    interviewer = next(iter(others), {}) if organised else organizer
    company, role = company_and_role(item.get("summary", ""))
    return Details(
        company=company,
        role=role,
        interviewer_name=interviewer.get("displayName", ""),
        interviewer_email=interviewer.get("email", ""),
        interviewer_tz=_zone_of(item["start"]) or user.time_zone,
        start=_moment(item["start"], user),
        end=_moment(item["end"], user),
        location=item.get("location"),
        meeting_link=_meeting_link(item),
        uid=item.get("iCalUID"),
        sequence=int(item.get("sequence", 0)),
        organised_by_user=organised,
        title=item.get("summary", ""),
    )


def _upcoming_items(
    source: CalendarSource, user: User, now: datetime, secret_key: vault.Keys
) -> list[dict]:
    """The account's upcoming timed events, raw, soonest first (at most MOST_SHOWN).

    A refused grant marks the account for reconnecting, as reading busy time does.
    """
    settings = accounts.settings_of(source)
    calendar_id = settings.get("write_calendar") or settings.get("account", "")
    with google_accounts.refusals_marked(source):
        provider = google_accounts.provider(
            source, user, keys=secret_key, client=accounts.configured_google()
        )
        items = []
        for item in provider.event_items(calendar_id, now, now + LOOK_AHEAD):
            if item.get("status") != "cancelled" and _is_upcoming(item, now, user):
                items.append(item)
                if len(items) == MOST_SHOWN:
                    break
        return items


def _is_upcoming(item: dict, now: datetime, user: User) -> bool:
    """Timed (an all-day event is no interview) and not begun yet."""
    return "dateTime" in item.get("start", {}) and _moment(item["start"], user) >= now


def _upcoming(source: CalendarSource, account: str, item: dict, user: User) -> Upcoming:
    organizer = item.get("organizer", {})
    named = organizer.get("displayName") or organizer.get("email", "")
    return Upcoming(
        choice=f"{source.id}:{item['id']}",
        title=str(item.get("summary", "")).strip() or "(no title)",
        start=_moment(item["start"], user),
        end=_moment(item["end"], user),
        organiser="" if organizer.get("self") else named,
        account=account,
    )


def _moment(value: dict, user: User) -> datetime:
    """A timed start or end; one without an offset is read in its own zone, else the user's."""
    moment = datetime.fromisoformat(value["dateTime"])
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=ZoneInfo(_zone_of(value) or user.time_zone))
    return moment


def _zone_of(value: dict) -> str:
    """The IANA zone the time was written in, or "" when Google does not say (or says nonsense)."""
    key = value.get("timeZone", "")
    try:
        return key if key and ZoneInfo(key) else ""
    except (ZoneInfoNotFoundError, ValueError):
        return ""


def _meeting_link(item: dict) -> str | None:
    """The Meet link, or the video entry point of another conference add-on."""
    if item.get("hangoutLink"):
        return item["hangoutLink"]
    entry_points = item.get("conferenceData", {}).get("entryPoints", [])
    video = next((e for e in entry_points if e.get("entryPointType") == "video"), None)
    return video.get("uri") if video else None
