"""The confirmed event, its moves, the holds and a cancellation on Google Calendar: the real
client libraries against the fake Google on 127.0.0.1, driven through the web app."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import googleapiclient.http
import pytest

from app import vault
from app.extensions import db
from app.models import Interview, OfferSlot, User
from app.services import account_answers
from calendar_providers.google import event_id_for
from tests.web.conftest import NOW, sign_up
from tests.web.google_helpers import ME, seed_google
from tests.web.test_caldav_write import candidate_page, event_ref, interview_of, reopen, the_offer
from tests.web.test_confirming import invite_of, sent_emails, signed_up_with_offer
from tests.web.test_letters_page import JOSE, PUBLIC_URL, add_interview, submit
from tests.web.test_offer_page import HOUR, SLOT_STARTS, answer

EVENTS = f"/calendar/v3/calendars/{ME}/events"
SAM = "sam@harbour.example"
# 10:00 in New York the day after its clocks went forward (UTC-4 now; UTC-5 at NOW).
AFTER_DST = datetime(2027, 3, 15, 14, tzinfo=UTC)


@pytest.fixture
def app(google_app):
    account_answers.forget_all()
    return google_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def fake(fake_google):
    fake_google.add_calendar(ME, "Me", roles={ME: "owner"})
    return fake_google


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """The client library's backoff between retries, skipped."""
    monkeypatch.setattr(googleapiclient.http.time, "sleep", lambda seconds: None)


def with_google(app, fake, email: str = "ana@example.org") -> int:
    """The user's Google account, connected (its primary calendar takes confirmed events)."""
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=email))
        return seed_google(app, user, fake).id


def live_events(fake) -> list[dict]:
    return [e for e in fake.calendars[ME].events.values() if e.get("status") != "cancelled"]


def writes(fake, method: str) -> list:
    return [r for r in fake.requests if r.method == method and r.path.startswith(EVENTS)]


def confirmed(app, client, fake, **options):
    """Ana with Google connected; the interviewer picks the first offered time."""
    offered = signed_up_with_offer(app, client, **options)
    with_google(app, fake)
    assert answer(client, offered.token, {"choice": str(offered.slot_ids[0])}).status_code == 302
    return offered


def instant(value: dict) -> datetime:
    return datetime.fromisoformat(value["dateTime"])


# --- The confirmed event ------------------------------------------------------------------------


def test_a_confirmed_time_is_inserted_once_under_our_id_and_google_sends_no_invitation(
    app, client, fake, outbox_folder
):
    offered = signed_up_with_offer(app, client)
    with_google(app, fake)
    with app.app_context():
        slot = db.session.get(OfferSlot, offered.slot_ids[0])
        slot.start, slot.end = AFTER_DST, AFTER_DST + HOUR
        db.session.commit()

    assert answer(client, offered.token, {"choice": str(offered.slot_ids[0])}).status_code == 302

    (insert,) = writes(fake, "POST")
    uid = interview_of(app, offered.interview_id).confirmed_uid
    assert insert.query["sendUpdates"] == "none"  # Newslot's own email is the one invitation
    assert insert.body["id"] == event_id_for(uid)
    assert insert.body["start"] == {
        "dateTime": "2027-03-15T10:00:00-04:00",
        "timeZone": "America/New_York",
    }
    assert insert.body["end"]["dateTime"] == "2027-03-15T11:00:00-04:00"
    assert [(a["email"], a["responseStatus"]) for a in insert.body["attendees"]] == [
        (SAM, "needsAction")
    ]
    assert insert.body["extendedProperties"] == {"private": {"newslotUid": uid}}
    assert "Join: https://meet.example/abc def" in insert.body["description"]
    (event,) = live_events(fake)
    assert (instant(event["start"]), instant(event["end"])) == (AFTER_DST, AFTER_DST + HOUR)
    assert event["status"] == "confirmed" and event["organizer"] == {"email": ME}
    (email,) = sent_emails(outbox_folder)
    assert invite_of(email)  # the .ics travels with Newslot's letter
    assert event_ref(app, offered.interview_id)["href"] == f"{ME}/events/{event['id']}"
    assert "Written to your calendar “Me”" in candidate_page(client, offered.interview_id)


@pytest.mark.parametrize("after_handling", [False, True], ids=["refused", "answer lost"])
def test_a_503_is_retried_and_a_retried_insert_makes_no_second_event(
    app, client, fake, after_handling
):
    fake.fail("POST", EVENTS, 503, "backendError", after_handling=after_handling)

    offered = confirmed(app, client, fake)

    assert len(writes(fake, "POST")) == 2  # retried by the client library
    (event,) = live_events(fake)
    ref = event_ref(app, offered.interview_id)
    assert "error" not in ref and ref["href"].endswith(event["id"])


