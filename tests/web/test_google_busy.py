"""Busy time from a Google account, through the web app and the fake Google on 127.0.0.1.

Free/busy blocks over the search window, the events themselves over the interview's day, the
busy rules on those events, per-calendar failures as notes, a refused grant as "reconnect", and
the HTTP calls it all costs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import vault
from app.extensions import db
from app.models import CalendarSource, Offer, OfferSlot, User
from app.services import account_answers, holds
from tests.fakes.google_server import FakeGoogle
from tests.web.conftest import NOW, sign_up
from tests.web.google_helpers import ME, seed_google
from tests.web.test_interviews import create_typed, text_of
from tests.web.test_offer_page import HOUR, SLOT_STARTS, answer, make_offer

BERLIN = ZoneInfo("Europe/Berlin")
TEAM = "team@group.calendar.google.com"
FREEBUSY = ("POST", "/calendar/v3/freeBusy")
# The typed interview (tests.web.test_interviews) is Acme Corp's, 1 December 2026, 16:00-17:00
# in Berlin; NOW is 30 November, 09:00 in Berlin.


def google_calls(fake: FakeGoogle) -> Counter:
    """The requests the fake received, by kind of Google API call."""
    kinds: Counter = Counter()
    for request in fake.requests:
        if (request.method, request.path) == FREEBUSY:
            kinds["freebusy"] += 1
        elif request.method == "GET" and re.fullmatch(
            r"/calendar/v3/calendars/[^/]+/events", request.path
        ):
            kinds["events.list"] += 1
        elif request.path == "/calendar/v3/users/me/calendarList":
            kinds["calendarList"] += 1
        elif request.path == "/token":
            kinds["token"] += 1
        else:
            kinds[f"{request.method} {request.path}"] += 1
    return kinds


def timed(event_id: str, summary: str, day: int, start: str, end: str, **extra) -> dict:
    """A Google event on a December 2026 day, on Berlin's clock."""
    return {
        "id": event_id,
        "iCalUID": f"{event_id}@google.com",
        "summary": summary,
        "status": "confirmed",
        "start": {"dateTime": f"2026-12-{day:02d}T{start}:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": f"2026-12-{day:02d}T{end}:00", "timeZone": "Europe/Berlin"},
        **extra,
    }


@pytest.fixture(autouse=True)
def fresh_answers():
    account_answers.forget_all()


@pytest.fixture
def client(google_app):
    return google_app.test_client()


def connected(app, client, fake: FakeGoogle, *events: dict, team: list[dict] | None = None):
    """Ana signed up, her Google account (me@example.org) connected, its primary calendar holding
    `events` (and a Team calendar holding `team`, when given); the requests so far forgotten."""
    fake.add_calendar(ME, "Me", roles={ME: "owner"}, events=events)
    if team is not None:
        fake.add_calendar(TEAM, "Team", roles={ME: "reader"}, events=team)
    sign_up(client)
    with app.app_context():
        source = seed_google(app, db.session.scalar(db.select(User)), fake)
        source_id = source.id
    fake.requests.clear()
    return source_id


def stored_source(app, source_id: int) -> CalendarSource:
    with app.app_context():
        source = db.session.get(CalendarSource, source_id)
        db.session.expunge(source)
        return source


# --- The interview's day: named events, Google's busy rules ------------------------------------


