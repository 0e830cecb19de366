"""Picking the interview from the user's Google calendar instead of typing it: the list of
upcoming events, and the new-interview form filled in from the chosen one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import vault
from app.extensions import db
from app.models import CalendarSource, User
from tests.fakes.google_server import FakeGoogle
from tests.web.conftest import NOW, csrf_token, post_form, sign_up
from tests.web.google_helpers import ME, seed_google
from tests.web.test_interviews import TYPED, inputs, stored_interviews, text_of

LIST = "/interviews/new/google"
NEW_YORK = ZoneInfo("America/New_York")
INTERVIEW_START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 16:00 in Berlin, 10:00 in New York
EVENTS = f"/calendar/v3/calendars/{ME}/events"
JORDAN = {"email": "jordan.lee@acme.example", "displayName": "Jordan Lee"}


def event(event_id: str, summary: str, start: datetime, minutes: int = 60, **extra) -> dict:
    """A timed Google event written on New York's clock (as its organiser's calendar would)."""
    local = start.astimezone(NEW_YORK)
    return {
        "id": event_id,
        "iCalUID": f"{event_id}@acme.example",
        "summary": summary,
        "status": "confirmed",
        "sequence": 0,
        "organizer": JORDAN,
        "start": {"dateTime": local.isoformat(), "timeZone": "America/New_York"},
        "end": {
            "dateTime": (local + timedelta(minutes=minutes)).isoformat(),
            "timeZone": "America/New_York",
        },
        **extra,
    }


@pytest.fixture
def client(google_app):
    return google_app.test_client()


def with_calendar(app, client, fake: FakeGoogle, *events: dict) -> int:
    """Ana signed up with her Google account connected, its primary calendar holding `events`."""
    fake.add_calendar(ME, "Me", roles={ME: "owner"}, events=events)
    sign_up(client)
    with app.app_context():
        source_id = seed_google(app, db.session.scalar(db.select(User)), fake).id
    fake.requests.clear()
    return source_id


def choose(client, choice: str):
    return client.post(LIST, data={"event": choice, "csrf_token": csrf_token(client, LIST)})


def test_the_new_interview_page_offers_the_list_only_with_a_google_account(
    google_app, client, fake_google
):
    sign_up(client)
    assert LIST not in client.get("/interviews/new").get_data(as_text=True)
    fake_google.add_calendar(ME, "Me", roles={ME: "owner"})
    with google_app.app_context():
        seed_google(google_app, db.session.scalar(db.select(User)), fake_google)
    assert LIST in client.get("/interviews/new").get_data(as_text=True)


def test_the_list_shows_upcoming_timed_events_soonest_first(google_app, client, fake_google):
    with_calendar(
        google_app, client, fake_google,
        event("later", "Interview: Acme Corp, Senior Data Engineer", INTERVIEW_START),
        event("sooner", "Coffee <b>with</b> Sam", NOW + timedelta(hours=2), minutes=30,
              organizer={"email": ME}),
        event("past", "Yesterday's call", NOW - timedelta(days=1)),
        event("gone", "Cancelled call", NOW + timedelta(days=2), status="cancelled"),
        event("far", "Next quarter", NOW + timedelta(days=61)),
        {"id": "holiday", "summary": "Holiday", "start": {"date": "2026-12-03"},
         "end": {"date": "2026-12-04"}},
    )  # fmt: skip
    response = client.get(LIST)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = text_of(page)
    assert text.index("Coffee") < text.index("Interview: Acme Corp")
    assert "Coffee &lt;b&gt;with&lt;/b&gt; Sam" in page  # escaped, never markup
    assert "Mon 30 Nov 2026, 11:00 CET (30 min) You" in text  # the user's zone; she organised it
    assert "Tue 1 Dec 2026, 16:00 CET (60 min) Jordan Lee" in text
    for left_out in ("Yesterday", "Cancelled call", "Next quarter", "Holiday"):
        assert left_out not in page
    assert [(r.method, r.path) for r in fake_google.requests] == [("GET", EVENTS)]
    (asked,) = fake_google.requests
    assert asked.query["singleEvents"] == "true" and asked.query["orderBy"] == "startTime"


def test_at_most_fifty_events_are_listed(google_app, client, fake_google):
    many = [event(f"call{n:03d}", f"Call {n}", NOW + timedelta(hours=n + 1)) for n in range(70)]
    with_calendar(google_app, client, fake_google, *many)
    page = client.get(LIST).get_data(as_text=True)
    assert page.count('name="event"') == 50 and "Call 49<" in page and "Call 50<" not in page


def test_choosing_an_event_fills_in_the_form_and_keeps_its_identity(
    google_app, client, fake_google
):
    source_id = with_calendar(
        google_app, client, fake_google,
        event("acme", "Interview: Acme Corp, Senior Data Engineer", INTERVIEW_START,
              sequence=3, location="Acme HQ, Berlin",
              hangoutLink="https://meet.google.com/abc-defg-hij",
              attendees=[JORDAN, {"email": ME, "self": True, "responseStatus": "accepted"}]),
    )  # fmt: skip
    response = choose(client, f"{source_id}:acme")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    values = inputs(page)
    assert {key: values[key] for key in TYPED} == {
        **TYPED,
        "meeting_link": "https://meet.google.com/abc-defg-hij",
    }
    assert "Filled in from your Google Calendar event" in text_of(page)
    assert "Jordan Lee organised this event" in text_of(page)
    assert client.post("/interviews/new", data=values).status_code == 302
    (interview,) = stored_interviews(google_app)
    assert (interview.uid, interview.sequence, interview.organised_by_user) == (
        "acme@acme.example", 3, False,
    )  # fmt: skip
    assert interview.start == INTERVIEW_START


def test_an_event_the_user_organised_names_the_first_guest(google_app, client, fake_google):
    video = {"entryPoints": [
        {"entryPointType": "phone", "uri": "tel:+1-555-0100"},
        {"entryPointType": "video", "uri": "https://zoom.example/j/42"},
    ]}  # fmt: skip
    source_id = with_calendar(
        google_app, client, fake_google,
        {**event("mine", "Backend Engineer interview at Harbour & Co", INTERVIEW_START),
         "organizer": {"email": ME},
         "start": {"dateTime": "2026-12-01T15:00:00Z"}, "end": {"dateTime": "2026-12-01T16:00:00Z"},
         "attendees": [{"email": "room@resource.example", "resource": True},
                       {"email": ME, "responseStatus": "accepted"},
                       {"email": "sam@harbour.example", "displayName": "Sam Hill"}],
         "conferenceData": video},
    )  # fmt: skip
    values = inputs(choose(client, f"{source_id}:mine").get_data(as_text=True))
    assert (values["company"], values["role"]) == ("Harbour & Co", "Backend Engineer")
    assert (values["interviewer_name"], values["interviewer_email"]) == (
        "Sam Hill",
        "sam@harbour.example",
    )
    assert values["interviewer_tz"] == "Europe/Berlin"  # the event names no zone: the user's
    assert values["meeting_link"] == "https://zoom.example/j/42"
    client.post("/interviews/new", data=values)
    (interview,) = stored_interviews(google_app)
    assert interview.organised_by_user is True


def test_an_event_no_longer_there_is_said_plainly(google_app, client, fake_google):
    source_id = with_calendar(google_app, client, fake_google)
    response = choose(client, f"{source_id}:nosuchevent")
    assert response.status_code == 302 and response.headers["Location"].endswith(LIST)
    page = client.get(LIST).get_data(as_text=True)
    assert "That event is no longer among your upcoming Google events." in page
    assert choose(client, "999:acme").status_code == 302  # not the user's account
    forged = client.post(LIST, data={"event": f"{source_id}:acme"})  # no CSRF token
    assert forged.status_code == 400


def test_a_revoked_grant_asks_to_reconnect_instead_of_failing(google_app, client, fake_google):
    source_id = with_calendar(google_app, client, fake_google)
    with google_app.app_context():
        sealed = db.session.get(CalendarSource, source_id).sealed_credentials
        credentials = json.loads(vault.unseal(google_app.config["VAULT_KEYS"], sealed))
    fake_google.expire_access_tokens()
    fake_google.revoke(credentials["refresh_token"])
    response = client.get(LIST)
    assert response.status_code == 200
    assert "Google refused the saved access; reconnect Google." in response.get_data(True)
    assert "Reconnect Google" in client.get("/calendars/").get_data(as_text=True)


def test_the_filled_in_form_is_still_checked(google_app, client, fake_google):
    source_id = with_calendar(
        google_app, client, fake_google, event("vague", "Catch-up", INTERVIEW_START)
    )
    values = inputs(choose(client, f"{source_id}:vague").get_data(as_text=True))
    assert (values["company"], values["role"]) == ("", "")  # the title does not say them
    response = post_form(client, "/interviews/new", values, form_page="/interviews/new")
    assert response.status_code == 400 and stored_interviews(google_app) == []