def test_a_second_reschedule_moves_the_same_google_event(app, client, fake):
    offered = confirmed(app, client, fake)
    first = event_ref(app, offered.interview_id)
    later = SLOT_STARTS[2] + timedelta(days=1)
    token, slot_id = reopen(app, offered.interview_id, later)

    assert answer(client, token, {"choice": str(slot_id)}).status_code == 302

    (event,) = live_events(fake)
    assert instant(event["start"]) == later and first["href"].endswith(event["id"])
    (patch,) = writes(fake, "PATCH")
    assert patch.query["sendUpdates"] == "none" and len(writes(fake, "POST")) == 1
    assert event_ref(app, offered.interview_id)["href"] == first["href"]


def test_an_event_deleted_on_google_is_written_afresh_by_the_next_reschedule(app, client, fake):
    offered = confirmed(app, client, fake)
    (event,) = live_events(fake)
    event["status"] = "cancelled"  # the user deleted it on Google; Google keeps its id
    later = SLOT_STARTS[2] + timedelta(days=1)
    token, slot_id = reopen(app, offered.interview_id, later)

    assert answer(client, token, {"choice": str(slot_id)}).status_code == 302

    (fresh,) = live_events(fake)
    assert fresh["id"] == event_id_for(event["id"]) and instant(fresh["start"]) == later
    ref = event_ref(app, offered.interview_id)
    assert ref["href"].endswith(fresh["id"]) and "error" not in ref


def test_a_change_made_on_google_meanwhile_is_not_overwritten(app, client, fake):
    offered = confirmed(app, client, fake)
    (event,) = live_events(fake)
    event["summary"] = "Moved by me"  # on Google: the event's etag moves with it
    token, slot_id = reopen(app, offered.interview_id, SLOT_STARTS[2] + timedelta(days=1))

    assert answer(client, token, {"choice": str(slot_id)}).status_code == 302

    assert writes(fake, "PATCH") == []
    assert instant(event["start"]) == SLOT_STARTS[0] and event["summary"] == "Moved by me"
    page = candidate_page(client, offered.interview_id)
    assert "The interview on your calendar was changed there after Newslot wrote it" in page


def test_the_users_own_google_event_is_moved_by_a_patch_that_keeps_the_rest(app, client, fake):
    original = {
        "id": "abc123def",
        "iCalUID": "abc123def@google.com",
        "status": "confirmed",
        "summary": "Interview with Harbour",
        "start": {"dateTime": "2026-12-01T14:00:00Z"},
        "end": {"dateTime": "2026-12-01T15:00:00Z"},
        "organizer": {"email": ME},
        "attendees": [{"email": SAM, "responseStatus": "accepted"}],
        "conferenceData": {"conferenceId": "abc-defg-hij"},
    }
    fake.calendars[ME].events[original["id"]] = original

    offered = confirmed(
        app, client, fake, organised_by_user=True, uid=original["iCalUID"], sequence=2
    )

    assert writes(fake, "POST") == []
    (patch,) = writes(fake, "PATCH")
    assert set(patch.body) == {"start", "end", "summary", "description"}
    assert patch.query["sendUpdates"] == "none"
    (event,) = live_events(fake)
    assert instant(event["start"]) == SLOT_STARTS[0]
    assert event["attendees"] == original["attendees"]
    assert event["conferenceData"] == original["conferenceData"]
    assert event_ref(app, offered.interview_id)["href"] == f"{ME}/events/abc123def"


# --- Holds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["pick", "decline", "expiry"])
def test_holds_are_tentative_on_google_and_go_when_the_offer_is_answered_or_expires(
    app, client, fake, ending
):
    app.config["PUBLIC_URL"] = PUBLIC_URL
    sign_up(client, **JOSE)
    interview_id = add_interview(app)
    with_google(app, fake, JOSE["email"])
    assert submit(client, interview_id, hold_times="y").status_code == 302
    token, slots = the_offer(app, interview_id)

    held = sorted(live_events(fake), key=lambda event: instant(event["start"]))
    assert [(instant(e["start"]), instant(e["end"])) for e in held] == [
        (slot.start, slot.end) for slot in slots
    ]
    assert {(e["status"], e["transparency"]) for e in held} == {("tentative", "opaque")}
    assert {e["summary"] for e in held} == {"Hold: interview with Harbour & Co."}
    assert {r.query["sendUpdates"] for r in writes(fake, "POST")} == {"none"}
    account_answers.forget_all()  # the calendar as it is now, holds and all

    if ending == "pick":
        assert answer(client, token, {"choice": str(slots[1].id)}).status_code == 302
    elif ending == "decline":
        assert answer(client, token, {"choice": "none", "note": "Next month?"}).status_code == 302
    else:
        app.config["NOW"] = lambda: NOW + timedelta(days=30)
        candidate_page(client, interview_id)

    left = live_events(fake)
    assert [e["status"] for e in left] == (["confirmed"] if ending == "pick" else [])
    assert {r.query["sendUpdates"] for r in writes(fake, "DELETE")} == {"none"}
    with app.app_context():
        assert db.session.scalars(db.select(OfferSlot.hold_ref)).all() == [None] * 3


