"""The iMIP email (RFC 6047) that mail clients turn into an invitation with Accept buttons.

The layout is the one Google Calendar sends, which Outlook, Apple Mail, Thunderbird and Gmail
all recognise as a meeting message:

    multipart/mixed
        multipart/alternative
            text/plain
            text/html
            text/calendar; method=<METHOD>; charset=UTF-8
        invite.ics (application/ics attachment, the same bytes)

The method parameter is read from the calendar itself, so it cannot disagree with the METHOD
inside (Outlook rejects a mismatch).
"""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from icalendar import Calendar

from app.messages.invites import Person, has_control_character
from app.scheduling.model import require_aware

INVITE_FILENAME = "invite.ics"

# Non-ASCII bodies go out quoted-printable or base64, so delivery never depends on the server
# supporting 8BITMIME; headers are RFC 2047-encoded either way.
SEVEN_BIT = email.policy.default.clone(cte_type="7bit")


class UnsafeHeaderError(ValueError):
    """A header value that could forge other headers (line breaks, control characters)."""


def build_imip_message(
    *,
    sender: Person,
    to: Sequence[Person],
    subject: str,
    text: str,
    html: str,
    invite: bytes | None,
    now: datetime,
) -> EmailMessage:
    """The letter as text and HTML, with the invite (if any) as an iMIP calendar part."""
    require_aware(now, "now")
    if not to:
        raise ValueError("an email needs at least one recipient")
    message = EmailMessage(policy=SEVEN_BIT)
    message["From"] = _address(sender)
    message["To"] = [_address(person) for person in to]
    if has_control_character(subject):  # it could end the header early and start a forged one
        raise UnsafeHeaderError(
            f"the subject {subject!r} contains a line break or control character"
        )
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender.email.rpartition("@")[2])
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if invite is not None:
        message.add_alternative(
            invite,
            maintype="text",
            subtype="calendar",
            params={"method": calendar_method(invite), "charset": "UTF-8"},
        )
        message.add_attachment(
            invite,
            maintype="application",
            subtype="ics",
            filename=INVITE_FILENAME,
            params={"name": INVITE_FILENAME},
        )
    return message


def calendar_method(invite: bytes) -> str:
    """The METHOD an iCalendar object declares; an iMIP message cannot go without one."""
    try:
        method = str(Calendar.from_ical(invite).get("METHOD", "")).strip().upper()
    except ValueError as error:
        raise ValueError(f"the invite is not a readable calendar ({error})") from None
    if not method:
        raise ValueError("the invite has no METHOD, so mail clients would not know what it asks")
    return method


def _address(person: Person) -> Address:
    """Person has refused line breaks and control characters in both parts already."""
    return Address(display_name=person.name, addr_spec=person.email)
