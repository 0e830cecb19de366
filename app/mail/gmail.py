"""Delivery through the user's own Gmail account (users.messages.send), all or nothing.

Gmail sends the letter from the account's address and keeps it in the account's Sent folder. It
puts that address in the From header unless the message's From is one of the account's "Send
mail as" aliases, so the sending service writes such letters From the account's address.

This transport belongs to one user's Google account, not to the server: the sending service
builds it per user from the account's saved grant (`sending.transport_for`), so it is not one of
the MAIL_TRANSPORT choices and `from_config` refuses. The grant comes as a `GoogleSession` (the
account's GoogleProvider), so a token google-auth refreshes here is saved like any other.

A retried send can only duplicate a letter Gmail took. An error answer (429, 5xx) means it did
not, so those are retried here with backoff; googleapiclient's own retries are off because they
also resend after a timeout or a dropped connection, when Gmail may have sent the letter
already: such a failure says so instead (`possibly_delivered`). No token ever reaches an error
or a log line.
"""

from __future__ import annotations

import base64
import http.client
import logging
import random
import socket
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import httplib2
from google.auth import exceptions as auth_errors
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from app.mail.base import Delivery, MailError, Transport, envelope_of, message_bytes
from calendar_providers.google_errors import (
    QUOTA_REASONS,
    RATE_REASONS,
    SCOPE_REASONS,
    error_reasons,
)

log = logging.getLogger(__name__)

RECONNECT = "Google refused the saved access"
# What the user does next, after the reason (sending.in_words adds it).
RECONNECT_THEN_RETRY = "Reconnect Google on the Calendars page, then retry."
RETRIES = 2  # after a 429 or 5xx answer, which leaves nothing sent
_REASON_LIMIT = 120  # characters of Gmail's reason worth showing a user


class GoogleSession(Protocol):
    """What Gmail needs of a Google account: signed HTTP, and where to report a new token."""

    api_base: str
    timeout: float

    def authorized_http(self) -> Any: ...

    def report_refresh(self) -> None: ...


