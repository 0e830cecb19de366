"""A fake Google (OAuth, userinfo, Calendar v3, Gmail sending) on 127.0.0.1 for the real libraries.

google-auth-oauthlib's Flow, google-auth, httplib2 and the discovery-built Calendar and Gmail
clients talk to it over HTTP, so tests cover what really goes over the wire. It holds accounts,
calendars, events and sent mail in memory, answers in Google's JSON shapes, and refuses what Google
refuses: a missing or stale bearer token, a token without the needed scope, bad client
credentials, an authorization request without PKCE (S256), a reused or expired code, a wrong code
verifier or redirect URI, an unknown sendUpdates value, an insert id that is not base32hex, a
free/busy query over 50 calendars or 60 days, events.list without singleEvents, a message with no
recipient. So a client mistake fails a test instead of meeting a happy fake.

The consent screen is simulated: `consent` says which account answers, what it grants and whether
it refuses; `authorize()` stands in for the browser and returns the address Google redirects to.

Failures can be injected per method and path (before or after the request takes effect), and every
request is recorded so tests can count HTTP calls.

Recurring events are stored as their instances: Google expands them itself when asked with
singleEvents=true, the only way Newslot reads them; `events_from_ics` stands in for that
expansion (and for Google's import, which pins floating times to the calendar's zone).
"""

from __future__ import annotations

import base64
import copy
import email.policy
import hashlib
import http.client
import json
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calendar_providers import ics_expand

CLIENT_ID = "newslot-test.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret-7Q2"
_AUTH = "https://www.googleapis.com/auth/"
CALENDAR_LIST_SCOPE = _AUTH + "calendar.calendarlist.readonly"
FREEBUSY_SCOPE = _AUTH + "calendar.freebusy"
EVENTS_SCOPE = _AUTH + "calendar.events.owned"
GMAIL_SEND_SCOPE = _AUTH + "gmail.send"
ALL_SCOPES = (CALENDAR_LIST_SCOPE, FREEBUSY_SCOPE, EVENTS_SCOPE, GMAIL_SEND_SCOPE)
OPENID_SCOPES = ("openid", _AUTH + "userinfo.email")
AUTHORIZE = "/o/oauth2/auth"
USERINFO = "/oauth2/v3/userinfo"
CODE_LIFETIME = timedelta(minutes=10)
_OAUTH_PATHS = ("/token", "/revoke", AUTHORIZE, USERINFO)  # answer errors in OAuth's shape
# Google reports short scope names in their URL form.
_SCOPE_NAMES = {"email": _AUTH + "userinfo.email", "profile": _AUTH + "userinfo.profile"}
# What each kind of call accepts: its minimal scope or a broader one.
_BROAD = (_AUTH + "calendar", _AUTH + "calendar.readonly")
_NEEDS = {
    "calendarList": {CALENDAR_LIST_SCOPE, *_BROAD},
    "freeBusy": {FREEBUSY_SCOPE, _AUTH + "calendar.events.freebusy", *_BROAD},
    "read": {EVENTS_SCOPE, _AUTH + "calendar.events", _AUTH + "calendar.events.readonly", *_BROAD},
    "write": {EVENTS_SCOPE, _AUTH + "calendar.events", _AUTH + "calendar"},
    "send": {
        GMAIL_SEND_SCOPE,
        _AUTH + "gmail.compose",
        _AUTH + "gmail.modify",
        "https://mail.google.com/",
    },
}
BERLIN = ZoneInfo("Europe/Berlin")
SEND_UPDATES = frozenset({"all", "externalOnly", "none"})
MAX_FREEBUSY_CALENDARS = 50
MAX_FREEBUSY_SPAN = timedelta(days=60)
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_WRITERS = ("owner", "writer")
_READERS = ("owner", "writer", "reader")
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
}
_MESSAGES = {
    "authError": "Request had invalid authentication credentials.",
    "insufficientPermissions": "Request had insufficient authentication scopes.",
    "backendError": "Backend Error",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "quotaExceeded": "Calendar usage limits exceeded.",
    "notFound": "Not Found",
    "deleted": "Resource has been deleted",
    "duplicate": "The requested identifier already exists.",
    "requiredAccessLevel": "You need to have writer access to this calendar.",
}


@dataclass(frozen=True)
class Answer:
    """What the fake sends back: a status, a JSON body or none, and headers such as Location."""

    status: int
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Consent:
    """How the user answers the consent screen: which account, what it grants, or a refusal.

    `scopes` None grants everything asked; a tuple grants only those of the asked scopes, as when
    the user unticks a box.
    """

    account: str = "me@example.org"
    scopes: tuple[str, ...] | None = None
    deny: bool = False


