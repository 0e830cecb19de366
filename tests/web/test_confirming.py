"""Confirming a pick: exactly once (even racing), the invite and letter to both, the downloads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from app.extensions import db
from app.models import Interview, Offer, OfferSlot, User
from app.services import confirming, offers
from tests.web.conftest import NOW, csrf_token, sign_up
from tests.web.test_offer_page import (
    HOUR,
    SLOT_STARTS,
    answer,
    calendar,
    make_offer,
    messages,
    stored_offer,
)

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def outbox(app, tmp_path):
    """Email goes to a folder of this test, never the real instance folder."""
    app.config["OUTBOX_DIR"] = str(tmp_path / "outbox")
    return tmp_path / "outbox"


def sent_emails(folder):
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def invite_of(email) -> bytes:
    parts = [part for part in email.walk() if part.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    assert parts[0].get_param("method") == "REQUEST"
    return parts[0].get_payload(decode=True)


def the_event(invite: bytes):
    parsed = Calendar.from_ical(invite)
    assert str(parsed["METHOD"]) == "REQUEST"
    (event,) = parsed.walk("VEVENT")
    return event


def interview_row(app, interview_id: int) -> Interview:
    with app.app_context():
        interview = db.session.get(Interview, interview_id)
        db.session.expunge(interview)
        return interview


# --- The interviewer picks ----------------------------------------------------------------------


def test_a_pick_emails_both_a_new_event_when_the_company_organised_it(app, client, outbox):
    offered = make_offer(app, uid="company-event@harbour.example", sequence=4)
    assert answer(client, offered.token, {"choice": str(offered.slot_ids[1])}).status_code == 302

    interview = interview_row(app, offered.interview_id)
    assert interview.state == "confirmed"
    assert (interview.confirmed_start, interview.confirmed_end) == (
        SLOT_STARTS[1], SLOT_STARTS[1] + HOUR,
    )  # fmt: skip
    (email,) = sent_emails(outbox)
    assert email["From"].addresses[0].addr_spec == "ana@example.org"
    assert [to.addr_spec for to in email["To"].addresses] == [
        "sam@harbour.example", "ana@example.org",
    ]  # fmt: skip
    assert email["Subject"].startswith("Confirming new time")
    letter = email.get_body(preferencelist=("plain",)).get_content()
    assert "Dear Sam Reed" in letter and "separate entry from the original" in letter

    event = the_event(invite_of(email))
    # Not ours to change: a new UID (ours), SEQUENCE 0, the candidate organising.
    assert str(event["UID"]) == interview.confirmed_uid != "company-event@harbour.example"
    assert str(event["UID"]).endswith("@example.org") and int(event["SEQUENCE"]) == 0
    assert interview.confirmed_sequence == 0
    assert str(event["ORGANIZER"]) == "mailto:ana@example.org"
    assert "mailto:sam@harbour.example" in [str(a) for a in event["ATTENDEE"]]
    assert event["DTSTAMP"].dt == NOW
    # Written in the interviewer's zone; the description gives both zones.
    start = event["DTSTART"].dt
    assert start.tzinfo.key == "America/New_York" and start == SLOT_STARTS[1]
    assert start.astimezone(NEW_YORK).hour == 10 and start.astimezone(BERLIN).hour == 16
    description = str(event["DESCRIPTION"])
    assert "10:00–11:00 EST (America/New_York)" in description
    assert "16:00–17:00 CET (Europe/Berlin)" in description

    (row,) = messages(app)
    assert (row.kind, row.state, row.transport) == ("confirmation", "sent", "outbox")
    assert row.error is None
    assert row.eml == next(outbox.glob("*.eml")).read_bytes()


def test_an_interview_the_candidate_organised_is_updated_in_place(app, client, outbox):
    offered = make_offer(app, organised_by_user=True, uid="mine-1@example.org", sequence=2)
    answer(client, offered.token, {"choice": str(offered.slot_ids[0])})
    (email,) = sent_emails(outbox)
    event = the_event(invite_of(email))
    assert str(event["UID"]) == "mine-1@example.org" and int(event["SEQUENCE"]) == 3
    interview = interview_row(app, offered.interview_id)
    assert (interview.confirmed_uid, interview.confirmed_sequence) == ("mine-1@example.org", 3)
    letter = email.get_body(preferencelist=("plain",)).get_content()
    assert "updates the original entry" in letter


def test_the_download_is_the_invite_that_was_emailed(app, client, outbox):
    offered = make_offer(app)
    answer(client, offered.token, {"choice": str(offered.slot_ids[2])})
    (email,) = sent_emails(outbox)
    download = client.get(f"/o/{offered.token}/invite.ics")
    assert download.status_code == 200 and download.mimetype == "text/calendar"
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.data == invite_of(email)


def test_no_download_before_a_pick(app, client):
    offered = make_offer(app)
    assert client.get(f"/o/{offered.token}/invite.ics").status_code == 404
    assert client.get("/o/not-a-token/invite.ics").status_code == 404


def test_add_to_calendar_links_are_encoded(app, client):
    offered = make_offer(app)  # company "Harbour & Co", link with a space
    answer(client, offered.token, {"choice": str(offered.slot_ids[0])})
    with app.app_context():
        links = confirming.calendar_links(db.session.get(Interview, offered.interview_id))
    google, outlook = urlsplit(links.google), urlsplit(links.outlook)
    assert (google.netloc, google.path) == ("calendar.google.com", "/calendar/render")
    assert (outlook.netloc, outlook.path) == ("outlook.live.com", "/calendar/0/deeplink/compose")
    assert "+" not in google.query and "%26%20Co" in google.query  # spaces %20, "&" escaped
    fields = parse_qs(google.query)
    assert fields["action"] == ["TEMPLATE"]
    assert fields["text"] == ["Interview: Data Engineer, Harbour & Co (Ana Lima)"]
    assert fields["dates"] == ["20261202T150000Z/20261202T160000Z"]
    assert "16:00–17:00 CET (Europe/Berlin)" in fields["details"][0]
    assert fields["location"] == ["https://meet.example/abc def"]
    fields = parse_qs(outlook.query)
    assert fields["subject"] == ["Interview: Data Engineer, Harbour & Co (Ana Lima)"]
    assert fields["startdt"] == ["2026-12-02T15:00:00Z"]
    assert fields["enddt"] == ["2026-12-02T16:00:00Z"]


def test_a_failed_delivery_keeps_the_message_and_the_pick(app, client, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the outbox folder should be")
    app.config["OUTBOX_DIR"] = str(blocked)
    offered = make_offer(app)
    response = answer(client, offered.token, {"choice": str(offered.slot_ids[0])})
    assert response.status_code == 302
    assert "the new time is confirmed" in client.get(f"/o/{offered.token}").get_data(True)
    (row,) = messages(app)
    assert row.state == "failed" and "outbox folder" in row.error
    assert stored_offer(app, offered.offer_id).state == "picked"
    assert interview_row(app, offered.interview_id).state == "confirmed"


def test_two_simultaneous_picks_record_one_and_send_one_email(app, outbox, monkeypatch):
    offered = make_offer(app)
    record_pick = offers.record_pick
    together = threading.Barrier(2, timeout=10)

    def at_the_same_moment(*args, **kwargs):
        together.wait()  # both requests have checked the calendars; now both try to record
        return record_pick(*args, **kwargs)

    monkeypatch.setattr(offers, "record_pick", at_the_same_moment)
    interviewers = [app.test_client(), app.test_client()]
    tokens = [csrf_token(browser, f"/o/{offered.token}") for browser in interviewers]
    results: dict[int, int] = {}

    def pick(number: int) -> None:
        response = interviewers[number].post(
            f"/o/{offered.token}",
            data={"choice": offered.slot_ids[number], "csrf_token": tokens[number]},
        )
        results[number] = response.status_code

    threads = [threading.Thread(target=pick, args=(number,)) for number in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(results.values()) == [302, 409]
    winner = min(results, key=results.get)  # the 302
    assert stored_offer(app, offered.offer_id).picked_slot_id == offered.slot_ids[winner]
    (email,) = sent_emails(outbox)
    assert the_event(invite_of(email))["DTSTART"].dt == SLOT_STARTS[winner]
    assert len(messages(app)) == 1


def test_a_second_reschedule_revises_our_own_event(app, client, outbox):
    offered = make_offer(app)
    answer(client, offered.token, {"choice": str(offered.slot_ids[0])})
    first = interview_row(app, offered.interview_id)
    with app.app_context():
        interview = db.session.get(Interview, offered.interview_id)
        interview.state = "offered"
        again = Offer(interview=interview, state="draft", created_at=NOW)
        again.slots = [OfferSlot(start=SLOT_STARTS[2], end=SLOT_STARTS[2] + HOUR)]
        db.session.add(again)
        db.session.flush()
        token = offers.open_offer(again, NOW, SLOT_STARTS[2])
        db.session.commit()
        slot_id = again.slots[0].id
    answer(client, token, {"choice": str(slot_id)})
    second = sent_emails(outbox)
    assert len(second) == 2
    events = sorted((the_event(invite_of(email)) for email in second), key=lambda e: e["SEQUENCE"])
    assert [str(event["UID"]) for event in events] == [first.confirmed_uid] * 2
    assert [int(event["SEQUENCE"]) for event in events] == [0, 1]


# --- The candidate confirms an answer that came by email ----------------------------------------


def signed_up_with_offer(app, client, **options):
    sign_up(client)
    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).filter_by(email="ana@example.org"))
    return make_offer(app, user_id=user_id, **options)


def confirm_by_hand(client, interview_id: int, slot_id: int):
    path = f"/interviews/{interview_id}/confirm"
    return client.post(path, data={"slot": slot_id, "csrf_token": csrf_token(client, path)})


def test_the_candidate_confirms_the_time_agreed_by_email(app, client, outbox):
    offered = signed_up_with_offer(app, client)
    page = client.get(f"/interviews/{offered.interview_id}/confirm").get_data(as_text=True)
    assert "Wednesday 2 December 2026, 10:00–11:00 EST (America/New_York)" in page
    assert "Your time: 16:00–17:00 CET (Europe/Berlin)" in page
    response = confirm_by_hand(client, offered.interview_id, offered.slot_ids[1])
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The new time is confirmed" in page and "went to Sam Reed and to you" in page
    assert "Thursday 3 December 2026, 10:00–11:00 EST (America/New_York)" in page
    assert "Your time: 16:00–17:00 CET (Europe/Berlin)" in page
    assert "calendar.google.com" in page and "outlook.live.com" in page
    (email,) = sent_emails(outbox)
    download = client.get(f"/interviews/{offered.interview_id}/invite.ics")
    assert download.status_code == 200 and download.data == invite_of(email)
    # The interviewer's link now shows the confirmed time, and cannot pick again.
    assert "the new time is confirmed" in client.get(f"/o/{offered.token}").get_data(True)
    assert stored_offer(app, offered.offer_id).picked_slot_id == offered.slot_ids[1]


def test_the_candidate_cannot_confirm_twice_nor_after_the_interviewer(app, client, outbox):
    offered = signed_up_with_offer(app, client)
    path = f"/interviews/{offered.interview_id}/confirm"
    token = csrf_token(client, path)
    interviewer = app.test_client()
    assert answer(interviewer, offered.token, {"choice": offered.slot_ids[0]}).status_code == 302
    late = client.post(path, data={"slot": offered.slot_ids[2], "csrf_token": token})
    assert late.status_code == 302
    assert "This offer is no longer open" in client.get(path).get_data(as_text=True)
    assert stored_offer(app, offered.offer_id).picked_slot_id == offered.slot_ids[0]
    assert len(sent_emails(outbox)) == 1


def test_the_candidate_is_told_when_the_time_is_no_longer_free(app, client):
    clash = calendar(("x@test", "Flight", SLOT_STARTS[0], SLOT_STARTS[0] + 3 * HOUR))
    offered = signed_up_with_offer(app, client, busy=clash)
    response = confirm_by_hand(client, offered.interview_id, offered.slot_ids[0])
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "no longer free in your calendars" in page
    assert f'value="{offered.slot_ids[0]}"' not in page
    assert f'value="{offered.slot_ids[1]}"' in page and f'value="{offered.slot_ids[2]}"' in page
    assert stored_offer(app, offered.offer_id).state == "open" and messages(app) == []


def test_the_candidate_sees_the_interviewers_note_with_the_pick(app, client):
    offered = signed_up_with_offer(app, client)
    answer(
        app.test_client(), offered.token, {"choice": offered.slot_ids[0], "note": "<i>See you</i>"}
    )
    page = client.get(f"/interviews/{offered.interview_id}/confirm").get_data(as_text=True)
    assert "Sam Reed’s note:" in page and "&lt;i&gt;See you&lt;/i&gt;" in page


def test_the_candidate_sees_a_decline_and_its_note(app, client):
    offered = signed_up_with_offer(app, client)
    answer(app.test_client(), offered.token, {"choice": "none", "note": "Back on the 14th"})
    page = client.get(f"/interviews/{offered.interview_id}/confirm").get_data(as_text=True)
    assert "none of the offered times work" in page and "Back on the 14th" in page


@pytest.mark.parametrize("how", ["page", "confirm", "invite"])
def test_only_the_owner_confirms_or_downloads(app, client, how):
    offered = signed_up_with_offer(app, client)
    answer(app.test_client(), offered.token, {"choice": offered.slot_ids[0]})
    stranger = app.test_client()
    sign_up(stranger, email="eve@example.org", name="Eve")
    path = f"/interviews/{offered.interview_id}"
    if how == "page":
        response = stranger.get(f"{path}/confirm")
    elif how == "confirm":
        token = csrf_token(stranger, "/calendars/")
        response = stranger.post(f"{path}/confirm", data={"slot": 1, "csrf_token": token})
    else:
        response = stranger.get(f"{path}/invite.ics")
    assert response.status_code == 404
    assert app.test_client().get(f"{path}/confirm").status_code == 302  # signed out: sign in
    assert client.get(f"{path}/invite.ics").status_code == 200  # the owner can


def test_a_half_hour_zone_is_written_right(app, client):
    offered = make_offer(app, interviewer_tz="Asia/Kolkata")
    answer(client, offered.token, {"choice": str(offered.slot_ids[0])})
    interview = interview_row(app, offered.interview_id)
    assert interview.confirmed_start == datetime(2026, 12, 2, 15, tzinfo=UTC)
    page = client.get(f"/o/{offered.token}").get_data(as_text=True)
    assert "20:30–21:30 IST (Asia/Kolkata)" in page
