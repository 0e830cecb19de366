"""The Google provider against a fake Google on 127.0.0.1, driven by the real client libraries.

google-auth, httplib2 and the discovery-built Calendar client speak HTTP to
tests/fakes/google_server.py, seeded with the fixture calendars the ICS provider reads (converted
to the JSON Google serves), so busy answers are checked against the ICS provider on the same data.
Accounts matter as at Google: it marks the asking account's own attendee entry `self`, so
"declined by me" is served to the account me@example.org and "declined by someone" to a colleague
who shares the calendar.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import googleapiclient.http
import pytest

from app.scheduling.model import BusyEvent
from calendar_providers.base import (
    AuthError,
    InvalidCalendar,
    NotFound,
    ProviderError,
    Unavailable,
)
from calendar_providers.google import RETRIES, GoogleProvider, event_id_for
from calendar_providers.google_errors import RECONNECT
from calendar_providers.ics import IcsProvider
from tests.conftest import FIXTURES
from tests.fakes.google_server import (
    ALL_SCOPES,
    CALENDAR_LIST_SCOPE,
    CLIENT_ID,
    CLIENT_SECRET,
    EVENTS_SCOPE,
    FREEBUSY_SCOPE,
    MAX_FREEBUSY_CALENDARS,
    MAX_FREEBUSY_SPAN,
    FakeGoogle,
    events_from_ics,
)
from tests.providers.contract import BERLIN, ME, NEW_YORK, ProviderContract, at
from tests.providers.radicale_server import free_port

COLLEAGUE = "colleague@example.org"
WORK = "work-fixture@group.calendar.google.com"
RECURRENCE = "recurrence-fixture@group.calendar.google.com"
# fixture file -> (calendar id, name, the calendar's own zone)
FIXTURE_CALENDARS = {
    "busy_semantics.ics": (WORK, "Work", BERLIN),
    "recurrence.ics": (RECURRENCE, "Recurrence", NEW_YORK),
}
SEEDED = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
FREEBUSY = ("POST", "/calendar/v3/freeBusy")
CALENDAR_LIST = ("GET", "/calendar/v3/users/me/calendarList")
TOKEN = ("POST", "/token")
MY_EVENTS = f"/calendar/v3/calendars/{ME}/events"


@pytest.fixture(autouse=True)
def backoff(monkeypatch) -> list[float]:
    """The client libraries' backoff sleeps (time.sleep), recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(googleapiclient.http.time, "sleep", slept.append)
    return slept


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    """A fake Google holding the fixture calendars (shared with a colleague) and my primary one."""
    with FakeGoogle() as fake:
        for name, (calendar_id, title, zone) in FIXTURE_CALENDARS.items():
            events = events_from_ics((FIXTURES / "ics" / name).read_bytes(), zone, *SEEDED)
            roles = {ME: "owner", COLLEAGUE: "reader"}
            fake.add_calendar(calendar_id, title, roles=roles, time_zone=zone, events=events)
        fake.add_calendar(ME, ME, roles={ME: "owner"})
        yield fake


def provider_for(
    google: FakeGoogle,
    account: str = ME,
    *,
    kind: type[GoogleProvider] = GoogleProvider,
    info: dict | None = None,
    **options,
) -> GoogleProvider:
    return kind(
        info if info is not None else google.grant(account),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_uri=google.token_uri,
        api_base=google.url,
        **options,
    )


def unreachable_provider() -> GoogleProvider:
    return GoogleProvider(
        {"token": "ya29.never-sent-anywhere", "refresh_token": "1//never-sent", "scopes": []},
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_uri=f"http://127.0.0.1:{free_port()}/token",
        api_base=f"http://127.0.0.1:{free_port()}",
        calendars={WORK: "Work"},
    )


