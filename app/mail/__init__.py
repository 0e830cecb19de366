"""Email delivery behind one `send(message)` call: the outbox folder by default, SMTP when set up.

The service chooses a transport once from config (`transport_from_config`) and keeps the
record of what was sent; a transport only delivers, whole or not at all, or raises MailError.
A user who turned on sending through Gmail gets `gmail.GmailTransport` instead: it belongs to
their Google account, so the sending service builds it per user and it is no MAIL_TRANSPORT.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.mail.base import Delivery, MailError, Transport
from app.mail.outbox import OutboxTransport
from app.mail.smtp import SmtpTransport

__all__ = [
    "TRANSPORTS",
    "Delivery",
    "MailError",
    "OutboxTransport",
    "SmtpTransport",
    "Transport",
    "transport_from_config",
]

TRANSPORTS: dict[str, type[Transport]] = {
    transport.name: transport for transport in (OutboxTransport, SmtpTransport)
}


def transport_from_config(config: Mapping[str, Any], instance_path: Path) -> Transport:
    """The transport MAIL_TRANSPORT names (default "outbox"); ValueError names a bad key."""
    name = config.get("MAIL_TRANSPORT") or OutboxTransport.name
    transport = TRANSPORTS.get(name.strip().lower()) if isinstance(name, str) else None
    if transport is None:
        raise ValueError(f"MAIL_TRANSPORT must be one of {', '.join(TRANSPORTS)}, not {name!r}")
    return transport.from_config(config, instance_path)
