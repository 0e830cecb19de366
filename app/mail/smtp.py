"""Delivery to a mail server with smtplib, all or nothing, and every failure in plain words.

The envelope is driven step by step instead of through `sendmail`, because `sendmail` hands the
message over as soon as one recipient is accepted and only reports the refused ones afterwards:
here a single refused recipient stops the send before the message is transferred to anyone.
Credentials only travel encrypted (`ssl`, or `starttls` that really upgraded), or in the clear to
this machine itself. The password never enters a message, a log line or an exception chain.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import smtplib
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from app.hosts import is_loopback
from app.mail.base import Delivery, Envelope, MailError, Transport, envelope_of, message_bytes

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SECURITIES = tuple(DEFAULT_PORTS)
# The mechanisms smtplib's login() can speak.
_LOGIN_MECHANISMS = frozenset({"CRAM-MD5", "PLAIN", "LOGIN"})
_REPLY_LIMIT = 200  # characters of a server's reply worth showing a user


class SmtpTransport(Transport):
    """Sends through one SMTP server, opening a fresh connection for each message."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        security: str = "starttls",
        timeout: float = 20.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not host or any(c.isspace() for c in host):
            raise ValueError(f"SMTP_HOST {host!r} is not a host name")
        if not 0 < port < 65536:
            raise ValueError(f"SMTP_PORT {port} is not a port number (1-65535)")
        if security not in SECURITIES:
            raise ValueError(f"SMTP_SECURITY must be one of {', '.join(SECURITIES)}")
        if (username is None) != (password is None):
            missing = "SMTP_PASSWORD" if password is None else "SMTP_USERNAME"
            raise ValueError(f"{missing} is needed: a user name and password go together")
        # smtplib encodes credentials as ASCII and would fail mid-login (with the password
        # inside the UnicodeEncodeError), so refuse them here, without repeating them.
        if username is not None and not username.isascii():
            raise ValueError("SMTP_USERNAME must be plain ASCII for smtplib to send it")
        if password is not None and not password.isascii():
            raise ValueError("SMTP_PASSWORD must be plain ASCII for smtplib to send it")
        if security == "none" and username is not None and not is_loopback(host):
            raise ValueError(
                f"SMTP_SECURITY 'none' would send the password unencrypted to {host}; "
                "use 'starttls' or 'ssl'"
            )
        if timeout <= 0:
            raise ValueError("the SMTP timeout must be positive")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.security = security
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.ssl_context = ssl_context  # None: the system's trusted certificates

    def __repr__(self) -> str:
        user = f", username={self.username!r}" if self.username else ""
        return f"SmtpTransport({self.host!r}, {self.port}, security={self.security!r}{user})"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: Path) -> SmtpTransport:
        """SMTP_HOST (required), SMTP_PORT (by security), SMTP_SECURITY, SMTP_USERNAME/PASSWORD."""
        security = _text(config, "SMTP_SECURITY") or "starttls"
        if security.lower() not in SECURITIES:
            raise ValueError(f"SMTP_SECURITY must be one of {', '.join(SECURITIES)}")
        host = _text(config, "SMTP_HOST")
        if host is None:
            raise ValueError("SMTP_HOST is required when MAIL_TRANSPORT is 'smtp'")
        return cls(
            host,
            _port(config.get("SMTP_PORT"), DEFAULT_PORTS[security.lower()]),
            username=_text(config, "SMTP_USERNAME"),
            password=_text(config, "SMTP_PASSWORD"),
            security=security.lower(),
        )

    def send(self, message: EmailMessage) -> Delivery:
        envelope = envelope_of(message)
        data = message_bytes(message, international=envelope.international, keep_bcc=False)
        client: smtplib.SMTP | None = None
        try:
            client = self._connect()
            self._secure_and_login(client)
            reply = self._transfer(client, envelope, data)
            with contextlib.suppress(OSError):
                client.quit()  # the message is accepted; a lost goodbye changes nothing
        except OSError as error:  # smtplib's exceptions are OSErrors too
            raise self._failure(error) from error
        finally:
            if client is not None:
                client.close()
        log.info(
            "sent %s to %d recipient(s) via %s",
            envelope.message_id,
            len(envelope.recipients),
            self._server,
        )
        return Delivery(self.name, envelope.message_id, f"accepted by {self._server} ({reply})")

    @property
    def _server(self) -> str:
        return f"{self.host}:{self.port}"

    def _tls_context(self) -> ssl.SSLContext:
        return self.ssl_context or _system_tls_context()

    def _connect(self) -> smtplib.SMTP:
        """A connected client that has been greeted (smtplib closes it itself if that fails)."""
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._tls_context(),
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )

    def _secure_and_login(self, client: smtplib.SMTP) -> None:
        """Encrypt and log in as configured, refusing anything less than what was asked."""
        client.ehlo_or_helo_if_needed()
        if self.security == "starttls":
            if not client.has_extn("starttls"):
                raise MailError(
                    f"the mail server {self._server} does not offer STARTTLS, so nothing was "
                    "sent over the unencrypted connection (check SMTP_SECURITY and SMTP_PORT)"
                )
            client.starttls(context=self._tls_context())
            client.ehlo()
        if self.username is not None:
            self._login(client)

    def _login(self, client: smtplib.SMTP) -> None:
        offered = set(client.esmtp_features.get("auth", "").upper().split())
        if not offered & _LOGIN_MECHANISMS:
            raise MailError(
                f"the mail server {self._server} offers no login method this app can use "
                f"(it offers: {', '.join(sorted(offered)) or 'none'})"
            )
        try:
            client.login(self.username or "", self._password or "")
        except smtplib.SMTPAuthenticationError as error:
            # `from None`: nothing of the AUTH exchange belongs in a traceback.
            raise self._refusal(
                f"refused the password for {self.username}", error.smtp_code, error.smtp_error
            ) from None

    def _transfer(self, client: smtplib.SMTP, envelope: Envelope, data: bytes) -> str:
        """MAIL, every RCPT, then DATA only if all were accepted; returns the server's reply."""
        options = self._mail_options(client, envelope, data)
        code, reply = client.mail(envelope.sender, options)
        if code != 250:
            raise self._refusal(f"refused the sender {envelope.sender}", code, reply)
        refused = {}
        for recipient in envelope.recipients:
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = (code, reply)
        if refused:  # closing without DATA leaves nothing delivered to anyone
            code, reply = next(iter(refused.values()))
            noun = "recipient" if len(refused) == 1 else "recipients"
            raise MailError(
                f"the mail server {self._server} rejected the {noun} {', '.join(refused)} "
                f"({_reply_text(code, reply)})",
                temporary=all(400 <= code < 500 for code, _ in refused.values()),
            )
        try:
            code, reply = client.data(data)
        except smtplib.SMTPResponseException:
            raise  # DATA itself was refused: the message was never handed over
        except OSError as error:
            raise self._failure(error, possibly_delivered=True) from error
        if code != 250:
            raise self._refusal("refused the message", code, reply)
        return _reply_text(code, reply)

    def _mail_options(self, client: smtplib.SMTP, envelope: Envelope, data: bytes) -> list[str]:
        options = []
        if client.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        if envelope.international:
            if not client.has_extn("smtputf8"):
                addresses = [a for a in (envelope.sender, *envelope.recipients) if not a.isascii()]
                raise MailError(
                    f"the mail server {self._server} cannot take international addresses "
                    f"such as {addresses[0]}"
                )
            options.append("SMTPUTF8")
        if not data.isascii():
            if not client.has_extn("8bitmime"):
                raise MailError(
                    f"the mail server {self._server} cannot take 8-bit (non-ASCII) messages"
                )
            options.append("BODY=8BITMIME")
        return options

    def _refusal(self, what: str, code: int, reply: bytes | str) -> MailError:
        """The server said no: name it, quote it briefly, and tell whether waiting may help."""
        return MailError(
            f"the mail server {self._server} {what} ({_reply_text(code, reply)})",
            temporary=400 <= code < 500,
        )

    def _failure(self, error: OSError, *, possibly_delivered: bool = False) -> MailError:
        """A broken conversation (network, TLS, protocol) in one sentence."""
        server = self._server
        temporary = True
        match error:
            case smtplib.SMTPConnectError():
                return self._refusal("refused the connection", error.smtp_code, error.smtp_error)
            case smtplib.SMTPResponseException():
                return self._refusal("answered with an error", error.smtp_code, error.smtp_error)
            case smtplib.SMTPServerDisconnected() if isinstance(error.__context__, OSError):
                # smtplib reports a timeout or reset while reading a reply as a disconnection.
                return self._failure(error.__context__, possibly_delivered=possibly_delivered)
            case smtplib.SMTPServerDisconnected():
                reason = f"the mail server {server} closed the connection unexpectedly"
            case ssl.SSLCertVerificationError():
                reason = (
                    f"the mail server {server} did not present a trusted certificate "
                    f"({error.verify_message})"
                )
                temporary = False
            case ssl.SSLError():
                reason = (
                    f"could not set up encryption with {server} ({error.reason or error}); "
                    f"check that port {self.port} expects SMTP_SECURITY {self.security!r}"
                )
                temporary = False
            case TimeoutError():
                reason = f"the mail server {server} did not answer within {self.timeout:g} seconds"
            case ConnectionRefusedError():
                reason = f"could not connect to {server}: connection refused"
            case socket.gaierror():
                reason = f"could not find the mail server {self.host} (the name does not resolve)"
            case _:
                reason = f"could not talk to {server}: {error.strerror or type(error).__name__}"
        return MailError(reason, temporary=temporary, possibly_delivered=possibly_delivered)


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(f"{code} {text}".split())
    return text if len(text) <= _REPLY_LIMIT else text[: _REPLY_LIMIT - 1] + "…"


@functools.cache
def _system_tls_context() -> ssl.SSLContext:
    """Verifies certificates and host names; loading the system's CAs once is enough."""
    return ssl.create_default_context()


def _text(config: Mapping[str, Any], key: str) -> str | None:
    """A text setting, None when unset or empty; never echoes the value (it may be a secret)."""
    value = config.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value.strip() if key != "SMTP_PASSWORD" else value


def _port(value: Any, default: int) -> int:
    """SMTP_PORT as a number; whether it is a port number is checked by SmtpTransport itself."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"SMTP_PORT must be a number, not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"SMTP_PORT must be a number, not {value!r}") from None
