"""Sealing every stored secret again under the current SECRET_KEY, to finish a key rotation.

After SECRET_KEY changes (the old one kept in SECRET_KEY_FALLBACKS), secrets still open with the
old key. Resealing them all lets the old key be dropped without losing a feed address, a
password or a Google grant; one that no key opens is reported, not touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import vault
from app.extensions import db
from app.models import CalendarSource

SEALED_COLUMNS = ("sealed_url", "sealed_credentials")


@dataclass(frozen=True)
class Resealed:
    """How many secrets were sealed again, and the sources whose secrets no key opens."""

    count: int
    unreadable: tuple[str, ...]


def reseal_all(keys: vault.Keys) -> Resealed:
    """Seal each calendar source's secrets under the first key; one transaction for all."""
    count, unreadable = 0, []
    for source in db.session.scalars(db.select(CalendarSource).order_by(CalendarSource.id)):
        for column in SEALED_COLUMNS:
            sealed = getattr(source, column)
            if not sealed:
                continue
            try:
                setattr(source, column, vault.reseal(keys, sealed))
            except vault.VaultError:
                unreadable.append(f"{source.name} (#{source.id}, user #{source.user_id})")
                continue
            count += 1
    db.session.commit()
    return Resealed(count, tuple(dict.fromkeys(unreadable)))
