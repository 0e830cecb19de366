"""The web app on a temporary SQLite database, built through the real migrations."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db
from tests.fakes.google_server import FakeGoogle
from tests.web.google_helpers import google_config

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
_TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def web_app(tmp_path, **settings):
    """The app on a temporary database, email to a folder of the test, the clock at NOW."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret key",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite3'}",
            "FEED_CACHE_DIR": str(tmp_path / "cache"),
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "NOW": lambda: NOW,
            **settings,
        }
    )


@pytest.fixture
def app(tmp_path):
    app = web_app(tmp_path)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def fake_google():
    """A fake Google on 127.0.0.1 (tests/fakes/google_server.py)."""
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def google_app(tmp_path, fake_google):
    """The web app (as `app`) with Google switched on and pointed at `fake_google`."""
    app = web_app(tmp_path, **google_config(fake_google))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def outbox_folder(app):
    """Where the default transport keeps sent letters in tests (never the real instance)."""
    return Path(app.config["OUTBOX_DIR"])


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path):
    """The CSRF token of the form on `path`, as a browser would send it back."""
    page = client.get(path).get_data(as_text=True)
    found = _TOKEN.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1) or found.group(2)


def post_form(client, path, data, *, form_page=None, **kwargs):
    """Submit a form with its CSRF token, like a browser."""
    token = csrf_token(client, form_page or path)
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def sign_up(client, email="ana@example.org", name="Ana Lima", zone="Europe/Berlin"):
    response = post_form(
        client, "/sign-up",
        {"name": name, "email": email, "password": "correct horse battery", "time_zone": zone},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
