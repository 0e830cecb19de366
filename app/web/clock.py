"""The one place the web layer reads the clock, so tests can set it."""

from datetime import UTC, datetime

from flask import current_app


def now() -> datetime:
    """Now, aware; `NOW` in the config (a callable) overrides it in tests."""
    override = current_app.config.get("NOW")
    return override() if override else datetime.now(UTC)
