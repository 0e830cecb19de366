"""The iMIP email: its MIME structure, its headers, and what it refuses to put in them."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from app.messages.invites import (
    Attendee,
    InviteError,
    InviteEvent,
    Person,
    build_invite,
    parse_person,
)
from app.messages.mime import UnsafeHeaderError, build_imip_message, calendar_method

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 10, 15, tzinfo=BERLIN)
JOSE = Person("José Núñez", "jose@example.org")
WANG = Person("王芳", "wang.fang@example.cn")
EVENT = InviteEvent(
    uid="interview-42@newslot.example",
    summary="Interview",
    start=datetime(2026, 4, 2, 10, 0, tzinfo=BERLIN),
    end=datetime(2026, 4, 2, 11, 0, tzinfo=BERLIN),
    organizer=JOSE,
    attendees=(Attendee(WANG),),
)


def invite(method: str) -> bytes:
    return build_invite(method, EVENT, NOW, answering=WANG)


def message(**changes: object) -> EmailMessage:
    values: dict[str, object] = {
        "sender": JOSE,
        "to": [WANG],
        "subject": "New time for our interview – 2 April",
        "text": "Dear Wang Fang,\n\nthe new time is 2 April, 10:00.\n",
        "html": "<p>Dear Wang Fang,</p><p>the new time is 2 April, 10:00.</p>",
        "invite": invite("REQUEST"),
        "now": NOW,
    }
    values.update(changes)
    return build_imip_message(**values)  # type: ignore[arg-type]


def sent(built: EmailMessage) -> EmailMessage:
    """The message as a receiving client parses it from the wire."""
    parsed = message_from_bytes(built.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def shape(part: EmailMessage) -> object:
    if part.is_multipart():
        return (part.get_content_type(), [shape(child) for child in part.iter_parts()])
    return part.get_content_type()


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL", "REPLY", "COUNTER"])
def test_the_invite_travels_as_an_imip_calendar_part_and_an_ics_attachment(method: str) -> None:
    ics = invite(method)
    received = sent(message(invite=ics))

    assert shape(received) == (
        "multipart/mixed",
        [
            ("multipart/alternative", ["text/plain", "text/html", "text/calendar"]),
            "application/ics",
        ],
    )
    alternative, attachment = received.iter_parts()
    plain, html, calendar = alternative.iter_parts()
    assert calendar.get_param("method") == method
    assert f"METHOD:{method}\r\n".encode() in ics
    assert calendar.get_content_charset() == "utf-8"
    assert calendar.get_payload(decode=True) == ics
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_param("name") == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_payload(decode=True) == ics
    assert plain.get_content().splitlines() == [
        "Dear Wang Fang,",
        "",
        "the new time is 2 April, 10:00.",
    ]
    assert "<p>Dear Wang Fang,</p>" in html.get_content()


def test_a_letter_without_invite_is_text_and_html_only() -> None:
    received = sent(message(invite=None))

    assert shape(received) == ("multipart/alternative", ["text/plain", "text/html"])


def test_the_method_parameter_is_read_from_the_calendar_itself() -> None:
    assert calendar_method(invite("COUNTER")) == "COUNTER"
    without_method = invite("REQUEST").replace(b"METHOD:REQUEST\r\n", b"")
    with pytest.raises(ValueError, match="no METHOD"):
        message(invite=without_method)
    with pytest.raises(ValueError, match="not a readable calendar"):
        message(invite=b"BEGIN:VCALENDAR\r\nX\r\n")


def test_non_ascii_names_and_subject_decode_back_exactly() -> None:
    received = sent(message(to=[WANG, parse_person('"Smith, John" <john@example.com>')]))

    assert received["From"].addresses[0].display_name == "José Núñez"
    assert received["From"].addresses[0].addr_spec == "jose@example.org"
    assert [(a.display_name, a.addr_spec) for a in received["To"].addresses] == [
        ("王芳", "wang.fang@example.cn"),
        ("Smith, John", "john@example.com"),
    ]
    assert received["Subject"] == "New time for our interview – 2 April"
    assert received.as_bytes().isascii()  # encoded words, not raw UTF-8, in the headers


def test_date_and_message_id_are_set() -> None:
    received = sent(message())

    assert received["Date"].datetime == NOW
    assert received["Message-ID"].startswith("<") and received["Message-ID"].endswith(
        "@example.org>"
    )
    assert sent(message())["Message-ID"] != received["Message-ID"]


@pytest.mark.parametrize(
    "subject",
    ["Hi\r\nBcc: victim@example.net", "Hi\nBcc: victim@example.net", "Hi\x00", "Hi\u2028"],
)
def test_a_subject_that_could_forge_headers_is_refused(subject: str) -> None:
    with pytest.raises(UnsafeHeaderError):
        message(subject=subject)


@pytest.mark.parametrize(
    "recipient",
    [
        "Bob\r\nBcc: victim@example.net <bob@example.com>",
        "Bob <bob@example.com>\r\nBcc: victim@example.net",
        "Bob <bob@example.com\r\nBcc: victim@example.net>",
    ],
)
def test_a_recipient_that_could_forge_headers_is_refused_before_any_message_exists(
    recipient: str,
) -> None:
    with pytest.raises(InviteError, match=r"line break|not an email address"):
        parse_person(recipient)


def test_no_recipient_no_message() -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        message(to=[])


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        message(now=datetime(2026, 3, 20, 10, 15))  # noqa: DTZ001


def test_the_message_serialises_with_crlf_for_smtp() -> None:
    wire = message().as_bytes(policy=policy.SMTP)

    assert b'\r\nContent-Type: text/calendar; method="REQUEST"; charset="UTF-8"\r\n' in wire
    assert b"\n" not in wire.replace(b"\r\n", b"")
