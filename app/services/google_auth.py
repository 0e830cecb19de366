"""The OAuth web-server flow with Google: send the user to consent, take the answer back.

google-auth-oauthlib's Flow does the protocol; this module keeps what must survive the trip
to Google and back on the server (the PKCE code verifier, sealed, in a GoogleAuthRequest row
keyed by the SHA-256 of `state`), uses each such row once, and checks what Google granted: a user
may untick a permission on the consent screen, and is then told which one is missing.

Three trips share the flow: connecting calendars, adding Gmail sending to a connected account
(incremental consent: `include_granted_scopes` keeps what was granted before), and signing in.
Nothing here knows about HTTP requests from the browser; the web layer passes the callback's
query string and compares `state` with the one it kept in the user's session.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from app import vault
from app.extensions import db
from app.google_client import GoogleClient
from app.models import GoogleAuthRequest

log = logging.getLogger(__name__)

_SCOPE = "https://www.googleapis.com/auth/"
CALENDAR_LIST = _SCOPE + "calendar.calendarlist.readonly"
FREEBUSY = _SCOPE + "calendar.freebusy"
OWN_EVENTS = _SCOPE + "calendar.events.owned"
GMAIL_SEND = _SCOPE + "gmail.send"
USER_EMAIL = _SCOPE + "userinfo.email"
CONNECT, GMAIL, SIGN_IN = "connect", "gmail", "sign_in"
SCOPES = {
    CONNECT: (CALENDAR_LIST, FREEBUSY, OWN_EVENTS),
    GMAIL: (GMAIL_SEND,),
    SIGN_IN: ("openid", USER_EMAIL),
}
# Each permission as Google's consent screen words it, for "Newslot still needs to ...".
PERMISSIONS = {
    CALENDAR_LIST: "see the list of your calendars",
    FREEBUSY: "see when your calendars are busy",
    OWN_EVENTS: "add and change events on your own calendars",
    GMAIL_SEND: "send email on your behalf",
    "openid": "know who you are on Google",
    USER_EMAIL: "see your email address",
}
REQUEST_LIFETIME = timedelta(minutes=10)
TIMEOUT = 20  # seconds for each call to Google's sign-in service
EXPIRED = "This trip to Google has expired or was already used; please start again."


class GoogleAuthProblem(Exception):
    """Why connecting or signing in with Google did not work, in one plain sentence."""


@dataclass(frozen=True)
class Grant:
    """What Google granted at the end of one trip, and who the trip was for."""

    purpose: str
    user_id: int | None
    time_zone: str | None
    credentials: dict  # token, refresh_token, expiry (ISO, UTC), scopes
    granted: frozenset[str]

    def missing(self, wanted: Collection[str]) -> list[str]:
        """The wanted permissions not granted, in the consent screen's words."""
        return [PERMISSIONS.get(scope, scope) for scope in wanted if scope not in self.granted]


def begin(
    client: GoogleClient,
    purpose: str,
    redirect_uri: str,
    now: datetime,
    *,
    keys: vault.Keys,
    user_id: int | None = None,
    time_zone: str | None = None,
) -> tuple[str, str]:
    """The address of Google's consent screen for `purpose`, and the `state` it carries."""
    scopes = SCOPES[purpose]
    flow = _flow(client, scopes, redirect_uri)
    if purpose == SIGN_IN:  # nothing to keep: no offline access, no consent screen each time
        url, state = flow.authorization_url(access_type="online", prompt="select_account")
    else:  # offline with consent, so Google hands over a refresh token every time
        url, state = flow.authorization_url(
            access_type="offline", include_granted_scopes="true", prompt="consent"
        )
    db.session.execute(
        db.delete(GoogleAuthRequest).where(GoogleAuthRequest.created_at < now - REQUEST_LIFETIME)
    )
    pending = GoogleAuthRequest(
        state_hash=_hash(state), sealed_verifier=vault.seal(keys, flow.code_verifier),
        purpose=purpose, user_id=user_id, scopes=" ".join(scopes), time_zone=time_zone,
        created_at=now,
    )  # fmt: skip
    db.session.add(pending)
    db.session.commit()
    return url, state


