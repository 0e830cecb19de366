"""The confirmed event and the holds for offered times, written to a real Radicale server on
127.0.0.1: what lands on the server, ETag-guarded updates, failures that never undo a pick."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from urllib.parse import urljoin
from xml.etree import ElementTree

import pytest
from icalendar import Calendar

from app import vault
from app.extensions import db
from app.models import CalendarSource, Interview, Offer, OfferSlot, User
from app.services import account_answers, holds, offers
from tests.providers.radicale_server import PASSWORD, USER, free_port, running_radicale
from tests.web.conftest import NOW, csrf_token, post_form, sign_up
from tests.web.test_confirming import invite_of, sent_emails, signed_up_with_offer
from tests.web.test_letters_page import (
    JOSE,
    PUBLIC_URL,
    add_interview,
    letter_page,
    messages,
    submit,
    text_part,
)
from tests.web.test_offer_page import HOUR, SLOT_STARTS, answer

SECRET_KEY = "test secret key"  # the `app` fixture's
_PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory):
    with running_radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture
def work(radicale) -> str:
    """A calendar of this test's own on the shared server."""
    account_answers.forget_all()
    return radicale.make_calendar(f"work-{uuid.uuid4().hex[:8]}", "Work")


def account_settings(server_url: str, calendar_url: str) -> str:
    """One calendar that counts as busy and takes confirmed events (and holds)."""
    return json.dumps({
        "url": server_url, "username": USER, "busy_calendars": [calendar_url],
        "write_calendar": calendar_url, "calendar_names": {calendar_url: "Work"},
    })  # fmt: skip


def connect(app, email: str, server_url: str, calendar_url: str) -> int:
    """The user's CalDAV account, as connecting it on the calendars page leaves it."""
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=email))
        source = CalendarSource(
            user_id=user.id, kind="caldav", name="Radicale", created_at=NOW,
            settings=account_settings(server_url, calendar_url),
            sealed_credentials=vault.seal(SECRET_KEY, json.dumps({"password": PASSWORD})),
        )  # fmt: skip
        db.session.add(source)
        db.session.commit()
        return source.id


def point_at(app, source_id: int, server_url: str, calendar_url: str) -> None:
    """The account's server and calendar at another address."""
    with app.app_context():
        db.session.get(CalendarSource, source_id).settings = account_settings(
            server_url, calendar_url
        )
        db.session.commit()


def stored(radicale, calendar_url: str) -> dict[str, Calendar]:
    """Every calendar object in the collection by its URL, read back over plain HTTP."""
    status, _, body = radicale.request(
        "PROPFIND", calendar_url, _PROPFIND, {"Depth": "1", "Content-Type": "application/xml"}
    )
    assert status == 207
    hrefs = [node.text for node in ElementTree.fromstring(body).iter("{DAV:}href")]
    objects = {}
    for href in hrefs:
        url = urljoin(calendar_url, href)
        if url.rstrip("/") != calendar_url.rstrip("/"):
            status, _, data = radicale.request("GET", url)
            assert status == 200
            objects[url] = Calendar.from_ical(data)
    return objects


def the_event(calendar: Calendar):
    (event,) = calendar.walk("VEVENT")
    return event


def interview_of(app, interview_id: int) -> Interview:
    with app.app_context():
        interview = db.session.get(Interview, interview_id)
        db.session.expunge(interview)
        return interview


def event_ref(app, interview_id: int) -> dict:
    return json.loads(interview_of(app, interview_id).event_ref)


def confirmed_with_calendar(app, client, calendar_url: str, server_url: str):
    """Ana, signed in, with an open offer and her account; the interviewer picks the 1st time."""
    offered = signed_up_with_offer(app, client)
    source_id = connect(app, "ana@example.org", server_url, calendar_url)
    assert answer(client, offered.token, {"choice": str(offered.slot_ids[0])}).status_code == 302
    return offered, source_id


def reopen(app, interview_id: int, start) -> tuple[str, int]:
    """A second reschedule of the confirmed interview: a new offer of one time."""
    with app.app_context():
        interview = db.session.get(Interview, interview_id)
        interview.state = "offered"
        again = Offer(interview=interview, state="draft", created_at=NOW)
        again.slots = [OfferSlot(start=start, end=start + HOUR)]
        db.session.add(again)
        db.session.flush()
        token = offers.open_offer(again, NOW, start)
        db.session.commit()
        return token, again.slots[0].id


