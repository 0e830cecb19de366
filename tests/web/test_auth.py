"""Accounts: sign up, sign in, sign out, and what protects them."""

import re

from app import create_app
from app.extensions import db
from app.models import User
from tests.web.conftest import csrf_token, post_form, sign_up


def test_anonymous_visitors_are_sent_to_sign_in(client):
    assert client.get("/").headers["Location"].endswith("/sign-in")
    assert "/sign-in" in client.get("/calendars/").headers["Location"]


def test_sign_up_stores_a_hashed_password_and_signs_in(app, client):
    response = sign_up(client)
    assert response.headers["Location"].endswith("/calendars/")
    with app.app_context():
        user = db.session.scalar(db.select(User))
        assert user.email == "ana@example.org" and user.time_zone == "Europe/Berlin"
        assert "correct horse" not in user.password_hash
        assert user.created_at.tzinfo is not None
    assert "Hello, Ana Lima" in client.get("/").get_data(as_text=True)


def test_sign_up_refuses_an_unknown_zone_and_a_taken_address(client):
    form = {"name": "B", "email": "b@example.org", "password": "long enough pw"}
    bad = post_form(client, "/sign-up", {**form, "time_zone": "Mars/Base"})
    assert bad.status_code == 200 and "Choose a time zone from the list" in bad.get_data(
        as_text=True
    )
    sign_up(client, email="b@example.org")
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/calendars/")})
    again = post_form(client, "/sign-up", {**form, "email": "B@example.org", "time_zone": "UTC"})
    assert "An account with this address exists" in again.get_data(as_text=True)


def test_sign_in_and_out(client):
    sign_up(client)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/calendars/")})
    assert client.get("/calendars/").status_code == 302
    wrong = post_form(
        client, "/sign-in", {"email": "ana@example.org", "password": "nope nope nope"}
    )
    assert "do not match" in wrong.get_data(as_text=True)
    right = post_form(
        client, "/sign-in", {"email": "ANA@example.org", "password": "correct horse battery"}
    )
    assert right.status_code == 302 and client.get("/calendars/").status_code == 200


def test_next_never_leaves_the_site(client):
    sign_up(client)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/calendars/")})
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example", "/"),
                             ("/calendars/", "/calendars/")):  # fmt: skip
        response = post_form(
            client, f"/sign-in?next={target}",
            {"email": "ana@example.org", "password": "correct horse battery"},
        )  # fmt: skip
        assert response.headers["Location"] == expected
        client.post("/sign-out", data={"csrf_token": csrf_token(client, "/calendars/")})


def test_forms_without_a_csrf_token_are_refused(client):
    response = client.post("/sign-in", data={"email": "a@example.org", "password": "x"})
    assert response.status_code == 400 and "The form expired" in response.get_data(as_text=True)


def test_sign_in_is_rate_limited(tmp_path):
    app = create_app({
        "TESTING": True, "SECRET_KEY": "k", "SIGN_IN_RATE_LIMIT": "3 per minute",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rate.sqlite3'}",
    })  # fmt: skip
    client = app.test_client()
    codes = [
        post_form(client, "/sign-in", {"email": "a@example.org", "password": "wrong"}).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]


def test_security_headers_on_every_page(client):
    headers = client.get("/sign-in").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_every_input_has_a_label(client):
    for path in ("/sign-in", "/sign-up"):
        page = client.get(path).get_data(as_text=True)
        ids = set(re.findall(r'<input[^>]*\bid="([^"]+)"', page))
        labelled = set(re.findall(r'<label for="([^"]+)"', page))
        assert ids - {"csrf_token"} <= labelled, path


def test_bad_settings_stop_the_app_at_start_naming_the_setting(tmp_path):
    import pytest

    base = {"TESTING": True, "SECRET_KEY": "k", "AUTO_MIGRATE": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"}  # fmt: skip
    for bad, name in (({"MAIL_TRANSPORT": "pigeon"}, "MAIL_TRANSPORT"),
                      ({"MAIL_TRANSPORT": "smtp"}, "SMTP_HOST"),
                      ({"PUBLIC_URL": "ftp://x"}, "PUBLIC_URL")):  # fmt: skip
        with pytest.raises(ValueError, match=name):
            create_app({**base, **bad})
