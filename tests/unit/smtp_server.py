"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests that send mail.

It records every envelope it accepts and every login attempt, and can be told to refuse given
recipients, to require a password, to speak TLS (implicit or STARTTLS), or to stall before
answering the end of DATA. Use it as a context manager so it always stops.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    """One accepted message as the server saw it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...]
    data: bytes  # exactly what arrived after DATA, dot-unstuffed


@dataclass
class Recorder:
    """The aiosmtpd handler: accepts, refuses or stalls as configured, and writes it all down."""

    refuse: Mapping[str, str] = field(default_factory=dict)  # sender or recipient -> "550 no"
    stall_data: float = 0.0  # seconds to wait before answering the end of DATA
    received: list[Received] = field(default_factory=list)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.mail_from, envelope.mail_options = address, options
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.stall_data)
        assert envelope.mail_from is not None and envelope.original_content is not None
        self.received.append(
            Received(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                tuple(envelope.mail_options),
                envelope.original_content,
            )
        )
        return "250 2.0.0 Ok: queued as TEST1"


@dataclass
class Credentials:
    """The one login the server accepts, and every attempt it saw (as text)."""

    username: str
    password: str
    attempts: list[tuple[str, str]] = field(default_factory=list)

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        attempt = (data.login.decode(), data.password.decode())
        self.attempts.append(attempt)
        # handled=False: aiosmtpd then sends the refusal (535) itself.
        return AuthResult(success=attempt == (self.username, self.password), handled=False)


class SmtpServer:
    """aiosmtpd on an ephemeral loopback port; `port` and `received` are what tests look at."""

    def __init__(
        self,
        recorder: Recorder | None = None,
        *,
        credentials: Credentials | None = None,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        auth_require_tls: bool = True,
        smtputf8: bool = False,
        eight_bit: bool = True,
    ) -> None:
        self.recorder = recorder or Recorder()
        self.credentials = credentials
        options: dict[str, Any] = {
            "tls_context": starttls,
            "auth_require_tls": auth_require_tls,
            "enable_SMTPUTF8": smtputf8,
            "decode_data": not eight_bit,  # aiosmtpd offers 8BITMIME only for raw bytes
        }
        if credentials is not None:
            options.update(authenticator=credentials, auth_required=True)
        self._controller = _LoopbackController(
            self.recorder,
            hostname="127.0.0.1",
            port=0,
            server_hostname="mail.test",  # skips a getfqdn() lookup
            ssl_context=implicit_tls,
            **options,
        )

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._controller.stop()


class _LoopbackController(Controller):
    """aiosmtpd's Controller, told which port the system picked for port 0."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for IP 127.0.0.1 and its key, made by the openssl command (EC: fast)."""
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key


def server_tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return context