def blocks(events, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Busy time as merged [start, end) blocks in UTC, cut to the window: what free/busy tells."""
    merged: list[tuple[datetime, datetime]] = []
    for first, last in sorted((max(e.start, start), min(e.end, end)) for e in events):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return [(first.astimezone(UTC), last.astimezone(UTC)) for first, last in merged]


def ics_blocks(name: str, start: datetime, end: datetime, zone, me: str | None = None):
    """The ICS provider's busy time on the same fixture file, as free/busy blocks."""
    report = IcsProvider(str(FIXTURES / "ics" / name), me=me).busy(start, end, zone)
    return blocks(report.events, start, end)


def comparable(events) -> list[tuple]:
    return sorted(
        (e.uid, e.start.timestamp(), e.end.timestamp(), e.status, e.all_day, e.summary)
        for e in events
    )


class GoogleEventsView(GoogleProvider):
    """busy() answered by events.list, so the named-events path meets the contract too."""

    def busy(self, start, end, tz):
        return self.events(start, end, tz)


def serving(google: FakeGoogle, kind: type[GoogleProvider]):
    def serve(name: str, me: str | None = None) -> GoogleProvider:
        account = ME if me == ME else COLLEAGUE  # Google knows "me" from the account asking
        return provider_for(google, account, kind=kind, calendars=[FIXTURE_CALENDARS[name][0]])

    return serve


class TestGoogleEventsContract(ProviderContract):
    @pytest.fixture
    def serve(self, google):
        return serving(google, GoogleEventsView)

    @pytest.fixture
    def unreachable(self):
        return unreachable_provider()

    @pytest.mark.parametrize("zone", [BERLIN, NEW_YORK], ids=["Berlin", "New_York"])
    def test_all_day_and_floating_times_are_read_in_the_users_zone(self, serve, zone):
        """All-day dates are read in the user's zone. Google has no floating times: an imported
        one is pinned to the calendar's zone (Berlin here), so it stays 15:00 in Berlin."""
        events = {
            event.uid: event
            for event in serve("busy_semantics.ics")
            .busy(at(zone, 2026, 3, 1), at(zone, 2026, 3, 14), zone)
            .events
        }
        away = events["away@test"]
        assert away.all_day
        assert (away.start, away.end) == (at(zone, 2026, 3, 4), at(zone, 2026, 3, 6))
        assert events["floating@test"].start == at(BERLIN, 2026, 3, 10, 15)


class TestGoogleFreeBusyContract(ProviderContract):
    """busy() from free/busy: blocks without UIDs, titles or statuses, so the rules that name
    events are checked on the blocks' times instead, against the ICS provider's answer."""

    @pytest.fixture
    def serve(self, google):
        return serving(google, GoogleProvider)

    @pytest.fixture
    def unreachable(self):
        return unreachable_provider()

    def test_events_are_aware_and_overlap_the_window(self, serve):
        start, end = at(BERLIN, 2026, 3, 3, 12), at(BERLIN, 2026, 3, 10, 15, 30)
        events = serve("busy_semantics.ics").busy(start, end, BERLIN).events
        assert blocks(events, start, end) == ics_blocks("busy_semantics.ics", start, end, BERLIN)
        for event in events:
            assert isinstance(event, BusyEvent) and event.start.tzinfo == BERLIN
            assert event.start < end and event.end > start

    def test_window_is_half_open(self, serve):
        provider = serve("busy_semantics.ics")
        meeting_end = at(BERLIN, 2026, 3, 2, 11)  # the opaque meeting is 10:00-11:00
        assert provider.busy(meeting_end, meeting_end + timedelta(hours=1), BERLIN).events == ()
        [block] = provider.busy(meeting_end - timedelta(minutes=1), meeting_end, BERLIN).events
        assert block.start < meeting_end <= block.end

    def test_opaque_events_are_busy_with_their_calendar_name(self, serve):
        [event] = (
            serve("busy_semantics.ics", me=ME)
            .busy(at(BERLIN, 2026, 3, 2, 9), at(BERLIN, 2026, 3, 2, 12), BERLIN)
            .events
        )
        assert (event.start, event.end) == (at(BERLIN, 2026, 3, 2, 10), at(BERLIN, 2026, 3, 2, 11))
        assert (event.status, event.calendar, event.summary) == ("busy", "Work", "Busy")
        assert not event.all_day and event.uid

    def test_transparent_and_cancelled_events_are_free(self, serve):
        provider = serve("busy_semantics.ics", me=ME)
        second = provider.busy(at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN).events
        assert [(e.start.hour, e.end.hour) for e in second] == [(10, 11)]  # not 12-13 nor 14-15
        assert provider.busy(at(BERLIN, 2026, 3, 6), at(BERLIN, 2026, 3, 7), BERLIN).events == ()

    def test_tentative_is_reported_as_tentative(self, serve):
        """Cannot apply: free/busy has no status, so "maybe" is a plain busy block here (events()
        reports it as tentative)."""
        [event] = (
            serve("busy_semantics.ics", me=ME)
            .busy(at(BERLIN, 2026, 3, 3, 10), at(BERLIN, 2026, 3, 3, 11), BERLIN)
            .events
        )
        assert event.status == "busy"

    def test_declined_by_me_is_free_but_declined_by_others_is_not(self, serve):
        window = (at(BERLIN, 2026, 3, 3, 12), at(BERLIN, 2026, 3, 3, 13), BERLIN)
        assert serve("busy_semantics.ics", me=ME).busy(*window).events == ()
        [block] = serve("busy_semantics.ics").busy(*window).events
        assert (block.start, block.end) == window[:2]

    def test_zero_length_events_take_no_time_and_duration_counts(self, serve):
        provider = serve("busy_semantics.ics", me=ME)
        instant = (at(BERLIN, 2026, 3, 10, 8), at(BERLIN, 2026, 3, 10, 10), BERLIN)
        assert provider.busy(*instant).events == ()
        [duration] = provider.busy(at(BERLIN, 2026, 3, 11), at(BERLIN, 2026, 3, 12), BERLIN).events
        assert duration.end - duration.start == timedelta(minutes=90)

    @pytest.mark.parametrize("zone", [BERLIN, NEW_YORK], ids=["Berlin", "New_York"])
    def test_all_day_and_floating_times_are_read_in_the_users_zone(self, serve, zone):
        """Cannot apply: free/busy gives instants, placing all-day (and imported floating) events
        in the calendar's own zone, Berlin here; events() reads dates in the user's zone."""
        events = (
            serve("busy_semantics.ics")
            .busy(at(zone, 2026, 3, 1), at(zone, 2026, 3, 14), zone)
            .events
        )
        found = {(event.start, event.end) for event in events}
        assert (at(BERLIN, 2026, 3, 4), at(BERLIN, 2026, 3, 6)) in found
        assert (at(BERLIN, 2026, 3, 10, 15), at(BERLIN, 2026, 3, 10, 16)) in found
        assert all(event.start.tzinfo == zone and not event.all_day for event in events)


# Reading


@pytest.mark.parametrize("name", list(FIXTURE_CALENDARS))
def test_same_busy_time_as_the_ics_provider_on_the_fixtures(google, name):
    calendar_id, _, zone = FIXTURE_CALENDARS[name]  # in the calendar's zone floating times agree
    start, end = at(zone, 2026, 2, 20), at(zone, 2026, 6, 1)  # over 60 days: two free/busy calls
    provider = provider_for(google, calendars={calendar_id: "Fixture"})
    from_file = IcsProvider(str(FIXTURES / "ics" / name), me=ME).busy(start, end, zone)
    named = provider.events(start, end, zone)
    assert named.events and comparable(named.events) == comparable(from_file.events)
    busy = provider.busy(start, end, zone)
    assert blocks(busy.events, start, end) == blocks(from_file.events, start, end)
    assert google.count(*FREEBUSY) == 2


def test_a_proposal_costs_one_free_busy_and_one_events_list(google):
    provider = provider_for(google, calendars={WORK: "Work"})
    provider.busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 15), BERLIN)
    interview_day = provider.events(at(BERLIN, 2026, 3, 3), at(BERLIN, 2026, 3, 4), BERLIN)
    assert {event.uid for event in interview_day.events} == {"tentative@test", "accepted@test"}
    calls = [(request.method, request.path) for request in google.requests]
    assert calls == [FREEBUSY, ("GET", f"/calendar/v3/calendars/{WORK}/events")]