def finish(
    client: GoogleClient,
    state: str,
    query_string: str,
    redirect_uri: str,
    now: datetime,
    *,
    keys: vault.Keys,
) -> Grant:
    """Exchange the code Google sent back for tokens (GoogleAuthProblem if that cannot be done).

    The pending request is deleted first, whatever happens next: an answer is used once.
    """
    pending = db.session.scalar(db.select(GoogleAuthRequest).filter_by(state_hash=_hash(state)))
    if pending is None:
        raise GoogleAuthProblem(EXPIRED)
    db.session.delete(pending)
    db.session.commit()
    if pending.created_at < now - REQUEST_LIFETIME:
        raise GoogleAuthProblem(EXPIRED)
    try:
        verifier = vault.unseal(keys, pending.sealed_verifier)
    except vault.VaultError:
        raise GoogleAuthProblem(EXPIRED) from None
    scopes = pending.scopes.split()
    flow = _flow(client, scopes, redirect_uri, state=state, code_verifier=verifier)
    try:
        flow.fetch_token(authorization_response=f"{redirect_uri}?{query_string}", timeout=TIMEOUT)
    except oauth_errors.AccessDeniedError:
        raise GoogleAuthProblem(
            "You did not give Newslot access at Google, so nothing was connected."
        ) from None
    except oauth_errors.MismatchingStateError:
        raise GoogleAuthProblem(EXPIRED) from None
    except oauth_errors.InvalidClientError:
        log.warning("Google refused this server's OAuth client ID or secret.")
        raise GoogleAuthProblem(
            "Google refused this Newslot server's registration; its administrator must check the"
            " Google client ID and secret."
        ) from None
    except oauth_errors.OAuth2Error as error:
        log.info("Google refused the code exchange (%s).", error.error)
        raise GoogleAuthProblem(
            "Google did not accept the answer from its consent screen; please start again."
        ) from None
    except requests.RequestException as error:
        log.info("Google's token endpoint could not be reached: %s.", type(error).__name__)
        raise GoogleAuthProblem(
            "Google's sign-in service did not answer; please try again in a minute."
        ) from None
    credentials = flow.credentials
    granted = frozenset(credentials.granted_scopes or scopes)
    expiry = credentials.expiry  # naive UTC in google-auth
    return Grant(
        purpose=pending.purpose,
        user_id=pending.user_id,
        time_zone=pending.time_zone,
        credentials={
            "token": credentials.token,
            "refresh_token": credentials.refresh_token,
            "expiry": expiry.replace(tzinfo=UTC).isoformat() if expiry else None,
            "scopes": sorted(granted),
        },
        granted=granted,
    )


def who(client: GoogleClient, token: str) -> dict:
    """The Google account behind an access token (OpenID Connect userinfo: sub, email...)."""
    try:
        answer = requests.get(
            client.userinfo_uri, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
    except requests.RequestException:
        raise GoogleAuthProblem("Google did not say who you are; please try again.") from None
    try:
        info = answer.json() if answer.status_code == 200 else None
    except ValueError:  # not JSON: a proxy's error page, say
        info = None
    if not isinstance(info, dict):
        log.info("Google's userinfo answered HTTP %s without a usable body.", answer.status_code)
        raise GoogleAuthProblem("Google did not say who you are; please try again.")
    if not info.get("sub") or not info.get("email"):
        raise GoogleAuthProblem("Google did not share your email address; please try again.")
    return info


def revoke(client: GoogleClient, token: str | None) -> bool:
    """Withdraw the grant at Google; False when Google could not be asked (the user is told to
    remove the access in their Google account instead)."""
    if not token:
        return False
    try:
        answer = requests.post(client.revoke_uri, data={"token": token}, timeout=TIMEOUT)
    except requests.RequestException:
        return False
    # 400 invalid_token: revoked already (at Google, by the user) -- gone either way.
    return answer.status_code in (200, 400)


def _flow(
    client: GoogleClient,
    scopes: Collection[str],
    redirect_uri: str,
    *,
    state: str | None = None,
    code_verifier: str | None = None,
) -> Flow:
    config = {
        "web": {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "auth_uri": client.auth_uri,
            "token_uri": client.token_uri,
        }
    }
    return Flow.from_client_config(
        config, scopes=list(scopes), redirect_uri=redirect_uri, state=state,
        code_verifier=code_verifier, autogenerate_code_verifier=code_verifier is None,
    )  # fmt: skip


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