def test_conflicts_on_the_interview_day_are_named_from_google(google_app, client, fake_google):
    me_declined = [{"email": ME, "responseStatus": "declined"}]
    connected(
        google_app, client, fake_google,
        timed("acme", "Acme Corp interview", 1, "16:00", "17:00"),  # the interview itself
        timed("dentist", "Dentist", 1, "16:30", "17:30"),
        timed("away", "Out of office", 1, "16:45", "18:00", eventType="outOfOffice"),
        {"id": "offsite", "iCalUID": "offsite@google.com", "summary": "Team offsite",
         "start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}},
        timed("walk", "Lunch walk", 1, "16:00", "17:00", transparency="transparent"),
        timed("old", "Old sync", 1, "16:00", "17:00", status="cancelled"),
        timed("review", "Declined review", 1, "16:00", "17:00", attendees=me_declined),
        timed("desk", "Office", 1, "08:00", "18:00", eventType="workingLocation"),
        timed("later", "Dinner", 1, "19:00", "21:00"),
    )  # fmt: skip
    page = client.get(create_typed(client)).get_data(as_text=True)
    assert (
        "3 event(s) on your calendars clash with the interview: Team offsite , Dentist ,"
        " Out of office ." in text_of(page)
    )
    assert "Dinner" in page and "Acme Corp interview" not in page  # the interview is drawn once
    for free in ("Lunch walk", "Old sync", "Declined review", "Office"):
        assert free not in page
    # The whole day is read event by event: no free/busy needed.
    assert google_calls(fake_google) == {"events.list": 1}


# --- The search window: free/busy ---------------------------------------------------------------


def test_proposals_avoid_google_busy_time_read_from_free_busy(google_app, client, fake_google):
    workshops = [timed(f"workshop{day}", "Workshop", day, "09:00", "19:00") for day in range(2, 10)]
    connected(google_app, client, fake_google, *workshops)
    page_path = create_typed(client) + "/proposals"
    assert client.get(page_path).status_code == 200
    with google_app.app_context():
        slots = [(row.start, row.end) for row in db.session.scalars(db.select(OfferSlot))]
    blocked = [
        (datetime(2026, 12, day, 9, tzinfo=BERLIN), datetime(2026, 12, day, 19, tzinfo=BERLIN))
        for day in range(2, 10)
    ]
    assert len(slots) == 3
    for start, end in slots:
        assert not any(start < stop and first < end for first, stop in blocked), start
    (asked,) = [r.body for r in fake_google.requests if (r.method, r.path) == FREEBUSY]
    assert asked["items"] == [{"id": ME}] and asked["timeZone"] == "Europe/Berlin"


def test_a_free_busy_error_for_one_calendar_is_a_note(google_app, client, fake_google):
    connected(google_app, client, fake_google, team=[])
    fake_google.calendars[TEAM].freebusy_error = "notFound"
    page = client.get(create_typed(client) + "/proposals")
    assert page.status_code == 200
    assert (
        "Google could not give the busy times of Team: it does not exist or is no longer shared"
        " with this Google account." in text_of(page.get_data(as_text=True))
    )
    assert "Option 3" in page.get_data(as_text=True)


def test_an_events_list_failure_for_one_calendar_falls_back_to_its_blocks(
    google_app, client, fake_google
):
    connected(
        google_app, client, fake_google,
        timed("dentist", "Dentist", 1, "15:00", "16:30"),
        team=[timed("board", "Board meeting", 1, "16:30", "17:30")],
    )  # fmt: skip
    fake_google.fail("GET", f"/calendar/v3/calendars/{TEAM}/events", 403, "forbidden")
    page = client.get(create_typed(client)).get_data(as_text=True)
    assert "2 event(s) on your calendars clash with the interview: Dentist , Busy ." in text_of(
        page
    )
    assert (
        "The events of Team could not be read, so they show as “Busy”: Google does not let this"
        " account read that calendar." in page
    )
    assert "Board meeting" not in page
    # Free/busy is asked for the day again, for that calendar only.
    (asked,) = [r.body for r in fake_google.requests if (r.method, r.path) == FREEBUSY]
    assert asked["items"] == [{"id": TEAM}]


# --- Tokens: refreshed, or refused ---------------------------------------------------------------


def test_a_revoked_grant_is_a_note_and_asks_to_reconnect(google_app, client, fake_google):
    source_id = connected(google_app, client, fake_google)
    with google_app.app_context():
        sealed = db.session.get(CalendarSource, source_id).sealed_credentials
        refresh_token = json.loads(vault.unseal(google_app.config["VAULT_KEYS"], sealed))[
            "refresh_token"
        ]
    fake_google.expire_access_tokens()
    fake_google.revoke(refresh_token)
    interview = create_typed(client)
    for path in (interview, interview + "/proposals"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Google refused the saved access; reconnect Google." in response.get_data(True)
    # Refused once (401, then the refresh), marked for reconnecting, and then left alone.
    assert google_calls(fake_google) == {"events.list": 1, "token": 1}
    assert "Reconnect Google" in client.get("/calendars/").get_data(as_text=True)
    assert stored_source(google_app, source_id).error == (
        "Google refused the saved access; reconnect Google."
    )


def test_an_expired_token_is_refreshed_and_stored_sealed(google_app, client, fake_google):
    source_id = connected(
        google_app, client, fake_google, timed("dentist", "Dentist", 1, "16:30", "17:30")
    )
    before = stored_source(google_app, source_id).sealed_credentials
    fake_google.expire_access_tokens()
    page = client.get(create_typed(client)).get_data(as_text=True)
    assert "clash with the interview: Dentist" in text_of(page)
    assert google_calls(fake_google) == {"events.list": 2, "token": 1}  # 401, refresh, again
    after = stored_source(google_app, source_id).sealed_credentials
    token = json.loads(vault.unseal(google_app.config["VAULT_KEYS"], after))["token"]
    old = json.loads(vault.unseal(google_app.config["VAULT_KEYS"], before))["token"]
    assert token != old and token not in after and "ya29" not in after
    live = [r for r in fake_google.requests if r.path.endswith("/events")][-1]
    assert live.account == ME  # the new token is the one Google accepted


# --- What it costs -------------------------------------------------------------------------------


def test_a_proposal_costs_one_free_busy_and_one_events_list(google_app, client, fake_google):
    connected(
        google_app, client, fake_google,
        timed("dentist", "Dentist", 1, "16:30", "17:30"),
        timed("workshop", "Workshop", 2, "09:00", "19:00"),
    )  # fmt: skip
    interview = create_typed(client)
    for path in (interview + "/proposals", interview):
        assert client.get(path).status_code == 200
    assert google_calls(fake_google) == {"freebusy": 1, "events.list": 1}
    for path in (interview + "/proposals", interview):  # within ACCOUNT_TTL: nothing asked
        assert client.get(path).status_code == 200
    assert google_calls(fake_google) == {"freebusy": 1, "events.list": 1}


def test_no_chosen_calendar_asks_google_nothing(google_app, client, fake_google):
    source_id = connected(
        google_app, client, fake_google, timed("dentist", "Dentist", 1, "16:30", "17:30")
    )
    with google_app.app_context():
        source = db.session.get(CalendarSource, source_id)
        source.settings = json.dumps({**json.loads(source.settings), "busy_calendars": []})
        db.session.commit()
    interview = create_typed(client)
    for path in (interview, interview + "/proposals"):
        assert client.get(path).status_code == 200
    assert fake_google.requests == []


# --- The interviewer's pick -----------------------------------------------------------------------


def test_a_pick_is_not_refused_by_the_offers_own_holds_on_google(google_app, client, fake_google):
    """The holds are busy on Google; at pick time the events are read by name, so the offer's
    own holds (by UID) block nothing, while a real event still does."""
    dentist = SLOT_STARTS[1]
    connected(
        google_app, client, fake_google,
        {"id": "dentist", "iCalUID": "dentist@google.com", "summary": "Dentist",
         "start": {"dateTime": dentist.isoformat()},
         "end": {"dateTime": (dentist + HOUR).isoformat()}},
    )  # fmt: skip
    with google_app.app_context():
        user = db.session.scalar(db.select(User))
        offered = make_offer(google_app, user_id=user.id)
        offer = db.session.get(Offer, offered.offer_id)
        keys = google_app.config["VAULT_KEYS"]
        assert holds.place_holds(offer, user, NOW, secret_key=keys) == 3
    held = [e for e in fake_google.calendars[ME].events.values() if e["id"] != "dentist"]
    assert len(held) == 3 and all(e.get("transparency") != "transparent" for e in held)
    fake_google.requests.clear()
    interviewer = google_app.test_client()
    taken = answer(interviewer, offered.token, {"choice": str(offered.slot_ids[1])})
    assert taken.status_code == 409 and "no longer free" in taken.get_data(as_text=True)
    picked = answer(interviewer, offered.token, {"choice": str(offered.slot_ids[0])})
    assert picked.status_code == 302, picked.get_data(as_text=True)
    with google_app.app_context():
        assert db.session.get(Offer, offered.offer_id).picked_slot_id == offered.slot_ids[0]
    assert google_calls(fake_google)["freebusy"] == 0
    lists = [r for r in fake_google.requests if r.path == f"/calendar/v3/calendars/{ME}/events"]
    asked = datetime.fromisoformat(lists[0].query["timeMin"]).astimezone(UTC)
    assert asked <= SLOT_STARTS[0] - timedelta(days=1)  # the offered days, read whole
