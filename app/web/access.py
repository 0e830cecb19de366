"""What services need to reach a user's calendars, taken from the app's settings."""

from flask import current_app


def calendar_access() -> dict:
    """The key that unseals stored addresses and passwords, and where feeds are cached."""
    return {
        "secret_key": current_app.config["VAULT_KEYS"],
        "cache_dir": current_app.config["FEED_CACHE_DIR"],
    }
