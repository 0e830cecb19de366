"""End to end: the real app on a loopback port, driven by Debian's Chromium through Playwright.

Chromium comes from the system (scripts/test installs Debian's `chromium`); Playwright never
downloads a browser. Without it the tests skip here, and fail under scripts/test
(NEWSLOT_REQUIRE_BROWSER), where a skip would hide a broken set-up.
"""

import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.web.conftest import NOW

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"  # not in git


@contextmanager
def served(tmp_path, **settings):
    """The app on a loopback port of its own, its PUBLIC_URL set to it, until the block ends."""
    app = create_app(
        {
            "SECRET_KEY": "e2e secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
            "FEED_CACHE_DIR": str(tmp_path / "cache"),
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "NOW": lambda: NOW,
            **settings,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.server_port}"
    try:
        yield app
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def live_app(tmp_path):
    with served(tmp_path) as app:
        yield app


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("NEWSLOT_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def interviewer_page(browser):
    """Opens pages in fresh contexts (own cookies, nothing shared), on the interviewer's clock
    unless told otherwise; all closed at the end, even when the test fails."""
    contexts = []

    def open_page(width: int = 1100, zone: str = "America/New_York"):
        context = browser.new_context(
            viewport={"width": width, "height": 900}, timezone_id=zone, locale="en-GB"
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page, name):
    """Keep a picture of the page (the README shows copies of some, from docs/screenshots)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