@dataclass(frozen=True)
class SentMail:
    """A message Gmail accepted for sending: its exact bytes and their parse."""

    account: str
    raw: bytes
    message: EmailMessage
    id: str


class ErrorPage(Exception):
    """Google showed an error page at the consent step instead of redirecting back."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"{status} {error}")
        self.status, self.error = status, error


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str]
    body: dict | list | None  # the JSON or form body
    account: str | None  # whose live access token came with it


@dataclass
class Calendar:
    """A calendar, and each account's role on it: owner, writer, reader or freeBusyReader."""

    id: str
    summary: str
    time_zone: ZoneInfo
    roles: dict[str, str]
    events: dict[str, dict] = field(default_factory=dict)
    selected: bool = True
    summary_override: str | None = None
    freebusy_error: str | None = None  # a reason free/busy reports for this calendar


@dataclass
class _Failure:
    method: str
    path: str
    status: int
    reason: str
    times: int
    after_handling: bool


@dataclass
class _Grant:
    account: str
    scopes: tuple[str, ...]
    refresh_token: str | None  # None: an access token alone (online access, or no new consent)
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class _Code:
    """An authorization code and what the consent it stands for was bound to."""

    account: str
    scopes: tuple[str, ...]
    redirect_uri: str
    challenge: str
    refresh: bool  # access_type=offline, and a first consent or prompt=consent
    expires: datetime
    used: bool = False


