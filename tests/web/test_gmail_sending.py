"""Sending through the user's Gmail account: the letter from their Google address, the exact bytes
at Gmail (the fake Google on 127.0.0.1, reached by the real discovery-built client), and the
outbox rules on failure: kept with the reason, retried once, never sent twice."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from email import message_from_bytes, policy
from pathlib import Path

import httplib2
import pytest
from icalendar import Calendar

from app import vault
from app.extensions import db
from app.mail import MailError, transport_from_config
from app.mail.gmail import GmailTransport
from app.models import CalendarSource, Interview, User
from app.services import google_accounts, google_auth
from tests.fakes.google_server import CALENDAR_LIST_SCOPE, EVENTS_SCOPE, FREEBUSY_SCOPE
from tests.web.conftest import csrf_token, sign_up
from tests.web.google_helpers import ME, seed_google
from tests.web.test_letters_page import add_interview, letter_page, messages
from tests.web.test_offer_page import answer, make_offer

ANA = "ana@example.org"
SEND = "/gmail/v1/users/me/messages/send"


@pytest.fixture
def fake(fake_google):
    fake_google.add_calendar(ME, "Me", roles={ME: "owner"})
    return fake_google


@pytest.fixture
def client(google_app):
    client = google_app.test_client()
    sign_up(client)
    return client


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """The backoff pauses between sends, recorded instead of waited for."""
    pauses: list[float] = []
    monkeypatch.setattr("app.mail.gmail.time.sleep", pauses.append)
    return pauses


def connect(app, fake, *, gmail: bool = True, scopes=None) -> int:
    """Ana's Google account as the callback keeps it; with `gmail`, letters go through Gmail
    (the Gmail consent kept as the callback keeps it). The account's source id."""
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=ANA))
        source = seed_google(app, user, fake)
        if gmail:
            credentials = fake.grant(ME, **({"scopes": scopes} if scopes else {}))
            grant = google_auth.Grant(
                purpose=google_auth.GMAIL, user_id=user.id, time_zone=None,
                credentials=credentials, granted=frozenset(google_auth.SCOPES[google_auth.GMAIL]),
            )  # fmt: skip
            google_accounts.enable_gmail(source, grant, keys=app.config["VAULT_KEYS"])
        return source.id


def send_letter(client, interview_id: int):
    """The letter as the page composes it, with "Send now" pressed."""
    _, fields = letter_page(client, interview_id)
    return client.post(f"/interviews/{interview_id}/letter", data={**fields, "action": "send"})


def retry(client, message_id: int):
    token = csrf_token(client, f"/outbox/{message_id}")
    return client.post(f"/outbox/{message_id}/send", data={"csrf_token": token})


def stored_credentials(app, source_id: int) -> dict:
    with app.app_context():
        source = db.session.get_one(CalendarSource, source_id)
        return json.loads(vault.unseal(app.config["VAULT_KEYS"], source.sealed_credentials))


# --- Through Gmail -------------------------------------------------------------------------------


def test_a_letter_goes_out_through_gmail_from_the_google_address(google_app, client, fake):
    connect(google_app, fake)
    interview_id = add_interview(google_app, ANA)

    page, _ = letter_page(client, interview_id)
    assert "Ana Lima &lt;me@example.org&gt;" in page  # the From Gmail will keep
    assert "delivers through your Gmail account me@example.org" in page
    response = send_letter(client, interview_id)

    [sent] = fake.sent_mail
    [row] = messages(google_app)
    assert (row.state, row.transport, row.error) == ("sent", "gmail", None)
    assert sent.account == ME and sent.raw == row.eml  # exactly the letter that was kept
    assert [a.addr_spec for a in sent.message["From"].addresses] == [ME]
    assert [a.addr_spec for a in sent.message["To"].addresses] == ["wang.fang@example.cn"]
    assert row.eml.split(b"\r\n\r\n")[0].isascii()  # CRLF lines, headers RFC 2047-encoded
    [request] = [r for r in fake.requests if r.path == SEND]
    assert request.body["raw"] == base64.urlsafe_b64encode(row.eml).decode()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sent to 王芳 &lt;wang.fang@example.cn&gt;." in page
    assert "by email through Gmail" in page
    assert not list(Path(google_app.config["OUTBOX_DIR"]).glob("*.eml"))  # not kept there


