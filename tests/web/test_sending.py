"""Delivery: a real SMTP server (aiosmtpd on 127.0.0.1), failures kept with their reason, retries,
and the guarantees that a letter is never lost nor sent twice (double submits, racing sends).
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from app.extensions import db
from app.mail import Delivery, Transport
from app.models import Interview, Message, OfferSlot, User
from app.services import sending
from app.services.offers import hash_token
from tests.unit.smtp_server import SmtpServer
from tests.web.conftest import NOW, csrf_token, sign_up
from tests.web.test_letters_page import (
    JOSE,
    PUBLIC_URL,
    add_interview,
    letter_page,
    messages,
    text_part,
)


@pytest.fixture
def jose(client):
    sign_up(client, **JOSE)
    return client


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


def use_smtp(app, port: int) -> None:
    app.config.update(
        MAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none"
    )


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def send_form(client, interview_id: int, action: str = "send") -> dict[str, str]:
    """The letter form as the page fills it, with the button `action` pressed."""
    _, fields = letter_page(client, interview_id)
    return {**fields, "action": action}


# --- A real SMTP server --------------------------------------------------------------------------


def test_the_letter_arrives_at_an_smtp_server_as_text_and_html(app, jose, server) -> None:
    use_smtp(app, server.port)
    interview_id = add_interview(app)

    response = jose.post(f"/interviews/{interview_id}/letter", data=send_form(jose, interview_id))

    [received] = server.received
    [message] = messages(app)
    assert (message.state, message.transport, message.error) == ("sent", "smtp", None)
    assert (received.mail_from, received.rcpt_tos) == (
        "jose@example.org",
        ("wang.fang@example.cn",),
    )
    email = message_from_bytes(received.data, policy=policy.default)
    assert email.get_content_type() == "multipart/mixed"
    [alternative] = email.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert email["Subject"] == (
        "Request to reschedule: interview for Ingeniera de Señales on Thursday 3 December 2026"
    )
    assert [(a.display_name, a.addr_spec) for a in email["To"].addresses] == [
        ("王芳", "wang.fang@example.cn")
    ]
    assert email["From"].addresses[0].display_name == "José Núñez"
    assert received.data.split(b"\r\n\r\n")[0].isascii()  # headers encoded (RFC 2047)
    assert text_part(received.data).startswith("Dear 王芳,\n\nThank you again")
    assert "Sent to 王芳 &lt;wang.fang@example.cn&gt;." in jose.get(
        response.headers["Location"]
    ).get_data(as_text=True)


def test_a_server_that_is_down_keeps_the_letter_and_a_retry_sends_it_once(
    app, jose, closed_port: int
) -> None:
    use_smtp(app, closed_port)
    interview_id = add_interview(app)

    response = jose.post(f"/interviews/{interview_id}/letter", data=send_form(jose, interview_id))

    [message] = messages(app)
    assert (message.state, message.attempts, message.transport) == ("failed", 1, "smtp")
    assert message.error == (
        f"Could not connect to 127.0.0.1:{closed_port}: connection refused. "
        "This is usually temporary: retry in a few minutes."
    )
    page = jose.get(response.headers["Location"]).get_data(as_text=True)
    assert "connection refused" in page and "Retry" in page
    outbox = jose.get("/outbox").get_data(as_text=True)
    assert "connection refused" in outbox and "Not sent: failed" in outbox

    with SmtpServer() as server:
        use_smtp(app, server.port)
        token = csrf_token(jose, f"/outbox/{message.id}")
        first = jose.post(f"/outbox/{message.id}/send", data={"csrf_token": token})
        second = jose.post(f"/outbox/{message.id}/send", data={"csrf_token": token})

    assert len(server.received) == 1
    assert server.received[0].data == message.eml  # exactly the letter that was kept
    [message] = messages(app)
    assert (message.state, message.attempts, message.error) == ("sent", 2, None)
    assert first.status_code == second.status_code == 302
    assert "Not sent again: this letter is already sent." in jose.get(
        second.headers["Location"]
    ).get_data(as_text=True)


def test_unusable_mail_settings_fail_the_letter_in_words(app, jose) -> None:
    app.config.update(MAIL_TRANSPORT="smtp", SMTP_HOST="mail example", SMTP_SECURITY="none")
    interview_id = add_interview(app)

    jose.post(f"/interviews/{interview_id}/letter", data=send_form(jose, interview_id))

    [message] = messages(app)
    assert message.state == "failed"
    assert message.error == (
        "The mail settings are not usable: SMTP_HOST 'mail example' is not a host name."
    )


# --- Never twice -------------------------------------------------------------------------------


def test_a_double_submitted_form_sends_one_letter(app, jose, server) -> None:
    use_smtp(app, server.port)
    interview_id = add_interview(app)
    form = send_form(jose, interview_id)

    first = jose.post(f"/interviews/{interview_id}/letter", data=form)
    app.config["NOW"] = lambda: NOW + timedelta(minutes=30)  # even much later, from the same form
    second = jose.post(f"/interviews/{interview_id}/letter", data=form)

    assert len(messages(app)) == 1 and len(server.received) == 1
    assert first.headers["Location"] == second.headers["Location"]


def test_the_same_words_from_a_fresh_form_are_one_letter_within_a_minute_only(app, jose) -> None:
    interview_id = add_interview(app, slots=0)  # no offer to open: the same letter can go again
    page_form = send_form(jose, interview_id)

    jose.post(f"/interviews/{interview_id}/letter", data={**page_form, "key": sending.new_key()})
    app.config["NOW"] = lambda: NOW + timedelta(seconds=50)
    jose.post(f"/interviews/{interview_id}/letter", data={**page_form, "key": sending.new_key()})
    assert len(messages(app)) == 1
    app.config["NOW"] = lambda: NOW + timedelta(minutes=2)
    jose.post(f"/interviews/{interview_id}/letter", data={**page_form, "key": sending.new_key()})
    changed = {**page_form, "body": page_form["body"] + "P.S. See you soon.\n"}
    jose.post(f"/interviews/{interview_id}/letter", data=changed)

    assert len(messages(app)) == 3


def _in_threads(count: int, work) -> list:
    """Run `work(index)` in `count` threads started together; their results in index order."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_two_simultaneous_submits_make_one_letter_and_open_the_offer_once(app, jose) -> None:
    app.config["PUBLIC_URL"] = PUBLIC_URL
    interview_id = add_interview(app)
    form = send_form(jose, interview_id)

    def submit(index: int) -> int:
        with app.app_context():
            interview = db.session.get_one(Interview, interview_id)
            user = db.session.get_one(User, interview.user_id)
            return sending.queue_letter(
                interview,
                user,
                sending.Choice("reschedule", "personal"),
                form["subject"],
                form["body"],
                key=sending.new_key(),
                now=NOW,
                public_url=PUBLIC_URL,
            ).id

    ids = _in_threads(2, submit)

    [message] = messages(app)
    assert ids == [message.id, message.id]
    with app.app_context():
        [offer] = db.session.get_one(Interview, interview_id).offers
        assert offer.state == "open"
        link_token = text_part(message.eml).split("/o/")[1].split()[0]
        assert hash_token(link_token) == offer.token_hash