class _Refused(Exception):
    """A request Google would refuse: the status and the reason of its error answer."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class FakeGoogle:
    """A running fake: `grant()` an account, `add_calendar()`, then point clients at `url`.

    Or let the OAuth flow make the grant: set `consent`, then `authorize()` the Flow's address.
    """

    def __init__(self) -> None:
        self.calendars: dict[str, Calendar] = {}
        self.requests: list[Recorded] = []
        self.sent_mail: list[SentMail] = []
        self.page_size = 100  # the most items one page holds, whatever the client asks
        self.consent = Consent()
        self.redirect_uris: set[str] = set()  # registered; empty accepts any loopback address
        self.names: dict[str, str] = {}  # display names by account
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # ages the codes
        self._grants: dict[str, _Grant] = {}  # by refresh token
        self._access: dict[str, _Grant] = {}  # live access tokens
        self._codes: dict[str, _Code] = {}
        self._consented: dict[str, set[str]] = {}  # what each account has granted this client
        self._offline: set[str] = set()  # accounts holding a refresh token from a consent
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.google = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> FakeGoogle:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    @property
    def revoke_uri(self) -> str:
        return self.url + "/revoke"

    @property
    def auth_uri(self) -> str:
        return self.url + AUTHORIZE

    @property
    def userinfo_uri(self) -> str:
        return self.url + USERINFO

    # Setting up

    def grant(self, account: str, scopes: Iterable[str] = ALL_SCOPES) -> dict:
        """A new consent: the stored-credentials dict Newslot keeps (token, refresh_token, ...)."""
        grant = _Grant(account.lower(), tuple(scopes), _refresh_token())
        with self._lock:
            self._grants[grant.refresh_token] = grant
            self._consented.setdefault(grant.account, set()).update(grant.scopes)
            self._offline.add(grant.account)
            token = self._issue(grant)
        return {
            "token": token,
            "refresh_token": grant.refresh_token,
            "expiry": None,
            "scopes": list(grant.scopes),
        }

    def expire_access_tokens(self) -> None:
        """Every access token stops working (as after an hour): clients must refresh."""
        with self._lock:
            self._access.clear()

    def revoke(self, refresh_token: str) -> None:
        """The user removed Newslot's access at Google: refreshing now fails with invalid_grant."""
        with self._lock:
            self._revoke(self._grants[refresh_token])

    def authorize(self, url: str) -> str:
        """Be the user's browser at the consent screen: the address Google redirects back to.

        ErrorPage when Google would show an error instead (a bad client, redirect URI or PKCE).
        """
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            connection.request("GET", f"{parts.path}?{parts.query}")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 302:
            raise ErrorPage(response.status, json.loads(body)["error"])
        return response.getheader("Location", "")

    def add_calendar(
        self,
        calendar_id: str,
        summary: str,
        *,
        roles: dict[str, str],
        time_zone: ZoneInfo = BERLIN,
        events: Iterable[dict] = (),
        **options,
    ) -> Calendar:
        calendar = Calendar(calendar_id, summary, time_zone, roles, **options)
        calendar.events = {event["id"]: copy.deepcopy(event) for event in events}
        with self._lock:
            self.calendars[calendar_id] = calendar
        return calendar

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        reason: str,
        *,
        times: int = 1,
        after_handling: bool = False,
    ) -> None:
        """Answer the next `times` requests to `path` with a Google error.

        `after_handling`: the request takes effect first and only its answer is lost, as when
        the connection drops after Google stored an event.
        """
        with self._lock:
            self._failures.append(_Failure(method, path, status, reason, times, after_handling))

    def count(self, method: str, path: str) -> int:
        """How many requests came for this method and (percent-decoded) path."""
        return sum(1 for r in self.requests if (r.method, r.path) == (method, path))

    # Serving

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        """The answer to one request (called by the handler threads)."""
        split = urlsplit(target)
        path = unquote(split.path)
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        with self._lock:
            try:
                body = _body(path, headers, raw)
            except _Refused as refused:
                self.requests.append(Recorded(method, path, query, None, None))
                return Answer(refused.status, _google_error(refused))
            grant = self._bearer(headers)
            self.requests.append(
                Recorded(method, path, query, body, grant.account if grant else None)
            )
            try:
                if failure := self._failure(method, path, after_handling=False):
                    raise failure
                answer = self._route(method, path, query, body, headers, grant)
                if failure := self._failure(method, path, after_handling=True):
                    raise failure
                return answer
            except _Refused as refused:
                if path in _OAUTH_PATHS:
                    oauth_error = {"error": refused.reason, "error_description": refused.message}
                    return Answer(refused.status, oauth_error)
                return Answer(refused.status, _google_error(refused))

    def _route(
        self, method: str, path: str, query: dict, body, headers: dict, grant: _Grant | None
    ) -> Answer:
        if (method, path) == ("GET", AUTHORIZE):
            return Answer(302, headers={"Location": self._consent_screen(query)})
        if (method, path) == ("POST", "/token"):
            return Answer(200, self._token(body, headers))
        if (method, path) == ("POST", "/revoke"):
            return Answer(200, self._revoke_token(body))
        if (method, path) == ("GET", USERINFO):
            return Answer(200, self._userinfo(grant))
        if (method, path) == ("GET", "/calendar/v3/users/me/calendarList"):
            return Answer(200, self._calendar_list(_allowed(grant, "calendarList"), query))
        if (method, path) == ("POST", "/calendar/v3/freeBusy"):
            return Answer(200, self._freebusy(_allowed(grant, "freeBusy"), body))
        sending = re.fullmatch(r"/gmail/v1/users/([^/]+)/messages/send", path)
        if method == "POST" and sending:
            return Answer(200, self._send_mail(_allowed(grant, "send"), sending.group(1), body))
        if found := re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events(?:/([^/]+))?", path):
            calendar_id, event_id = found.groups()
            kind = "read" if method == "GET" else "write"
            account = _allowed(grant, kind)
            calendar = self._calendar(account, calendar_id, kind)
            if method != "GET":
                _require_send_updates(query)
            if method in ("POST", "PATCH") and body is None:
                raise _Refused(400, "required", "A JSON body is required.")
            if event_id is None:
                if method == "GET":
                    return Answer(200, self._list_events(calendar, account, query))
                if method == "POST":
                    return Answer(200, self._insert(calendar, account, body))
            elif method == "GET":
                event = self._event(calendar, event_id, deleted_ok=True)
                return Answer(200, _personal(event, account))
            elif method == "PATCH":
                return Answer(200, self._patch(calendar, event_id, account, body))
            elif method == "DELETE":
                self._event(calendar, event_id)["status"] = "cancelled"
                return Answer(204)
        raise _Refused(404, "notFound", f"No such method here: {method} {path}")

    # OAuth

    def _issue(self, grant: _Grant) -> str:
        token = "ya29.access-" + secrets.token_urlsafe(24)
        grant.access_tokens.add(token)
        self._access[token] = grant
        return token

    def _revoke(self, grant: _Grant) -> None:
        """Like Google: revoking any token withdraws all the account granted this client."""
        for other in [*self._grants.values(), *self._access.values()]:
            if other.account == grant.account:
                other.revoked = True
        self._access = {t: g for t, g in self._access.items() if g.account != grant.account}
        self._consented.pop(grant.account, None)
        self._offline.discard(grant.account)

    def _consent_screen(self, query: dict) -> str:
        """Where the consent step sends the browser back: a code, or the user's refusal.

        A request Google would not send back (bad client, redirect URI, scope or PKCE) is refused
        with an error page instead.
        """
        for name in ("client_id", "redirect_uri", "scope", "code_challenge"):
            if not query.get(name):
                raise _Refused(400, "invalid_request", f"Missing required parameter: {name}")
        if query["client_id"] != CLIENT_ID:
            raise _Refused(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = query["redirect_uri"]
        if not self._registered(redirect_uri):
            raise _Refused(400, "redirect_uri_mismatch", f"Unregistered {redirect_uri}")
        if query.get("response_type") != "code":
            raise _Refused(400, "invalid_request", "This fake serves response_type=code only.")
        if query.get("code_challenge_method") != "S256":
            raise _Refused(400, "invalid_request", "code_challenge_method must be S256.")
        if query.get("access_type", "online") not in ("online", "offline"):
            raise _Refused(400, "invalid_request", "Invalid access_type.")
        prompt = set(query.get("prompt", "").split())
        if not prompt <= {"none", "consent", "select_account"}:
            raise _Refused(400, "invalid_request", "Invalid prompt.")
        asked = _scopes(query["scope"])
        if any(not _known_scope(scope) for scope in asked):
            raise _Refused(400, "invalid_scope", "Some requested scopes were invalid.")
        state = {"state": query["state"]} if "state" in query else {}
        consent = self.consent
        if consent.deny:
            return _with_query(redirect_uri, {"error": "access_denied", **state})
        account = consent.account.lower()
        ticked = asked if consent.scopes is None else _scopes(" ".join(consent.scopes))
        chosen = tuple(scope for scope in asked if scope in ticked)
        earlier = self._consented.setdefault(account, set())
        granted = chosen
        if query.get("include_granted_scopes") == "true":
            granted += tuple(sorted(earlier - set(chosen)))
        offline = query.get("access_type") == "offline"
        refresh = offline and (account not in self._offline or "consent" in prompt)
        earlier.update(chosen)
        if refresh:
            self._offline.add(account)
        code = "4/0A" + secrets.token_urlsafe(32)
        self._codes[code] = _Code(
            account, granted, redirect_uri, query["code_challenge"], refresh,
            self.clock() + CODE_LIFETIME,
        )  # fmt: skip
        answer = {**state, "code": code, "scope": " ".join(granted), "authuser": "0"}
        return _with_query(redirect_uri, answer)

    def _registered(self, redirect_uri: str) -> bool:
        if self.redirect_uris:
            return redirect_uri in self.redirect_uris
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")

    def _token(self, form: dict, headers: dict[str, str]) -> dict:
        """A code exchanged or a refresh; the client authenticates in HTTP Basic or the form.

        requests-oauthlib (Flow.fetch_token) sends HTTP Basic; google-auth's refresh puts the
        client id and secret in the form.
        """
        if _client(form, headers) != (CLIENT_ID, CLIENT_SECRET):
            raise _Refused(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(form)
        if grant_type != "refresh_token":
            raise _Refused(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        grant = self._grants.get(form.get("refresh_token", ""))
        if grant is None or grant.revoked:
            raise _Refused(400, "invalid_grant", "Token has been expired or revoked.")
        if not set(_scopes(form.get("scope", ""))) <= set(grant.scopes):
            raise _Refused(400, "invalid_scope")
        return self._tokens(grant)  # like Google: no refresh_token in the answer to a refresh

    def _exchange(self, form: dict) -> dict:
        """The authorization_code grant, checked as Google checks it (PKCE S256 included)."""
        code = self._codes.get(form.get("code", ""))
        if code is None:
            raise _Refused(400, "invalid_grant", "Malformed auth code.")
        if code.used or self.clock() >= code.expires:
            raise _Refused(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != code.redirect_uri:
            raise _Refused(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier")
        if not verifier:
            raise _Refused(400, "invalid_grant", "Missing code verifier.")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != code.challenge:
            raise _Refused(400, "invalid_grant", "Invalid code verifier.")
        code.used = True
        grant = _Grant(code.account, code.scopes, _refresh_token() if code.refresh else None)
        if grant.refresh_token is None:
            return self._tokens(grant)
        self._grants[grant.refresh_token] = grant
        return {**self._tokens(grant), "refresh_token": grant.refresh_token}

    def _tokens(self, grant: _Grant) -> dict:
        """A new access token for the grant, in the token endpoint's answer."""
        return {
            "access_token": self._issue(grant),
            "expires_in": 3599,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }

    def _revoke_token(self, form: dict) -> dict:
        token = form.get("token", "")
        grant = self._grants.get(token) or self._access.get(token)
        if grant is None or grant.revoked:
            raise _Refused(400, "invalid_token", "Token expired or revoked")
        self._revoke(grant)
        return {}

    def _userinfo(self, grant: _Grant | None) -> dict:
        """OpenID Connect userinfo: who the token's account is (needs openid and email)."""
        if grant is None:
            raise _Refused(401, "invalid_request", "Invalid Credentials")
        if not set(OPENID_SCOPES) <= set(_scopes(" ".join(grant.scopes))):
            raise _Refused(403, "insufficient_scope", "Needs openid and email.")
        account = grant.account
        number = int.from_bytes(hashlib.sha256(account.encode()).digest()[:8], "big")
        return {
            "sub": f"1{number:020d}",
            "email": account,
            "email_verified": True,
            "name": self.names.get(account, account.partition("@")[0]),
        }

    def _bearer(self, headers: dict[str, str]) -> _Grant | None:
        """The grant whose live access token came as `Authorization: Bearer ...`."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return self._access.get(token) if scheme == "Bearer" else None

    def _calendar(self, account: str, calendar_id: str, kind: str) -> Calendar:
        calendar = self.calendars.get(calendar_id)
        role = calendar.roles.get(account) if calendar else None
        if calendar is None or role not in _READERS:
            raise _Refused(404, "notFound")
        if kind == "write" and role not in _WRITERS:
            raise _Refused(403, "requiredAccessLevel")
        return calendar

    # Calendar v3

    def _calendar_list(self, account: str, query: dict) -> dict:
        entries = []
        for calendar in self.calendars.values():
            role = calendar.roles.get(account)
            if role is None:
                continue
            entry = {
                "kind": "calendar#calendarListEntry",
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone.key,
                "accessRole": role,
            }
            if calendar.summary_override:
                entry["summaryOverride"] = calendar.summary_override
            if calendar.id == account:
                entry["primary"] = True
            if calendar.selected or calendar.id == account:
                entry["selected"] = True
            entries.append(entry)
        entries.sort(key=lambda entry: not entry.get("primary", False))
        return {"kind": "calendar#calendarList", **self._page(entries, query, 250)}

    def _freebusy(self, account: str, body: dict) -> dict:
        start, end = _instant(body, "timeMin"), _instant(body, "timeMax")
        items = body.get("items") or []
        if end <= start:
            raise _Refused(400, "timeRangeEmpty", "The specified time range is empty.")
        if end - start > MAX_FREEBUSY_SPAN:
            raise _Refused(400, "invalid", "The requested time range is too long.")
        if len(items) > MAX_FREEBUSY_CALENDARS:
            raise _Refused(400, "invalid", "Too many calendars requested.")
        if "timeZone" in body:
            _zone(body["timeZone"])
        answer = {}
        for item in items:
            calendar = self.calendars.get(item["id"])
            if calendar is None or account not in calendar.roles:
                answer[item["id"]] = {"errors": [{"domain": "global", "reason": "notFound"}]}
            elif calendar.freebusy_error:
                reason = calendar.freebusy_error
                answer[item["id"]] = {"errors": [{"domain": "global", "reason": reason}]}
            else:
                blocks = _merged(self._busy_spans(calendar, account, start, end))
                answer[item["id"]] = {
                    "busy": [{"start": _utc(s), "end": _utc(e)} for s, e in blocks]
                }
            answer[item["id"]].setdefault("busy", [])
        return {
            "kind": "calendar#freeBusy",
            "timeMin": body["timeMin"],
            "timeMax": body["timeMax"],
            "calendars": answer,
        }

    def _busy_spans(self, calendar: Calendar, account: str, start: datetime, end: datetime):
        """Google's busy rule: opaque, not cancelled, not declined by the asking account."""
        for event in calendar.events.values():
            if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
                continue
            if event.get("eventType") == "workingLocation":
                continue
            mine = [a for a in event.get("attendees", []) if a["email"].lower() == account]
            if mine and mine[0].get("responseStatus") == "declined":
                continue
            first, last = _span(event, calendar.time_zone)
            if first < end and last > start and first < last:
                yield max(first, start), min(last, end)

    def _list_events(self, calendar: Calendar, account: str, query: dict) -> dict:
        """events.list: expanded instances only, or a lookup by iCalUID (which Google allows)."""
        uid = query.get("iCalUID")
        single = query.get("singleEvents") == "true"
        if not single and uid is None:
            raise _Refused(400, "invalid", "This fake serves expanded instances only.")
        if query.get("orderBy", "startTime") != "startTime":
            raise _Refused(400, "invalid", "Unsupported orderBy.")
        if "orderBy" in query and not single:
            message = "The requested ordering is not available for the particular query."
            raise _Refused(400, "badRequest", message)
        start = _instant(query, "timeMin") if "timeMin" in query else None
        end = _instant(query, "timeMax") if "timeMax" in query else None
        deleted = query.get("showDeleted") == "true"
        found = []
        for event in calendar.events.values():
            first, last = _span(event, calendar.time_zone)
            if event.get("status") == "cancelled" and not deleted:
                continue
            if uid is not None and event.get("iCalUID") != uid:
                continue
            if (start is None or last > start) and (end is None or first < end):
                found.append((first, _personal(event, account)))
        items = [event for _, event in sorted(found, key=lambda pair: pair[0])]
        return {
            "kind": "calendar#events",
            "summary": calendar.summary,
            "timeZone": calendar.time_zone.key,
            **self._page(items, query, 2500),
        }

    def _insert(self, calendar: Calendar, account: str, body: dict) -> dict:
        event_id = body.get("id") or secrets.token_hex(13)
        if not _EVENT_ID.fullmatch(event_id):
            raise _Refused(400, "invalid", "Invalid resource id value.")
        if event_id in calendar.events:
            raise _Refused(409, "duplicate")
        _validated(body, calendar)
        event = {
            **copy.deepcopy(body),
            "kind": "calendar#event",
            "id": event_id,
            "status": body.get("status", "confirmed"),
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "htmlLink": f"{self.url}/calendar/event?eid={event_id}",
            "organizer": {"email": calendar.id},
        }
        calendar.events[event_id] = event
        return _personal(event, account)

    def _patch(self, calendar: Calendar, event_id: str, account: str, body: dict) -> dict:
        event = self._event(calendar, event_id)
        patched = _merge(copy.deepcopy(event), body)
        _validated(patched, calendar)
        if _span(patched, calendar.time_zone) != _span(event, calendar.time_zone):
            patched["sequence"] = event.get("sequence", 0) + 1
        calendar.events[event_id] = patched
        return _personal(patched, account)

    def _event(self, calendar: Calendar, event_id: str, *, deleted_ok: bool = False) -> dict:
        event = calendar.events.get(event_id)
        if event is None:
            raise _Refused(404, "notFound")
        if event.get("status") == "cancelled" and not deleted_ok:
            raise _Refused(410, "deleted")
        return event

    # Gmail

    def _send_mail(self, account: str, user_id: str, body: dict | None) -> dict:
        """users.messages.send: a base64url RFC 822 message with at least one recipient."""
        if user_id not in ("me", account):
            raise _Refused(403, "forbidden", f"Delegation denied for {account}")
        raw = (body or {}).get("raw")
        if not isinstance(raw, str) or not raw:
            raise _Refused(400, "invalidArgument", "'raw' RFC822 payload message string required")
        try:
            data = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True)
        except ValueError:
            raise _Refused(400, "invalidArgument", "Invalid value for ByteString.") from None
        message = BytesParser(EmailMessage, policy=email.policy.default).parsebytes(data)
        recipients = [
            address
            for name in ("To", "Cc", "Bcc")
            for header in message.get_all(name, [])
            for address in header.addresses
        ]
        if not recipients:
            raise _Refused(400, "invalidArgument", "Recipient address required")
        if any("@" not in address.addr_spec for address in recipients):
            raise _Refused(400, "invalidArgument", "Invalid To header")
        sent = SentMail(account, data, message, secrets.token_hex(8))
        self.sent_mail.append(sent)
        return {"id": sent.id, "threadId": sent.id, "labelIds": ["SENT"]}

    def _page(self, items: list, query: dict, most: int) -> dict:
        """One page of `items` by offset, as Google pages with nextPageToken."""
        size = min(int(query.get("maxResults", most)), most, self.page_size)
        offset = int(query.get("pageToken", "0"))
        page = {"items": items[offset : offset + size]}
        if offset + size < len(items):
            page["nextPageToken"] = str(offset + size)
        return page

    def _failure(self, method: str, path: str, *, after_handling: bool) -> _Refused | None:
        for failure in self._failures:
            if (failure.method, failure.path, failure.after_handling) == (
                method,
                path,
                after_handling,
            ) and failure.times > 0:
                failure.times -= 1
                return _Refused(failure.status, failure.reason)
        return None


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        headers = {key.lower(): value for key, value in self.headers.items()}
        answer = self.server.google.handle(  # type: ignore[attr-defined]
            self.command, self.path, headers, self.rfile.read(length)
        )
        data = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        if answer.body is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output is for the tests."""


# Seeding from iCalendar


def events_from_ics(data: bytes, zone: ZoneInfo, start: datetime, end: datetime) -> list[dict]:
    """The events of an .ics file as Google serves them with singleEvents=true over [start, end).

    As Google's import does, floating times and dates are pinned to the calendar's `zone`; a
    UID with several occurrences in the window becomes instances with Google's instance ids.
    """
    expansion = ics_expand.expand(ics_expand.parse(data), start, end, zone)
    assert not expansion.notes, expansion.notes
    occurrences = expansion.occurrences
    series = Counter(str(occurrence.component["UID"]) for occurrence in occurrences)
    return [_google_event(o, series[str(o.component["UID"])] > 1) for o in occurrences]


def _google_event(occurrence: ics_expand.Occurrence, recurring: bool) -> dict:
    component = occurrence.component
    uid = str(component["UID"])
    base = base64.b32hexencode(hashlib.sha1(uid.encode()).digest()).decode().lower().rstrip("=")
    event: dict = {
        "kind": "calendar#event",
        "id": base,
        "iCalUID": uid,
        "status": {"CANCELLED": "cancelled", "TENTATIVE": "tentative"}.get(
            str(component.get("STATUS", "")).upper(), "confirmed"
        ),
        "start": _moment(occurrence.start, occurrence.all_day),
        "end": _moment(occurrence.end, occurrence.all_day),
        "sequence": int(component.get("SEQUENCE", 0)),
    }
    if recurring:  # an instance: Google's id is the series id and the original start
        original = component["RECURRENCE-ID"].dt
        if isinstance(original, datetime):
            stamp = original.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        else:
            stamp = original.strftime("%Y%m%d")
        event["id"] = f"{base}_{stamp}"
        event["recurringEventId"] = base
    if "SUMMARY" in component:
        event["summary"] = str(component["SUMMARY"])
    if str(component.get("TRANSP", "")).upper() == "TRANSPARENT":
        event["transparency"] = "transparent"
    if "ORGANIZER" in component:
        event["organizer"] = {"email": _address(component["ORGANIZER"])}
    attendees = component.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    if attendees:
        event["attendees"] = [
            {
                "email": _address(attendee),
                "responseStatus": {
                    "ACCEPTED": "accepted",
                    "DECLINED": "declined",
                    "TENTATIVE": "tentative",
                }.get(str(attendee.params.get("PARTSTAT", "")).upper(), "needsAction"),
            }
            for attendee in attendees
        ]
    return event


def _moment(moment: datetime, all_day: bool) -> dict:
    if all_day:
        return {"date": moment.date().isoformat()}
    value = {"dateTime": moment.isoformat()}
    if isinstance(moment.tzinfo, ZoneInfo):
        value["timeZone"] = moment.tzinfo.key
    return value


def _address(value) -> str:
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


# Reading what clients send


def _body(path: str, headers: dict[str, str], raw: bytes) -> dict | None:
    """The form (OAuth endpoints) or JSON (API) body; a malformed one is refused as Google does."""
    if path in ("/token", "/revoke"):
        return {key: values[-1] for key, values in parse_qs(raw.decode()).items()}
    if not raw:
        return None
    if not headers.get("content-type", "").startswith("application/json"):
        raise _Refused(400, "badContent", "Request bodies must be JSON.")
    try:
        body = json.loads(raw)
    except ValueError:
        raise _Refused(400, "parseError", "Parse Error") from None
    if not isinstance(body, dict):
        raise _Refused(400, "parseError", "The body must be a JSON object.")
    return body


def _client(form: dict, headers: dict[str, str]) -> tuple[str | None, str | None]:
    """The client id and secret, from HTTP Basic if it came, else from the form."""
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme != "Basic":
        return form.get("client_id"), form.get("client_secret")
    try:
        client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        return None, None
    return client_id, secret


def _scopes(text: str) -> tuple[str, ...]:
    """Space-separated scopes, each once, short names ("email") in the URL form Google reports."""
    return tuple(dict.fromkeys(_SCOPE_NAMES.get(scope, scope) for scope in text.split()))


def _known_scope(scope: str) -> bool:
    return scope == "openid" or scope.startswith(_AUTH) or scope == "https://mail.google.com/"


def _with_query(address: str, params: dict[str, str]) -> str:
    return address + ("&" if "?" in address else "?") + urlencode(params, quote_via=quote)


def _refresh_token() -> str:
    return "1//refresh-" + secrets.token_urlsafe(16)


def _allowed(grant: _Grant | None, kind: str) -> str:
    """The asking account, once its token is live and holds a scope for this kind of call."""
    if grant is None:
        raise _Refused(401, "authError")
    if not set(grant.scopes) & _NEEDS[kind]:
        raise _Refused(403, "insufficientPermissions")
    return grant.account


def _require_send_updates(query: dict) -> None:
    if "sendUpdates" in query and query["sendUpdates"] not in SEND_UPDATES:
        raise _Refused(400, "invalidParameter", "Invalid value for sendUpdates.")


def _instant(values: dict, name: str) -> datetime:
    """An RFC 3339 time with its offset, as timeMin and timeMax must be."""
    try:
        moment = datetime.fromisoformat(values[name])
    except (KeyError, TypeError, ValueError):
        raise _Refused(400, "badRequest", f"Bad or missing {name}.") from None
    if moment.utcoffset() is None:
        raise _Refused(400, "badRequest", f"{name} needs a time zone offset.")
    return moment


def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Refused(400, "invalid", f"Invalid time zone {key!r}.") from None


def _span(event: dict, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The event's [start, end) as instants; dates are read in the calendar's zone."""
    return _time(event.get("start"), zone, "start"), _time(event.get("end"), zone, "end")


def _time(value: dict | None, zone: ZoneInfo, which: str) -> datetime:
    if not isinstance(value, dict) or not ({"date", "dateTime"} & set(value)):
        raise _Refused(400, "required", f"Missing {which} time.")
    try:
        if "date" in value:
            day = date.fromisoformat(value["date"])
            return datetime(day.year, day.month, day.day, tzinfo=zone)
        moment = datetime.fromisoformat(value["dateTime"])
    except (TypeError, ValueError):
        raise _Refused(400, "invalid", f"Invalid {which} time.") from None
    if moment.utcoffset() is None:
        if "timeZone" not in value:
            raise _Refused(400, "required", f"Missing time zone definition for {which} time.")
        moment = moment.replace(tzinfo=_zone(value["timeZone"]))
    return moment


def _validated(event: dict, calendar: Calendar) -> None:
    """Refuse an event Google would refuse: no times, an end before the start, a bad attendee."""
    start, end = _span(event, calendar.time_zone)
    if end < start:
        raise _Refused(400, "timeRangeEmpty", "The specified time range is empty.")
    for attendee in event.get("attendees", []):
        if "@" not in str(attendee.get("email", "")):
            raise _Refused(400, "invalid", "Invalid attendee email.")


def _personal(event: dict, account: str | None) -> dict:
    """The event as this account sees it: `self` marks its own attendee and organizer entries.

    Its etag is a hash of the stored event, so any change (through the API or made by a test
    standing in for the user on Google) gives a new one, as Google's do.
    """
    seen = copy.deepcopy(event)
    content = json.dumps({k: v for k, v in event.items() if k != "etag"}, sort_keys=True)
    seen["etag"] = '"' + hashlib.sha256(content.encode()).hexdigest()[:20] + '"'
    for person in [*seen.get("attendees", []), seen.get("organizer", {})]:
        if person.get("email", "").lower() == account:
            person["self"] = True
    return seen


def _merge(target: dict, patch: dict) -> dict:
    """Patch semantics: given fields replace, objects merge, arrays are replaced whole."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _merged(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    blocks: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if blocks and start <= blocks[-1][1]:
            blocks[-1] = (blocks[-1][0], max(blocks[-1][1], end))
        else:
            blocks.append((start, end))
    return blocks


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _google_error(refused: _Refused) -> dict:
    """Google's error JSON; a scope error also carries the ErrorInfo detail Google adds."""
    message = refused.message or _MESSAGES.get(refused.reason, refused.reason)
    domain = "usageLimits" if refused.reason in ("rateLimitExceeded", "quotaExceeded") else "global"
    error: dict = {
        "code": refused.status,
        "message": message,
        "errors": [{"domain": domain, "reason": refused.reason, "message": message}],
        "status": _STATUS.get(refused.status, "FAILED_PRECONDITION"),
    }
    if refused.reason == "insufficientPermissions":
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
            }
        ]
    return {"error": error}
