"""Google end to end, in real Chromium: connect Google, see what clashes, the interviewer picks,
the event is written to the Google calendar. The browser goes to the fake Google's consent
screen and back, as it would to accounts.google.com."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import OfferSlot, User
from calendar_providers.google import event_id_for
from tests.e2e.conftest import screenshot, served
from tests.e2e.test_accounts_and_calendars import sign_up
from tests.e2e.test_reschedule_flow import (
    INTERVIEWER,
    link_in_newest_letter,
    offered_times,
    send_reschedule_letter,
)
from tests.fakes.google_server import Consent, FakeGoogle
from tests.web.google_helpers import ME, google_config

BERLIN = ZoneInfo("Europe/Berlin")


def _timed(event_id: str, summary: str, start: datetime, end: datetime) -> dict:
    return {
        "id": event_id,
        "summary": summary,
        "status": "confirmed",
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": end.isoformat(), "timeZone": "Europe/Berlin"},
    }


@pytest.fixture
def fake():
    with FakeGoogle() as google:
        day = datetime(2026, 12, 1, tzinfo=BERLIN)
        google.add_calendar(
            ME, ME, roles={ME: "owner"},
            events=[
                _timed("dentist1", "Dentist", day.replace(hour=16, minute=30),
                       day.replace(hour=17, minute=30)),
                _timed("standup1", "Team stand-up", day.replace(hour=9),
                       day.replace(hour=9, minute=15)),
                {
                    **_timed("interview1", "Interview: Acme Corp, Senior Data Engineer",
                             day.replace(hour=16), day.replace(hour=17)),
                    "iCalUID": "acme-4711@acme.example",
                    "organizer": {"email": "zoe@acme.example", "displayName": INTERVIEWER},
                    "attendees": [
                        {"email": "zoe@acme.example", "displayName": INTERVIEWER,
                         "organizer": True, "responseStatus": "accepted"},
                        {"email": ME, "responseStatus": "accepted"},
                    ],
                },
            ],
        )  # fmt: skip
        yield google


@pytest.fixture
def live_google_app(tmp_path, fake):
    with served(tmp_path, **google_config(fake)) as app:
        yield app


def test_connect_google_see_the_clash_and_get_the_picked_time_written(
    live_google_app, fake, page, interviewer_page
):
    base = live_google_app.config["PUBLIC_URL"]
    outbox = Path(live_google_app.config["OUTBOX_DIR"])
    sign_up(page, base)

    page.get_by_role("button", name="Connect Google").click()  # to Google's screen and back
    expect(page.get_by_text(f"Connected {ME}. Choose the calendars to use.")).to_be_visible()
    expect(page.get_by_role("checkbox", name=ME)).to_be_checked()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Saved the calendars of {ME} on Google.")).to_be_visible()
    screenshot(page, "google-calendars")

    page.goto(f"{base}/interviews/new")  # the interview is on the Google calendar: pick it
    page.get_by_role("link", name="Choose the interview from your Google Calendar").click()
    row = page.get_by_role("row").filter(has_text="Interview: Acme Corp, Senior Data Engineer")
    expect(row).to_contain_text(INTERVIEWER)
    row.get_by_role("button", name="Use this event").click()
    expect(page.get_by_label("Company")).to_have_value("Acme Corp")
    expect(page.get_by_label("Interviewer's email")).to_have_value("zoe@acme.example")
    page.get_by_label("Interviewer's time zone").fill("America/New_York")
    page.get_by_role("button", name="Save the interview").click()
    expect(page.get_by_text("Added the interview with Acme Corp.")).to_be_visible()
    # Tue 1 Dec, 16:00-17:00 Berlin: its own Google event is recognised, not a clash.
    clashes = page.get_by_role("region", name="What clashes")
    # Named from the day's events, not "Busy" from free/busy; the stand-up is only on the day.
    expect(clashes).to_contain_text(
        "1 event(s) on your calendars clash with the interview: Dentist."
    )
    screenshot(page, "google-interview")

    page.get_by_role("link", name="Reschedule: find three new times").click()
    send_reschedule_letter(page)
    interviewer = interviewer_page()
    interviewer.goto(link_in_newest_letter(outbox, base))
    choice = offered_times(interviewer).first
    picked_id = int(choice.get_attribute("value"))
    choice.check()
    interviewer.get_by_role("button", name="Send my answer").click()
    expect(
        interviewer.get_by_role("heading", name="Thank you: the new time is confirmed")
    ).to_be_visible()

    with live_google_app.app_context():
        picked = db.session.get(OfferSlot, picked_id)
        uid = picked.offer.interview.confirmed_uid
    written = fake.calendars[ME].events[event_id_for(uid)]
    assert written["status"] == "confirmed"
    assert datetime.fromisoformat(written["start"]["dateTime"]).astimezone(UTC) == picked.start
    assert [a["email"] for a in written["attendees"] if not a.get("self")] == ["zoe@acme.example"]
    inserts = [r for r in fake.requests if r.method == "POST" and r.path.endswith(f"{ME}/events")]
    assert [r.query["sendUpdates"] for r in inserts if "Hold" not in str(r.body)] == ["none"]
    # The company's invitation at the old time is declined (Google tells its organiser).
    original = fake.calendars[ME].events["interview1"]
    assert [a["responseStatus"] for a in original["attendees"] if a["email"] == ME] == ["declined"]
    page.goto(f"{base}/")
    assert INTERVIEWER in page.content()


def test_sign_in_with_google_starts_a_new_account_in_the_browsers_zone(
    live_google_app, fake, browser
):
    base = live_google_app.config["PUBLIC_URL"]
    fake.consent = Consent(account="kim@example.org")
    context = browser.new_context(timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        page.goto(f"{base}/sign-in")
        page.get_by_role("button", name="Sign in with Google").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        with live_google_app.app_context():
            user = db.session.scalar(db.select(User).filter_by(email="kim@example.org"))
        assert user.time_zone == "Asia/Tokyo"  # from the browser, through static/zone.js
    finally:
        context.close()