def test_free_busy_is_asked_in_chunks_of_60_days_and_50_calendars(google):
    ids = [f"team-{number:02d}@group.calendar.google.com" for number in range(51)]
    start, end = at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 6, 1)  # 92 days: two time chunks
    boundary = start.astimezone(UTC) + MAX_FREEBUSY_SPAN
    across = {
        "id": "acrossthecut",
        "start": {"dateTime": (boundary - timedelta(hours=2)).isoformat()},
        "end": {"dateTime": (boundary + timedelta(hours=1)).isoformat()},
    }
    for calendar_id in ids:
        events = [across] if calendar_id == ids[50] else []
        google.add_calendar(calendar_id, calendar_id[:7], roles={ME: "owner"}, events=events)
    report = provider_for(google, calendars={i: i[:7] for i in ids}).busy(start, end, BERLIN)
    asked = [request.body for request in google.requests if request.path == FREEBUSY[1]]
    assert len(asked) == 4  # (50 + 1 calendars) x (60 + 32 days)
    for body in asked:
        span = datetime.fromisoformat(body["timeMax"]) - datetime.fromisoformat(body["timeMin"])
        assert len(body["items"]) <= MAX_FREEBUSY_CALENDARS and span <= MAX_FREEBUSY_SPAN
    assert sorted(item["id"] for body in asked for item in body["items"]) == sorted(ids * 2)
    [block] = report.events  # cut in two by the chunks, joined again
    assert (block.calendar, block.end - block.start) == ("team-50", timedelta(hours=3))


