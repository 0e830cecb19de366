"""A cancel letter tells the interviewer's calendar too, when the candidate organised the event:
an iMIP CANCEL with the same UID and a higher SEQUENCE (RFC 5546 §3.2.5), read back here with
icalendar; a company's own event is left to its organiser."""

from __future__ import annotations

from icalendar import Calendar

from app.extensions import db
from app.models import Interview
from tests.web.test_confirming import interview_row, sent_emails, signed_up_with_offer
from tests.web.test_letters_page import letter_page, submit
from tests.web.test_offer_page import answer

ORIGINAL_UID = "original-4711@ana.example.org"


def calendar_parts(email) -> list:
    return [part for part in email.walk() if part.get_content_type() == "text/calendar"]


def cancel_of(email):
    (part,) = calendar_parts(email)
    assert part.get_param("method") == "CANCEL"
    parsed = Calendar.from_ical(part.get_payload(decode=True))
    assert str(parsed["METHOD"]) == "CANCEL"
    (event,) = parsed.walk("VEVENT")
    return event


def cancel(client, interview_id: int) -> None:
    response = submit(client, interview_id, query="?kind=cancel")
    assert response.status_code == 302, response.get_data(as_text=True)


def test_cancelling_a_confirmed_interview_cancels_the_event_newslot_announced(
    app, client, outbox_folder
):
    offered = signed_up_with_offer(app, client)
    answer(client, offered.token, {"choice": str(offered.slot_ids[0])})
    confirmed = interview_row(app, offered.interview_id)

    cancel(client, offered.interview_id)

    (letter,) = [e for e in sent_emails(outbox_folder) if "REQUEST" not in e.as_string()]
    event = cancel_of(letter)
    assert str(event["UID"]) == confirmed.confirmed_uid
    assert event["SEQUENCE"] == confirmed.confirmed_sequence + 1
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("DTSTART") == confirmed.confirmed_start
    attendees = sorted(str(value).lower() for value in event.get("ATTENDEE"))
    assert attendees == ["mailto:ana@example.org", "mailto:sam@harbour.example"]
    assert interview_row(app, offered.interview_id).confirmed_sequence == event["SEQUENCE"]


def test_cancelling_the_candidates_own_invitation_cancels_it(app, client, outbox_folder):
    offered = signed_up_with_offer(
        app, client, organised_by_user=True, uid=ORIGINAL_UID, sequence=2
    )

    cancel(client, offered.interview_id)

    (letter,) = sent_emails(outbox_folder)
    event = cancel_of(letter)
    with app.app_context():
        interview = db.session.get(Interview, offered.interview_id)
        assert (
            (str(event["UID"]), event["SEQUENCE"])
            == (ORIGINAL_UID, 3)
            == (
                interview.uid,
                interview.sequence,
            )
        )
        assert event.decoded("DTSTART") == interview.start


def test_a_companys_event_is_not_cancelled_by_the_candidate(app, client, outbox_folder):
    offered = signed_up_with_offer(app, client, uid="their-event@company.example")

    cancel(client, offered.interview_id)

    (letter,) = sent_emails(outbox_folder)
    assert calendar_parts(letter) == []
    assert letter.get_content_type() == "multipart/mixed"


def test_a_cancelled_interview_gets_no_further_letter(app, client, outbox_folder):
    offered = signed_up_with_offer(app, client)
    cancel(client, offered.interview_id)

    response = submit(client, offered.interview_id, query="?kind=reschedule")

    assert response.status_code == 400
    assert "You cancelled this interview" in response.get_data(as_text=True)
    assert len(sent_emails(outbox_folder)) == 1


def test_the_cancel_letter_sent_twice_by_a_double_click_goes_once(app, client, outbox_folder):
    offered = signed_up_with_offer(app, client)
    _, fields = letter_page(client, offered.interview_id, "?kind=cancel")
    path = f"/interviews/{offered.interview_id}/letter"

    first = client.post(path, data={**fields, "action": "send"})
    second = client.post(path, data={**fields, "action": "send"})

    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert len(sent_emails(outbox_folder)) == 1
