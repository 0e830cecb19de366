"""fetch_calendar against a real loopback HTTP server: caching, errors, limits, redaction."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calendar_providers.base import (
    AuthError,
    InvalidCalendar,
    NotFound,
    ProviderError,
    Unavailable,
)
from calendar_providers.fetch import Fetched, fetch_calendar, normalize_url, redact_url
from tests.unit.feed_server import FeedServer, Received, Reply

SECRET_TOKEN = "5f2c9d0e7a1b4c3d"
SECRET_KEY = "s3cr3tkey"
SECRET_PATH = f"/owa/calendar/{SECRET_TOKEN}/reachcalendar.ics?key={SECRET_KEY}"
CALENDAR = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:20261125T130000Z\r\n"
    b"DTSTART:20261126T090000Z\r\nDTEND:20261126T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
CALENDAR_V2 = CALENDAR.replace(b"UID:1@test", b"UID:2@test")
LOGIN_PAGE = b"<!DOCTYPE html><html><body><form>Sign in</form></body></html>"
FIRST_FETCH = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feed:
        yield feed


@pytest.fixture
def feed_url(server: FeedServer) -> str:
    return server.url(SECRET_PATH)


def clock_at(moment: datetime):
    return lambda: moment


def fetch_error(url: str, cache_dir: Path | None = None, **options: object) -> ProviderError:
    """The error fetch_calendar raises, checked to keep the secret part of the URL out of sight."""
    with pytest.raises(ProviderError) as caught:
        fetch_calendar(url, cache_dir, **options)
    assert_redacted(str(caught.value))
    return caught.value


def assert_redacted(text: str) -> None:
    assert SECRET_TOKEN not in text
    assert SECRET_KEY not in text


def test_plain_fetch_returns_the_calendar_without_touching_a_cache(
    server: FeedServer, feed_url: str
) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR, headers={"ETag": '"v1"'})

    fetched = fetch_calendar(feed_url, None)

    assert fetched == Fetched(CALENDAR, from_cache=False)
    assert server.received[0].path == SECRET_PATH
    assert server.received[0].headers.get("If-None-Match") is None


def test_etag_revalidation_sends_if_none_match_and_serves_the_cached_bytes(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    def by_etag(request: Received) -> Reply:
        if request.headers.get("If-None-Match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        return Reply(body=CALENDAR, headers={"ETag": '"v1"'})

    server.routes[SECRET_PATH] = by_etag

    first = fetch_calendar(feed_url, tmp_path)
    second = fetch_calendar(feed_url, tmp_path)

    assert first == Fetched(CALENDAR, from_cache=False)
    assert second == Fetched(CALENDAR, from_cache=True)
    assert server.received[0].headers.get("If-None-Match") is None
    assert server.received[1].headers.get("If-None-Match") == '"v1"'


def test_last_modified_revalidation_sends_if_modified_since(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    stamp = "Wed, 25 Nov 2026 13:00:00 GMT"

    def by_date(request: Received) -> Reply:
        if request.headers.get("If-Modified-Since") == stamp:
            return Reply(304)
        return Reply(body=CALENDAR, headers={"Last-Modified": stamp})

    server.routes[SECRET_PATH] = by_date

    fetch_calendar(feed_url, tmp_path)
    second = fetch_calendar(feed_url, tmp_path)

    assert second == Fetched(CALENDAR, from_cache=True)
    assert server.received[1].headers.get("If-Modified-Since") == stamp
    assert server.received[1].headers.get("If-None-Match") is None


def test_a_changed_feed_replaces_the_cached_copy(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR, headers={"ETag": '"v1"'})
    fetch_calendar(feed_url, tmp_path)
    server.routes[SECRET_PATH] = Reply(body=CALENDAR_V2, headers={"ETag": '"v2"'})
    assert fetch_calendar(feed_url, tmp_path) == Fetched(CALENDAR_V2, from_cache=False)

    server.routes[SECRET_PATH] = Reply(500)
    assert fetch_calendar(feed_url, tmp_path).data == CALENDAR_V2


def test_the_cache_is_written_whole_and_leaves_no_temporary_files(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR, headers={"ETag": '"v1"'})
    fetch_calendar(feed_url, tmp_path / "cache")

    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1
    assert files[0].suffix == ".feed"
    assert SECRET_TOKEN not in files[0].name
    assert files[0].read_bytes().endswith(CALENDAR)


def test_an_unreadable_cache_file_means_a_full_download(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR, headers={"ETag": '"v1"'})
    fetch_calendar(feed_url, tmp_path)
    [cache_file] = tmp_path.iterdir()
    cache_file.write_bytes(b"not json\n" + CALENDAR)

    fetched = fetch_calendar(feed_url, tmp_path)

    assert fetched == Fetched(CALENDAR, from_cache=False)
    assert server.received[1].headers.get("If-None-Match") is None


def test_a_cache_that_cannot_be_written_does_not_cost_the_user_the_calendar(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache folder should be")
    server.routes[SECRET_PATH] = Reply(body=CALENDAR)

    assert fetch_calendar(feed_url, blocker) == Fetched(CALENDAR, from_cache=False)


@pytest.mark.parametrize("status", [404, 410])
def test_a_missing_feed_is_not_found(server: FeedServer, feed_url: str, status: int) -> None:
    server.routes[SECRET_PATH] = Reply(status, b"gone")

    error = fetch_error(feed_url)

    assert isinstance(error, NotFound)
    host = f"http://127.0.0.1:{server.port}/…"
    assert str(error) == (
        f"The calendar address {host} was not found (HTTP {status}). "
        "Check that the link is complete and still shared."
    )


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_feed_asks_for_the_current_secret_address(
    server: FeedServer, feed_url: str, status: int
) -> None:
    server.routes[SECRET_PATH] = Reply(status, b"forbidden")

    error = fetch_error(feed_url)

    assert isinstance(error, AuthError)
    assert f"HTTP {status}" in str(error)
    assert "secret address may have been reset" in str(error)


def test_other_client_errors_are_invalid_calendars(server: FeedServer, feed_url: str) -> None:
    server.routes[SECRET_PATH] = Reply(400, b"bad request")

    error = fetch_error(feed_url)

    assert isinstance(error, InvalidCalendar)
    assert "HTTP 400" in str(error)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_failing_server_without_a_cache_is_unavailable(
    server: FeedServer, feed_url: str, status: int
) -> None:
    server.routes[SECRET_PATH] = Reply(status, b"oops")

    error = fetch_error(feed_url)

    assert isinstance(error, Unavailable)
    assert str(error) == (
        f"The calendar address http://127.0.0.1:{server.port}/… could not be reached: "
        f"the server answered HTTP {status}. Try again later."
    )


def test_a_failing_server_with_a_cache_serves_the_stale_copy_and_says_how_old(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR, headers={"ETag": '"v1"'})
    fetch_calendar(feed_url, tmp_path, clock=clock_at(FIRST_FETCH))
    server.routes[SECRET_PATH] = Reply(500, b"oops")

    fetched = fetch_calendar(feed_url, tmp_path, clock=clock_at(LATER))

    assert fetched.data == CALENDAR
    assert fetched.from_cache is True
    assert fetched.note == (
        f"Could not refresh http://127.0.0.1:{server.port}/… (the server answered HTTP 500); "
        "using the copy from 2026-11-25 14:00 UTC."
    )


def test_a_304_renews_the_age_of_the_cached_copy(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR, headers={"ETag": '"v1"'})
    fetch_calendar(feed_url, tmp_path, clock=clock_at(FIRST_FETCH))
    server.routes[SECRET_PATH] = Reply(304, headers={"ETag": '"v1"'})
    fetch_calendar(feed_url, tmp_path, clock=clock_at(LATER))
    server.routes[SECRET_PATH] = Reply(502)

    note = fetch_calendar(feed_url, tmp_path).note

    assert note is not None
    assert note.endswith("using the copy from 2026-11-27 09:30 UTC.")


def test_an_unasked_for_304_without_a_cache_is_refused(server: FeedServer, feed_url: str) -> None:
    server.routes[SECRET_PATH] = Reply(304)

    error = fetch_error(feed_url)

    assert isinstance(error, InvalidCalendar)
    assert "HTTP 304" in str(error)


def test_a_refused_connection_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{SECRET_PATH}"

    error = fetch_error(url)

    assert isinstance(error, Unavailable)
    assert "the connection was refused" in str(error)


def test_a_login_page_is_called_a_web_page(server: FeedServer, feed_url: str) -> None:
    server.routes[SECRET_PATH] = Reply(body=LOGIN_PAGE, headers={"Content-Type": "text/html"})

    error = fetch_error(feed_url)

    assert isinstance(error, InvalidCalendar)
    assert "returned a web page (probably a sign-in page)" in str(error)


def test_html_is_recognised_by_its_content_even_without_the_header(
    server: FeedServer, feed_url: str
) -> None:
    page = b"\xef\xbb\xbf \r\n<HTML><body>Sign in</body></HTML>"
    server.routes[SECRET_PATH] = Reply(body=page, headers={"Content-Type": "text/plain"})

    assert "returned a web page" in str(fetch_error(feed_url))


def test_a_login_page_does_not_overwrite_the_cached_calendar(
    server: FeedServer, feed_url: str, tmp_path: Path
) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR)
    fetch_calendar(feed_url, tmp_path)
    server.routes[SECRET_PATH] = Reply(body=LOGIN_PAGE, headers={"Content-Type": "text/html"})
    fetch_error(feed_url, tmp_path)
    server.routes[SECRET_PATH] = Reply(503)

    assert fetch_calendar(feed_url, tmp_path).data == CALENDAR


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b'{"events": []}', "something else"),
        (b"", "an empty answer"),
        (b" \r\n", "an empty answer"),
    ],
)
def test_a_body_that_is_not_icalendar_is_refused(
    server: FeedServer, feed_url: str, body: bytes, found: str
) -> None:
    server.routes[SECRET_PATH] = Reply(body=body, headers={"Content-Type": "text/calendar"})

    error = fetch_error(feed_url)

    assert isinstance(error, InvalidCalendar)
    assert "did not return an iCalendar file" in str(error)
    assert found in str(error)


def test_a_calendar_after_a_bom_and_blank_lines_in_lower_case_is_accepted(
    server: FeedServer, feed_url: str
) -> None:
    body = b"\xef\xbb\xbf\r\n  " + CALENDAR.lower()
    server.routes[SECRET_PATH] = Reply(body=body)

    assert fetch_calendar(feed_url, None).data == body


def test_an_oversize_content_length_is_refused_before_reading(
    server: FeedServer, feed_url: str
) -> None:
    # The body is far shorter than announced: reading it would fail as a broken connection.
    server.routes[SECRET_PATH] = Reply(
        body=CALENDAR, headers={"Content-Length": str(21 * 1024 * 1024)}
    )

    error = fetch_error(feed_url)

    assert isinstance(error, InvalidCalendar)
    assert "is larger than 20 MB" in str(error)


def test_an_endless_chunked_body_is_cut_off_at_the_size_limit(
    server: FeedServer, feed_url: str
) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR * 100, chunked=True, endless=True)

    started = time.monotonic()
    error = fetch_error(feed_url, max_bytes=256 * 1024, timeout=5)

    assert isinstance(error, InvalidCalendar)
    assert "is larger than 0.25 MB" in str(error)
    assert time.monotonic() - started < 2


def test_a_chunked_body_within_the_limit_is_read_whole(server: FeedServer, feed_url: str) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR, chunked=True)

    assert fetch_calendar(feed_url, None).data == CALENDAR


def test_a_server_that_does_not_answer_times_out(server: FeedServer, feed_url: str) -> None:
    server.routes[SECRET_PATH] = Reply(body=CALENDAR, pause=5)

    started = time.monotonic()
    error = fetch_error(feed_url, timeout=0.5)

    assert isinstance(error, Unavailable)
    assert "no answer within 0.5 seconds" in str(error)
    assert time.monotonic() - started < 1.5


def test_a_server_that_trickles_forever_is_cut_off_at_the_deadline(
    server: FeedServer, feed_url: str
) -> None:
    # Each byte arrives well within the socket timeout; only the overall deadline can stop this.
    server.routes[SECRET_PATH] = Reply(body=b"B", endless=True, pause=0.05)

    started = time.monotonic()
    error = fetch_error(feed_url, timeout=0.5)

    assert isinstance(error, Unavailable)
    assert "did not send the whole calendar within 0.5 seconds" in str(error)
    assert time.monotonic() - started < 1.5


def test_redirects_are_followed(server: FeedServer, feed_url: str) -> None:
    server.routes[SECRET_PATH] = Reply(302, headers={"Location": "/moved/feed.ics"})
    server.routes["/moved/feed.ics"] = Reply(301, headers={"Location": server.url("/final.ics")})
    server.routes["/final.ics"] = Reply(body=CALENDAR)

    assert fetch_calendar(feed_url, None).data == CALENDAR
    assert [request.path for request in server.received] == [
        SECRET_PATH,
        "/moved/feed.ics",
        "/final.ics",
    ]


def test_more_than_five_redirects_are_refused(server: FeedServer, feed_url: str) -> None:
    server.routes[SECRET_PATH] = Reply(302, headers={"Location": "/hop/1"})
    for hop in range(1, 10):
        server.routes[f"/hop/{hop}"] = Reply(302, headers={"Location": f"/hop/{hop + 1}"})

    error = fetch_error(feed_url)

    assert isinstance(error, InvalidCalendar)
    assert "redirected more than 5 times" in str(error)
    assert len(server.received) == 6


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed.ics"])
def test_redirects_to_other_schemes_are_refused(
    server: FeedServer, feed_url: str, target: str
) -> None:
    server.routes[SECRET_PATH] = Reply(302, headers={"Location": target})

    error = fetch_error(feed_url)

    assert isinstance(error, InvalidCalendar)
    assert "not a web (http or https) address" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        f"file:///home/me{SECRET_PATH}",
        f"ftp://example.com{SECRET_PATH}",
        "javascript:alert(1)",
        f"example.com{SECRET_PATH}",
        f"https://{SECRET_PATH}",
        f"https://user:{SECRET_KEY}@example.com/feed.ics",
        f"https://[::1{SECRET_PATH}",
    ],
)
def test_addresses_that_are_not_http_are_refused_plainly(url: str) -> None:
    error = fetch_error(url)

    assert isinstance(error, InvalidCalendar)
    assert str(error).endswith(".")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "webcal://p01-caldav.icloud.com/published/2/abc",
            "https://p01-caldav.icloud.com/published/2/abc",
        ),
        ("WEBCALS://Example.COM/a.ics?x=1", "https://example.com/a.ics?x=1"),
        ("  https://example.com:443/a b.ics  ", "https://example.com/a%20b.ics"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("https://example.com/caf%C3%A9/é.ics#frag", "https://example.com/caf%C3%A9/%C3%A9.ics"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://outlook.office365.com{SECRET_PATH}", "https://outlook.office365.com/…"),
        (f"webcal://p01-caldav.icloud.com{SECRET_PATH}", "https://p01-caldav.icloud.com/…"),
        (f"https://user:{SECRET_KEY}@Example.com:8443{SECRET_PATH}", "https://example.com:8443/…"),
        (f"http://[::1]:8000{SECRET_PATH}", "http://[::1]:8000/…"),
        ("javascript:alert(1)", "javascript:…"),
        (f"https://[::1{SECRET_PATH}", "…"),
        ("", "…"),
    ],
)
def test_redact_url_keeps_only_scheme_host_and_port(url: str, expected: str) -> None:
    assert redact_url(url) == expected