# --- Cancelling ---------------------------------------------------------------------------------


def test_cancelling_deletes_the_event_newslot_wrote(app, client, fake):
    offered = confirmed(app, client, fake)
    assert len(live_events(fake)) == 1

    assert submit(client, offered.interview_id, query="?kind=cancel").status_code == 302

    assert live_events(fake) == []
    (delete,) = writes(fake, "DELETE")
    assert delete.query["sendUpdates"] == "none"
    assert interview_of(app, offered.interview_id).event_ref is None


def test_cancelling_leaves_an_event_changed_on_google_with_a_note(app, client, fake):
    offered = confirmed(app, client, fake)
    (event,) = live_events(fake)
    event["description"] = "My notes"  # changed on Google: its etag moves

    response = submit(client, offered.interview_id, query="?kind=cancel")

    assert live_events(fake) == [event] and writes(fake, "DELETE") == []
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        "The interview on your calendar “Me” was changed there after Newslot wrote it, so"
        " Newslot left it there: remove it yourself." in page
    )
    assert interview_of(app, offered.interview_id).state == "cancelled"


def test_cancelling_declines_an_invitation_someone_else_organised(app, client, fake):
    uid = "company-42@harbour.example"
    fake.calendars[ME].events["company42"] = {
        "id": "company42",
        "iCalUID": uid,
        "status": "confirmed",
        "summary": "Interview: Data Engineer",
        "start": {"dateTime": "2026-12-01T14:00:00Z"},
        "end": {"dateTime": "2026-12-01T15:00:00Z"},
        "organizer": {"email": SAM},
        "attendees": [
            {"email": SAM, "responseStatus": "accepted", "organizer": True},
            {"email": ME, "responseStatus": "needsAction"},
        ],
    }
    offered = signed_up_with_offer(app, client, uid=uid)
    with_google(app, fake)

    assert submit(client, offered.interview_id, query="?kind=cancel").status_code == 302

    (patch,) = writes(fake, "PATCH")
    assert patch.query["sendUpdates"] == "all"  # the letter carries no iMIP REPLY
    answers = {a["email"]: a["responseStatus"] for a in patch.body["attendees"]}
    assert answers == {SAM: "accepted", ME: "declined"}
    assert fake.calendars[ME].events["company42"]["status"] == "confirmed"  # declined, not deleted
    assert interview_of(app, offered.interview_id).state == "cancelled"


# --- Refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("refusal", ["missing permission", "revoked grant"])
def test_a_refusal_asks_to_reconnect_google_on_the_candidates_page(app, client, fake, refusal):
    offered = signed_up_with_offer(app, client)
    source_id = with_google(app, fake)
    if refusal == "missing permission":
        fake.fail("POST", EVENTS, 403, "insufficientPermissions")
        said = (
            "Google has not given Newslot permission to add and change events on your"
            " calendars; reconnect Google and allow it."
        )
    else:
        with app.app_context():
            source = db.session.get(Interview, offered.interview_id).user.calendars[0]
            assert source.id == source_id
            sealed = json.loads(vault.unseal(app.config["VAULT_KEYS"], source.sealed_credentials))
        fake.revoke(sealed["refresh_token"])
        said = "Google refused the saved access; reconnect Google."

    response = answer(client, offered.token, {"choice": str(offered.slot_ids[0])})

    assert response.status_code == 302  # the pick stands
    page = client.get(f"/interviews/{offered.interview_id}/confirm")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "The new time is confirmed, but it is not on your calendar “Me” yet:" in text
    assert said in text and "Write it to my calendar again" in text
    assert live_events(fake) == []


def test_google_switched_off_on_the_server_leaves_the_pick_standing_with_a_note(app, client, fake):
    offered = signed_up_with_offer(app, client)
    with_google(app, fake)
    app.config["GOOGLE_CLIENT_ID"] = None  # the administrator removed the Google client

    assert answer(client, offered.token, {"choice": str(offered.slot_ids[0])}).status_code == 302

    assert interview_of(app, offered.interview_id).state == "confirmed"
    assert live_events(fake) == []
    assert "Google is not set up on this Newslot server any more" in candidate_page(
        client, offered.interview_id
    )