def candidate_page(client, interview_id: int) -> str:
    return client.get(f"/interviews/{interview_id}/confirm").get_data(as_text=True)


# --- The confirmed event ------------------------------------------------------------------------


def test_a_confirmed_time_is_put_on_the_calendar_as_the_emailed_event(
    app, client, radicale, work, outbox_folder
):
    offered, source_id = confirmed_with_calendar(app, client, work, radicale.url)

    (href, calendar), *others = stored(radicale, work).items()
    assert others == []
    assert "METHOD" not in calendar  # a stored object is not a message
    event = the_event(calendar)
    (email,) = sent_emails(outbox_folder)
    emailed = the_event(Calendar.from_ical(invite_of(email)))
    assert str(event["UID"]) == str(emailed["UID"])
    assert int(event["SEQUENCE"]) == int(emailed["SEQUENCE"]) == 0
    assert event["DTSTART"].dt == emailed["DTSTART"].dt == SLOT_STARTS[0]
    attendees = event["ATTENDEE"]
    assert {str(a) for a in attendees} == {"mailto:sam@harbour.example", "mailto:ana@example.org"}
    assert all(a.params["SCHEDULE-AGENT"] == "CLIENT" for a in attendees)

    ref = event_ref(app, offered.interview_id)
    assert ref["href"] == href and ref["etag"] and ref["source_id"] == source_id
    assert (ref["uid"], ref["sequence"]) == (str(emailed["UID"]), 0)
    assert "Written to your calendar “Work”" in candidate_page(client, offered.interview_id)


def test_a_second_confirmation_updates_the_same_event_with_a_higher_sequence(
    app, client, radicale, work
):
    offered, _ = confirmed_with_calendar(app, client, work, radicale.url)
    first = event_ref(app, offered.interview_id)
    # Half an hour later: the event written for the first time overlaps it, and is no clash.
    later = SLOT_STARTS[0] + HOUR / 2
    token, slot_id = reopen(app, offered.interview_id, later)
    account_answers.forget_all()  # read the calendar as it is now, with the event on it

    assert answer(client, token, {"choice": str(slot_id)}).status_code == 302

    ((href, calendar),) = stored(radicale, work).items()
    event = the_event(calendar)
    assert href == first["href"]
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (first["uid"], 1)
    assert event["DTSTART"].dt == later
    second = event_ref(app, offered.interview_id)
    assert second["sequence"] == 1 and second["etag"] != first["etag"] and "error" not in second


def test_the_users_own_original_event_is_moved_in_place(app, client, radicale, work):
    offered = signed_up_with_offer(app, client)
    uid = "original-42@harbour.example"
    with app.app_context():
        interview = db.session.get(Interview, offered.interview_id)
        interview.uid, interview.sequence, interview.organised_by_user = uid, 2, True
        db.session.commit()
    original = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T090000Z\r\nDTSTART:20261201T150000Z\r\n"
        "DTEND:20261201T160000Z\r\nSEQUENCE:2\r\nSUMMARY:Interview (as first set)\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    href = work.rstrip("/") + "/original-42.ics"
    status, _, _ = radicale.request("PUT", href, original, {"Content-Type": "text/calendar"})
    assert status in (201, 204)
    connect(app, "ana@example.org", radicale.url, work)

    assert answer(client, offered.token, {"choice": str(offered.slot_ids[0])}).status_code == 302

    ((stored_href, calendar),) = stored(radicale, work).items()  # moved, not duplicated
    event = the_event(calendar)
    assert stored_href == href
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 3)
    assert event["DTSTART"].dt == SLOT_STARTS[0]
    assert event_ref(app, offered.interview_id)["href"] == href


def test_a_change_made_on_the_calendar_meanwhile_is_not_overwritten(app, client, radicale, work):
    offered, _ = confirmed_with_calendar(app, client, work, radicale.url)
    href = event_ref(app, offered.interview_id)["href"]
    _, _, data = radicale.request("GET", href)
    changed = data.replace(b"SUMMARY:Interview", b"SUMMARY:Moved by me: Interview")
    assert changed != data
    assert radicale.request("PUT", href, changed, {"Content-Type": "text/calendar"})[0] == 204

    token, slot_id = reopen(app, offered.interview_id, SLOT_STARTS[2])
    assert answer(client, token, {"choice": str(slot_id)}).status_code == 302

    interview = interview_of(app, offered.interview_id)
    assert interview.state == "confirmed" and interview.confirmed_start == SLOT_STARTS[2]
    event = the_event(stored(radicale, work)[href])
    assert str(event["SUMMARY"]).startswith("Moved by me") and event["DTSTART"].dt == SLOT_STARTS[0]
    page = candidate_page(client, offered.interview_id)
    assert "Your calendar “Work”: The interview on your calendar was changed there after" in page
    assert (
        "so Newslot did not overwrite it: please move it to Friday 4 December 2026, 16:00–17:00"
        in page
    )
    assert "Write it to my calendar again" not in page


