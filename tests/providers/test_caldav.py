"""The CalDAV provider against a real Radicale server on 127.0.0.1.

The server is seeded over plain HTTP with the fixture calendars and a few real-world files from
the shared corpus (one object per UID), so every busy answer can be checked against the ICS
provider reading the very same files.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import icalendar
import pytest

from calendar_providers import ics_expand
from calendar_providers.base import (
    AuthError,
    Conflict,
    InvalidCalendar,
    NotFound,
    ProviderError,
    Unavailable,
)
from calendar_providers.caldav import AUTH_REFUSED, CaldavProvider
from calendar_providers.ics import IcsProvider
from tests.conftest import CORPUS, FIXTURES
from tests.providers.contract import BERLIN, NEW_YORK, ProviderContract, at
from tests.providers.radicale_server import PASSWORD, USER, Radicale, free_port, running_radicale
from tests.unit.feed_server import FeedServer

# fixture file -> (collection name, display name); busy_semantics.ics calls itself "Work"
FIXTURE_CALENDARS = {
    "busy_semantics.ics": ("work", "Work"),
    "recurrence.ics": ("recurrence", "Recurrence"),
}
CHICAGO = ZoneInfo("America/Chicago")
# corpus file, first day and zone of a 90-day window holding several of its events
CORPUS_WINDOWS = [
    ("rie__issue_48_dst.ics", date(2020, 9, 14), CHICAGO),  # weekly, EXDATEs, DST end
    ("ical__apple_ical.ics", date(2022, 9, 11), BERLIN),
    ("rie__issue_62_moved_event_2.ics", date(2023, 8, 7), BERLIN),  # a moved occurrence
    ("rie__issue_20_exdate_ignored.ics", date(2019, 10, 14), BERLIN),  # DURATION, UTC EXDATEs
    ("rie__issue_18_cancel_status.ics", date(2020, 1, 27), BERLIN),  # a cancelled occurrence
    ("rie__issue_36_recurrence_ID_format.ics", date(2020, 9, 6), NEW_YORK),
    ("nodeical__tentative-apple-calendar.ics", date(2022, 7, 3), BERLIN),
    ("icaljs__multiple_rrules.ics", date(2012, 3, 25), NEW_YORK),
    ("ical__office_356_custom_timezone.ics", date(2024, 5, 1), BERLIN),
    ("xwr__single-events-DTSTART-DTEND.in.ics", date(2021, 12, 21), BERLIN),  # X-WR-TIMEZONE
]
EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Newslot tests//EN
METHOD:REQUEST
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:interview-{n}@newslot.test
DTSTAMP:20260301T090000Z
DTSTART;TZID=Europe/Berlin:20260316T{hour}0000
DTEND;TZID=Europe/Berlin:20260316T{end}0000
SEQUENCE:{sequence}
SUMMARY:Interview
ORGANIZER;CN=Me:mailto:me@example.org
ATTENDEE;CN=Recruiter;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:recruiter@example.com
ATTENDEE;CN=Me;PARTSTAT=ACCEPTED:mailto:me@example.org
END:VEVENT
END:VCALENDAR
"""
_numbers = count()


@pytest.fixture(scope="module")
def radicale(tmp_path_factory) -> Iterator[Radicale]:
    with running_radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture(scope="module")
def seeded(radicale) -> dict[str, str]:
    """Fixture and corpus file name -> the URL of the calendar holding its events."""
    urls = {
        name: radicale.seed(slug, title, (FIXTURES / "ics" / name).read_bytes())
        for name, (slug, title) in FIXTURE_CALENDARS.items()
    }
    for number, (name, _, _) in enumerate(CORPUS_WINDOWS):
        data = (CORPUS / name).read_bytes()
        urls[name] = radicale.seed(f"corpus-{number}", Path(name).stem, data)
    return urls


def provider_for(radicale: Radicale, **options) -> CaldavProvider:
    return CaldavProvider(radicale.url, USER, PASSWORD, **options)


def event(sequence: int = 0, hour: int = 10, n: int | None = None) -> bytes:
    return EVENT.format(
        n=next(_numbers) if n is None else n, hour=hour, end=hour + 1, sequence=sequence
    ).encode()


