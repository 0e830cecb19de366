"""Email delivery: the outbox folder and a real SMTP server (aiosmtpd) on 127.0.0.1.

Messages come from the real pipeline (build_invite -> build_imip_message), so what is checked is
what the app will send: the bytes that arrive, the envelope, and every way a send can fail.
"""

from __future__ import annotations

import itertools
import logging
import re
import shutil
import socket
import ssl
import time
import traceback
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.mail import (
    MailError,
    OutboxTransport,
    SmtpTransport,
    transport_from_config,
)
from app.mail import outbox as outbox_module
from app.messages.invites import REQUEST, Attendee, InviteEvent, Person, build_invite
from app.messages.mime import build_imip_message
from tests.unit.smtp_server import (
    Credentials,
    Recorder,
    SmtpServer,
    self_signed_certificate,
    server_tls_context,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 10, 15, tzinfo=BERLIN)
JOSE = Person("José Núñez", "jose@example.org")
WANG = Person("王芳", "wang.fang@example.cn")
ZOE = Person("Adams, Zoe", "zoe@acme.example")  # a comma that must not split the address
SUBJECT = "Neuer Termin für unser Gespräch – 2 April (王芳)"
TEXT = "Dear Wang Fang,\n\nthe new time is 2 April, 10:00. Grüße, José\n"
EVENT = InviteEvent(
    uid="interview-42@newslot.example",
    summary="Interview",
    start=datetime(2026, 4, 2, 10, 0, tzinfo=BERLIN),
    end=datetime(2026, 4, 2, 11, 0, tzinfo=BERLIN),
    organizer=JOSE,
    attendees=(Attendee(WANG),),
)
USER, PASSWORD = "jose@example.org", "s3cret-Horse-battery"


def letter(*, sender: Person = JOSE, to: tuple[Person, ...] = (WANG,)) -> EmailMessage:
    return build_imip_message(
        sender=sender,
        to=list(to),
        subject=SUBJECT,
        text=TEXT,
        html="<p>Dear Wang Fang,</p><p>the new time is 2 April, 10:00.</p>",
        invite=build_invite(REQUEST, EVENT, NOW),
        now=NOW,
    )


