"""The letter's way out: written from an interview, kept as a Message, delivered exactly once.

A letter becomes a Message row (its exact .eml bytes) before any delivery is tried, so a send
that fails loses nothing: the row keeps the error in words and can be retried. Delivery first
claims the row with a conditional UPDATE (queued/failed -> sending), so a double click, a retry
racing a send, or two workers never hand the same message to a transport twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from sqlalchemy import update

from app import google_client, vault
from app.extensions import db
from app.mail import MailError, SmtpTransport, Transport, transport_from_config, transport_name
from app.mail.base import envelope_of, message_bytes
from app.mail.gmail import GmailTransport
from app.messages.invites import InviteError, Person, has_control_character
from app.messages.letters import Letter, LetterContext, compose
from app.messages.mime import build_imip_message
from app.models import CANCELLED, OFFERED, CalendarSource, Interview, Message, OfferSlot, User
from app.scheduling.model import Slot
from app.services import cancelling, google_accounts, holds
from app.services.interviews import as_core_interview, draft_offer
from app.services.offers import OPEN, WITHDRAWN, open_offer

log = logging.getLogger(__name__)

RESCHEDULE, VIRTUAL, CANCEL = "reschedule", "virtual", "cancel"
LETTER_KINDS = (RESCHEDULE, VIRTUAL, CANCEL)  # what the letter page writes
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
SENDABLE = (QUEUED, FAILED)
INTERRUPTED_AFTER = timedelta(minutes=10)
INTERRUPTED = (
    "Sending was interrupted, so the recipient may or may not have received this letter. "
    "Check with them (or in your mail server's Sent folder) before you retry."
)
BY_HAND = "by hand"  # the transport of a letter the user sent from their own mail app
# Until the offer is opened (at send time) there is no link; this stands in for it, and is
# replaced by the link in the letter that goes out, wherever the user's edit left it.
PICK_LINK_PLACEHOLDER = "[your link to pick a time: added when you send]"
DUPLICATE_WINDOW = timedelta(minutes=1)
MAX_SUBJECT = 250
MAX_BODY = 20_000
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
_WEB_LINK = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)


class LetterProblem(ValueError):
    """Why a letter cannot be written or kept, in plain words for the user."""


@dataclass(frozen=True)
class Choice:
    """What the letter is for and why: the page's kind and reason selects."""

    kind: str
    reason: str
    reason_text: str = ""


def new_key() -> str:
    """A random idempotency key for one letter form (128 bits)."""
    return secrets.token_urlsafe(16)


def compose_letter(
    interview: Interview, user: User, choice: Choice, *, now: datetime, public_url: str | None
) -> Letter:
    """The suggested letter; for a reschedule the link is a placeholder until the offer opens.

    Without PUBLIC_URL the interviewer could not reach the page, so the letter has no link and
    they answer by email. A cancelled interview gets no further letter: the interviewer was told
    it is off (and their calendar removed it).
    """
    if interview.state == CANCELLED:
        raise LetterProblem(
            "You cancelled this interview, so Newslot writes no further letter for it. If it is"
            " back on, add it again as a new interview."
        )
    slots = offered_times(interview) if choice.kind == RESCHEDULE else ()
    pick_url = PICK_LINK_PLACEHOLDER if public_url and slots else None
    return _compose(interview, user, choice, now, slots, pick_url)


def offered_times(interview: Interview) -> tuple[Slot, ...]:
    """The times a reschedule letter offers: the interview's draft offer."""
    return tuple(Slot(slot.start, slot.end) for slot in draft_offer(interview).slots)


def clean_subject(subject: str) -> str:
    """One header-safe line, or LetterProblem saying what to fix."""
    if has_control_character(subject):
        raise LetterProblem(
            "The subject must be a single line: remove the line break (or other control "
            "character) from it."
        )
    subject = " ".join(subject.split())
    if not subject:
        raise LetterProblem("The letter needs a subject.")
    if len(subject) > MAX_SUBJECT:
        raise LetterProblem(f"Keep the subject under {MAX_SUBJECT} characters.")
    return subject