def comparable(events) -> list[tuple]:
    """What both providers must agree on (the calendar's name comes from different places)."""
    return sorted(
        (e.uid, e.start.timestamp(), e.end.timestamp(), e.status, e.all_day, e.summary)
        for e in events
    )


class TestCaldavContract(ProviderContract):
    @pytest.fixture
    def serve(self, radicale, seeded):
        return lambda name, me=None: provider_for(radicale, me=me, calendars=[seeded[name]])

    @pytest.fixture
    def unreachable(self):
        return CaldavProvider(f"http://127.0.0.1:{free_port()}/", USER, PASSWORD)


@pytest.fixture
def scratch(radicale) -> str:
    """A new, empty calendar for a test that writes."""
    number = next(_numbers)
    return radicale.make_calendar(f"scratch-{number}", f"Scratch {number}")


# Reading


@pytest.mark.parametrize("name", list(FIXTURE_CALENDARS))
def test_same_busy_time_as_the_ics_provider_on_the_fixtures(radicale, seeded, name):
    window = (at(NEW_YORK, 2026, 2, 20), at(NEW_YORK, 2026, 6, 1), NEW_YORK)
    path = str(FIXTURES / "ics" / name)
    from_file = IcsProvider(path, me="me@example.org").busy(*window)
    from_server = provider_for(radicale, me="me@example.org", calendars=[seeded[name]]).busy(
        *window
    )
    assert from_server.events and comparable(from_server.events) == comparable(from_file.events)


@pytest.mark.parametrize(("name", "first_day", "zone"), CORPUS_WINDOWS, ids=lambda v: str(v))
def test_same_busy_time_as_the_ics_provider_on_real_world_files(
    radicale, seeded, name, first_day, zone
):
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone)
    window = (start, start + timedelta(days=90), zone)
    from_file = IcsProvider(str(CORPUS / name)).busy(*window)
    from_server = provider_for(radicale, calendars=[seeded[name]]).busy(*window)
    assert from_server.events, "the window should hold events, or the comparison proves nothing"
    assert comparable(from_server.events) == comparable(from_file.events)
    assert {event.calendar for event in from_server.events} == {Path(name).stem}


def test_discovery_lists_the_event_calendars_and_leaves_task_lists_out(radicale, seeded):
    radicale.make_calendar("chores", "Chores", components=("VTODO",))
    calendars = {info.name: info for info in provider_for(radicale).list_calendars()}
    assert {"Work", "Recurrence", "rie__issue_48_dst"} <= set(calendars)
    assert "Chores" not in calendars
    work = calendars["Work"]
    assert work.id == seeded["busy_semantics.ics"] and work.can_write


def test_choosing_calendars_limits_busy_time(radicale, seeded):
    window = (at(NEW_YORK, 2026, 3, 1), at(NEW_YORK, 2026, 3, 14), NEW_YORK)
    everything = provider_for(radicale).busy(*window)
    work_only = provider_for(radicale, calendars=[seeded["busy_semantics.ics"]]).busy(*window)
    assert {"Work", "Recurrence"} <= {event.calendar for event in everything.events}
    assert {event.calendar for event in work_only.events} == {"Work"}
    assert set(work_only.events) < set(everything.events)


def test_a_chosen_calendar_that_is_gone_is_noted(radicale, seeded):
    gone = radicale.calendar_url("deleted-long-ago")
    report = provider_for(radicale, calendars=[seeded["recurrence.ics"], gone]).busy(
        at(NEW_YORK, 2026, 3, 1), at(NEW_YORK, 2026, 3, 14), NEW_YORK
    )
    assert {event.uid for event in report.events} == {"weekly@test"}
    [note] = report.notes
    assert "deleted-long-ago is no longer on the CalDAV server" in note


