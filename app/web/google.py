"""Google's consent screen and back: connect calendars, send through Gmail, sign in.

Every trip starts with a POST (CSRF-checked) and ends at one callback address, registered with
Google. The `state` Google sends back must equal the one kept in this browser's session (so
nobody can complete a trip in someone else's browser), and the server-side record of the trip
(google_auth) must still be there, unused.
"""

from __future__ import annotations

import hmac

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user

from app import google_client
from app.services import calendars, google_accounts, google_auth, google_sign_in
from app.services.google_auth import CONNECT, GMAIL, SIGN_IN, GoogleAuthProblem
from app.web.clock import now
from app.web.forms import GoogleSignInForm

blueprint = Blueprint("google", __name__, url_prefix="/google")
_STATE = "google_oauth_state"


@blueprint.before_request
def require_google() -> None:
    """Without a configured client there is no Google here."""
    if google_client.from_config(current_app.config) is None:
        abort(404)


@blueprint.post("/connect")
@login_required
def connect():
    return _to_google(CONNECT, user_id=current_user.id)


@blueprint.post("/<int:source_id>/gmail")
@login_required
def gmail(source_id: int):
    _own_google(source_id)
    return _to_google(GMAIL, user_id=current_user.id)


@blueprint.post("/<int:source_id>/gmail/off")
@login_required
def gmail_off(source_id: int):
    source = _own_google(source_id)
    google_accounts.disable_gmail(source)
    flash("Letters now go out the usual way, not through Gmail.")
    return redirect(url_for("calendars.index"))


@blueprint.post("/sign-in")
def sign_in():
    form = GoogleSignInForm()
    zone = form.time_zone.data if form.validate_on_submit() else None
    return _to_google(SIGN_IN, time_zone=zone)


@blueprint.get("/callback")
def callback():
    """Where Google sends the browser back, with a code (or an error) and the state."""
    kept = session.pop(_STATE, None)
    state = request.args.get("state", "")
    if not kept or not hmac.compare_digest(kept, state):
        return _failed(google_auth.EXPIRED)
    client = _client()
    try:
        grant = google_auth.finish(
            client, state, request.query_string.decode("ascii", "replace"), _redirect_uri(),
            now(), keys=current_app.config["VAULT_KEYS"],
        )  # fmt: skip
        if grant.purpose == SIGN_IN:
            user = google_sign_in.user_for(google_auth.who(client, grant.credentials["token"]),
                                           grant.time_zone, now())  # fmt: skip
            login_user(user)
            return redirect(url_for("home.index"))
        if not current_user.is_authenticated or current_user.id != grant.user_id:
            return _failed(google_auth.EXPIRED)
        keys = current_app.config["VAULT_KEYS"]
        if grant.purpose == CONNECT:
            source = google_accounts.connect(current_user, grant, now(), keys=keys, client=client)
            flash(f"Connected {google_accounts.account_of(source)}. Choose the calendars to use.")
            return redirect(url_for("calendars.account_calendars", source_id=source.id))
        if grant.missing(google_auth.SCOPES[CONNECT]):  # another account was chosen at Google
            raise GoogleAuthProblem(
                "To send through Gmail, choose the Google account whose calendars are connected."
            )
        source = google_accounts.connect(current_user, grant, now(), keys=keys, client=client)
        google_accounts.enable_gmail(source, grant, keys=keys)
        flash(f"Letters now go out through Gmail, from {google_accounts.account_of(source)}.")
        return redirect(url_for("calendars.index"))
    except GoogleAuthProblem as problem:
        return _failed(str(problem))


def _to_google(purpose: str, *, user_id: int | None = None, time_zone: str | None = None):
    url, state = google_auth.begin(
        _client(), purpose, _redirect_uri(), now(), keys=current_app.config["VAULT_KEYS"],
        user_id=user_id, time_zone=time_zone,
    )  # fmt: skip
    session[_STATE] = state
    return redirect(url)


def _failed(problem: str):
    flash(f"Google: {problem}")
    return redirect(url_for("calendars.index" if current_user.is_authenticated else "auth.sign_in"))


def _client() -> google_client.GoogleClient:
    client = google_client.from_config(current_app.config)
    assert client is not None  # require_google let the request through
    return client


def _redirect_uri() -> str:
    """The callback address as registered with Google: PUBLIC_URL's when set (behind a proxy
    the request's own scheme may be http)."""
    base = current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")
    return base + url_for("google.callback")


def _own_google(source_id: int):
    source = calendars.owned_source(current_user, source_id)
    if source is None or source.kind != google_accounts.GOOGLE:
        abort(404)
    return source
