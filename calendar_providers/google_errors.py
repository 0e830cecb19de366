"""Google's error answers as one plain sentence each (calendar_providers.base errors).

The Calendar provider and the Gmail transport read the same error JSON: its HTTP status and the
machine-readable reasons (errors[] and ErrorInfo details) decide what the user is told; a token
never goes into a message or a log line.
"""

from __future__ import annotations

import json
import logging

from google.auth import exceptions as auth_errors
from googleapiclient.errors import HttpError

from calendar_providers.base import (
    AuthError,
    Conflict,
    InvalidCalendar,
    NotFound,
    ProviderError,
    Unavailable,
)

logger = logging.getLogger(__name__)

RECONNECT = "Google refused the saved access; reconnect Google."
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


def refused(error: HttpError, needs: str, *, writing: bool) -> ProviderError:
    """The ProviderError for an error answer from the Calendar API."""
    status = error.resp.status
    reasons = error_reasons(error)
    logger.info("Google Calendar answered HTTP %s (%s).", status, ", ".join(sorted(reasons)))
    if status == 401:
        return AuthError(RECONNECT)
    if reasons & SCOPE_REASONS:
        return AuthError(
            f"Google has not given Newslot permission to {needs}; reconnect Google and allow it."
        )
    if reasons & QUOTA_REASONS:
        return Unavailable(
            "Newslot has used up its Google Calendar request quota for now; try again in a few"
            " minutes."
        )
    if status == 429 or reasons & RATE_REASONS:
        return Unavailable(
            "Google Calendar is getting too many requests from this account; try again in a few"
            " minutes."
        )
    if status >= 500:
        return Unavailable("Google Calendar failed to answer; try again later.")
    if status in (404, 410):
        if writing:
            return NotFound("The event or its calendar is no longer on Google Calendar.")
        return NotFound("That calendar is not on this Google account or no longer shared with it.")
    if status == 409:
        return Conflict("Google Calendar already holds an event with this id.")
    if status == 403:
        if writing:
            return ProviderError("Google does not let this account change that calendar.")
        return ProviderError("Google does not let this account read that calendar.")
    if status == 400:
        said = _one_line(str(error.reason))
        if writing:
            return InvalidCalendar(f"Google refused the event as invalid ({said}).")
        return ProviderError(f"Google Calendar refused the request ({said}).")
    return ProviderError(f"Google Calendar refused the request (HTTP {status}).")


def error_reasons(error: HttpError) -> set[str]:
    """The machine-readable reasons in Google's error JSON (errors[] and ErrorInfo details)."""
    try:
        data = json.loads(error.content)["error"]
        found = [*data.get("errors", []), *data.get("details", [])]
        return {
            str(item["reason"]) for item in found if isinstance(item, dict) and "reason" in item
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()


def refresh_refused(error: auth_errors.RefreshError) -> ProviderError:
    """Google would not refresh the access token: usually the grant was revoked or expired."""
    answer = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
    code = str(answer.get("error", "no error code"))
    logger.info("Google refused to refresh the access token (%s).", code)
    if code == "invalid_client":
        return ProviderError(
            "Google refused this Newslot server's client ID or secret; check its Google settings."
        )
    if error.retryable:
        return Unavailable("Google's sign-in service failed to answer; try again later.")
    return AuthError(RECONNECT)


def unreachable(error: Exception, timeout: float) -> Unavailable:
    logger.info("Google could not be reached: %s.", type(error).__name__)
    if isinstance(error, TimeoutError) or "timed out" in str(error):
        return Unavailable(f"Google did not answer within {timeout:g} seconds; try again later.")
    return Unavailable("Google cannot be reached; check the connection or try again later.")


def _one_line(text: str) -> str:
    line = (text.strip().splitlines() or [""])[0].rstrip(".")
    return line if len(line) <= 120 else line[:117] + "..."
