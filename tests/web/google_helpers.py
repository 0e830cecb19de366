"""The web app wired to a fake Google on 127.0.0.1, and the consent trip a browser would make.

The fixtures `fake_google` (a running FakeGoogle) and `google_app` (the web app pointed at it)
live in tests/web/conftest.py. `connect_google` goes the whole way a user does: the "Connect
Google" button, Google's consent screen (the fake grants what `fake.consent` says), and the
callback, through the real Flow; `seed_google` skips the trip.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from app.extensions import db
from app.models import CalendarSource
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET, FakeGoogle

ME = "me@example.org"


def google_config(fake: FakeGoogle) -> dict:
    """The settings that point Newslot's Google client at the fake."""
    return {
        "GOOGLE_CLIENT_ID": CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
        "GOOGLE_AUTH_URI": fake.url + "/o/oauth2/auth",
        "GOOGLE_TOKEN_URI": fake.token_uri,
        "GOOGLE_REVOKE_URI": fake.revoke_uri,
        "GOOGLE_USERINFO_URI": fake.url + "/oauth2/v3/userinfo",
        "GOOGLE_API_BASE": fake.url,
    }


def visit_google(client, fake: FakeGoogle, start_path: str, form_page: str, data=None):
    """Press a button that leads to Google, consent there, and follow the browser back.

    Returns the app's answer to the callback.
    """
    from tests.web.conftest import csrf_token

    token = csrf_token(client, form_page)
    started = client.post(start_path, data={**(data or {}), "csrf_token": token})
    assert started.status_code == 302, started.get_data(as_text=True)
    back = urlsplit(fake.authorize(started.headers["Location"]))
    return client.get(f"{back.path}?{back.query}")


def connect_google(client, fake: FakeGoogle) -> CalendarSource:
    """Connect the signed-in user's Google account (as `fake.consent` decides); its source."""
    answer = visit_google(client, fake, "/google/connect", "/calendars/")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert "/calendars/" in answer.headers["Location"], answer.headers["Location"]
    source = db.session.scalar(
        db.select(CalendarSource).filter_by(kind="google").order_by(CalendarSource.id.desc())
    )
    assert source is not None, "no Google account was connected"
    return source


def seed_google(app, user, fake: FakeGoogle, account: str = ME) -> CalendarSource:
    """A connected Google account without the consent trip (for tests about what comes after):
    the fake's grant kept exactly as the callback keeps one."""
    from app.google_client import from_config
    from app.services import google_accounts, google_auth
    from tests.web.conftest import NOW

    credentials = fake.grant(account)
    grant = google_auth.Grant(
        purpose=google_auth.CONNECT, user_id=user.id, time_zone=None, credentials=credentials,
        granted=frozenset(credentials["scopes"]),
    )  # fmt: skip
    return google_accounts.connect(
        user, grant, NOW, keys=app.config["VAULT_KEYS"], client=from_config(app.config)
    )