def test_a_calendar_free_busy_cannot_read_becomes_a_note(google):
    google.add_calendar(
        "flaky@group.calendar.google.com",
        "Flaky",
        roles={ME: "owner"},
        freebusy_error="internalError",
    )
    chosen = {
        WORK: "Work",
        "gone@group.calendar.google.com": "Old team",
        "flaky@group.calendar.google.com": "Flaky",
    }
    report = provider_for(google, calendars=chosen).busy(
        at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN
    )
    assert [(e.calendar, e.start.hour) for e in report.events] == [("Work", 10)]
    assert report.notes == (
        "Google could not give the busy times of Old team: it does not exist or is no longer"
        " shared with this Google account.",
        "Google could not give the busy times of Flaky: Google had an internal error; try again"
        " later.",
    )


def test_without_a_choice_the_calendars_selected_in_google_count(google):
    hobby = [{"id": "climbing", "start": {"date": "2026-03-02"}, "end": {"date": "2026-03-03"}}]
    google.add_calendar(
        "hobby@group.calendar.google.com",
        "Hobby",
        roles={ME: "owner"},
        selected=False,
        events=hobby,
    )
    report = provider_for(google).busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 31), BERLIN)
    assert {event.calendar for event in report.events} == {"Work", "Recurrence"}
    assert google.count(*CALENDAR_LIST) == 1 and google.count(*FREEBUSY) == 1


def test_list_calendars_reads_every_page_and_who_may_write(google):
    google.page_size = 1
    google.calendars[RECURRENCE].summary_override = "Weekly things"
    mine = provider_for(google).list_calendars()
    assert [(c.id, c.name, c.can_write) for c in mine] == [
        (ME, ME, True),
        (WORK, "Work", True),
        (RECURRENCE, "Weekly things", True),
    ]
    assert google.count(*CALENDAR_LIST) == 3
    shared = provider_for(google, COLLEAGUE).list_calendars()
    assert {c.name: c.can_write for c in shared} == {"Work": False, "Weekly things": False}


