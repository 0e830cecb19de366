"""Connecting a CalDAV account on the calendars page, choosing its calendars, reading its
busy time, and the whole flow to a confirmed event on the server, against a real Radicale
server on 127.0.0.1."""

import base64
import json
import logging
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import vault
from app.extensions import db
from app.models import CalendarSource, Interview, User
from app.services import account_answers, busy, calendars
from calendar_providers import provider_class
from calendar_providers.base import BusyReport
from calendar_providers.caldav import CaldavProvider
from tests.providers.radicale_server import PASSWORD, USER, free_port, running_radicale
from tests.web.conftest import NOW, csrf_token, post_form, sign_up
from tests.web.test_accessibility import unlabelled
from tests.web.test_interviews import create_typed
from tests.web.test_letters_page import submit, text_part
from tests.web.test_offer_page import answer

ME = "ana@example.org"
# The typed interview of tests.web.test_interviews: 1 December 2026, 16:00-17:00 in Berlin.
DAY_START, DAY_END = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)


def event(uid: str, summary: str, start: str, end: str) -> bytes:
    """One event in UTC, as a CalDAV client would PUT it."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Newslot tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\n"
        f"DTSTART:{start}\r\nDTEND:{end}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


@pytest.fixture
def radicale(tmp_path):
    """Radicale with two calendars; each holds one event of 1 December that exists nowhere else."""
    account_answers.forget_all()
    folder = tmp_path / "radicale"
    folder.mkdir()
    with running_radicale(folder) as server:
        work = server.make_calendar("work", "Work")
        personal = server.make_calendar("personal", "Personal")
        server.put_object(
            work, "dentist@caldav", event("dentist@caldav", "Dentist on CalDAV",
                                          "20261201T153000Z", "20261201T160000Z"),
        )  # fmt: skip
        server.put_object(
            personal, "yoga@caldav", event("yoga@caldav", "Yoga on CalDAV",
                                           "20261201T080000Z", "20261201T090000Z"),
        )  # fmt: skip
        yield server


@pytest.fixture
def every_log(caplog, monkeypatch):
    """Every log record at every level, from loggers a logging set-up may have disabled too."""
    for logger in logging.root.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            monkeypatch.setattr(logger, "disabled", False)
    caplog.set_level(logging.DEBUG)
    return caplog


def connect(client, url, password=PASSWORD, username=USER):
    return post_form(
        client, "/calendars/caldav", {"url": url, "username": username, "password": password},
        form_page="/calendars/",
    )  # fmt: skip


def sources(app) -> list[CalendarSource]:
    with app.app_context():
        return db.session.scalars(db.select(CalendarSource)).all()


def settings(source: CalendarSource) -> dict:
    return json.loads(source.settings)


def read(app, start=DAY_START, end=DAY_END) -> BusyReport:
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=ME))
        return busy.read_busy(
            user, start, end, secret_key=app.config["SECRET_KEY"],
            cache_dir=app.config["FEED_CACHE_DIR"],
        )  # fmt: skip


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_connecting_lists_and_keeps_the_calendars_with_the_password_sealed(
    app, client, radicale, every_log
):
    sign_up(client, email=ME)
    response = connect(client, radicale.url)
    assert response.status_code == 302, response.get_data(as_text=True)
    (source,) = sources(app)
    assert response.headers["Location"] == f"/calendars/{source.id}/calendars"
    assert source.kind == "caldav" and source.name == f"{USER} on 127.0.0.1"
    work, personal = radicale.calendar_url("work"), radicale.calendar_url("personal")
    kept = settings(source)
    assert (kept["url"], kept["username"]) == (radicale.url, USER)
    assert {url.rstrip("/"): name for url, name in kept["calendar_names"].items()} == {
        work.rstrip("/"): "Work",
        personal.rstrip("/"): "Personal",
    }
    assert set(kept["busy_calendars"]) == set(kept["calendar_names"])
    assert kept["write_calendar"] in kept["calendar_names"]
    # the password: sealed in the row, nowhere in clear (row, database file, pages, logs)
    secret_key = app.config["SECRET_KEY"]
    assert json.loads(vault.unseal(secret_key, source.sealed_credentials)) == {"password": PASSWORD}
    assert PASSWORD not in source.sealed_credentials and PASSWORD not in source.settings
    database = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    assert PASSWORD.encode() not in Path(database).read_bytes()
    choose_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert unlabelled(choose_page) == []
    list_page = client.get("/calendars/").get_data(as_text=True)
    assert "Work" in choose_page and "Personal" in choose_page
    assert f"{USER} on 127.0.0.1" in list_page and "2 of 2 calendars count as busy" in list_page
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for page in (choose_page, list_page):
        assert PASSWORD not in page and basic not in page
    read(app)  # the busy read talks to the server too
    assert any(record.name.startswith("urllib3") for record in every_log.records)
    assert PASSWORD not in every_log.text and basic not in every_log.text  # tracebacks too


def test_the_caldav_event_clashes_on_the_interview_page(app, client, radicale):
    sign_up(client, email=ME)
    connect(client, radicale.url)
    interview_page = client.get(create_typed(client)).get_data(as_text=True)
    assert "1 event(s) on your calendars clash" in text_of(interview_page)
    assert "Dentist on CalDAV" in interview_page
    proposals = client.get(create_typed(client, date="2026-12-02") + "/proposals")
    assert proposals.status_code == 200


def test_a_wrong_password_is_said_and_nothing_is_kept(app, client, radicale, every_log):
    sign_up(client, email=ME)
    response = connect(client, radicale.url, password="not-the-password")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="error" role="alert">The CalDAV server refused the user name or' in page
    assert "not-the-password" not in page
    assert every_log.records
    assert "not-the-password" not in every_log.text
    assert sources(app) == []


def test_a_closed_port_is_a_clear_error_at_once(app, client):
    sign_up(client, email=ME)
    began = time.monotonic()
    response = connect(client, f"http://127.0.0.1:{free_port()}/")
    assert time.monotonic() - began < 5
    assert response.status_code == 400
    assert "cannot be reached" in response.get_data(as_text=True)
    assert sources(app) == []


def test_plain_http_to_another_machine_is_refused_before_any_connection(app, client, monkeypatch):
    monkeypatch.setattr(calendars, "provider_class", lambda name: pytest.fail("connected"))
    sign_up(client, email=ME)
    for url in ("http://caldav.example.org/", "http://10.0.0.7:5232/"):
        response = connect(client, url)
        assert response.status_code == 400
        assert "Use an https:// address" in response.get_data(as_text=True)
    response = connect(client, f"https://{USER}:{PASSWORD}@caldav.example.org/")
    assert "Leave the user name and password out of the address" in response.get_data(as_text=True)
    assert sources(app) == []


def test_only_the_chosen_calendars_count_and_the_write_calendar_is_kept(app, client, radicale):
    sign_up(client, email=ME)
    page = connect(client, radicale.url).headers["Location"]
    assert {event.summary for event in read(app).events} == {
        "Dentist on CalDAV",
        "Yoga on CalDAV",
    }
    (source,) = sources(app)
    ids = {name: url for url, name in settings(source)["calendar_names"].items()}
    response = client.post(
        page,
        data={"csrf_token": csrf_token(client, page), "busy": [ids["Work"]], "write": "none"},
    )
    assert response.status_code == 302
    (source,) = sources(app)
    assert settings(source)["busy_calendars"] == [ids["Work"]]
    assert settings(source)["write_calendar"] is None
    assert "1 of 2 calendars count as busy" in client.get("/calendars/").get_data(as_text=True)
    assert {event.summary for event in read(app).events} == {"Dentist on CalDAV"}
    response = client.post(
        page,
        data={"csrf_token": csrf_token(client, page), "busy": [], "write": ids["Personal"]},
    )
    (source,) = sources(app)
    assert settings(source)["busy_calendars"] == []
    assert settings(source)["write_calendar"] == ids["Personal"]
    assert read(app).events == ()
    forged = client.post(
        page,
        data={"csrf_token": csrf_token(client, page), "busy": ["http://evil/"], "write": "none"},
    )
    assert forged.status_code == 400 and settings(sources(app)[0])["busy_calendars"] == []


def test_one_page_view_asks_the_server_once(app, client, radicale, monkeypatch):
    sign_up(client, email=ME)
    connect(client, radicale.url)
    provider = provider_class("caldav")
    calls = []
    original = provider.busy
    monkeypatch.setattr(provider, "busy", lambda self, *a: calls.append(a) or original(self, *a))
    for hour in (9, 10, 15):  # several reads of the same day
        read(app, datetime(2026, 12, 1, hour, tzinfo=UTC), DAY_END)
    assert len(calls) == 1
    monkeypatch.setattr(account_answers, "ACCOUNT_TTL", 0.0)
    read(app)
    assert len(calls) == 2


def test_a_changed_password_is_an_error_on_refresh_and_a_note_on_pages(app, client, radicale):
    sign_up(client, email=ME)
    connect(client, radicale.url)
    (source,) = sources(app)
    (radicale.storage.parent / "users").write_text(f"{USER}:a-new-password\n")
    response = client.post(
        f"/calendars/{source.id}/refresh", data={"csrf_token": csrf_token(client, "/calendars/")}
    )
    assert response.status_code == 302
    (source,) = sources(app)
    assert source.error and "password" in source.error.lower()
    page = client.get("/calendars/").get_data(as_text=True)
    assert f"Could not refresh {USER} on 127.0.0.1" in page and source.error in page
    result = read(app)
    (note,) = result.notes
    assert result.events == () and note.startswith(f"{source.name}: ") and "password" in note
    interview_page = client.get(create_typed(client))
    assert interview_page.status_code == 200
    assert f"{USER} on 127.0.0.1: " in interview_page.get_data(as_text=True)


def test_the_same_account_twice_is_refused(app, client, radicale):
    sign_up(client, email=ME)
    connect(client, radicale.url)
    response = connect(client, radicale.url)
    assert response.status_code == 400 and "already connected" in response.get_data(as_text=True)
    assert len(sources(app)) == 1


def test_remove_deletes_the_account_and_its_password(app, client, radicale):
    sign_up(client, email=ME)
    connect(client, radicale.url)
    (source,) = sources(app)
    response = client.post(
        f"/calendars/{source.id}/remove", data={"csrf_token": csrf_token(client, "/calendars/")}
    )
    assert response.status_code == 302 and sources(app) == []


def test_another_users_account_is_invisible_and_untouchable(app, client, radicale):
    sign_up(client, email=ME)
    connect(client, radicale.url)
    (source,) = sources(app)
    other = app.test_client()
    sign_up(other, email="bo@example.org", name="Bo")
    assert f"{USER} on 127.0.0.1" not in other.get("/calendars/").get_data(as_text=True)
    path = f"/calendars/{source.id}/calendars"
    assert other.get(path).status_code == 404
    token = csrf_token(other, "/calendars/")
    assert other.post(path, data={"csrf_token": token, "write": "none"}).status_code == 404
    for verb in ("refresh", "remove"):
        assert (
            other.post(f"/calendars/{source.id}/{verb}", data={"csrf_token": token}).status_code
            == 404
        )
    assert len(sources(app)) == 1


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://caldav.fastmail.com/", "https://caldav.fastmail.com/"),
        ("  caldav.icloud.com ", "https://caldav.icloud.com"),
        ("http://127.0.0.1:5232/", "http://127.0.0.1:5232/"),
        ("http://localhost:5232/", "http://localhost:5232/"),
        ("http://[::1]:5232/", "http://[::1]:5232/"),
    ],
)
def test_addresses_that_keep_the_password_encrypted_or_on_this_machine(given, kept):
    assert calendars.caldav_address(given) == kept


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("http://nextcloud.example.org/remote.php/dav", "Use an https:// address"),
        ("http://127.0.0.1.example.org/", "Use an https:// address"),
        ("ftp://caldav.example.org/", "Give the server's address"),
        ("https://", "Give the server's address"),
        ("https://caldav.example.org:99999/", "Give the server's address"),
        ("https://me@caldav.example.org/", "Leave the user name and password out"),
    ],
)
def test_addresses_refused(given, said):
    with pytest.raises(calendars.CalendarProblem, match=said):
        calendars.caldav_address(given)


# --- The whole flow ----------------------------------------------------------------------------


def test_connect_propose_send_pick_and_find_the_event_on_the_server(
    app, client, radicale, outbox_folder
):
    app.config["PUBLIC_URL"] = "http://newslot.test"
    sign_up(client, email=ME)
    assert connect(client, radicale.url).status_code == 302
    interview_path = create_typed(client)
    interview_id = int(interview_path.rsplit("/", 1)[1])
    assert "Dentist on CalDAV" in client.get(interview_path).get_data(as_text=True)
    proposals = text_of(client.get(f"{interview_path}/proposals").get_data(as_text=True))
    assert "Option 3" in proposals

    assert submit(client, interview_id, "send").status_code == 302
    (letter,) = outbox_folder.iterdir()
    token = re.search(r"http://newslot\.test/o/(\S+)", text_part(letter.read_bytes())).group(1)
    interviewer = app.test_client()
    page = interviewer.get(f"/o/{token}").get_data(as_text=True)
    assert "Dentist on CalDAV" not in page and "Yoga on CalDAV" not in page
    first_choice = re.search(r'name="choice" id="[^"]+" value="(\d+)"', page).group(1)
    assert answer(interviewer, token, {"choice": first_choice}).status_code == 302

    with app.app_context():
        interview = db.session.get(Interview, interview_id)
        uid, start = interview.confirmed_uid, interview.confirmed_start
        assert interview.state == "confirmed"
    provider = CaldavProvider(radicale.url, USER, PASSWORD)
    assert provider.find_event(uid) is not None
    on_server = [
        event
        for event in provider.busy(start, start.replace(hour=23), start.tzinfo).events
        if event.uid == uid
    ]
    assert [event.start for event in on_server] == [start]


def test_a_second_account_does_not_take_confirmed_interviews_from_the_first(app, client, radicale):
    sign_up(client)
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=ME))
        db.session.add(
            CalendarSource(
                user_id=user.id, kind="google", name="me on Google", created_at=NOW,
                settings=json.dumps({"calendar_names": {ME: ME}, "write_calendar": ME}),
            )
        )  # fmt: skip
        db.session.commit()

    assert connect(client, radicale.url).status_code == 302

    (caldav,) = [source for source in sources(app) if source.kind == "caldav"]
    assert settings(caldav)["write_calendar"] is None
