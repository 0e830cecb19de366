"""Busy time over all of a user's sources, read once per calendar content and day."""

from datetime import UTC, datetime

from app.extensions import db
from app.models import User
from app.services import busy, calendars
from calendar_providers.ics import IcsProvider
from tests.conftest import FIXTURES, ROOT
from tests.unit.feed_server import FeedServer, Reply
from tests.web.conftest import NOW, sign_up

DEMO = (ROOT / "app" / "demo" / "demo.ics").read_bytes()
SEMANTICS = (FIXTURES / "ics" / "busy_semantics.ics").read_bytes()


def user_with_uploads(app, client, *contents):
    sign_up(client, email="me@example.org")
    with app.app_context():
        user = db.session.scalar(db.select(User))
        for number, content in enumerate(contents):
            calendars.add_upload(user, f"cal{number}.ics", content, NOW)
        return user.id


def read(app, user_id, start, end):
    with app.app_context():
        user = db.session.get(User, user_id)
        return busy.read_busy(
            user, start, end, secret_key=app.config["SECRET_KEY"],
            cache_dir=app.config["FEED_CACHE_DIR"],
        )  # fmt: skip


def test_events_of_every_source_in_the_window(app, client):
    user_id = user_with_uploads(app, client, DEMO, SEMANTICS)
    december = read(
        app, user_id, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    )
    assert {event.summary for event in december.events} >= {"Dentist", "Team stand-up"}
    march = read(
        app, user_id, datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 3, 20, tzinfo=UTC)
    )
    # me@example.org declined one invitation in that file: it is free
    assert {event.uid for event in march.events} == {"tentative@test", "accepted@test"}


def test_the_same_content_and_day_is_parsed_once(app, client, monkeypatch):
    user_id = user_with_uploads(app, client, DEMO)
    calls = []
    original = IcsProvider.busy
    monkeypatch.setattr(IcsProvider, "busy", lambda self, *a: calls.append(a) or original(self, *a))
    busy._cache.clear()
    for hour in (9, 10, 15):  # three page views the same day
        read(
            app,
            user_id,
            datetime(2026, 12, 1, hour, tzinfo=UTC),
            datetime(2026, 12, 15, tzinfo=UTC),
        )
    assert len(calls) == 1


def test_an_unreadable_feed_is_a_note_not_a_failure(app, client):
    user_id = user_with_uploads(app, client, DEMO)
    with FeedServer() as server:
        server.routes["/cal.ics"] = Reply(body=DEMO)
        with app.app_context():
            user = db.session.get(User, user_id)
            secrets = {
                "secret_key": app.config["SECRET_KEY"],
                "cache_dir": app.config["FEED_CACHE_DIR"],
            }
            calendars.add_feed(user, server.url("/cal.ics"), "Feed", NOW, **secrets)
        server.routes["/cal.ics"] = Reply(status=404)
        result = read(
            app, user_id, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
        )
    assert any(note.startswith("Feed: ") and "404" in note for note in result.notes)
    assert any(event.summary == "Dentist" for event in result.events)


def test_a_feed_read_from_its_kept_copy_says_so(app, client):
    user_id = user_with_uploads(app, client)
    with FeedServer() as server:
        server.routes["/cal.ics"] = Reply(body=DEMO)
        with app.app_context():
            user = db.session.get(User, user_id)
            secrets = {
                "secret_key": app.config["SECRET_KEY"],
                "cache_dir": app.config["FEED_CACHE_DIR"],
            }
            calendars.add_feed(user, server.url("/cal.ics"), "Feed", NOW, **secrets)
        server.routes["/cal.ics"] = Reply(status=503)
        result = read(
            app, user_id, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
        )
    assert any(event.summary == "Dentist" for event in result.events)  # from the kept copy
    assert [note for note in result.notes if note.startswith("Feed: Could not refresh")]