def test_events_name_the_day_with_googles_own_kinds_of_event(google):
    def timed(event_id: str, hour: int, **fields) -> dict:
        start, end = at(BERLIN, 2026, 4, 7, hour), at(BERLIN, 2026, 4, 7, hour + 1)
        times = {"start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}}
        return {"id": event_id, "iCalUID": f"{event_id}@google.com", **times, **fields}

    me_at = {"email": ME, "responseStatus": "tentative"}
    alias = {"email": "Me@Work.example", "responseStatus": "declined"}
    google.calendars[ME].events = {
        e["id"]: e
        for e in [
            timed("maybe", 9, summary="Maybe lunch", attendees=[me_at]),
            timed("away", 10, summary="Dentist", eventType="outOfOffice"),
            timed("desk", 11, summary="Office", eventType="workingLocation"),
            timed("alias", 12, summary="Sent to my work address", attendees=[alias]),
            timed("untitled", 13),
        ]
    }
    google.page_size = 2
    day = (at(BERLIN, 2026, 4, 7), at(BERLIN, 2026, 4, 8), BERLIN)
    named = {e.uid: e for e in provider_for(google, calendars={ME: "Me"}).events(*day).events}
    assert google.count("GET", MY_EVENTS) == 3  # four events to read, two a page
    assert (named["maybe@google.com"].status, named["away@google.com"].status) == (
        "tentative",
        "busy",
    )
    assert named["untitled@google.com"].summary == "(no title)"
    assert "desk@google.com" not in named
    assert named["alias@google.com"].summary == "Sent to my work address"
    knowing_alias = provider_for(google, calendars={ME: "Me"}, me="me@work.example")
    assert "alias@google.com" not in {e.uid for e in knowing_alias.events(*day).events}


def test_all_day_events_are_found_in_the_users_zone_where_google_filters_in_its_own(google):
    # "Out of office" is 4-5 March in Berlin, the calendar's zone, where Google filters it out of
    # this New York evening; read in the user's zone it lasts until midnight in New York.
    evening = (at(NEW_YORK, 2026, 3, 5, 18), at(NEW_YORK, 2026, 3, 5, 20), NEW_YORK)
    report = provider_for(google, calendars={WORK: "Work"}).events(*evening)
    assert [(e.uid, e.end) for e in report.events] == [("away@test", at(NEW_YORK, 2026, 3, 6))]


def test_a_chosen_calendar_that_is_gone_is_a_note_in_events(google):
    chosen = {WORK: "Work", "gone@group.calendar.google.com": "Old team"}
    report = provider_for(google, calendars=chosen).events(
        at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN
    )
    assert [e.uid for e in report.events] == ["opaque@test"]
    assert report.notes == (
        "The Google calendar Old team is gone or no longer shared with this account; choose your"
        " calendars again.",
    )


# Writing


def interview(hour: int = 10) -> dict:
    return {
        "summary": "Interview",
        "start": {"dateTime": f"2026-03-16T{hour:02d}:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": f"2026-03-16T{hour + 1:02d}:00:00", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "recruiter@example.com"}],
    }


def test_event_ids_are_base32hex_and_stable():
    first = event_id_for("interview-1@newslot.test")
    assert first == event_id_for("interview-1@newslot.test") != event_id_for("interview-2")
    assert set(first) <= set("0123456789abcdefghijklmnopqrstuv") and len(first) == 52


def test_create_inserts_under_our_id_and_tells_google_whom_to_email(google):
    provider = provider_for(google)
    event_id = event_id_for("interview-1@newslot.test")
    created = provider.create_event(ME, interview(), event_id=event_id, send_updates="all")
    assert created["id"] == event_id and created["htmlLink"] and created["sequence"] == 0
    [insert] = [r for r in google.requests if (r.method, r.path) == ("POST", MY_EVENTS)]
    assert insert.query["sendUpdates"] == "all" and insert.body["id"] == event_id
    day = provider_for(google, calendars={ME: "Me"}).events(
        at(BERLIN, 2026, 3, 16), at(BERLIN, 2026, 3, 17), BERLIN
    )
    assert [(e.uid, e.start) for e in day.events] == [
        (created["iCalUID"], at(BERLIN, 2026, 3, 16, 10))
    ]


def test_a_retried_insert_finds_its_event_instead_of_making_a_second(google, backoff):
    google.fail("POST", MY_EVENTS, 503, "backendError", after_handling=True)  # stored, answer lost
    provider = provider_for(google)
    event_id = event_id_for("interview-2@newslot.test")
    created = provider.create_event(ME, interview(), event_id=event_id)
    assert created["id"] == event_id and created["summary"] == "Interview"
    assert list(google.calendars[ME].events) == [event_id]
    assert google.count("POST", MY_EVENTS) == 2 and len(backoff) == 1  # the retry: a 409
    again = provider.create_event(ME, interview(hour=14), event_id=event_id)  # a second confirm
    assert again["start"] == created["start"] and list(google.calendars[ME].events) == [event_id]


def test_an_event_deleted_on_google_is_made_again_under_the_next_id_of_its_chain(google):
    provider = provider_for(google)
    event_id = event_id_for("interview-3@newslot.test")
    provider.create_event(ME, interview(), event_id=event_id)
    provider.cancel_event(ME, event_id, "none")  # deleted by the user; Google keeps its id
    again = provider.create_event(ME, interview(hour=14), event_id=event_id)
    assert again["id"] == event_id_for(event_id) and again["status"] == "confirmed"
    retried = provider.create_event(ME, interview(hour=14), event_id=event_id)  # a lost answer
    assert retried["id"] == again["id"]
    live = [e for e in google.calendars[ME].events.values() if e["status"] != "cancelled"]
    assert [e["id"] for e in live] == [again["id"]]


