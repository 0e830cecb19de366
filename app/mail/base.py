"""What every transport shares: the error, the receipt, the contract, and the pre-flight check.

A send must be all or nothing, so everything that can be known about a message without the network
(who sends, who receives, its Message-ID, its bytes) is checked and computed here, before a
transport opens a file or a connection.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar


class MailError(Exception):
    """A send that did not happen, in one plain sentence for the user (no secrets, no traceback).

    `temporary` says whether the same send may work later unchanged (server down, busy mailbox)
    as opposed to needing a fix (wrong password, refused address). `possibly_delivered` is set
    when the connection broke after the whole message had been handed over, so the server may
    have accepted it: sending again could deliver it twice. `remedy` is what the user must do
    when the reason alone does not say it (default: check the settings or the address).
    """

    def __init__(
        self,
        reason: str,
        *,
        temporary: bool = False,
        possibly_delivered: bool = False,
        remedy: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.possibly_delivered = possibly_delivered
        self.remedy = remedy


@dataclass(frozen=True)
class Delivery:
    """Where a message went: the transport's name, its Message-ID, and a detail (path, server)."""

    transport: str
    message_id: str
    detail: str


class Transport(ABC):
    """One way of sending a finished email; the service picks one from config and calls `send`."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: Path) -> Transport:
        """Build from the app's settings; a bad value is a ValueError naming its key."""

    @abstractmethod
    def send(self, message: EmailMessage) -> Delivery:
        """Deliver the message whole, or raise MailError having delivered nothing."""


@dataclass(frozen=True)
class Envelope:
    """The addresses and identity of a message, checked before any I/O."""

    sender: str
    recipients: tuple[str, ...]  # To, Cc and Bcc, each once, in that order
    message_id: str
    date: datetime  # aware, from the Date header

    @property
    def international(self) -> bool:
        """Whether an address needs SMTPUTF8 (RFC 6531) to travel unaltered."""
        return not all(address.isascii() for address in (self.sender, *self.recipients))


def envelope_of(message: EmailMessage) -> Envelope:
    """The envelope, or MailError if the message lacks what every delivery needs."""
    senders = _addresses(message, "From")
    if len(senders) != 1:
        raise MailError("the message needs exactly one From address")
    if not _addresses(message, "To"):
        raise MailError("the message has no To address")
    message_id = str(message.get("Message-ID", "")).strip()
    if not message_id:
        raise MailError("the message has no Message-ID")
    recipients = _addresses(message, "To", "Cc", "Bcc")
    return Envelope(senders[0], tuple(dict.fromkeys(recipients)), message_id, _date(message))


def message_bytes(message: EmailMessage, *, international: bool, keep_bcc: bool) -> bytes:
    """The message as it goes on the wire: CRLF line ends, UTF-8 headers only where needed."""
    if not keep_bcc and "Bcc" in message:
        message = copy.copy(message)  # shallow, but deleting rebinds the header list
        del message["Bcc"]
    return message.as_bytes(policy=policy.SMTPUTF8 if international else policy.SMTP)


def _addresses(message: EmailMessage, *names: str) -> list[str]:
    values = [str(value) for name in names for value in message.get_all(name, [])]
    found = [address for _, address in getaddresses(values)]
    for address in found:
        local, at, domain = address.rpartition("@")
        if not (at and local and domain) or any(c.isspace() for c in address):
            raise MailError(f"the message has an unusable address {address!r}")
    return found


def _date(message: EmailMessage) -> datetime:
    try:
        date = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError):
        raise MailError("the message has no valid Date") from None
    # RFC 5322 "-0000" means UTC without saying where the sender is; Python reads it as naive.
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)
