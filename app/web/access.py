"""What views need to reach the user's own things: calendars, interviews, rows looked up."""

from typing import TypeVar

from flask import abort, current_app
from flask_login import current_user

from app.models import Interview
from app.services.interviews import owned_interview

T = TypeVar("T")


def calendar_access() -> dict:
    """The key that unseals stored addresses and passwords, and where feeds are cached."""
    return {
        "secret_key": current_app.config["VAULT_KEYS"],
        "cache_dir": current_app.config["FEED_CACHE_DIR"],
    }


def found_or_404(found: T | None) -> T:
    """What a lookup found; nothing found (or another user's row) is a 404."""
    if found is None:
        abort(404)
    return found


def own_interview(interview_id: int) -> Interview:
    """The signed-in user's interview with that id, or a 404."""
    return found_or_404(owned_interview(current_user, interview_id))