def test_an_unreadable_object_is_skipped_with_a_note(radicale, seeded, monkeypatch):
    # Radicale only serves objects it could parse, so the parser is made to choke on one.
    parse = ics_expand.parse

    def choke_on_the_opaque_meeting(data: bytes):
        if b"UID:opaque@test" in data:
            raise ValueError("line 7 is garbled")
        return parse(data)

    monkeypatch.setattr(ics_expand, "parse", choke_on_the_opaque_meeting)
    report = provider_for(radicale, calendars=[seeded["busy_semantics.ics"]]).busy(
        at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 14), BERLIN
    )
    uids = {event.uid for event in report.events}
    assert "opaque@test" not in uids and "tentative@test" in uids
    [note] = report.notes
    assert note.startswith("Work: skipped the unreadable event ") and "line 7 is garbled" in note


# Writing


def get(radicale: Radicale, href: str) -> tuple[int, str, icalendar.Event | None]:
    status, headers, body = radicale.request("GET", href)
    if status != 200:
        return status, "", None
    return status, headers["ETag"], icalendar.Calendar.from_ical(body).walk("VEVENT")[0]


def test_create_puts_the_event_with_client_scheduling(radicale, scratch):
    provider = provider_for(radicale)
    href, etag = provider.create_event(scratch, event(n=1))
    status, stored_etag, stored = get(radicale, href)
    assert status == 200 and etag == stored_etag
    assert str(stored["UID"]) == "interview-1@newslot.test"
    assert href.startswith(scratch)
    attendees = [*stored["ATTENDEE"], stored["ORGANIZER"]]
    assert [address.params["SCHEDULE-AGENT"] for address in attendees] == ["CLIENT"] * 3
    status, _, body = radicale.request("GET", href)
    assert b"METHOD" not in body  # a stored object carries no iTIP method
    busy = provider_for(radicale, calendars=[scratch]).busy(
        at(BERLIN, 2026, 3, 16), at(BERLIN, 2026, 3, 17), BERLIN
    )
    assert [(e.uid, e.start) for e in busy.events] == [
        ("interview-1@newslot.test", at(BERLIN, 2026, 3, 16, 10))
    ]


def test_creating_the_same_event_twice_is_a_conflict(radicale, scratch):
    provider = provider_for(radicale)
    provider.create_event(scratch, event(n=2))
    with pytest.raises(Conflict, match="already holds this event"):
        provider.create_event(scratch, event(n=2))


def test_update_with_the_current_etag_replaces_the_event(radicale, scratch):
    provider = provider_for(radicale)
    href, etag = provider.create_event(scratch, event(n=3))
    new_etag = provider.update_event(href, event(sequence=1, hour=14, n=3), etag)
    _, stored_etag, stored = get(radicale, href)
    assert new_etag == stored_etag != etag
    assert stored["SEQUENCE"] == 1 and stored["DTSTART"].dt == at(BERLIN, 2026, 3, 16, 14)
    assert str(stored["UID"]) == "interview-3@newslot.test"


def test_find_event_locates_an_event_by_uid_across_the_calendars(radicale, scratch):
    provider = provider_for(radicale)
    href, etag = provider.create_event(scratch, event(n=6))
    assert provider.find_event("interview-6@newslot.test") == (href, etag)
    assert provider.find_event("nobody@newslot.test") is None


def test_update_with_a_stale_etag_is_a_conflict_and_changes_nothing(radicale, scratch):
    provider = provider_for(radicale)
    href, stale = provider.create_event(scratch, event(n=4))
    current = provider.update_event(href, event(sequence=1, hour=14, n=4), stale)
    before = radicale.request("GET", href)[2]
    with pytest.raises(Conflict, match="changed on the calendar server since it was read"):
        provider.update_event(href, event(sequence=2, hour=16, n=4), stale)
    assert radicale.request("GET", href)[2] == before
    assert get(radicale, href)[1] == current


def test_cancel_removes_the_event_only_when_unchanged(radicale, scratch):
    provider = provider_for(radicale)
    href, stale = provider.create_event(scratch, event(n=5))
    current = provider.update_event(href, event(sequence=1, n=5), stale)
    with pytest.raises(Conflict):
        provider.cancel_event(href, stale)
    assert get(radicale, href)[0] == 200
    provider.cancel_event(href, current.strip('"'))  # a bare ETag is accepted too
    assert get(radicale, href)[0] == 404
    with pytest.raises(NotFound):
        provider.cancel_event(href, current)
    with pytest.raises(NotFound, match="no longer on the CalDAV server"):
        provider.update_event(href, event(sequence=2, n=5), current)