def test_a_server_that_is_down_leaves_the_pick_standing_and_a_retry_writes_it(
    app, client, radicale, work, outbox_folder
):
    down = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    offered, source_id = confirmed_with_calendar(
        app, client, work.replace(radicale.url, down), down
    )

    interview = interview_of(app, offered.interview_id)
    assert interview.state == "confirmed" and len(sent_emails(outbox_folder)) == 1
    assert "cannot be reached" in event_ref(app, offered.interview_id)["error"]
    page = candidate_page(client, offered.interview_id)
    assert "The new time is confirmed, but it is not on your calendar “Work” yet:" in page
    assert "cannot be reached" in page and "Write it to my calendar again" in page
    assert stored(radicale, work) == {}

    point_at(app, source_id, radicale.url, work)  # the server is back (at another port)
    path = f"/interviews/{offered.interview_id}/confirm"
    retry = f"/interviews/{offered.interview_id}/write-event"
    response = post_form(client, retry, {}, form_page=path, follow_redirects=True)

    assert "The interview is now on your calendar “Work”." in response.get_data(as_text=True)
    ((href, calendar),) = stored(radicale, work).items()
    assert str(the_event(calendar)["UID"]) == interview.confirmed_uid
    assert event_ref(app, offered.interview_id)["href"] == href

    other = app.test_client()  # the retry is the owner's alone
    sign_up(other, email="eve@example.org", name="Eve")
    token = csrf_token(other, "/")
    assert other.post(retry, data={"csrf_token": token}).status_code == 404


# --- Holds for the offered times ----------------------------------------------------------------


def send_with_holds(app, client, calendar_url: str, server_url: str) -> int:
    """José's reschedule letter, sent with 'Hold these times on my calendar' ticked."""
    app.config["PUBLIC_URL"] = PUBLIC_URL
    sign_up(client, **JOSE)
    interview_id = add_interview(app)
    page, _ = letter_page(client, interview_id)
    assert "Hold these times on my calendar" not in page  # no calendar to hold them on yet
    connect(app, JOSE["email"], server_url, calendar_url)
    page, _ = letter_page(client, interview_id)
    assert "Hold these times on my calendar" in page
    assert submit(client, interview_id, hold_times="y").status_code == 302
    return interview_id


def the_offer(app, interview_id: int) -> tuple[str, list[OfferSlot]]:
    """The open offer's link token (from the letter sent) and its slots."""
    with app.app_context():
        interview = db.session.get(Interview, interview_id)
        offer = offers.current_offer(interview)
        slots = list(offer.slots)
        db.session.expunge_all()
    letter = sent_letter_text(app)
    return re.search(re.escape(PUBLIC_URL) + r"/o/([\w-]+)", letter).group(1), slots


def sent_letter_text(app) -> str:
    return text_part(messages(app)[-1].eml)


def holds_on(radicale, calendar_url: str) -> list:
    return [
        the_event(calendar)
        for calendar in stored(radicale, calendar_url).values()
        if str(the_event(calendar)["UID"]).startswith("hold-")
    ]


