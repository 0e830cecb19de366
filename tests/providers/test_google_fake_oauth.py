"""The OAuth web-server flow and Gmail sending against the fake Google, with the real libraries.

google-auth-oauthlib's Flow (requests-oauthlib underneath) builds the consent address, the fake
stands in for the browser at the consent screen, and a new Flow rebuilt from the kept state and
code verifier, as a web app's callback does, exchanges the code. The credentials it yields then
call Calendar, userinfo and Gmail through google-auth, httplib2 and the discovery-built clients.
"""

from __future__ import annotations

import base64
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import googleapiclient.http
import httplib2
import pytest
import requests
from google_auth_httplib2 import AuthorizedHttp
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from oauthlib.oauth2.rfc6749 import errors

from tests.fakes.google_server import (
    CALENDAR_LIST_SCOPE,
    CLIENT_ID,
    CLIENT_SECRET,
    EVENTS_SCOPE,
    FREEBUSY_SCOPE,
    GMAIL_SEND_SCOPE,
    OPENID_SCOPES,
    Consent,
    ErrorPage,
    FakeGoogle,
)
from tests.providers.contract import ME

CALLBACK = "http://127.0.0.1:5000/google/callback"
CONNECT = (CALENDAR_LIST_SCOPE, FREEBUSY_SCOPE, EVENTS_SCOPE)
OFFLINE = {"access_type": "offline", "include_granted_scopes": "true", "prompt": "consent"}
SEND = "/gmail/v1/users/me/messages/send"  # what the discovery-built Gmail client posts to
NO_SCOPE = "Request had insufficient authentication scopes."


@pytest.fixture
def google(monkeypatch) -> Iterator[FakeGoogle]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    monkeypatch.setattr(googleapiclient.http.time, "sleep", lambda seconds: None)
    with FakeGoogle() as fake:
        fake.add_calendar(ME, ME, roles={ME: "owner"})
        yield fake


def new_flow(google: FakeGoogle, scopes=CONNECT, **kept) -> Flow:
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    endpoints = {"auth_uri": google.auth_uri, "token_uri": google.token_uri}
    config = {"web": {**client, **endpoints, "redirect_uris": [CALLBACK]}}
    return Flow.from_client_config(config, scopes=list(scopes), redirect_uri=CALLBACK, **kept)


def consent(google: FakeGoogle, scopes=CONNECT, **options) -> tuple[str, dict]:
    """The callback address the consent screen answers with, and what the app kept meanwhile."""
    flow = new_flow(google, scopes)
    url, state = flow.authorization_url(**(options or OFFLINE))
    return google.authorize(url), {"state": state, "code_verifier": flow.code_verifier}


def finish(google: FakeGoogle, callback: str, kept: dict, scopes=CONNECT):
    """The callback's work: a new Flow from the kept state and verifier exchanges the code."""
    flow = new_flow(google, scopes, **kept)
    flow.fetch_token(authorization_response=callback)
    return flow.credentials


def client(google: FakeGoogle, credentials, api: str, version: str, base: str):
    http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=10))
    options = {"api_endpoint": google.url + base}
    return build(
        api, version, http=http, client_options=options, static_discovery=True,
        cache_discovery=False,
    )  # fmt: skip


def calendars(google: FakeGoogle, credentials) -> list[str]:
    service = client(google, credentials, "calendar", "v3", "/calendar/v3/")
    return [entry["id"] for entry in service.calendarList().list().execute()["items"]]


def test_consent_then_exchange_gives_working_offline_credentials(google):
    callback, kept = consent(google)
    answer = parse_qs(urlsplit(callback).query)
    assert callback.startswith(CALLBACK + "?") and answer["state"] == [kept["state"]]
    assert answer["scope"] == [" ".join(CONNECT)] and answer["code"][0].startswith("4/")
    credentials = finish(google, callback, kept)
    assert set(credentials.granted_scopes) == set(CONNECT) and credentials.refresh_token
    assert credentials.expiry > datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=50)
    [exchange] = [r for r in google.requests if r.path == "/token"]
    # requests-oauthlib authenticates the client with HTTP Basic, not in the form.
    assert exchange.body is not None and exchange.body["grant_type"] == "authorization_code"
    assert not {"client_id", "client_secret"} & set(exchange.body)
    assert calendars(google, credentials) == [ME]
    google.expire_access_tokens()  # the refresh token from the exchange refreshes (in the form)
    assert calendars(google, credentials) == [ME]
    assert google.requests[-2].body["client_secret"] == CLIENT_SECRET


