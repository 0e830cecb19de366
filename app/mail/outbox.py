"""The default transport: each message becomes an .eml file in a folder, needing no credentials.

A file appears whole or not at all (written to a hidden temporary name, then hard-linked into
place), and an existing file is never replaced: os.link fails instead of overwriting, where
os.replace would silently clobber. Names hold only the message's date and a random id, never
text a user typed. The file keeps any Bcc header: it is the sender's own copy, from which the
letter can still be sent to everyone.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import UTC
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from app.mail.base import Delivery, MailError, Transport, envelope_of, message_bytes

log = logging.getLogger(__name__)

_NAME_ATTEMPTS = 5  # a fresh random id per attempt; 64 random bits make a second one unlikely


class OutboxTransport(Transport):
    """Writes `<folder>/<UTC date>-<random id>.eml` with the exact bytes a server would get."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"OutboxTransport({str(self.folder)!r})"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: Path) -> OutboxTransport:
        """OUTBOX_DIR, default `<instance>/outbox`; a relative path is read from the instance."""
        value = config.get("OUTBOX_DIR") or "outbox"
        if not isinstance(value, str | os.PathLike):
            raise ValueError("OUTBOX_DIR must be a folder path")
        return cls(Path(instance_path) / value)  # an absolute value replaces the instance path

    def send(self, message: EmailMessage) -> Delivery:
        envelope = envelope_of(message)
        data = message_bytes(message, international=envelope.international, keep_bcc=True)
        stamp = envelope.date.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        try:
            path = self._write_new(stamp, data)
        except OSError as error:
            raise MailError(
                f"could not write to the outbox folder {self.folder}: "
                f"{error.strerror or type(error).__name__}"
            ) from error
        log.info("wrote %s to the outbox as %s", envelope.message_id, path.name)
        return Delivery(self.name, envelope.message_id, str(path))

    def _write_new(self, stamp: str, data: bytes) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            for _ in range(_NAME_ATTEMPTS):
                path = self.folder / f"{stamp}-{new_id()}.eml"
                try:
                    os.link(temporary, path)
                except FileExistsError:
                    continue
                return path
            raise MailError(f"could not find a free file name in the outbox folder {self.folder}")
        finally:
            os.unlink(temporary)


def new_id() -> str:
    """A random, filesystem-safe id for a file name (tests replace it to force collisions)."""
    return secrets.token_hex(8)