class _SlowTransport(Transport):
    """Takes its time, so a second send would start while the first is still going."""

    name = "slow"

    def __init__(self) -> None:
        self.sent: list[str] = []

    @classmethod
    def from_config(cls, config, instance_path):
        return cls()

    def send(self, message: EmailMessage) -> Delivery:
        time.sleep(0.3)
        self.sent.append(str(message["Message-ID"]))
        return Delivery(self.name, str(message["Message-ID"]), "slowly")


def test_two_simultaneous_sends_of_one_message_deliver_it_once(app, jose) -> None:
    interview_id = add_interview(app)
    jose.post(f"/interviews/{interview_id}/letter", data=send_form(jose, interview_id, "save"))
    [queued] = messages(app)
    transport = _SlowTransport()

    def deliver(index: int) -> bool:
        with app.app_context():
            message = db.session.get_one(Message, queued.id)
            return sending.deliver(message, lambda: transport, NOW)

    claimed = _in_threads(3, deliver)

    assert sorted(claimed) == [False, False, True]
    assert len(transport.sent) == 1
    [message] = messages(app)
    assert (message.state, message.transport, message.attempts) == ("sent", "slow", 1)


def test_a_message_being_sent_is_not_sent_again_by_a_retry(app, jose, outbox_folder) -> None:
    interview_id = add_interview(app)
    jose.post(f"/interviews/{interview_id}/letter", data=send_form(jose, interview_id, "save"))
    [message] = messages(app)
    with app.app_context():
        db.session.get_one(Message, message.id).state = "sending"
        db.session.commit()

    response = jose.post(
        f"/outbox/{message.id}/send", data={"csrf_token": csrf_token(jose, "/outbox")}
    )

    assert response.status_code == 302
    assert not outbox_folder.exists()
    assert messages(app)[0].attempts == 0