@pytest.mark.parametrize(
    ("verifier", "problem"),
    [(None, "Missing code verifier."), ("x" * 64, "Invalid code verifier.")],
)
def test_the_exchange_needs_the_kept_code_verifier(google, verifier, problem):
    callback, kept = consent(google)
    with pytest.raises(errors.InvalidGrantError) as raised:
        finish(google, callback, {**kept, "code_verifier": verifier})
    assert raised.value.description == problem


def test_a_tampered_state_is_refused_before_any_exchange(google):
    callback, kept = consent(google)
    with pytest.raises(errors.MismatchingStateError):
        finish(google, callback, {**kept, "state": "tampered"})
    assert not [r for r in google.requests if r.path == "/token"]


def test_a_refusal_comes_back_as_access_denied(google):
    google.consent = Consent(deny=True)
    callback, kept = consent(google)
    assert parse_qs(urlsplit(callback).query)["error"] == ["access_denied"]
    with pytest.raises(errors.AccessDeniedError):
        finish(google, callback, kept)


def test_an_unticked_permission_is_missing_from_the_grant(google):
    google.consent = Consent(scopes=(FREEBUSY_SCOPE, GMAIL_SEND_SCOPE))
    credentials = finish(google, *consent(google))
    assert credentials.granted_scopes == [FREEBUSY_SCOPE]
    with pytest.raises(HttpError) as raised:
        calendars(google, credentials)
    assert (raised.value.status_code, raised.value.reason) == (403, NO_SCOPE)


def test_incremental_consent_adds_to_earlier_grants_and_refresh_tokens_follow_prompt(google):
    first = finish(google, *consent(google))
    gmail = (GMAIL_SEND_SCOPE,)
    both = finish(google, *consent(google, gmail), scopes=gmail)
    assert set(both.granted_scopes) == {*CONNECT, GMAIL_SEND_SCOPE}
    assert both.refresh_token not in (None, first.refresh_token)
    quiet = finish(google, *consent(google, gmail, access_type="offline"), scopes=gmail)
    assert quiet.granted_scopes == [GMAIL_SEND_SCOPE] and quiet.refresh_token is None
    google.revoke(first.refresh_token)  # withdraws the whole grant: the next consent is a first
    again = finish(google, *consent(google, gmail, access_type="offline"), scopes=gmail)
    assert again.granted_scopes == [GMAIL_SEND_SCOPE] and again.refresh_token


def test_a_code_is_exchanged_once_within_ten_minutes_by_its_own_client(google):
    callback, kept = consent(google)
    with pytest.raises(errors.InvalidClientError):
        new_flow(google, **kept).fetch_token(authorization_response=callback, client_secret="x")
    finish(google, callback, kept)
    with pytest.raises(errors.InvalidGrantError, match="Bad Request"):
        finish(google, callback, kept)
    late, kept = consent(google)
    google.clock = lambda: datetime.now(UTC) + timedelta(minutes=10, seconds=1)
    with pytest.raises(errors.InvalidGrantError, match="Bad Request"):
        finish(google, late, kept)
    with pytest.raises(errors.InvalidGrantError, match="Malformed auth code"):
        finish(google, late.replace("code=4", "code=5"), kept)


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"redirect_uri": "https://example.org/callback"}, 400, "redirect_uri_mismatch"),
        ({"code_challenge_method": "plain"}, 400, "invalid_request"),
        ({"code_challenge_method": None}, 400, "invalid_request"),
        ({"code_challenge": None}, 400, "invalid_request"),
        ({"scope": "calendar"}, 400, "invalid_scope"),
    ],
)
def test_a_bad_authorization_request_gets_an_error_page(google, change, status, error):
    url, _ = new_flow(google).authorization_url(**OFFLINE)
    query = {**dict(parse_qsl(urlsplit(url).query)), **change}
    query = {key: value for key, value in query.items() if value is not None}
    with pytest.raises(ErrorPage) as raised:
        google.authorize(f"{google.auth_uri}?{urlencode(query)}")
    assert (raised.value.status, raised.value.error) == (status, error)
    assert google.requests[-1].body is None