def test_sending_holds_the_offered_times_and_a_pick_replaces_them_with_the_event(
    app, client, radicale, work
):
    interview_id = send_with_holds(app, client, work, radicale.url)
    token, slots = the_offer(app, interview_id)

    held = sorted(holds_on(radicale, work), key=lambda event: event["DTSTART"].dt)
    assert [(e["DTSTART"].dt, e["DTEND"].dt) for e in held] == [(s.start, s.end) for s in slots]
    for event, slot in zip(held, slots, strict=True):
        assert str(event["UID"]).startswith(f"hold-{slot.id}-")
        assert str(event["UID"]) == json.loads(slot.hold_ref)["uid"]
        assert (str(event["STATUS"]), str(event["TRANSP"])) == ("TENTATIVE", "OPAQUE")
        assert str(event["SUMMARY"]) == "Hold: interview with Harbour & Co."
    assert all("METHOD" not in calendar for calendar in stored(radicale, work).values())
    assert "3 of the offered times are held" in candidate_page(client, interview_id)

    # The holds are busy time on the calendar; only the offer's own answer looks past them.
    with app.app_context():
        offer = offers.current_offer(db.session.get(Interview, interview_id))
        read = {"secret_key": SECRET_KEY, "cache_dir": app.config["FEED_CACHE_DIR"]}
        assert offers.availability(offer, NOW, **read).free == ()
        assert (
            len(offers.availability(offer, NOW, **read, ignored_uids=holds.hold_uids(offer)).free)
            == 3
        )

    response = answer(client, token, {"choice": str(slots[1].id)})

    assert response.status_code == 302  # not refused as "no longer free"
    assert holds_on(radicale, work) == []
    (confirmed,) = [the_event(calendar) for calendar in stored(radicale, work).values()]
    assert confirmed["DTSTART"].dt == slots[1].start
    with app.app_context():
        assert db.session.scalars(db.select(OfferSlot.hold_ref)).all() == [None] * 3


def test_a_server_that_is_down_holds_nothing_and_says_why(app, client, radicale, work):
    down = f"http://127.0.0.1:{free_port()}/"
    interview_id = send_with_holds(app, client, work.replace(radicale.url, down), down)

    assert len(messages(app)) == 1  # the letter is sent all the same
    page = candidate_page(client, interview_id)
    assert "of the offered times are held" not in page
    why = f"The CalDAV server at {down.rstrip('/')} cannot be reached"
    assert f"The offered times could not be held on your calendar: {why}" in page
    with app.app_context():
        refs = db.session.scalars(
            db.select(OfferSlot.hold_ref).filter(OfferSlot.hold_ref.is_not(None))
        ).all()
    assert len(refs) == 3 and all("href" not in json.loads(ref) for ref in refs)


def test_none_of_these_releases_the_holds(app, client, radicale, work):
    interview_id = send_with_holds(app, client, work, radicale.url)
    token, _ = the_offer(app, interview_id)
    assert len(holds_on(radicale, work)) == 3

    assert answer(client, token, {"choice": "none", "note": "Next month?"}).status_code == 302

    assert stored(radicale, work) == {}


def test_a_new_letter_withdraws_the_old_offer_and_its_holds(app, client, radicale, work):
    interview_id = send_with_holds(app, client, work, radicale.url)
    _, old_slots = the_offer(app, interview_id)
    later = NOW + timedelta(days=12)
    with app.app_context():
        interview = db.session.get(Interview, interview_id)
        interview.offers.append(
            Offer(state="draft", created_at=NOW, slots=[OfferSlot(start=later, end=later + HOUR)])
        )
        db.session.commit()

    assert submit(client, interview_id, hold_times="y").status_code == 302

    (held,) = holds_on(radicale, work)
    assert held["DTSTART"].dt == later
    _, new_slots = the_offer(app, interview_id)
    assert [slot.start for slot in new_slots] == [later] != [slot.start for slot in old_slots]


def test_an_expired_offer_gives_its_holds_back_when_the_candidate_looks(
    app, client, radicale, work
):
    interview_id = send_with_holds(app, client, work, radicale.url)
    assert len(holds_on(radicale, work)) == 3
    candidate_page(client, interview_id)
    assert len(holds_on(radicale, work)) == 3  # still open: kept

    app.config["NOW"] = lambda: NOW + timedelta(days=30)
    candidate_page(client, interview_id)

    assert stored(radicale, work) == {}


def test_cancelling_removes_the_written_event_and_cancels_it_for_the_interviewer(
    app, client, radicale, work, outbox_folder
):
    offered, _ = confirmed_with_calendar(app, client, work, radicale.url)
    assert len(stored(radicale, work)) == 1

    assert submit(client, offered.interview_id, query="?kind=cancel").status_code == 302

    assert stored(radicale, work) == {}
    assert interview_of(app, offered.interview_id).event_ref is None
    cancels = [
        part
        for email in sent_emails(outbox_folder)
        for part in email.walk()
        if part.get_content_type() == "text/calendar" and part.get_param("method") == "CANCEL"
    ]
    assert len(cancels) == 1