def test_a_send_cut_off_midway_is_released_as_failed_with_advice(app, jose, outbox_folder) -> None:
    interview_id = add_interview(app)
    jose.post(f"/interviews/{interview_id}/letter", data=send_form(jose, interview_id, "save"))
    [message] = messages(app)
    with app.app_context():
        stuck = db.session.get_one(Message, message.id)
        stuck.state, stuck.claimed_at = "sending", NOW - timedelta(minutes=11)
        db.session.commit()

    page = jose.get("/outbox").get_data(as_text=True)

    assert messages(app)[0].state == "failed"
    assert "may or may not have received" in page
    token = csrf_token(jose, "/outbox")
    jose.post(f"/outbox/{message.id}/send", data={"csrf_token": token})
    jose.post(f"/outbox/{message.id}/send", data={"csrf_token": token})
    assert messages(app)[0].state == "sent" and len(list(outbox_folder.iterdir())) == 1


def test_a_send_in_progress_is_not_released(app, jose) -> None:
    interview_id = add_interview(app)
    jose.post(f"/interviews/{interview_id}/letter", data=send_form(jose, interview_id, "save"))
    [message] = messages(app)
    with app.app_context():
        running = db.session.get_one(Message, message.id)
        running.state, running.claimed_at = "sending", NOW - timedelta(minutes=2)
        db.session.commit()
    jose.get("/outbox")
    assert messages(app)[0].state == "sending"


# --- Pieces ------------------------------------------------------------------------------------


def test_edited_text_becomes_escaped_html_paragraphs_with_only_web_links() -> None:
    html = sending.html_from_text(
        "A <subject>",
        "See https://a.example/x?y=1&z=2.\nNext line\n\n<img src=x> javascript:alert(1)\n",
    )

    assert "<title>A &lt;subject&gt;</title>" in html
    assert (
        '<p>See <a href="https://a.example/x?y=1&amp;z=2">https://a.example/x?y=1&amp;z=2</a>.'
        "<br>\nNext line</p>\n<p>&lt;img src=x&gt; javascript:alert(1)</p>"
    ) in html


def test_the_offer_expires_at_the_end_of_the_reply_by_day_or_the_last_slot() -> None:
    starts = (datetime(2026, 12, 3, 9, tzinfo=UTC), datetime(2026, 12, 4, 9, tzinfo=UTC))
    slots = [OfferSlot(start=start, end=start + timedelta(hours=1)) for start in starts]

    # Midnight after 2 December in New York is 05:00 UTC on the 3rd.
    assert sending.offer_expiry(date(2026, 12, 2), "America/New_York", slots) == datetime(
        2026, 12, 3, 5, tzinfo=UTC
    )
    assert sending.offer_expiry(date(2026, 12, 10), "America/New_York", slots) == slots[1].start
    assert sending.offer_expiry(None, "America/New_York", slots) == slots[1].start
