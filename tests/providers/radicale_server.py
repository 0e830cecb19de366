"""A real Radicale CalDAV server on 127.0.0.1 for the tests, and plain-HTTP helpers to seed it.

The helpers speak raw HTTP (urllib) rather than the `caldav` library, so the data on the server
does not depend on the code under test.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen
from xml.sax.saxutils import escape

import icalendar

USER = "candidate"
PASSWORD = "s3cret-app-password"
_START_TIMEOUT = 15.0
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class Radicale:
    """A running server: where it listens and the one account it knows."""

    port: int
    storage: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def calendar_url(self, name: str) -> str:
        return f"{self.url}{USER}/{name}/"

    def request(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One authenticated request; the status, headers and body whatever the status."""
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request = Request(url, data=body or None, method=method)
        request.add_header("Authorization", f"Basic {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def make_calendar(
        self, name: str, display_name: str, components: tuple[str, ...] = ("VEVENT", "VTODO")
    ) -> str:
        """Create a calendar collection (MKCALENDAR) for these component types; its URL."""
        kinds = "".join(f'<C:comp name="{kind}"/>' for kind in components)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:set><D:prop><D:displayname>{escape(display_name)}</D:displayname>"
            f"<C:supported-calendar-component-set>{kinds}</C:supported-calendar-component-set>"
            "</D:prop></D:set></C:mkcalendar>"
        ).encode()
        url = self.calendar_url(name)
        status, _, reply = self.request("MKCALENDAR", url, body, {"Content-Type": "text/xml"})
        assert status == 201, f"MKCALENDAR {url}: {status} {reply[:200]!r}"
        return url

    def put_object(self, calendar_url: str, uid: str, data: bytes) -> str:
        """Store one calendar object resource; returns its URL."""
        url = f"{calendar_url}{_safe_name(uid)}.ics"
        status, _, reply = self.request(
            "PUT", url, data, {"Content-Type": "text/calendar; charset=utf-8"}
        )
        assert status in (201, 204), f"PUT {url}: {status} {reply[:300]!r}"
        return url

    def seed(self, name: str, display_name: str, ics: bytes) -> str:
        """A calendar holding the events of an .ics file, one object per UID as CalDAV requires."""
        url = self.make_calendar(name, display_name)
        for uid, data in split_by_uid(ics):
            self.put_object(url, uid, data)
        return url


def split_by_uid(ics: bytes) -> list[tuple[str, bytes]]:
    """One VCALENDAR per UID (master with its overrides), carrying the time zones it needs."""
    objects = []
    for calendar in icalendar.Calendar.from_ical(ics, multiple=True):
        timezones = calendar.walk("VTIMEZONE")
        by_uid: dict[str, list[icalendar.Event]] = {}
        for event in calendar.walk("VEVENT"):
            by_uid.setdefault(str(event["UID"]), []).append(event)
        for uid, events in by_uid.items():
            alone = icalendar.Calendar()
            for name, value in calendar.property_items(recursive=False):
                if name not in ("BEGIN", "END", "METHOD"):
                    alone.add(name, value)
            for component in (*timezones, *events):
                alone.add_component(component)
            objects.append((uid, alone.to_ical()))
    return objects


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_radicale(folder: Path) -> Iterator[Radicale]:
    """Start Radicale on a free loopback port with htpasswd (plain) auth; always stop it.

    Another process may take the free port before Radicale binds it, so start-up is retried
    on a new port, and the server counts as up only once its own log says it listens there.
    """
    htpasswd = folder / "users"
    htpasswd.write_text(f"{USER}:{PASSWORD}\n")
    for _ in range(_START_ATTEMPTS):
        port = free_port()
        process = _start(folder, port, htpasswd)
        if _listening(process, port, folder / "radicale.log"):
            break
        _stop(process)
    else:
        raise RuntimeError(f"Radicale could not start:\n{(folder / 'radicale.log').read_text()}")
    try:
        yield Radicale(port, folder / "collections")
    finally:
        _stop(process)


def _start(folder: Path, port: int, htpasswd: Path) -> subprocess.Popen:
    config = folder / "config"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        "[auth]\ntype = htpasswd\n"
        f"htpasswd_filename = {htpasswd}\nhtpasswd_encryption = plain\ndelay = 0\n"
        "[rights]\ntype = owner_only\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
        "[web]\ntype = none\n"
        "[logging]\nlevel = info\n"  # info: the "Listening on" line tells it is up
    )
    with (folder / "radicale.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )


def _listening(process: subprocess.Popen, port: int, log: Path) -> bool:
    """True once Radicale listens on the port; False if it exited (the port was taken)."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if f"Listening on '127.0.0.1:{port}'" in log.read_text(errors="replace"):
            return True
        time.sleep(0.02)
    raise RuntimeError(f"Radicale did not start within {_START_TIMEOUT:.0f} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _safe_name(uid: str) -> str:
    return "".join(char if char.isalnum() or char in "-_." else "_" for char in uid)
