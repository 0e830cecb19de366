"""Connecting Google through the web app: the consent trip, its failures, tokens at rest, and
disconnecting, with the real google-auth-oauthlib Flow against the fake Google on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests

from app import vault
from app.extensions import db
from app.models import CalendarSource, GoogleAuthRequest, User
from tests.fakes.google_server import (
    CALENDAR_LIST_SCOPE,
    CLIENT_ID,
    CLIENT_SECRET,
    EVENTS_SCOPE,
    FREEBUSY_SCOPE,
    GMAIL_SEND_SCOPE,
    Consent,
)
from tests.web.conftest import NOW, csrf_token, post_form, sign_up, web_app
from tests.web.google_helpers import ME, connect_google, google_config, visit_google

TEAM = "team-calendar@group.calendar.google.com"
HOLIDAYS = "en.german#holiday@group.v.calendar.google.com"
CALENDAR_SCOPES = {CALENDAR_LIST_SCOPE, FREEBUSY_SCOPE, EVENTS_SCOPE}


@pytest.fixture
def fake(fake_google):
    fake_google.add_calendar(ME, ME, roles={ME: "owner"})
    fake_google.add_calendar(TEAM, "Team", roles={ME: "writer"})
    fake_google.add_calendar(HOLIDAYS, "Holidays in Germany", roles={ME: "reader"}, selected=False)
    return fake_google


@pytest.fixture
def client(google_app):
    client = google_app.test_client()
    sign_up(client)
    return client


def _sources(app) -> list[CalendarSource]:
    with app.app_context():
        return db.session.scalars(db.select(CalendarSource).filter_by(kind="google")).all()


def _flashes(client, path="/calendars/") -> str:
    return client.get(path).get_data(as_text=True)


def test_connect_asks_google_for_offline_access_with_pkce_and_keeps_the_choices(
    google_app, client, fake
):
    with google_app.app_context():
        source = connect_google(client, fake)
        settings = json.loads(source.settings)
    authorize = next(r for r in fake.requests if r.path == "/o/oauth2/auth")
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["access_type"] == "offline"
    assert authorize.query["include_granted_scopes"] == "true"
    assert set(authorize.query["scope"].split()) == CALENDAR_SCOPES  # no Gmail until asked
    exchange = next(r for r in fake.requests if r.path == "/token")
    assert exchange.body["grant_type"] == "authorization_code"
    assert len(exchange.body["code_verifier"]) >= 43
    # Google's "selected" calendars count as busy; confirmed interviews go to the primary one.
    assert settings["account"] == ME
    assert settings["busy_calendars"] == [ME, TEAM]
    assert settings["write_calendar"] == ME
    assert set(settings["calendar_names"]) == {ME, TEAM, HOLIDAYS}
    page = client.get(f"/calendars/{source.id}/calendars").get_data(as_text=True)
    assert "Holidays in Germany" in page and "Team" in page


def test_tokens_are_encrypted_at_rest_and_never_logged(google_app, client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    with google_app.app_context():
        source = connect_google(client, fake)
        stored = json.loads(
            vault.unseal(google_app.config["VAULT_KEYS"], source.sealed_credentials)
        )
    database = google_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    raw = Path(database).read_bytes()
    for secret in (stored["token"], stored["refresh_token"]):
        assert secret.encode() not in raw
        assert secret not in caplog.text
        assert secret not in client.get("/calendars/").get_data(as_text=True)
    assert stored["refresh_token"].startswith("1//")


def test_a_tampered_state_connects_nothing(google_app, client, fake):
    back = urlsplit(_callback(client, fake))
    query = parse_qs(back.query)
    query["state"] = ["forged" + query["state"][0]]
    forged = "&".join(f"{key}={value[0]}" for key, value in query.items())
    answer = client.get(f"{back.path}?{forged}")
    assert answer.status_code == 302
    assert "expired or was already used" in _flashes(client)
    assert _sources(google_app) == []
    assert fake.count("POST", "/token") == 0  # the code was never exchanged


def test_a_callback_in_another_browser_is_refused(google_app, client, fake):
    callback = _callback(client, fake)
    other = google_app.test_client()
    sign_up(other, email="mallory@example.org", name="Mallory")
    other.get(callback)
    assert _sources(google_app) == []
    assert "expired or was already used" in _flashes(other)


def _callback(client, fake) -> str:
    """Start a connection and consent at Google: the address Google sends the browser back to."""
    started = client.post("/google/connect", data={"csrf_token": csrf_token(client, "/calendars/")})
    back = urlsplit(fake.authorize(started.headers["Location"]))
    return f"{back.path}?{back.query}"


def test_a_lost_verifier_is_refused(google_app, client, fake):
    callback = _callback(client, fake)
    with google_app.app_context():  # the server forgot the trip (say, a restart wiped the row)
        db.session.execute(db.delete(GoogleAuthRequest))
        db.session.commit()
    client.get(callback)
    assert "expired or was already used" in _flashes(client)
    assert _sources(google_app) == []
    assert fake.count("POST", "/token") == 0


def test_an_answer_used_twice_connects_once(google_app, client, fake):
    callback = _callback(client, fake)
    client.get(callback)
    client.get(callback)  # the back button, or a double click on a slow page
    assert "expired or was already used" in _flashes(client)
    assert len(_sources(google_app)) == 1
    assert fake.count("POST", "/token") == 1


def test_unticked_permissions_are_named_and_nothing_is_kept(google_app, client, fake):
    fake.consent = Consent(scopes=(CALENDAR_LIST_SCOPE,))
    visit_google(client, fake, "/google/connect", "/calendars/")
    page = _flashes(client)
    assert "see when your calendars are busy" in page
    assert "add and change events on your own calendars" in page
    assert _sources(google_app) == []


def test_refusing_at_google_connects_nothing(google_app, client, fake):
    fake.consent = Consent(deny=True)
    visit_google(client, fake, "/google/connect", "/calendars/")
    assert "did not give Newslot access" in _flashes(client)
    assert _sources(google_app) == []
    assert fake.count("POST", "/token") == 0


def test_connecting_again_renews_the_same_account_and_keeps_its_choices(google_app, client, fake):
    with google_app.app_context():
        first = connect_google(client, fake)
        path = f"/calendars/{first.id}/calendars"
    post_form(client, path, {"busy": [TEAM], "write": TEAM})
    with google_app.app_context():
        again = connect_google(client, fake)
        settings = json.loads(again.settings)
    assert again.id == first.id and len(_sources(google_app)) == 1
    assert (settings["busy_calendars"], settings["write_calendar"]) == ([TEAM], TEAM)


def test_disconnect_revokes_the_grant_at_google_and_deletes_it(google_app, client, fake):
    with google_app.app_context():
        source = connect_google(client, fake)
        refresh_token = json.loads(
            vault.unseal(google_app.config["VAULT_KEYS"], source.sealed_credentials)
        )["refresh_token"]
        source_id = source.id
    post_form(client, f"/calendars/{source_id}/remove", {}, form_page="/calendars/")
    assert "Google has withdrawn Newslot" in _flashes(client)
    assert _sources(google_app) == []
    revoke = next(r for r in fake.requests if r.path == "/revoke")
    assert revoke.body["token"] == refresh_token
    refused = requests.post(
        fake.token_uri,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token,
              "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=10,
    )  # fmt: skip
    assert refused.json()["error"] == "invalid_grant"


def test_disconnect_while_google_is_down_still_deletes_and_says_what_to_do(
    google_app, client, fake
):
    with google_app.app_context():
        source_id = connect_google(client, fake).id
    fake.fail("POST", "/revoke", 503, "backendError")
    post_form(client, f"/calendars/{source_id}/remove", {}, form_page="/calendars/")
    assert "myaccount.google.com/permissions" in _flashes(client)
    assert _sources(google_app) == []


def test_a_revoked_grant_asks_to_reconnect_and_reconnecting_mends_it(google_app, client, fake):
    with google_app.app_context():
        source = connect_google(client, fake)
        source_id = source.id
        refresh_token = json.loads(
            vault.unseal(google_app.config["VAULT_KEYS"], source.sealed_credentials)
        )["refresh_token"]
    fake.revoke(refresh_token)  # the user removed the access at Google
    post_form(client, f"/calendars/{source_id}/refresh", {}, form_page="/calendars/")
    page = _flashes(client)
    assert "reconnect Google" in page and "Reconnect Google</button>" in page
    with google_app.app_context():
        connect_google(client, fake)
    page = _flashes(client)
    assert "Reconnect Google</button>" not in page


def test_gmail_is_asked_for_separately_and_adds_to_what_was_granted(google_app, client, fake):
    with google_app.app_context():
        source_id = connect_google(client, fake).id
    answer = visit_google(client, fake, f"/google/{source_id}/gmail", "/calendars/")
    assert answer.status_code == 302
    asked = [r for r in fake.requests if r.path == "/o/oauth2/auth"][-1]
    assert asked.query["scope"] == GMAIL_SEND_SCOPE and asked.query["include_granted_scopes"]
    with google_app.app_context():
        source = db.session.get(CalendarSource, source_id)
        stored = json.loads(
            vault.unseal(google_app.config["VAULT_KEYS"], source.sealed_credentials)
        )
        assert json.loads(source.settings)["send_mail"] is True
    assert set(stored["scopes"]) >= CALENDAR_SCOPES | {GMAIL_SEND_SCOPE}
    assert "Stop sending through Gmail" in _flashes(client)


def test_stored_tokens_survive_a_new_secret_key_kept_as_a_fallback(
    tmp_path, google_app, client, fake
):
    with google_app.app_context():
        source_id = connect_google(client, fake).id
    rotated = web_app(
        tmp_path,
        SECRET_KEY="a brand new key",
        SECRET_KEY_FALLBACKS=["test secret key"],
        **google_config(fake),
    )
    browser = rotated.test_client()
    post_form(
        browser, "/sign-in", {"email": "ana@example.org", "password": "correct horse battery"}
    )
    post_form(browser, f"/calendars/{source_id}/refresh", {}, form_page="/calendars/")
    assert f"Refreshed {ME} on Google." in _flashes(browser)


def test_resealing_lets_the_old_key_go(tmp_path, google_app, client, fake):
    with google_app.app_context():
        source_id = connect_google(client, fake).id
    rotated = web_app(
        tmp_path, SECRET_KEY="a brand new key", SECRET_KEY_FALLBACKS=["test secret key"],
        **google_config(fake),
    )  # fmt: skip
    result = rotated.test_cli_runner().invoke(args=["reseal-secrets"])
    assert result.exit_code == 0 and "Sealed 1 stored secret(s)" in result.output
    new_key_only = web_app(tmp_path, SECRET_KEY="a brand new key", **google_config(fake))
    with new_key_only.app_context():
        sealed = db.session.get(CalendarSource, source_id).sealed_credentials
    assert json.loads(vault.unseal("a brand new key", sealed))["token"]
    with pytest.raises(vault.VaultError):  # the old key alone opens nothing any more
        vault.unseal("test secret key", sealed)


def test_sign_in_with_google_makes_an_account_in_the_browser_zone_then_finds_it(google_app, fake):
    browser = google_app.test_client()
    fake.consent = Consent(account="new.person@example.org")
    page = browser.get("/sign-in").get_data(as_text=True)
    assert "Sign in with Google" in page
    answer = visit_google(
        browser, fake, "/google/sign-in", "/sign-in", {"time_zone": "America/New_York"}
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    asked = [r for r in fake.requests if r.path == "/o/oauth2/auth"][-1]
    assert set(asked.query["scope"].split()) == {
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
    }
    with google_app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email="new.person@example.org"))
        assert user.time_zone == "America/New_York" and user.google_subject
    post_form(browser, "/sign-out", {}, form_page="/calendars/")
    visit_google(browser, fake, "/google/sign-in", "/sign-in")
    assert browser.get("/calendars/").status_code == 200  # signed in again, same account
    with google_app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_sign_in_with_google_links_a_password_account_with_the_same_address(google_app, fake):
    browser = google_app.test_client()
    sign_up(browser, email=ME)
    post_form(browser, "/sign-out", {}, form_page="/calendars/")
    visit_google(browser, fake, "/google/sign-in", "/sign-in")
    assert browser.get("/calendars/").status_code == 200
    with google_app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_without_a_client_id_there_is_no_google_at_all(app):
    browser = app.test_client()
    assert "Google" not in browser.get("/sign-in").get_data(as_text=True)
    sign_up(browser)
    assert "Connect Google" not in browser.get("/calendars/").get_data(as_text=True)
    assert browser.get("/google/callback?state=x&code=y").status_code == 404


def test_the_callback_address_follows_public_url(tmp_path, fake):
    app = web_app(tmp_path, PUBLIC_URL="http://127.0.0.1:8123/", **google_config(fake))
    browser = app.test_client()
    sign_up(browser)
    started = browser.post(
        "/google/connect", data={"csrf_token": csrf_token(browser, "/calendars/")}
    )
    redirect_uri = parse_qs(urlsplit(started.headers["Location"]).query)["redirect_uri"][0]
    assert redirect_uri == urlunsplit(("http", "127.0.0.1:8123", "/google/callback", "", ""))


def test_forms_may_lead_to_googles_consent_screen_and_nowhere_else(google_app, fake):
    policy = google_app.test_client().get("/sign-in").headers["Content-Security-Policy"]
    assert f"form-action 'self' {fake.url};" in policy


def test_gmail_for_another_google_account_than_the_connected_one_is_refused(
    google_app, client, fake
):
    with google_app.app_context():
        source_id = connect_google(client, fake).id
    fake.consent = Consent(account="someone.else@example.org")
    visit_google(client, fake, f"/google/{source_id}/gmail", "/calendars/")
    assert "choose the Google account whose calendars are connected" in _flashes(client)
    assert len(_sources(google_app)) == 1
    with google_app.app_context():
        assert json.loads(db.session.get(CalendarSource, source_id).settings)["send_mail"] is False


def test_sign_in_when_google_will_not_say_who_you_are_makes_no_account(google_app, fake):
    fake.fail("GET", "/oauth2/v3/userinfo", 503, "backendError")
    browser = google_app.test_client()
    visit_google(browser, fake, "/google/sign-in", "/sign-in")
    assert "Google did not say who you are" in browser.get("/sign-in").get_data(as_text=True)
    assert browser.get("/calendars/").status_code == 302  # still signed out
    with google_app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_confirmed_interviews_go_to_one_calendar_across_accounts(google_app, client, fake):
    with google_app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email="ana@example.org"))
        caldav = CalendarSource(
            user_id=user.id, kind="caldav", name="ana on caldav.example.org", created_at=NOW,
            settings=json.dumps({"calendar_names": {"/work/": "Work"}, "busy_calendars": [],
                                 "writable_calendars": ["/work/"], "write_calendar": "/work/"}),
        )  # fmt: skip
        db.session.add(caldav)
        db.session.commit()
        caldav_id = caldav.id
        google = connect_google(client, fake)
        assert json.loads(google.settings)["write_calendar"] is None  # the CalDAV one stays
        path = f"/calendars/{google.id}/calendars"

    post_form(client, path, {"busy": [ME], "write": ME})

    assert "no longer to ana on caldav.example.org" in _flashes(client)
    with google_app.app_context():
        assert (
            json.loads(db.session.get(CalendarSource, caldav_id).settings)["write_calendar"] is None
        )
        assert (
            json.loads(db.session.get(CalendarSource, google.id).settings)["write_calendar"] == ME
        )


def test_reconnecting_after_the_secret_key_was_lost_mends_the_account(
    tmp_path, google_app, client, fake
):
    with google_app.app_context():
        source_id = connect_google(client, fake).id
    lost_key = web_app(tmp_path, SECRET_KEY="a key that opens nothing", **google_config(fake))
    browser = lost_key.test_client()
    post_form(
        browser, "/sign-in", {"email": "ana@example.org", "password": "correct horse battery"}
    )
    post_form(browser, f"/calendars/{source_id}/refresh", {}, form_page="/calendars/")
    assert "Reconnect Google</button>" in _flashes(browser)

    answer = visit_google(browser, fake, "/google/connect", "/calendars/")

    assert answer.status_code == 302
    page = _flashes(browser)
    assert f"Connected {ME}." in page and "Reconnect Google</button>" not in page
    with lost_key.app_context():
        sealed = db.session.get(CalendarSource, source_id).sealed_credentials
    assert json.loads(vault.unseal("a key that opens nothing", sealed))["refresh_token"]
