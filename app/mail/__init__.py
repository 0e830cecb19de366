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
    "transport_name",
]

TRANSPORTS: dict[str, type[Transport]] = {
    transport.name: transport for transport in (OutboxTransport, SmtpTransport)
}


def transport_name(config: Mapping[str, Any]) -> str | None:
    """MAIL_TRANSPORT as a key of TRANSPORTS would be spelt (default "outbox"); None if not text."""
    name = config.get("MAIL_TRANSPORT") or OutboxTransport.name
    return name.strip().lower() if isinstance(name, str) else None


def transport_from_config(config: Mapping[str, Any], instance_path: Path) -> Transport:
    """The transport MAIL_TRANSPORT names (default "outbox"); ValueError names a bad key."""
    name = transport_name(config)
    transport = TRANSPORTS.get(name) if name is not None else None
    if transport is None:
        raise ValueError(
            f"MAIL_TRANSPORT must be one of {', '.join(TRANSPORTS)}, "
            f"not {config.get('MAIL_TRANSPORT')!r}"
        )
    return transport.from_config(config, instance_path)