def test_a_bad_event_id_is_refused_before_sending(google):
    with pytest.raises(ValueError, match="5-1024 characters of a-v and 0-9"):
        provider_for(google).create_event(ME, interview(), event_id="Not_Base32!")
    assert google.requests == []


def test_update_patches_only_the_given_fields(google):
    provider = provider_for(google)
    event_id = event_id_for("interview-4@newslot.test")
    provider.create_event(ME, interview(), event_id=event_id)
    moved = {key: interview(hour=14)[key] for key in ("start", "end")}
    updated = provider.update_event(ME, event_id, moved, "externalOnly")
    assert updated["summary"] == "Interview" and updated["sequence"] == 1
    assert updated["start"]["dateTime"] == "2026-03-16T14:00:00"
    [patch] = [r for r in google.requests if r.method == "PATCH"]
    assert patch.body == moved and patch.query["sendUpdates"] == "externalOnly"
    with pytest.raises(NotFound, match="no longer on Google Calendar"):
        provider.update_event(ME, event_id_for("never-made"), moved, "none")


def test_cancelling_twice_or_an_unknown_event_is_fine(google):
    provider = provider_for(google)
    event_id = event_id_for("interview-5@newslot.test")
    provider.create_event(ME, interview(), event_id=event_id)
    provider.cancel_event(ME, event_id, "all")
    provider.cancel_event(ME, event_id, "all")  # 410 Gone
    provider.cancel_event(ME, event_id_for("never-made"), "none")  # 404
    assert google.calendars[ME].events[event_id]["status"] == "cancelled"
    assert google.count("DELETE", f"{MY_EVENTS}/{event_id}") == 2


def test_an_event_google_refuses_is_invalid_calendar(google):
    backwards = {**interview(hour=14), "end": interview()["end"]}
    with pytest.raises(InvalidCalendar, match=r"refused the event as invalid \(The specified"):
        provider_for(google).create_event(ME, backwards, event_id=event_id_for("backwards"))


def test_writing_to_a_calendar_shared_read_only_is_refused(google):
    with pytest.raises(ProviderError, match="does not let this account change that calendar"):
        provider_for(google, COLLEAGUE).create_event(
            WORK, interview(), event_id=event_id_for("not-mine")
        )


# Tokens and failures


def test_a_refused_token_is_refreshed_and_the_new_one_handed_over(google):
    info = google.grant(ME)
    stored: list[dict] = []
    provider = provider_for(google, info=info, on_token_refresh=stored.append)
    google.expire_access_tokens()  # the hour is up: the next call gets a 401
    assert provider.list_calendars()
    [new] = stored
    assert new["token"] != info["token"] and new["refresh_token"] == info["refresh_token"]
    assert set(new["scopes"]) == set(ALL_SCOPES)
    assert datetime.fromisoformat(new["expiry"]) > datetime.now(UTC) + timedelta(minutes=50)
    assert (google.count(*CALENDAR_LIST), google.count(*TOKEN)) == (2, 1)
    provider.busy(at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN)
    assert len(stored) == 1 and provider.credentials_info == new


def test_a_single_401_refreshes_once_and_the_call_goes_through(google):
    google.fail(*FREEBUSY, 401, "authError")  # Google dropped the access token early
    stored: list[dict] = []
    provider = provider_for(google, calendars={WORK: "Work"}, on_token_refresh=stored.append)
    report = provider.busy(at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN)
    assert [e.start.hour for e in report.events] == [10] and len(stored) == 1
    assert [(r.method, r.path) for r in google.requests] == [FREEBUSY, TOKEN, FREEBUSY]


def test_an_expired_token_is_refreshed_before_the_request(google):
    info = {**google.grant(ME), "expiry": "2020-01-01T00:00:00Z"}
    stored: list[dict] = []
    provider_for(google, info=info, on_token_refresh=stored.append).list_calendars()
    assert [(r.method, r.path) for r in google.requests] == [TOKEN, CALENDAR_LIST]
    assert len(stored) == 1


