"""The kinds of calendar account and their settings, read from the database without the network.

An account source keeps its non-secret settings as JSON in `CalendarSource.settings` (see
accounts.py); both the account-wide code (accounts.py) and Google's (google_accounts.py) read
them here, so neither has to import the other for it.
"""

from __future__ import annotations

import json
from typing import Any

from app.models import CalendarSource, User

CALDAV, GOOGLE = "caldav", "google"
ACCOUNT_KINDS = (CALDAV, GOOGLE)


def settings_of(source: CalendarSource) -> dict[str, Any]:
    return json.loads(source.settings or "{}")


def has_write_target(user: User) -> bool:
    """Whether one of the user's accounts already receives confirmed events."""
    return any(
        source.kind in ACCOUNT_KINDS and settings_of(source).get("write_calendar")
        for source in user.calendars
    )