def test_the_confirmation_goes_through_gmail_with_the_invite_intact(google_app, client, fake):
    connect(google_app, fake)
    with google_app.app_context():
        user_id = db.session.scalar(db.select(User.id).filter_by(email=ANA))
    offered = make_offer(google_app, user_id=user_id)

    assert answer(client, offered.token, {"choice": str(offered.slot_ids[1])}).status_code == 302

    [sent] = fake.sent_mail
    email = sent.message
    assert [a.addr_spec for a in email["From"].addresses] == [ME]
    assert [a.addr_spec for a in email["To"].addresses] == ["sam@harbour.example", ME]
    [part] = [p for p in email.walk() if p.get_content_type() == "text/calendar"]
    invite = part.get_payload(decode=True)
    with google_app.app_context():
        interview = db.session.get_one(Interview, offered.interview_id)
        assert invite == interview.confirmed_invite  # byte for byte the stored invite
    [event] = Calendar.from_ical(invite).walk("VEVENT")
    assert str(event["ORGANIZER"]) == f"mailto:{ME}"  # the same address as the letter's From
    assert client.get(f"/interviews/{offered.interview_id}/invite.ics").data == invite
    [row] = messages(google_app)
    assert (row.kind, row.state, row.transport) == ("confirmation", "sent", "gmail")
    assert sent.raw == row.eml


