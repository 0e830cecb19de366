"""A real HTTP server on 127.0.0.1 for tests that fetch calendar feeds.

Each path answers as the test says (a fixed `Reply`, or a function of the request, e.g. to honour
If-None-Match), and every request is recorded so a test can check what the client really sent.
Misbehaving servers (slow, trickling, endless, lying about their length) are `Reply` options.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Reply:
    """How one request is answered."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # given ones win over defaults
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    endless: bool = False  # send `body` again and again until the client hangs up
    pause: float = 0.0  # seconds to wait before the status line and between repeats
    endless_for: float = 3.0  # an endless reply stops after this, so a client that fails to
    # give up makes its test fail instead of hang


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    path: str  # with the query string
    headers: Message  # case-insensitive .get()


Route = Reply | Callable[[Received], Reply]


class FeedServer:
    """Use as a context manager; set `routes[path]` before fetching `url(path)`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.received: list[Received] = []
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.feed = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )  # a short poll keeps shutdown (every test's teardown) quick

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stopping.set()  # ends any pause or endless reply still running
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


class _Server(ThreadingHTTPServer):
    feed: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client hangs up mid-reply: the tests provoke that on purpose."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked replies need it
    server: _Server

    def do_GET(self) -> None:
        feed = self.server.feed
        received = Received(self.path, self.headers)
        feed.received.append(received)
        route = feed.routes.get(self.path, Reply(404, b"no such feed"))
        reply = route(received) if callable(route) else route
        self._send(reply, feed.stopping)

    def _send(self, reply: Reply, stopping: threading.Event) -> None:
        if stopping.wait(reply.pause):
            return
        headers = {"Connection": "close"}
        if reply.chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif not reply.endless:
            headers["Content-Length"] = str(len(reply.body))
        headers.update(reply.headers)
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        piece = (
            f"{len(reply.body):x}\r\n".encode() + reply.body + b"\r\n"
            if reply.chunked
            else reply.body
        )
        self.wfile.write(piece)
        stop_at = time.monotonic() + reply.endless_for
        while reply.endless and time.monotonic() < stop_at and not stopping.wait(reply.pause):
            self.wfile.write(piece)
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""