def smtp(port: int, **options: object) -> SmtpTransport:
    """A transport to the loopback server; local_hostname skips a getfqdn() lookup."""
    values: dict[str, object] = {"security": "none", "local_hostname": "client.test"}
    values.update(options)
    return SmtpTransport("127.0.0.1", port, **values)  # type: ignore[arg-type]


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts the test certificate (and nothing else)."""
    return ssl.create_default_context(cafile=certificate[0])


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- SMTP: what arrives --------------------------------------------------------------------------


def test_the_server_receives_exactly_the_built_bytes_and_envelope(server: SmtpServer) -> None:
    message = letter(to=(WANG, ZOE))
    message["Cc"] = "Team <team@acme.example>"

    delivery = smtp(server.port).send(message)

    [received] = server.received
    data = message.as_bytes(policy=policy.SMTP)
    assert received.data == data
    assert received.mail_from == JOSE.email
    assert received.rcpt_tos == (WANG.email, ZOE.email, "team@acme.example")
    assert f"SIZE={len(data)}" in received.mail_options
    assert data.isascii()  # the letters are built 7-bit: they need no 8BITMIME
    assert "BODY=8BITMIME" not in received.mail_options
    assert delivery.transport == "smtp"
    assert delivery.message_id == message["Message-ID"]
    assert "queued as TEST1" in delivery.detail


def test_bcc_recipients_get_the_message_but_nobody_sees_them(server: SmtpServer) -> None:
    message = letter()
    message["Bcc"] = "Hidden Boss <boss@acme.example>"

    smtp(server.port).send(message)

    [received] = server.received
    assert received.rcpt_tos == (WANG.email, "boss@acme.example")
    assert b"boss@acme.example" not in received.data
    assert b"Bcc" not in received.data
    assert message["Bcc"] == "Hidden Boss <boss@acme.example>"  # the caller's copy is untouched


def test_non_ascii_names_and_subject_arrive_exactly(server: SmtpServer) -> None:
    smtp(server.port).send(letter())

    arrived = parsed(server.received[0].data)
    assert arrived["From"].addresses[0].display_name == "José Núñez"
    assert arrived["To"].addresses[0].display_name == "王芳"
    assert arrived["Subject"] == SUBJECT
    plain = arrived.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().splitlines() == TEXT.splitlines()  # CRLF on the wire
    calendar = next(part for part in arrived.walk() if part.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST"


def test_an_international_address_travels_with_smtputf8() -> None:
    wang = Person("王芳", "wang@例子.中国")  # email's Address refuses a non-ASCII local part
    with SmtpServer(smtputf8=True) as server:
        smtp(server.port).send(letter(to=(wang,)))

    [received] = server.received
    assert received.rcpt_tos == ("wang@例子.中国",)
    assert "SMTPUTF8" in received.mail_options
    # RFC 6532: headers travel as raw UTF-8 (Python's parser cannot read those addresses back).
    headers = received.data.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    to = next(line for line in headers.splitlines() if line.startswith("To:"))
    assert to.endswith(" <wang@例子.中国>")


def test_a_server_without_smtputf8_gets_nothing_for_an_international_address(
    server: SmtpServer,
) -> None:
    with pytest.raises(
        MailError, match=re.escape("international addresses such as wang@例子.中国")
    ):
        smtp(server.port).send(letter(to=(Person("王芳", "wang@例子.中国"),)))
    assert server.received == []


def test_a_server_without_8bitmime_gets_nothing_rather_than_garbled_text() -> None:
    eight_bit = EmailMessage()
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        eight_bit[header] = letter()[header]
    eight_bit.set_content("Grüße, 王芳", cte="8bit")
    with SmtpServer(eight_bit=False) as server:
        with pytest.raises(MailError, match="8-bit"):
            smtp(server.port).send(eight_bit)
        assert server.received == []
        smtp(server.port).send(letter())  # what Newslot builds is 7-bit: it goes through
        assert len(server.received) == 1


# aiosmtpd warns about what these tests do on purpose: take a password without TLS.
ALLOW_AUTH_WITHOUT_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


# --- SMTP: TLS and login -------------------------------------------------------------------------


def test_login_over_starttls(certificate: tuple[Path, Path], trusting: ssl.SSLContext) -> None:
    credentials = Credentials(USER, PASSWORD)
    tls = server_tls_context(*certificate)
    with SmtpServer(credentials=credentials, starttls=tls) as server:
        smtp(
            server.port,
            security="starttls",
            username=USER,
            password=PASSWORD,
            ssl_context=trusting,
        ).send(letter())

    assert credentials.attempts == [(USER, PASSWORD)]
    assert len(server.received) == 1


@ALLOW_AUTH_WITHOUT_TLS
def test_login_over_implicit_tls(certificate: tuple[Path, Path], trusting: ssl.SSLContext) -> None:
    credentials = Credentials(USER, PASSWORD)
    tls = server_tls_context(*certificate)
    # aiosmtpd counts only STARTTLS as TLS for AUTH, so it must be told AUTH is fine here.
    with SmtpServer(credentials=credentials, implicit_tls=tls, auth_require_tls=False) as server:
        smtp(
            server.port, security="ssl", username=USER, password=PASSWORD, ssl_context=trusting
        ).send(letter())

    assert credentials.attempts == [(USER, PASSWORD)]
    assert len(server.received) == 1


def test_an_untrusted_certificate_stops_the_send_before_the_password(
    certificate: tuple[Path, Path],
) -> None:
    credentials = Credentials(USER, PASSWORD)
    with SmtpServer(credentials=credentials, starttls=server_tls_context(*certificate)) as server:
        transport = smtp(server.port, security="starttls", username=USER, password=PASSWORD)
        with pytest.raises(MailError, match="did not present a trusted certificate") as caught:
            transport.send(letter())  # the system's CAs do not know the test certificate

    assert credentials.attempts == []
    assert server.received == []
    assert not caught.value.temporary


@ALLOW_AUTH_WITHOUT_TLS
def test_starttls_that_is_not_offered_means_no_password_and_no_message() -> None:
    credentials = Credentials(USER, PASSWORD)
    with SmtpServer(credentials=credentials, auth_require_tls=False) as server:
        transport = smtp(server.port, security="starttls", username=USER, password=PASSWORD)
        with pytest.raises(MailError, match="does not offer STARTTLS"):
            transport.send(letter())

    assert credentials.attempts == []  # the server would have taken it in the clear
    assert server.received == []


@ALLOW_AUTH_WITHOUT_TLS
def test_login_in_the_clear_is_allowed_to_this_machine() -> None:
    credentials = Credentials(USER, PASSWORD)
    with SmtpServer(credentials=credentials, auth_require_tls=False) as server:
        smtp(server.port, username=USER, password=PASSWORD).send(letter())

    assert credentials.attempts == [(USER, PASSWORD)]
    assert len(server.received) == 1


def test_a_wrong_password_is_a_plain_sentence_that_never_repeats_it(
    certificate: tuple[Path, Path],
    trusting: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-Pa55word-9f1c"
    credentials = Credentials(USER, PASSWORD)
    with SmtpServer(credentials=credentials, starttls=server_tls_context(*certificate)) as server:
        transport = smtp(
            server.port, security="starttls", username=USER, password=wrong, ssl_context=trusting
        )
        with pytest.raises(MailError) as caught:
            transport.send(letter())

    error = caught.value
    assert str(error).startswith(f"the mail server 127.0.0.1:{server.port} refused the password")
    assert USER in str(error)
    assert (USER, wrong) in credentials.attempts  # it really was tried, and refused
    assert not error.temporary
    output = capsys.readouterr()
    for place in (
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        repr(transport),
        caplog.text,
        output.out + output.err,
    ):
        assert wrong not in place
    assert server.received == []


# --- SMTP: failures ------------------------------------------------------------------------------


def test_a_server_that_is_down_fails_fast(closed_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(MailError) as caught:
        smtp(closed_port).send(letter())

    assert str(caught.value) == f"could not connect to 127.0.0.1:{closed_port}: connection refused"
    assert caught.value.temporary
    assert time.monotonic() - started < 1


def test_a_server_that_never_answers_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MailError, match=r"did not answer within 0\.2 seconds") as caught:
            smtp(port, timeout=0.2).send(letter())

    assert caught.value.temporary
    assert not caught.value.possibly_delivered
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("reply", "temporary"),
    [("550 5.1.1 no such user", False), ("450 4.2.1 mailbox busy, try later", True)],
)
def test_one_refused_recipient_stops_the_whole_send(reply: str, temporary: bool) -> None:
    with SmtpServer(Recorder(refuse={ZOE.email: reply})) as server:
        with pytest.raises(MailError) as caught:
            smtp(server.port).send(letter(to=(WANG, ZOE)))
        assert server.received == []  # Wang Fang did not get it either

    assert "rejected the recipient zoe@acme.example" in str(caught.value)
    assert reply in str(caught.value)
    assert caught.value.temporary is temporary


def test_a_connection_lost_after_the_message_was_handed_over_may_have_delivered_it() -> None:
    with (
        SmtpServer(Recorder(stall_data=2.0)) as server,
        pytest.raises(MailError, match="did not answer") as caught,
    ):
        smtp(server.port, timeout=0.2).send(letter())

    assert caught.value.possibly_delivered
    assert caught.value.temporary


def test_a_refused_sender_is_named(server: SmtpServer) -> None:
    server.recorder.refuse = {JOSE.email: "553 5.7.1 sender not owned by the logged-in user"}

    with pytest.raises(MailError) as caught:
        smtp(server.port).send(letter())

    assert str(caught.value) == (
        f"the mail server 127.0.0.1:{server.port} refused the sender jose@example.org "
        "(553 5.7.1 sender not owned by the logged-in user)"
    )
    assert server.received == []


def test_tls_against_a_plain_server_points_at_the_settings(server: SmtpServer) -> None:
    with pytest.raises(MailError, match="could not set up encryption") as caught:
        smtp(server.port, security="ssl").send(letter())

    assert f"check that port {server.port} expects SMTP_SECURITY 'ssl'" in str(caught.value)
    assert not caught.value.temporary


def test_a_server_without_login_is_not_sent_a_password(server: SmtpServer) -> None:
    with pytest.raises(
        MailError, match=r"offers no login method this app can use \(it offers: none\)"
    ):
        smtp(server.port, username=USER, password=PASSWORD).send(letter())
    assert server.received == []


@pytest.mark.parametrize("header", ["From", "To", "Message-ID", "Date"])
def test_an_incomplete_message_is_refused_before_connecting(header: str, closed_port: int) -> None:
    message = letter()
    del message[header]

    with pytest.raises(MailError, match=f"(no|needs exactly one|no valid) {header}"):
        smtp(closed_port).send(message)  # a connection attempt would say "connection refused"


def test_a_garbled_address_is_refused_before_connecting(closed_port: int) -> None:
    message = letter()
    message.replace_header("To", "not an address")

    with pytest.raises(MailError, match="unusable address"):
        smtp(closed_port).send(message)


# --- Outbox --------------------------------------------------------------------------------------


def test_the_outbox_writes_the_exact_bytes_under_a_safe_name(tmp_path: Path) -> None:
    message = letter()
    folder = tmp_path / "instance" / "outbox"

    delivery = OutboxTransport(folder).send(message)

    path = Path(delivery.detail)
    assert re.fullmatch(r"20260320T091500Z-[0-9a-f]{16}\.eml", path.name)  # the Date, in UTC
    assert list(folder.iterdir()) == [path]  # no temporary file left behind
    data = path.read_bytes()
    assert data == message.as_bytes(policy=policy.SMTP)
    assert data.count(b"\n") == data.count(b"\r\n")
    assert parsed(data)["Subject"] == SUBJECT
    assert (delivery.transport, delivery.message_id) == ("outbox", message["Message-ID"])


def test_the_outbox_never_overwrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["a" * 16, "a" * 16, "b" * 16, "c" * 16, "d" * 16])
    monkeypatch.setattr(outbox_module, "new_id", lambda: next(ids))
    outbox = OutboxTransport(tmp_path)
    precious = tmp_path / f"20260320T091500Z-{'c' * 16}.eml"

    first = Path(outbox.send(letter()).detail)
    second = Path(outbox.send(letter()).detail)  # "aaaa..." is taken: it moves on to "bbbb..."
    precious.write_bytes(b"written by someone else")
    third = Path(outbox.send(letter()).detail)

    ids_used = [path.stem.rpartition("-")[2] for path in (first, second, third)]
    assert ids_used == ["a" * 16, "b" * 16, "d" * 16]
    assert precious.read_bytes() == b"written by someone else"
    assert first.read_bytes() != second.read_bytes()  # two messages, two Message-IDs, two files


def test_the_outbox_gives_up_when_no_name_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "new_id", itertools.repeat("a" * 16).__next__)
    outbox = OutboxTransport(tmp_path)
    outbox.send(letter())

    with pytest.raises(MailError, match="could not find a free file name"):
        outbox.send(letter())
    assert len(list(tmp_path.iterdir())) == 1


def test_the_outbox_keeps_bcc_in_the_senders_copy(tmp_path: Path) -> None:
    message = letter()
    message["Bcc"] = "boss@acme.example"

    path = Path(OutboxTransport(tmp_path).send(message).detail)

    assert parsed(path.read_bytes())["Bcc"] == "boss@acme.example"


def test_an_unwritable_outbox_is_a_mail_error(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")

    with pytest.raises(MailError, match="could not write to the outbox folder"):
        OutboxTransport(blocker).send(letter())


# --- Configuration -------------------------------------------------------------------------------


def test_the_outbox_is_the_default(tmp_path: Path) -> None:
    transport = transport_from_config({}, tmp_path)

    assert isinstance(transport, OutboxTransport)
    assert transport.folder == tmp_path / "outbox"


@pytest.mark.parametrize(
    ("value", "expected"), [("mail/out", "mail/out"), ("/srv/out", "/srv/out")]
)
def test_outbox_dir_is_read_from_the_instance_folder(
    tmp_path: Path, value: str, expected: str
) -> None:
    transport = transport_from_config({"OUTBOX_DIR": value}, tmp_path)

    assert isinstance(transport, OutboxTransport)
    assert transport.folder == tmp_path / expected  # an absolute path stays itself


@pytest.mark.parametrize(
    ("settings", "port", "security"),
    [
        ({}, 587, "starttls"),
        ({"SMTP_SECURITY": "ssl"}, 465, "ssl"),
        ({"SMTP_SECURITY": "none"}, 25, "none"),
        ({"SMTP_PORT": "2525", "SMTP_SECURITY": "STARTTLS"}, 2525, "starttls"),
    ],
)
def test_smtp_settings_and_their_defaults(
    tmp_path: Path, settings: dict[str, str], port: int, security: str
) -> None:
    config = {"MAIL_TRANSPORT": "smtp", "SMTP_HOST": "smtp.example.org", **settings}

    transport = transport_from_config(config, tmp_path)

    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.security) == (
        "smtp.example.org",
        port,
        security,
    )
    assert transport.username is None


SMTP = {"MAIL_TRANSPORT": "smtp", "SMTP_HOST": "smtp.example.org"}
LOGIN = {"SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"MAIL_TRANSPORT": "pigeon"}, "MAIL_TRANSPORT"),
        ({"MAIL_TRANSPORT": 1}, "MAIL_TRANSPORT"),
        ({"MAIL_TRANSPORT": "smtp"}, "SMTP_HOST"),
        ({**SMTP, "SMTP_HOST": "smtp example.org"}, "SMTP_HOST"),
        ({**SMTP, "SMTP_PORT": "submission"}, "SMTP_PORT"),
        ({**SMTP, "SMTP_PORT": 0}, "SMTP_PORT"),
        ({**SMTP, "SMTP_PORT": 70000}, "SMTP_PORT"),
        ({**SMTP, "SMTP_PORT": True}, "SMTP_PORT"),
        ({**SMTP, "SMTP_SECURITY": "tls"}, "SMTP_SECURITY"),
        ({**SMTP, "SMTP_USERNAME": USER}, "SMTP_PASSWORD"),
        ({**SMTP, "SMTP_PASSWORD": PASSWORD}, "SMTP_USERNAME"),
        ({**SMTP, **LOGIN, "SMTP_SECURITY": "none"}, "SMTP_SECURITY"),
        ({**SMTP, "SMTP_USERNAME": USER, "SMTP_PASSWORD": "pässwörd-Ω"}, "SMTP_PASSWORD"),
        ({**SMTP, "SMTP_USERNAME": USER, "SMTP_PASSWORD": 12345678}, "SMTP_PASSWORD"),
        ({"OUTBOX_DIR": 42}, "OUTBOX_DIR"),
    ],
)
def test_a_bad_setting_is_named_and_a_password_is_never_echoed(
    tmp_path: Path, config: dict[str, object], key: str
) -> None:
    with pytest.raises(ValueError, match=key) as caught:
        transport_from_config(config, tmp_path)

    password = config.get("SMTP_PASSWORD")
    if password is not None:
        assert str(password) not in str(caught.value)


def test_a_password_may_go_in_the_clear_only_to_this_machine(tmp_path: Path) -> None:
    config = {**SMTP, **LOGIN, "SMTP_SECURITY": "none", "SMTP_HOST": "127.0.0.1"}

    transport = transport_from_config(config, tmp_path)

    assert isinstance(transport, SmtpTransport)
    assert (transport.username, transport.security) == (USER, "none")
    assert PASSWORD not in repr(transport)