def clean_body(text: str) -> str:
    """The edited letter with plain line ends; control characters other than tabs are refused."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if any(has_control_character(char) for char in text if char not in "\n\t"):
        raise LetterProblem("The letter contains a control character; please remove it.")
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    if not text:
        raise LetterProblem("The letter is empty.")
    if len(text) > MAX_BODY:
        raise LetterProblem(f"Keep the letter under {MAX_BODY} characters.")
    return text + "\n"


def queue_letter(
    interview: Interview,
    user: User,
    choice: Choice,
    subject: str,
    text: str,
    *,
    key: str,
    now: datetime,
    public_url: str | None,
    secret_key: vault.Keys | None = None,
    hold_times: bool = False,
    from_address: str | None = None,
) -> Message:
    """Keep the letter as a queued Message, opening the offer first for a reschedule.

    The same letter sent twice from one form (or twice within a minute) gives back the first
    Message. The interview row is locked first so two such requests cannot both pass
    that check; the offer, the interview's new state and the message commit together.
    With `secret_key` (to reach the user's calendar account) the withdrawn offers' holds are
    released, and with `hold_times` the offered times are held, once all that is committed; a
    cancel takes the interview off the user's calendars (`cancelling`).
    The letter is from `from_address` (see `sender_address`), by default the user's own.
    """
    if hold_times and secret_key is None:
        raise ValueError("holding the offered times needs the secret key of the account")
    subject, text = clean_subject(subject), clean_body(text)
    key = key if _KEY.fullmatch(key or "") else new_key()
    sender, recipient = _people(user, interview, from_address or user.email)
    if choice.kind == RESCHEDULE:
        draft_offer(interview)  # a first draft commits, so it must be made before the lock
    _lock(interview)
    existing = _duplicate(interview, choice.kind, subject, text, key, now, public_url)
    if existing is not None:
        db.session.commit()
        return existing
    try:
        letter = compose_letter(interview, user, choice, now=now, public_url=public_url)
        link, invite = None, None
        if choice.kind == RESCHEDULE:
            link = _open_offer(interview, letter.reply_by, now, public_url)
        elif choice.kind == CANCEL:
            interview.state = CANCELLED
            _withdraw_open_offers(interview)  # their links now say the times were withdrawn
            invite = cancelling.cancel_notice(interview, user, sender, now)
    except LetterProblem:
        db.session.rollback()  # nothing half-done, and the lock is let go at once
        raise
    html = _html(subject, text, letter, link)
    if link:
        text = text.replace(PICK_LINK_PLACEHOLDER, link)
    email = build_imip_message(
        sender=sender, to=[recipient], subject=subject, text=text, html=html, invite=invite,
        now=now,
    )  # fmt: skip
    email.replace_header("Message-ID", f"<newslot.{key}@{sender.email.rpartition('@')[2]}>")
    if invite is None:
        email.make_mixed()  # the layout every Newslot email has, with or without an invite
    message = new_message(
        email, subject=subject, user_id=user.id, interview_id=interview.id, kind=choice.kind,
        now=now,
    )  # fmt: skip
    db.session.add(message)
    db.session.commit()
    if choice.kind in (RESCHEDULE, CANCEL) and secret_key is not None:
        _update_holds(interview, user, now, secret_key=secret_key, hold_times=hold_times)
    if choice.kind == CANCEL and secret_key is not None:
        cancelling.take_off_calendars(interview, secret_key=secret_key)
    return message


def new_message(
    email: EmailMessage, *, subject: str, user_id: int, interview_id: int, kind: str, now: datetime
) -> Message:
    """The queued Message keeping `email`'s exact bytes, listed under `subject` and its To.

    The subject is the caller's: the header would read text that looks like an encoded word
    ("=?utf-8?q?...?=") as one.
    """
    return Message(
        user_id=user_id,
        interview_id=interview_id,
        kind=kind,
        subject=subject,
        recipients=", ".join(f"{to.display_name} <{to.addr_spec}>" for to in email["To"].addresses),
        eml=message_bytes(email, international=envelope_of(email).international, keep_bcc=True),
        state=QUEUED,
        attempts=0,
        created_at=now,
    )


def deliver(message: Message, make_transport: Callable[[], Transport], now: datetime) -> bool:
    """Send the message if this call claims it; False when it is sent or being sent already."""
    claimed = _claim(
        message, SENDABLE, state=SENDING, attempts=Message.attempts + 1, claimed_at=now
    )
    if not claimed:
        return False
    try:
        transport = make_transport()
    except ValueError as error:  # the mail settings (SMTP_HOST, ...) cannot make a transport
        _failed(message, None, f"The mail settings are not usable: {error}.")
        return True
    try:
        delivery = transport.send(parsed(message))
    except MailError as error:
        _failed(message, transport.name, in_words(error))
    except Exception:
        _failed(message, transport.name, "Sending stopped on an unexpected error; you can retry.")
        raise
    else:
        message.state, message.error = SENT, None
        message.transport, message.sent_at = delivery.transport, now
        db.session.commit()
    return True


def transport_for(user: User, config: Mapping[str, Any], instance_path: str | Path) -> Transport:
    """How the user's letters go out: their Gmail account if they chose it, else MAIL_TRANSPORT.

    ValueError (which `deliver` reports) when the saved Google access cannot be read.
    """
    gmail = _gmail(user, config)
    if gmail is None:
        return transport_from_config(config, Path(instance_path))
    source, client = gmail
    try:
        google = google_accounts.provider(source, user, keys=config["VAULT_KEYS"], client=client)
    except vault.VaultError:
        google_accounts.mark_refused(source, google_accounts.UNREADABLE)
        raise ValueError(
            "the saved Google access cannot be read any more; reconnect Google"
        ) from None
    return GmailTransport(
        google_accounts.account_of(source),
        google,
        on_refused=lambda problem: google_accounts.mark_refused(source, problem),
    )


def sender_address(user: User, config: Mapping[str, Any]) -> str:
    """The address the user's letters are written from: their Gmail account when Gmail sends
    them (Gmail would put it in the From header anyway), else the address they signed up with."""
    gmail = _gmail(user, config)
    return google_accounts.account_of(gmail[0]) if gmail is not None else user.email


def _gmail(
    user: User, config: Mapping[str, Any]
) -> tuple[CalendarSource, google_client.GoogleClient] | None:
    """The Google account the user chose to send through, and this server's Google client,
    while Google is still set up here."""
    client = google_client.from_config(config)
    source = next((source for source in user.calendars if google_accounts.sends_mail(source)), None)
    return (source, client) if source is not None and client is not None else None


def release_interrupted(user: User, now: datetime) -> int:
    """Turn the user's sends that never finished (the process died mid-send) into failures.

    A message stays 'sending' only while one request sends it; one still 'sending' after
    INTERRUPTED_AFTER was cut off. It becomes 'failed' with advice to check before retrying
    (the server may have taken it), so it is neither lost nor sent twice behind the user's back.
    """
    result = db.session.execute(
        update(Message)
        .where(
            Message.user_id == user.id,
            Message.state == SENDING,
            Message.claimed_at <= now - INTERRUPTED_AFTER,
        )
        .values(state=FAILED, error=INTERRUPTED)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def mark_sent_by_hand(message: Message, now: datetime) -> bool:
    """Record that the user sent it from their own mail app; False if it was sent already."""
    return _claim(message, SENDABLE, state=SENT, transport=BY_HAND, sent_at=now)


def owned_message(user: User, message_id: int) -> Message | None:
    """The user's own message; another user's is as good as missing."""
    return db.session.scalar(db.select(Message).filter_by(id=message_id, user_id=user.id))


def messages_of(user: User) -> list[Message]:
    """The user's outbox, newest first."""
    query = db.select(Message).filter_by(user_id=user.id).order_by(Message.id.desc())
    return list(db.session.scalars(query))


def parsed(message: Message) -> EmailMessage:
    """The stored email as a message object (the bytes stay the record)."""
    return message_from_bytes(message.eml, policy=policy.SMTP)  # type: ignore[return-value]


def plain_text(message: Message) -> str:
    """The letter's text part, with plain line ends."""
    body = parsed(message).get_body(preferencelist=("plain",))
    return "" if body is None else body.get_content().replace("\r\n", "\n")


def mailto_url(message: Message) -> str:
    """A mailto: link (RFC 6068) that opens the same letter in the user's own mail app."""
    to = ",".join(quote(address.addr_spec, safe="@") for address in parsed(message)["To"].addresses)
    body = plain_text(message).replace("\n", "\r\n")
    return f"mailto:{to}?subject={quote(message.subject, safe='')}&body={quote(body, safe='')}"


def in_words(error: MailError) -> str:
    """A transport's reason as a sentence, with what the user can do about it."""
    reason = error.reason.rstrip(".")
    words = f"{reason[:1].upper()}{reason[1:]}."
    if error.possibly_delivered:
        return (
            f"{words} The server may have received it before the connection broke: check with "
            "the recipient before you retry."
        )
    if error.temporary:
        return f"{words} This is usually temporary: retry in a few minutes."
    return f"{words} {error.remedy or 'Check the mail settings or the address, then retry.'}"


def describe_transport(user: User, config: Mapping[str, Any]) -> str:
    """Where 'Send' puts the letter, so the user knows whether it really leaves this computer."""
    gmail = _gmail(user, config)
    if gmail is not None:
        return (
            f"your Gmail account {google_accounts.account_of(gmail[0])} (kept in its Sent folder)"
        )
    if transport_name(config) == SmtpTransport.name:
        return f"the mail server {config.get('SMTP_HOST')}"
    return "the outbox folder on this computer (nothing is emailed; send it yourself from there)"


def offer_expiry(reply_by: date | None, interviewer_tz: str, slots: list[OfferSlot]) -> datetime:
    """The end of the reply-by day in the interviewer's zone, or the last slot's start if sooner."""
    last_start = max(slot.start for slot in slots)
    if reply_by is None:
        return last_start
    day_after = datetime.combine(reply_by + timedelta(days=1), time(), ZoneInfo(interviewer_tz))
    return min(day_after.astimezone(UTC), last_start)


def html_from_text(subject: str, text: str) -> str:
    """The edited letter as HTML: escaped paragraphs, line breaks kept, web addresses linked."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    body = "\n".join(
        "<p>" + "<br>\n".join(_linked(line) for line in paragraph.splitlines()) + "</p>"
        for paragraph in paragraphs
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(subject)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def letter_context(
    interview: Interview, user: User, now: datetime, **details: Any
) -> LetterContext:
    """What every letter about this interview says of it; `details` adds the kind's own parts."""
    return LetterContext(
        candidate_name=user.name,
        interviewer_name=interview.interviewer_name,
        company=interview.company,
        role=interview.role,
        interview=as_core_interview(interview, user),
        now=now,
        meeting_link=interview.meeting_link,
        times_rescheduled=interview.times_rescheduled,
        **{"candidate_organised": interview.organised_by_user, **details},
    )


def _compose(
    interview: Interview,
    user: User,
    choice: Choice,
    now: datetime,
    slots: tuple[Slot, ...],
    pick_url: str | None,
) -> Letter:
    context = letter_context(
        interview, user, now, slots=slots, pick_url=pick_url,
        reason_text=choice.reason_text or None,
    )  # fmt: skip
    try:
        return compose(choice.kind, choice.reason, context)
    except ValueError as error:
        raise LetterProblem(f"The letter cannot be written: {error}.") from None


def _open_offer(
    interview: Interview, reply_by: date | None, now: datetime, public_url: str | None
) -> str | None:
    """Open the draft offer, withdrawing any earlier one still open (the interview is then
    'offered'); returns the link, if the interviewer can reach it."""
    offer = draft_offer(interview)
    if not offer.slots:
        return None  # the letter asks the interviewer for times instead
    expires_at = offer_expiry(reply_by, interview.interviewer_tz, offer.slots)
    if expires_at <= now:
        raise LetterProblem("The times you offer have already passed: choose new ones first.")
    _withdraw_open_offers(interview)  # the draft is not open yet: only earlier offers go
    token = open_offer(offer, now, expires_at)
    interview.state = OFFERED
    return f"{public_url}/o/{token}" if public_url else None


def _withdraw_open_offers(interview: Interview) -> None:
    """Offers still open are withdrawn: their links then say the times are no longer offered."""
    for offer in interview.offers:
        if offer.state == OPEN:
            offer.state = WITHDRAWN


def _update_holds(
    interview: Interview, user: User, now: datetime, *, secret_key: vault.Keys, hold_times: bool
) -> None:
    """Withdrawn offers give their holds back; the open one holds its times if asked to."""
    for offer in interview.offers:
        if offer.state == WITHDRAWN:
            holds.release_holds(offer, secret_key=secret_key)
        elif offer.state == OPEN and hold_times:
            holds.place_holds(offer, user, now, secret_key=secret_key)


def _people(user: User, interview: Interview, from_address: str) -> tuple[Person, Person]:
    try:
        return (
            Person(user.name, from_address),
            Person(interview.interviewer_name, interview.interviewer_email),
        )
    except InviteError as error:
        raise LetterProblem(f"The letter cannot be addressed: {error}.") from None


def _lock(interview: Interview) -> None:
    """A no-op write to the interview row: it takes the row (SQLite: the database) write lock.

    What was loaded before the lock may be stale (another request may just have opened the
    offer), so everything is read again under it.
    """
    db.session.execute(
        update(Interview)
        .where(Interview.id == interview.id)
        .values(state=Interview.state)
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()


def _duplicate(
    interview: Interview,
    kind: str,
    subject: str,
    text: str,
    key: str,
    now: datetime,
    public_url: str | None,
) -> Message | None:
    """The message this form already made: the same words, from the same form (key) or sent
    again within a minute (a double click that lost its key, a reload)."""
    query = db.select(Message).filter_by(
        user_id=interview.user_id, interview_id=interview.id, kind=kind, subject=subject
    )
    digest = _digest(text)
    for message in db.session.scalars(query.order_by(Message.id.desc())):
        if _digest(_as_drafted(message, public_url)) != digest:
            continue
        if _key_of(message) == key or message.created_at >= now - DUPLICATE_WINDOW:
            return message
    return None


def _key_of(message: Message) -> str | None:
    """The idempotency key this module wrote into the Message-ID, if it wrote it."""
    found = re.fullmatch(
        r"<newslot\.([A-Za-z0-9_-]+)@[^>]*>",
        str(BytesHeaderParser(policy=policy.SMTP).parsebytes(message.eml)["Message-ID"] or ""),
    )
    return found.group(1) if found else None


def _as_drafted(message: Message, public_url: str | None) -> str:
    """The stored text with its offer link turned back into the placeholder it replaced."""
    text = plain_text(message)
    if not public_url:
        return text
    return re.sub(re.escape(f"{public_url}/o/") + r"[\w-]+", PICK_LINK_PLACEHOLDER, text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def _html(subject: str, text: str, letter: Letter, link: str | None) -> str:
    """The composed HTML if the user kept the letter as written, else their text as HTML."""
    if subject == letter.subject and text.strip() == letter.text.strip():
        html = letter.html
        if link:
            anchor = Markup('<a href="{0}">{0}</a>').format(link)
            html = html.replace(str(escape(PICK_LINK_PLACEHOLDER)), anchor)
        return html
    return html_from_text(subject, text.replace(PICK_LINK_PLACEHOLDER, link) if link else text)


def _linked(line: str) -> str:
    """One line escaped, its http(s) addresses made links (anything else stays text)."""
    parts, last = [], 0
    for found in _WEB_LINK.finditer(line):
        parts.append(escape(line[last : found.start()]))
        parts.append(Markup('<a href="{0}">{0}</a>').format(found.group()))
        last = found.end()
    parts.append(escape(line[last:]))
    return "".join(parts)


def _claim(message: Message, states: tuple[str, ...], **values: Any) -> bool:
    """Move the message out of `states` if it is still in one; False if another request won."""
    result = db.session.execute(
        update(Message)
        .where(Message.id == message.id, Message.state.in_(states))
        .values(error=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()  # the claim is visible to everyone before anything is sent
    db.session.refresh(message)
    return result.rowcount == 1


def _failed(message: Message, transport: str | None, error: str) -> None:
    log.warning("message %s was not sent: %s", message.id, error)
    message.state, message.error, message.transport = FAILED, error, transport
    db.session.commit()
