"""The calendars page: upload, subscribe, refresh, remove; only ever one's own."""

import io

from app.extensions import db
from app.models import CalendarSource
from tests.conftest import ROOT
from tests.unit.feed_server import FeedServer, Reply
from tests.web.conftest import csrf_token, post_form, sign_up

DEMO = (ROOT / "app" / "demo" / "demo.ics").read_bytes()


def upload(client, data, filename="work.ics"):
    return post_form(
        client, "/calendars/upload", {"file": (io.BytesIO(data), filename)},
        form_page="/calendars/", content_type="multipart/form-data",
    )  # fmt: skip


def action(client, source_id, verb):
    token = csrf_token(client, "/calendars/")
    return client.post(f"/calendars/{source_id}/{verb}", data={"csrf_token": token})


def only_source(app):
    with app.app_context():
        return db.session.scalar(db.select(CalendarSource))


def test_upload_lists_the_calendar_with_its_event_count(app, client):
    sign_up(client)
    response = upload(client, DEMO)
    assert response.status_code == 302
    page = client.get("/calendars/").get_data(as_text=True)
    assert "work.ics" in page and "Added work.ics (7 events)." in page
    assert only_source(app).content == DEMO


def test_bad_uploads_are_refused_in_plain_words(app, client):
    sign_up(client)
    for data, message in ((b"", "is empty"), (b"<html>login</html>", "not an iCalendar")):
        response = upload(client, data, "bad.ics")
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert only_source(app) is None


def test_too_large_upload_gets_a_clear_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    sign_up(client)
    response = upload(client, DEMO)
    assert response.status_code == 413 and "at most" in response.get_data(as_text=True)


def test_names_are_escaped(client):
    sign_up(client)
    upload(client, DEMO, "<img src=x onerror=alert(1)>&.ics")
    page = client.get("/calendars/").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;&amp;.ics" in page


def test_feed_is_read_at_once_and_its_address_kept_encrypted(app, client):
    sign_up(client)
    with FeedServer() as server:
        server.routes["/private-s3cr3t/basic.ics"] = Reply(body=DEMO)
        response = post_form(
            client, "/calendars/feed",
            {"name": "Work", "url": server.url("/private-s3cr3t/basic.ics")},
            form_page="/calendars/",
        )  # fmt: skip
        assert response.status_code == 302
        page = client.get("/calendars/").get_data(as_text=True)
        assert "Subscribed to Work (7 events)." in page and "s3cr3t" not in page
        source = only_source(app)
        assert source.kind == "feed" and "s3cr3t" not in source.sealed_url
        server.routes["/private-s3cr3t/basic.ics"] = Reply(status=404)
        action(client, source.id, "refresh")
        page = client.get("/calendars/").get_data(as_text=True)
        assert "was not found (HTTP 404)" in page and "s3cr3t" not in page


def test_a_wrong_feed_address_is_refused_and_not_kept(app, client):
    sign_up(client)
    with FeedServer() as server:
        server.routes["/login"] = Reply(
            body=b"<!DOCTYPE html><p>Sign in", headers={"Content-Type": "text/html"}
        )
        response = post_form(
            client, "/calendars/feed", {"name": "", "url": server.url("/login")},
            form_page="/calendars/",
        )  # fmt: skip
    assert response.status_code == 400 and "sign-in page" in response.get_data(as_text=True)
    assert only_source(app) is None


def test_remove(app, client):
    sign_up(client)
    upload(client, DEMO)
    assert action(client, only_source(app).id, "remove").status_code == 302
    assert only_source(app) is None


def test_another_users_calendar_is_invisible_and_untouchable(app, client):
    sign_up(client, email="ana@example.org")
    upload(client, DEMO, "ana-private.ics")
    source_id = only_source(app).id
    other = app.test_client()
    sign_up(other, email="bo@example.org", name="Bo")
    assert "ana-private.ics" not in other.get("/calendars/").get_data(as_text=True)
    assert action(other, source_id, "refresh").status_code == 404
    assert action(other, source_id, "remove").status_code == 404
    assert only_source(app) is not None


def test_try_with_a_sample_calendar(app, client):
    sign_up(client)
    assert "Try with a sample calendar" in client.get("/calendars/").get_data(as_text=True)
    token = csrf_token(client, "/calendars/")
    assert client.post("/calendars/sample", data={"csrf_token": token}).status_code == 302
    assert only_source(app).name == "sample.ics" and only_source(app).event_count == 7


def test_the_same_file_twice_is_kept_once(app, client):
    sign_up(client)
    upload(client, DEMO, "work.ics")
    again = upload(client, DEMO, "work (1).ics")
    assert again.status_code == 400
    assert "This calendar is already here, as work.ics." in again.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(db.select(CalendarSource)).all()) == 1