def test_a_revoked_grant_asks_to_reconnect(google):
    info = google.grant(ME)
    google.revoke(info["refresh_token"])
    with pytest.raises(AuthError) as raised:
        provider_for(google, info=info).list_calendars()
    assert str(raised.value) == RECONNECT


def test_wrong_client_credentials_are_a_setup_problem(google):
    info = {**google.grant(ME), "expiry": "2020-01-01T00:00:00Z"}
    provider = GoogleProvider(
        info,
        client_id=CLIENT_ID,
        client_secret="wrong",
        token_uri=google.token_uri,
        api_base=google.url,
    )
    with pytest.raises(ProviderError, match="client ID or secret"):
        provider.list_calendars()


@pytest.mark.parametrize(
    ("granted", "call", "permission"),
    [
        ((CALENDAR_LIST_SCOPE, EVENTS_SCOPE), "busy", "see when your calendars are busy"),
        ((CALENDAR_LIST_SCOPE, FREEBUSY_SCOPE), "events", "see the events on your calendars"),
        ((FREEBUSY_SCOPE, EVENTS_SCOPE), "list_calendars", "see the list of your calendars"),
    ],
)
def test_a_missing_permission_is_named(google, granted, call, permission):
    provider = provider_for(google, info=google.grant(ME, granted), calendars={WORK: "Work"})
    window = (at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN)
    with pytest.raises(AuthError) as raised:
        getattr(provider, call)(*([] if call == "list_calendars" else window))
    assert str(raised.value) == (
        f"Google has not given Newslot permission to {permission}; reconnect Google and allow it."
    )
    assert len(google.requests) == 1  # not retried


def test_a_failure_then_success_is_retried_with_backoff(google, backoff):
    google.fail(*FREEBUSY, 503, "backendError")
    report = provider_for(google, calendars={WORK: "Work"}).busy(
        at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN
    )
    assert [e.start.hour for e in report.events] == [10]
    assert google.count(*FREEBUSY) == 2 and len(backoff) == 1


@pytest.mark.parametrize(
    ("status", "reason", "calls", "message"),
    [
        (503, "backendError", 1 + RETRIES, "Google Calendar failed to answer; try again later."),
        (429, "rateLimitExceeded", 1 + RETRIES, "getting too many requests from this account"),
        (403, "rateLimitExceeded", 1 + RETRIES, "getting too many requests from this account"),
        (403, "quotaExceeded", 1, "used up its Google Calendar request quota for now"),
    ],
)
def test_lasting_failures_are_unavailable(google, status, reason, calls, message):
    google.fail(*FREEBUSY, status, reason, times=10)
    provider = provider_for(google, calendars={WORK: "Work"})
    with pytest.raises(Unavailable, match=message):
        provider.busy(at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN)
    assert google.count(*FREEBUSY) == calls


def test_no_token_or_secret_in_any_message_or_log(google, caplog):
    caplog.set_level(logging.DEBUG)
    info = google.grant(ME)
    stored: list[dict] = []
    provider = provider_for(google, info=info, on_token_refresh=stored.append)
    window = (at(BERLIN, 2026, 3, 2), at(BERLIN, 2026, 3, 3), BERLIN)
    google.expire_access_tokens()
    provider.busy(*window)  # refreshed: a second access token now exists
    messages = []
    google.fail(*FREEBUSY, 503, "backendError", times=4)
    google.fail(*FREEBUSY, 403, "quotaExceeded")
    for _ in range(2):
        with pytest.raises(Unavailable) as raised:
            provider.busy(*window)
        messages.append(str(raised.value))
    google.revoke(info["refresh_token"])
    with pytest.raises(AuthError) as raised:
        provider.busy(*window)
    messages.append(str(raised.value))
    with pytest.raises(Unavailable) as raised:
        unreachable_provider().busy(*window)
    messages.append(str(raised.value))
    secrets = [info["token"], info["refresh_token"], stored[0]["token"], CLIENT_SECRET]
    seen = "\n".join([*messages, caplog.text, repr(provider)])
    assert caplog.records and len(messages) == 4
    assert not [secret for secret in secrets if secret in seen]