def test_an_expired_token_is_refreshed_saved_and_the_letter_sent(google_app, client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    source_id = connect(google_app, fake)
    interview_id = add_interview(google_app, ANA)
    _, fields = letter_page(client, interview_id)
    client.post(f"/interviews/{interview_id}/letter", data={**fields, "action": "save"})
    [row] = messages(google_app)
    before = stored_credentials(google_app, source_id)
    fake.expire_access_tokens()

    retry(client, row.id)

    assert len(fake.sent_mail) == 1 and fake.count("POST", SEND) == 2  # 401, then sent
    after = stored_credentials(google_app, source_id)
    assert after["token"] != before["token"]
    assert after["refresh_token"] == before["refresh_token"]
    for secret in (before["token"], after["token"], after["refresh_token"]):
        assert secret not in caplog.text


# --- The outbox rules on failure ------------------------------------------------------------------


def test_gmail_failing_leaves_the_letter_failed_and_a_retry_sends_it_once(
    google_app, client, fake, slept
):
    connect(google_app, fake)
    interview_id = add_interview(google_app, ANA)
    fake.fail("POST", SEND, 503, "backendError", times=3)

    response = send_letter(client, interview_id)

    [row] = messages(google_app)
    assert (row.state, row.transport, row.attempts) == ("failed", "gmail", 1)
    assert row.error == (
        "Gmail failed to answer (HTTP 503). This is usually temporary: retry in a few minutes."
    )
    assert fake.sent_mail == [] and fake.count("POST", SEND) == 3  # tried, then retried twice
    assert len(slept) == 2
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Gmail failed to answer (HTTP 503)" in page and "Retry" in page

    first, second = retry(client, row.id), retry(client, row.id)

    assert len(fake.sent_mail) == 1 and fake.sent_mail[0].raw == row.eml
    [row] = messages(google_app)
    assert (row.state, row.attempts, row.error) == ("sent", 2, None)
    assert "Not sent again: this letter is already sent." in client.get(
        second.headers["Location"]
    ).get_data(as_text=True)
    assert first.status_code == 302


def test_one_busy_answer_is_sent_again_after_a_pause(google_app, client, fake, slept):
    connect(google_app, fake)
    interview_id = add_interview(google_app, ANA)
    fake.fail("POST", SEND, 429, "rateLimitExceeded")

    send_letter(client, interview_id)

    [row] = messages(google_app)
    assert (row.state, row.transport) == ("sent", "gmail")
    assert len(fake.sent_mail) == 1 and fake.count("POST", SEND) == 2
    assert len(slept) == 1


def test_a_revoked_grant_asks_to_reconnect_and_sends_nothing(google_app, client, fake):
    source_id = connect(google_app, fake)
    fake.revoke(stored_credentials(google_app, source_id)["refresh_token"])
    interview_id = add_interview(google_app, ANA)

    send_letter(client, interview_id)

    [row] = messages(google_app)
    assert (row.state, row.transport) == ("failed", "gmail")
    assert row.error == (
        "Google refused the saved access. Reconnect Google on the Calendars page, then retry."
    )
    assert fake.sent_mail == []
    with google_app.app_context():
        assert google_accounts.needs_reconnect(db.session.get_one(CalendarSource, source_id))
    assert "Reconnect Google</button>" in client.get("/calendars/").get_data(as_text=True)


def test_a_grant_without_permission_to_send_says_so(google_app, client, fake):
    calendars_only = (CALENDAR_LIST_SCOPE, FREEBUSY_SCOPE, EVENTS_SCOPE)
    source_id = connect(google_app, fake, scopes=calendars_only)
    interview_id = add_interview(google_app, ANA)

    send_letter(client, interview_id)

    [row] = messages(google_app)
    assert row.state == "failed" and fake.sent_mail == []
    assert row.error == (
        "Google has not given Newslot permission to send email as me@example.org. On the "
        "Calendars page, turn sending through Gmail off and on again and allow sending; then retry."
    )
    with google_app.app_context():  # the calendars still work: no reconnect for them
        assert not google_accounts.needs_reconnect(db.session.get_one(CalendarSource, source_id))


def test_without_gmail_the_letter_goes_the_usual_way(google_app, client, fake):
    connect(google_app, fake, gmail=False)
    interview_id = add_interview(google_app, ANA)

    page, _ = letter_page(client, interview_id)
    assert "Ana Lima &lt;ana@example.org&gt;" in page
    send_letter(client, interview_id)

    [row] = messages(google_app)
    assert (row.state, row.transport) == ("sent", "outbox")
    assert message_from_bytes(row.eml, policy=policy.default)["From"].addresses[0].addr_spec == ANA
    assert fake.sent_mail == [] and fake.count("POST", SEND) == 0


# --- The transport itself -------------------------------------------------------------------------


class _Silent:
    """A server that reads each request and never answers, as when an answer is lost."""

    def __init__(self) -> None:
        self.requests = 0
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        held = []  # kept open, never answered
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            connection.recv(65536)
            self.requests += 1
            held.append(connection)
        for connection in held:
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._server.close()


class _Session:
    """The account's side of GmailTransport (the GoogleProvider in the app), without a token."""

    timeout = 0.5

    def __init__(self, api_base: str) -> None:
        self.api_base = api_base

    def authorized_http(self) -> httplib2.Http:
        return httplib2.Http(timeout=self.timeout)

    def report_refresh(self) -> None:
        pass


def test_a_lost_answer_may_mean_sent_so_it_is_not_sent_again(google_app, client, fake):
    connect(google_app, fake)
    interview_id = add_interview(google_app, ANA)
    _, fields = letter_page(client, interview_id)
    client.post(f"/interviews/{interview_id}/letter", data={**fields, "action": "save"})
    [row] = messages(google_app)
    email = message_from_bytes(row.eml, policy=policy.SMTP)
    silent = _Silent()
    try:
        with pytest.raises(MailError) as raised:
            GmailTransport(ME, _Session(silent.url)).send(email)
    finally:
        silent.close()

    assert silent.requests == 1  # no second try behind the user's back
    assert raised.value.possibly_delivered and raised.value.temporary
    assert str(raised.value) == (
        "Gmail did not answer within 0.5 seconds, so the letter may already be in the Sent "
        "folder of me@example.org"
    )


def test_gmail_is_no_mail_transport_setting(tmp_path):
    with pytest.raises(ValueError, match="MAIL_TRANSPORT must be one of outbox, smtp"):
        transport_from_config({"MAIL_TRANSPORT": "gmail"}, tmp_path)
    with pytest.raises(ValueError, match="each user turns on sending through their own Gmail"):
        GmailTransport.from_config({}, tmp_path)