def test_only_registered_redirect_uris_are_served_once_some_are(google):
    google.redirect_uris = {"http://127.0.0.1:5000/elsewhere"}
    with pytest.raises(ErrorPage, match="redirect_uri_mismatch"):
        consent(google)


def test_sign_in_reads_who_the_user_is(google):
    google.names[ME] = "Me Myself"
    google.consent = Consent(account=ME.upper())
    online = {"access_type": "online", "prompt": "select_account"}
    callback, kept = consent(google, ("openid", "email"), **online)
    credentials = finish(google, callback, kept, scopes=("openid", "email"))
    assert set(credentials.granted_scopes) == set(OPENID_SCOPES)
    assert credentials.refresh_token is None  # online access: an access token only
    asked = {"Authorization": f"Bearer {credentials.token}"}
    who = requests.get(google.userinfo_uri, headers=asked, timeout=10).json()
    assert who["email"] == ME and who["email_verified"] and who["name"] == "Me Myself"
    assert len(who["sub"]) == 21 and who["sub"].isdigit()
    calendar_only = {"Authorization": f"Bearer {google.grant(ME, CONNECT)['token']}"}
    answer = requests.get(google.userinfo_uri, headers=calendar_only, timeout=10)
    assert answer.status_code == 403 and answer.json()["error"] == "insufficient_scope"


def message(to: str | None = "candidate@example.net") -> EmailMessage:
    letter = EmailMessage()
    letter["From"], letter["Subject"] = ME, "Interview"
    if to:
        letter["To"] = to
    letter.set_content("Hello")
    return letter


def send(google: FakeGoogle, credentials, raw: bytes, retries: int = 0) -> dict:
    gmail = client(google, credentials, "gmail", "v1", "/")
    body = {"raw": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return gmail.users().messages().send(userId="me", body=body).execute(num_retries=retries)


def test_gmail_sends_the_exact_bytes(google):
    credentials = finish(google, *consent(google, (GMAIL_SEND_SCOPE,)), scopes=(GMAIL_SEND_SCOPE,))
    google.fail("POST", SEND, 503, "backendError")
    raw = message().as_bytes(policy=email.policy.SMTP)  # CRLF, as Newslot sends
    answer = send(google, credentials, raw, retries=1)
    [sent] = google.sent_mail
    assert (sent.account, sent.raw, sent.id) == (ME, raw, answer["id"])
    assert sent.message["To"] == "candidate@example.net" and answer["labelIds"] == ["SENT"]
    assert google.count("POST", SEND) == 2 and google.requests[-1].query == {"alt": "json"}


@pytest.mark.parametrize(
    ("scopes", "raw", "status", "problem"),
    [
        ((GMAIL_SEND_SCOPE,), message(None).as_bytes(), 400, "Recipient address required"),
        ((GMAIL_SEND_SCOPE,), message("nobody").as_bytes(), 400, "Invalid To header"),
        (CONNECT, message().as_bytes(), 403, NO_SCOPE),
    ],
)
def test_gmail_refuses_what_gmail_refuses(google, scopes, raw, status, problem):
    credentials = finish(google, *consent(google, scopes), scopes=scopes)
    with pytest.raises(HttpError) as raised:
        send(google, credentials, raw)
    assert (raised.value.status_code, raised.value.reason) == (status, problem)
    assert not google.sent_mail


def test_events_can_be_looked_up_by_icaluid(google):
    event = {"id": "interview1", "start": {"date": "2026-03-02"}, "end": {"date": "2026-03-03"}}
    google.add_calendar("team", "Team", roles={ME: "owner"}, events=[{**event, "iCalUID": "a@b"}])
    events = client(google, finish(google, *consent(google)), "calendar", "v3", "/calendar/v3/")
    found = events.events().list(calendarId="team", iCalUID="a@b").execute()["items"]
    assert [item["id"] for item in found] == ["interview1"]
    assert events.events().list(calendarId="team", iCalUID="x@y").execute()["items"] == []
    with pytest.raises(HttpError):
        events.events().list(calendarId="team").execute()