def test_etag_is_asked_for_when_the_server_does_not_return_one(radicale, scratch, monkeypatch):
    put = caldav.DAVClient.put

    def put_without_etag(self, *args, **kwargs):
        response = put(self, *args, **kwargs)
        response.headers = {k: v for k, v in response.headers.items() if k.lower() != "etag"}
        return response

    monkeypatch.setattr(caldav.DAVClient, "put", put_without_etag)
    href, etag = provider_for(radicale).create_event(scratch, event())
    assert etag and etag == get(radicale, href)[1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a calendar", "not valid iCalendar"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "share one UID"),
    ],
)
def test_bad_event_data_is_refused_before_sending(radicale, scratch, data, message):
    with pytest.raises(InvalidCalendar, match=message):
        provider_for(radicale).create_event(scratch, data)
    stored = provider_for(radicale, calendars=[scratch]).busy(
        at(BERLIN, 2026, 1, 1), at(BERLIN, 2027, 1, 1), BERLIN
    )
    assert stored.events == ()


def test_event_data_the_server_rejects_is_invalid_calendar(radicale, scratch):
    no_start = event().replace(b"DTSTART;TZID=Europe/Berlin:20260316T100000\n", b"")
    with pytest.raises(InvalidCalendar, match="refused the event as invalid calendar data"):
        provider_for(radicale).create_event(scratch, no_start)


def test_writing_where_the_account_may_not_or_to_a_missing_calendar(radicale):
    provider = provider_for(radicale)
    with pytest.raises(ProviderError, match="does not let this account change that calendar"):
        provider.create_event(f"{radicale.url}someone-else/calendar/", event())
    with pytest.raises(NotFound, match="calendar is no longer on the CalDAV server"):
        provider.create_event(radicale.calendar_url("never-made"), event())


# Errors


@pytest.mark.parametrize(
    ("where", "expected", "message"),
    [
        ("wrong password", AuthError, AUTH_REFUSED),
        ("closed port", Unavailable, "cannot be reached"),
        ("unknown path", NotFound, "There is no CalDAV calendar at that address"),
        ("another account's path", NotFound, "does not let this account read that address"),
        ("https to a plain port", Unavailable, "No secure connection"),
        ("not a CalDAV server", NotFound, "is not a CalDAV server"),
        ("not a full address", NotFound, "must be a full address starting with https://"),
    ],
)
def test_connection_errors_are_one_clear_sentence_without_the_password(
    radicale, where, expected, message
):
    with FeedServer() as feed:
        url, password = {
            "wrong password": (radicale.url, "wrong-" + PASSWORD),
            "closed port": (f"http://127.0.0.1:{free_port()}/", PASSWORD),
            "unknown path": (f"{radicale.url}{USER}/no-such-calendar/", PASSWORD),
            "another account's path": (f"{radicale.url}someone-else/", PASSWORD),
            "https to a plain port": (radicale.url.replace("http://", "https://"), PASSWORD),
            "not a CalDAV server": (feed.url("/dav/"), PASSWORD),  # no PROPFIND there
            "not a full address": ("caldav.example.com", PASSWORD),
        }[where]
        provider = CaldavProvider(url, USER, password, timeout=5)
        started = time.monotonic()
        with pytest.raises(expected) as raised:
            provider.list_calendars()
    assert time.monotonic() - started < 2
    text = str(raised.value)
    assert text == message if expected is AuthError else message in text
    assert "\n" not in text and PASSWORD not in text and password not in text
    assert password not in repr(provider)


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections (backlog) but never replies
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        provider = CaldavProvider(url, USER, PASSWORD, timeout=0.3)
        with pytest.raises(Unavailable, match=r"did not answer within 0\.3 seconds"):
            provider.busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 2), BERLIN)


def test_wrong_password_on_write_is_an_auth_error(radicale, scratch):
    provider = CaldavProvider(radicale.url, USER, "not-it")
    with pytest.raises(AuthError, match="refused the user name or app-specific password"):
        provider.create_event(scratch, event())
