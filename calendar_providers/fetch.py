"""Download a calendar feed URL (an Outlook/iCloud/Google "secret address") safely.

The URL a user pastes is a password in disguise: its path and query grant read access to the
calendar. So every message shows only `redact_url(url)`. The server on the other end is not ours,
so every read is bounded in time and size, and only http/https is ever followed. A small on-disk
cache makes refreshes cheap (conditional GET) and lets a stale copy stand in when the server is
down, saying how old it is.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import ssl
import string
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from hashlib import sha256
from pathlib import Path
from typing import IO
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from urllib.request import HTTPRedirectHandler, Request, build_opener

from calendar_providers.base import AuthError, InvalidCalendar, NotFound, Unavailable

logger = logging.getLogger(__name__)

_SCHEMES = {"http": "http", "https": "https", "webcal": "https", "webcals": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_SAFE = "/%:@!$&'()*+,;=~"  # RFC 3986 characters kept as they are; the rest is %-encoded
_MAX_REDIRECTS = 5
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_REQUEST_HEADERS = {"User-Agent": "Newslot calendar reader", "Accept": "text/calendar, */*;q=0.5"}


@dataclass(frozen=True)
class Fetched:
    """The calendar bytes, and whether they came from the cache rather than the server."""

    data: bytes
    from_cache: bool
    note: str | None = None  # set when a stale copy was used because the refresh failed


def normalize_url(url: str) -> str:
    """The http(s) URL to request: webcal(s):// means https://; anything else is refused."""
    text = url.strip()
    if not text:
        raise InvalidCalendar("No calendar address was given. Paste the calendar's secret address.")
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise InvalidCalendar(
            "The calendar address could not be read. Copy it again from the calendar's sharing "
            "settings."
        ) from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        found = f" This one starts with {parts.scheme}:." if parts.scheme else ""
        raise InvalidCalendar(
            f"A calendar address must be a web address starting with https:// or webcal://.{found}"
        )
    if not host:
        raise InvalidCalendar(
            "The calendar address has no host name after the //. Copy the whole address again."
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidCalendar("The calendar address must not contain a user name or password.")
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    path = quote(parts.path or "/", safe=_URL_SAFE)
    query = quote(parts.query, safe=_URL_SAFE + "?")
    return urlunsplit((scheme, _host_port(host, port), path, query, ""))


def redact_url(url: str) -> str:
    """`scheme://host[:port]/…` for messages and logs: the path and query of a feed are secret."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "…"
    scheme = parts.scheme.lower()
    scheme = _SCHEMES.get(scheme, scheme)
    if not host:
        return f"{scheme}:…" if scheme else "…"
    return f"{scheme}://{_host_port(host, port)}/…"


def _utc_now() -> datetime:
    """The real clock; tests pass `clock` to pin the cache's timestamps."""
    return datetime.now(UTC)


def fetch_calendar(
    url: str,
    cache_dir: Path | None,
    *,
    timeout: float = 15.0,
    max_bytes: int = 20 * 1024 * 1024,
    clock: Callable[[], datetime] = _utc_now,
) -> Fetched:
    """The iCalendar bytes behind `url`, revalidated against the cache in `cache_dir` if any.

    `timeout` bounds the whole download (each network wait, and the body as a whole between
    chunks), so one server cannot hold a worker for long. `clock` stamps cached copies.
    """
    target = normalize_url(url)
    shown = redact_url(target)
    cache_file = cache_dir / f"{sha256(target.encode()).hexdigest()}.feed" if cache_dir else None
    cached = _load(cache_file) if cache_file else None
    try:
        response = _download(target, shown, _validators(cached), timeout, max_bytes)
    except _Unreachable as err:
        if cached is None:
            raise Unavailable(
                f"The calendar address {shown} could not be reached: {err.reason}. Try again later."
            ) from err
        copied = f"{cached.fetched_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        note = f"Could not refresh {shown} ({err.reason}); using the copy from {copied}."
        return Fetched(cached.data, from_cache=True, note=note)
    if response.status == 304 and cached is not None:
        fresh = _Cached(
            cached.data,
            response.etag or cached.etag,
            response.last_modified or cached.last_modified,
            _stamp(clock),
        )
        _save(cache_file, fresh, shown)
        return Fetched(cached.data, from_cache=True)
    if response.status == 304:  # we sent no validators, so there is nothing to reuse
        raise InvalidCalendar(
            f"The calendar address {shown} answered HTTP 304 instead of a calendar."
        )
    _check_is_calendar(response.data, response.content_type, shown)
    _save(
        cache_file,
        _Cached(response.data, response.etag, response.last_modified, _stamp(clock)),
        shown,
    )
    return Fetched(response.data, from_cache=False)


class _Unreachable(Exception):
    """The server could not be reached or failed; a cached copy may stand in."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Response:
    status: int  # 2xx, or 304 with empty data
    data: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class _Cached:
    data: bytes
    etag: str | None
    last_modified: str | None
    fetched_at: datetime  # when the server last sent or confirmed this copy


class _NoAutomaticRedirects(HTTPRedirectHandler):
    """Hand 3xx answers back to us: urllib would read a redirect's whole body, unbounded."""

    def http_error_302(
        self, req: Request, fp: IO[bytes], code: int, msg: str, headers: Message
    ) -> None:
        return None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _download(
    url: str, shown: str, headers: dict[str, str], timeout: float, max_bytes: int
) -> _Response:
    """One GET (following redirects), with every failure turned into our errors."""
    deadline = time.monotonic() + timeout
    try:
        with _open(url, shown, headers, timeout, deadline) as response:
            data = _read_body(response, shown, timeout, deadline, max_bytes)
            return _Response(
                response.status,
                data,
                response.headers.get_content_type(),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
            )
    except HTTPError as err:
        err.close()
        if err.code == 304:
            return _Response(
                304, b"", "", err.headers.get("ETag"), err.headers.get("Last-Modified")
            )
        raise _status_error(err.code, shown) from err
    except (URLError, OSError, http.client.HTTPException) as err:
        raise _Unreachable(_describe(err, timeout)) from err


def _open(
    url: str, shown: str, headers: dict[str, str], timeout: float, deadline: float
) -> http.client.HTTPResponse:
    """The first non-redirect response; at most five redirects, to http(s) addresses only."""
    opener = build_opener(_NoAutomaticRedirects)
    for _ in range(_MAX_REDIRECTS + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Unreachable(f"no answer within {timeout:g} seconds")
        try:
            return opener.open(Request(url, headers=_REQUEST_HEADERS | headers), timeout=remaining)
        except HTTPError as err:
            location = err.headers.get("Location")
            if err.code not in _REDIRECT_CODES or not location:
                raise
            err.close()
            url = _redirect_target(url, location, shown)
    raise InvalidCalendar(
        f"The calendar address {shown} redirected more than {_MAX_REDIRECTS} times; "
        "it does not lead to a calendar."
    )


def _redirect_target(current: str, location: str, shown: str) -> str:
    """The absolute http(s) URL a Location header points to (headers arrive as Latin-1)."""
    target = urljoin(current, quote(location, encoding="iso-8859-1", safe=string.punctuation))
    try:
        return normalize_url(target)
    except InvalidCalendar:
        raise InvalidCalendar(
            f"The calendar address {shown} redirected to an address that is not a web "
            "(http or https) address."
        ) from None


def _read_body(
    response: http.client.HTTPResponse, shown: str, timeout: float, deadline: float, max_bytes: int
) -> bytes:
    """The body, refused as soon as it is known to exceed `max_bytes` or to overrun the deadline."""
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > max_bytes:
        raise _too_large(shown, max_bytes)
    chunks: list[bytes] = []
    received = 0
    while chunk := response.read1(_CHUNK):  # read1: returns what has arrived, never waits for more
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(shown, max_bytes)
        if time.monotonic() > deadline:
            raise _Unreachable(f"it did not send the whole calendar within {timeout:g} seconds")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(shown: str, max_bytes: int) -> InvalidCalendar:
    return InvalidCalendar(
        f"The calendar at {shown} is larger than {max_bytes / 2**20:.3g} MB, the most Newslot "
        "reads. Share a calendar with fewer events, or export a shorter period."
    )


def _status_error(code: int, shown: str) -> Exception:
    """The error for an HTTP status that is neither success nor a redirect we follow."""
    if code in (404, 410):
        return NotFound(
            f"The calendar address {shown} was not found (HTTP {code}). Check that the link is "
            "complete and still shared."
        )
    if code in (401, 403):
        return AuthError(
            f"The calendar address {shown} was refused (HTTP {code}): the secret address may have "
            "been reset, or the calendar is private. Copy the current secret address from the "
            "calendar's sharing settings."
        )
    if code >= 500 or code in (408, 429):  # the server's trouble, or "slow down": retry later
        return _Unreachable(f"the server answered HTTP {code}")
    if 400 <= code < 500:
        return InvalidCalendar(
            f"The calendar address {shown} was rejected by the server (HTTP {code}). Check that "
            "the link is complete."
        )
    return InvalidCalendar(
        f"The calendar address {shown} answered HTTP {code} instead of a calendar."
    )


def _describe(err: BaseException, timeout: float) -> str:
    """A short, fixed phrase for a network failure (exception texts may quote the URL)."""
    if isinstance(err, URLError) and isinstance(err.reason, BaseException):
        err = err.reason
    if isinstance(err, TimeoutError):
        return f"no answer within {timeout:g} seconds"
    if isinstance(err, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(err, socket.gaierror):
        return "the host name could not be found"
    if isinstance(err, ssl.SSLCertVerificationError):
        return "its security certificate could not be verified"
    if isinstance(err, ssl.SSLError):
        return "a secure connection could not be set up"
    if isinstance(err, ConnectionError):
        return "the connection was closed unexpectedly"
    if isinstance(err, http.client.HTTPException):
        return "the server sent a broken answer"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    return "a network error occurred"


def is_icalendar(data: bytes) -> bool:
    """Whether the bytes open like an iCalendar stream (a BOM and blank lines allowed)."""
    return data.removeprefix(_BOM).lstrip()[:15].upper() == b"BEGIN:VCALENDAR"


def _check_is_calendar(data: bytes, content_type: str, shown: str) -> None:
    """Refuse what is not iCalendar, naming the usual culprit: a sign-in page."""
    if is_icalendar(data):
        return
    start = data.removeprefix(_BOM).lstrip()
    if content_type in ("text/html", "application/xhtml+xml") or start[:9].lower().startswith(
        (b"<!doctype", b"<html")
    ):
        raise InvalidCalendar(
            f"The calendar address {shown} returned a web page (probably a sign-in page), not a "
            "calendar. Use the calendar's secret iCal address."
        )
    found = "an empty answer" if not start else "something else"
    raise InvalidCalendar(
        f"The calendar address {shown} did not return an iCalendar file (it sent {found}). "
        "Check that you copied the calendar's iCal (.ics) address."
    )


def _stamp(clock: Callable[[], datetime]) -> datetime:
    now = clock()
    if now.tzinfo is None:
        raise ValueError("the clock must return a timezone-aware datetime")
    return now


def _validators(cached: _Cached | None) -> dict[str, str]:
    """Conditional-GET headers that let the server answer 304 instead of resending the feed."""
    if cached is None:
        return {}
    headers = {}
    if cached.etag:
        headers["If-None-Match"] = cached.etag
    if cached.last_modified:
        headers["If-Modified-Since"] = cached.last_modified
    return headers


def _load(path: Path) -> _Cached | None:
    """The cached copy, or None when there is none or it cannot be read (then we refetch)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    header, newline, data = raw.partition(b"\n")
    try:
        meta = json.loads(header)
        fetched_at = datetime.fromisoformat(meta["fetched_at"])
        etag, last_modified = meta["etag"], meta["last_modified"]
    except (ValueError, KeyError, TypeError):
        return None
    if not newline or fetched_at.tzinfo is None:
        return None
    return _Cached(data, etag, last_modified, fetched_at)


def _save(path: Path | None, cached: _Cached, shown: str) -> None:
    """Write one file (a JSON line, then the body) and swap it in whole: readers never see half.

    A cache that cannot be written only costs a full download next time, so it is logged, not
    raised: the user still gets the calendar they asked for.
    """
    if path is None:
        return
    meta = {
        "etag": cached.etag,
        "last_modified": cached.last_modified,
        "fetched_at": cached.fetched_at.isoformat(),
    }
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError as err:
        logger.warning("Could not cache the calendar from %s: %s", shown, err)
        return
    try:
        with os.fdopen(descriptor, "wb") as temp:
            temp.write(json.dumps(meta).encode() + b"\n")
            temp.write(cached.data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except OSError as err:
        Path(temp_name).unlink(missing_ok=True)
        logger.warning("Could not cache the calendar from %s: %s", shown, err)


def _host_port(host: str, port: int | None) -> str:
    bracketed = f"[{host}]" if ":" in host else host
    return f"{bracketed}:{port}" if port else bracketed