class GmailTransport(Transport):
    """Sends as `account` through Gmail; `on_refused` hears when Google refused the grant."""

    name = "gmail"

    def __init__(
        self,
        account: str,
        google: GoogleSession,
        *,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.account = account
        self.google = google
        self.on_refused = on_refused

    def __repr__(self) -> str:
        return f"GmailTransport({self.account!r})"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: Path) -> GmailTransport:
        """Never: Gmail sends for one user's Google account, chosen per user, not by config."""
        raise ValueError(
            "MAIL_TRANSPORT cannot be 'gmail': each user turns on sending through their own"
            " Gmail account on their calendars page"
        )

    def send(self, message: EmailMessage) -> Delivery:
        envelope = envelope_of(message)
        # Gmail reads the recipients from the headers, Bcc included, and hides the Bcc itself.
        data = message_bytes(message, international=envelope.international, keep_bcc=True)
        raw = base64.urlsafe_b64encode(data).decode("ascii")
        try:
            answer = self._send(raw)
        except HttpError as error:
            raise self._refused(error) from None
        except auth_errors.RefreshError as error:
            raise self._refresh_refused(error) from None
        except auth_errors.TransportError:
            # Only the token refresh raises this, before the letter is handed over.
            raise MailError("Google's sign-in service cannot be reached", temporary=True) from None
        except (httplib2.ServerNotFoundError, socket.gaierror, ConnectionRefusedError):
            raise MailError("Gmail cannot be reached from this server", temporary=True) from None
        except (OSError, http.client.HTTPException, httplib2.HttpLib2Error) as error:
            raise self._interrupted(error) from None
        finally:
            self.google.report_refresh()
        log.info(
            "sent %s to %d recipient(s) through Gmail as %s (Gmail id %s)",
            envelope.message_id,
            len(envelope.recipients),
            self.account,
            answer.get("id"),
        )
        return Delivery(self.name, envelope.message_id, self.account)

    def _send(self, raw: str) -> dict:
        """One messages.send, again after an answer that says Gmail did not take it."""
        gmail = build(
            "gmail",
            "v1",
            http=self.google.authorized_http(),
            client_options={"api_endpoint": f"{self.google.api_base.rstrip('/')}/"},
            static_discovery=True,
            cache_discovery=False,
        )
        request = gmail.users().messages().send(userId="me", body={"raw": raw})
        attempt = 0
        while True:
            try:
                return request.execute(num_retries=0)
            except HttpError as error:
                if attempt == RETRIES or not _not_taken(error):
                    raise
                log.info("Gmail answered HTTP %s; sending again.", error.resp.status)
            attempt += 1
            time.sleep(random.random() * 2**attempt)  # googleapiclient's backoff

    def _refused(self, error: HttpError) -> MailError:
        """Gmail answered with an error: nothing was sent."""
        status, reasons = error.resp.status, error_reasons(error)
        log.info("Gmail answered HTTP %s (%s).", status, ", ".join(sorted(reasons)))
        if status == 401:
            return self._reconnect()
        if reasons & SCOPE_REASONS:
            return MailError(
                f"Google has not given Newslot permission to send email as {self.account}",
                remedy="On the Calendars page, turn sending through Gmail off and on again"
                " and allow sending; then retry.",
            )
        if reasons & QUOTA_REASONS:
            return MailError(
                f"Gmail's sending limit for {self.account} is reached for now", temporary=True
            )
        if status == 429 or reasons & RATE_REASONS:
            return MailError(
                f"Gmail is getting too many requests from {self.account}", temporary=True
            )
        if status >= 500:
            return MailError(f"Gmail failed to answer (HTTP {status})", temporary=True)
        if status == 400:
            return MailError(f"Gmail refused the message ({_said(error)})")
        if status == 403:
            return MailError(f"Gmail refused to send as {self.account} ({_said(error)})")
        return MailError(f"Gmail refused the message (HTTP {status})")

    def _refresh_refused(self, error: auth_errors.RefreshError) -> MailError:
        """Google would not renew the access token, so nothing was sent."""
        answer = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
        code = str(answer.get("error", "no error code"))
        log.info("Google refused to refresh the access token for Gmail (%s).", code)
        if code == "invalid_client":
            return MailError(
                "Google refused this Newslot server's client ID or secret; check its Google"
                " settings"
            )
        if error.retryable:
            return MailError("Google's sign-in service failed to answer", temporary=True)
        return self._reconnect()

    def _reconnect(self) -> MailError:
        if self.on_refused is not None:
            self.on_refused(f"{RECONNECT}; reconnect Google.")
        return MailError(RECONNECT, remedy=RECONNECT_THEN_RETRY)

    def _interrupted(self, error: Exception) -> MailError:
        """The connection broke or timed out once the letter may have been handed over."""
        log.info("The connection to Gmail broke: %s.", type(error).__name__)
        if isinstance(error, TimeoutError) or "timed out" in str(error):
            what = f"Gmail did not answer within {self.google.timeout:g} seconds"
        else:
            what = "the connection to Gmail broke before it answered"
        return MailError(
            f"{what}, so the letter may already be in the Sent folder of {self.account}",
            temporary=True,
            possibly_delivered=True,
        )


def _not_taken(error: HttpError) -> bool:
    """An answer after which Gmail holds nothing: busy (429, rate limits) or failing (5xx)."""
    status = error.resp.status
    return (
        status == 429
        or status >= 500
        or (status == 403 and bool(error_reasons(error) & RATE_REASONS))
    )


def _said(error: HttpError) -> str:
    """Gmail's own reason, on one short line."""
    line = (str(error.reason).strip().splitlines() or [""])[0].rstrip(".")
    line = line or f"HTTP {error.resp.status}"
    return line if len(line) <= _REASON_LIMIT else line[: _REASON_LIMIT - 1] + "…"
