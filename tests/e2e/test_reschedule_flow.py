"""The whole reschedule, in real Chromium: the candidate's pages, then the interviewer's link.

The interviewer is a second browser context (no shared cookies), as they would be on their own
machine; the link comes from the letter in the outbox folder, as they would get it by email.
"""

from __future__ import annotations

import email
import re
from datetime import UTC
from email import policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
from playwright.sync_api import Locator, Page, expect

from app.extensions import db
from app.models import Message, Offer, OfferSlot
from tests.e2e.conftest import screenshot
from tests.e2e.test_accounts_and_calendars import DEMO, sign_up

INTERVIEWER = "Zoë Brontë"
INTERVIEWER_ZONE = "America/New_York"
THE_JOB = "Acme Corp: Senior Data Engineer"
CONFIRMED_HEADING = "Thank you: the new time is confirmed"
ALREADY_ANSWERED = "This offer was already answered."


# --- The candidate's side -----------------------------------------------------------------------


def enter_interview(page: Page, base: str) -> None:
    """Type in the interview that clashes with the sample calendar (Tue 1 Dec, 16:00 Berlin)."""
    page.goto(f"{base}/interviews/new")
    page.get_by_label("Company").fill("Acme Corp")
    page.get_by_label("Role").fill("Senior Data Engineer")
    page.get_by_label("Interviewer's name").fill(INTERVIEWER)
    page.get_by_label("Interviewer's email").fill("zoe@acme.example")
    page.get_by_label("Interviewer's time zone").fill(INTERVIEWER_ZONE)
    page.get_by_label("Date").fill("2026-12-01")
    page.get_by_label("Start time").fill("16:00")
    page.get_by_label("Duration (minutes)").fill("60")
    page.get_by_role("button", name="Save the interview").click()
    expect(page.get_by_text("Added the interview with Acme Corp.")).to_be_visible()


def send_reschedule_letter(page: Page) -> None:
    """From the proposals page: write the reschedule letter, preview it, send it."""
    page.get_by_role("link", name=re.compile(r"Write the letter with these 3 time")).click()
    expect(page.get_by_role("heading", name=f"Letter to {INTERVIEWER}")).to_be_visible()
    expect(page.get_by_label("What you ask for")).to_have_value("reschedule")
    page.get_by_label("Reason", exact=True).select_option(label="An unavoidable conflict")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_label("Letter", exact=True)).to_have_value(re.compile(f"Dear {INTERVIEWER}"))
    screenshot(page, "letter")
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("Saved in the outbox folder on this computer")).to_be_visible()


def offer_link(page: Page, base: str, outbox: Path) -> str:
    """Sign up with the sample calendar, enter the interview and send the letter: its link."""
    sign_up(page, base)
    page.get_by_role("button", name="Try with a sample calendar").click()
    expect(page.get_by_text("Added a sample calendar")).to_be_visible()
    enter_interview(page, base)
    page.get_by_role("link", name="Reschedule: find three new times").click()
    send_reschedule_letter(page)
    return link_in_newest_letter(outbox, base)


def newest_letter(outbox: Path) -> EmailMessage:
    """The .eml the outbox transport wrote last, parsed."""
    newest = max(outbox.glob("*.eml"), key=lambda path: path.stat().st_mtime_ns)
    return email.message_from_bytes(newest.read_bytes(), policy=policy.default)


def link_in_newest_letter(outbox: Path, base: str) -> str:
    """The interviewer's /o/<token> address, read from the text of the newest letter."""
    text = newest_letter(outbox).get_body(preferencelist=("plain",)).get_content()
    links = re.findall(re.escape(base) + r"/o/[\w-]+", text)
    assert len(set(links)) == 1, text
    return links[0]


def invite_in_newest_letter(outbox: Path) -> bytes:
    """The text/calendar part of the newest letter (the confirmation's invite)."""
    parts = [
        part for part in newest_letter(outbox).walk() if part.get_content_type() == "text/calendar"
    ]
    assert len(parts) == 1
    return parts[0].get_payload(decode=True)


# --- The interviewer's side ---------------------------------------------------------------------


def offered_times(page: Page) -> Locator:
    """The radio buttons of the offered times (without "None of these work for me")."""
    group = page.get_by_role("group", name="Which time suits you?")
    return group.get_by_role("radio", name=re.compile(r"^(?!None of these)"))


# --- The tests ----------------------------------------------------------------------------------


def test_reschedule_from_sign_up_to_a_confirmed_invite(live_app, page, interviewer_page):
    base = live_app.config["PUBLIC_URL"]
    outbox = Path(live_app.config["OUTBOX_DIR"])

    sign_up(page, base)
    page.get_by_label("Calendar file (.ics)").set_input_files(str(DEMO))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Added demo.ics (7 events).")).to_be_visible()
    screenshot(page, "calendars")

    enter_interview(page, base)
    clashes = page.get_by_role("region", name="What clashes")
    expect(clashes.get_by_role("strong").filter(has_text="Dentist")).to_be_visible()
    # The demo's own "Interview: Acme Corp" event is recognised as this one, not a clash.
    expect(clashes).to_contain_text(
        "2 event(s) on your calendars clash with the interview: Design workshop (tentative), "
        "Dentist."
    )
    day = page.get_by_role("img", name=re.compile(r"^Your day, Tuesday 01 December 2026"))
    expect(day).to_be_visible()
    expect(day.locator("g.conflict", has_text="Dentist")).to_have_count(1)
    in_words = page.get_by_role("list", name="The same day in words")
    expect(in_words.get_by_role("listitem").filter(has_text="Dentist")).to_contain_text("clashes")
    screenshot(page, "interview")

    page.get_by_role("link", name="Reschedule: find three new times").click()
    cards = page.get_by_role("list", name="The times you will offer").get_by_role("listitem")
    expect(cards).to_have_count(3)
    for card in cards.all():
        expect(card).to_contain_text(re.compile(rf"{INTERVIEWER}:.*\bEST \({INTERVIEWER_ZONE}\)"))
        expect(card).to_contain_text(re.compile(r"You:.*\bCET \(Europe/Berlin\)"))
    proposed = [
        text.removeprefix(f"{INTERVIEWER}:").strip()
        for text in cards.locator(".their-time").all_inner_texts()
    ]
    screenshot(page, "proposals")

    send_reschedule_letter(page)
    link = link_in_newest_letter(outbox, base)

    interviewer = interviewer_page()
    interviewer.goto(link)
    expect(interviewer.get_by_role("heading", name="Choose a new interview time")).to_be_visible()
    expect(offered_times(interviewer)).to_have_count(3)
    shown_times = interviewer.locator(".choice .when").all_inner_texts()
    assert shown_times == [*proposed, "None of these work for me"]
    shown = interviewer.content()
    for private in ("Dentist", "Team stand-up", "Design workshop", "1:1 with manager"):
        assert private not in shown
    screenshot(interviewer, "interviewer-offer")

    choice = offered_times(interviewer).nth(1)
    picked_id = int(choice.get_attribute("value"))
    picked_text = interviewer.locator(f"label[for='choice-{picked_id}'] .when").inner_text()
    choice.check()
    interviewer.get_by_label("A note (optional)").fill("Looking forward to it.")
    interviewer.get_by_role("button", name="Send my answer").click()
    expect(interviewer.get_by_role("heading", name=CONFIRMED_HEADING)).to_be_visible()
    expect(interviewer.locator(".confirmed-time")).to_contain_text(picked_text)
    screenshot(interviewer, "confirmed")

    with interviewer.expect_download() as download:
        interviewer.get_by_role("link", name="Download the invitation (.ics)").click()
    invite = Path(download.value.path()).read_bytes()
    calendar = icalendar.Calendar.from_ical(invite)
    event = next(iter(calendar.walk("VEVENT")))
    with live_app.app_context():
        picked = db.session.get(OfferSlot, picked_id)
    assert calendar["METHOD"] == "REQUEST"
    assert event.decoded("DTSTART").astimezone(UTC) == picked.start
    assert invite_in_newest_letter(outbox) == invite  # the emailed confirmation, byte for byte

    page.goto(f"{base}/")
    interview = page.get_by_role("listitem").filter(has_text=THE_JOB)
    expect(interview.locator(".state")).to_have_text("confirmed")
    moved_to = picked.start.astimezone(ZoneInfo("Europe/Berlin"))
    expect(interview).to_contain_text(
        f"moved to {moved_to:%a} {moved_to.day} {moved_to:%b %Y, %H:%M}"
    )


def test_two_simultaneous_picks_confirm_one_time(live_app, page, interviewer_page):
    base = live_app.config["PUBLIC_URL"]
    outbox = Path(live_app.config["OUTBOX_DIR"])
    link = offer_link(page, base, outbox)
    first, second = interviewer_page(), interviewer_page()
    chosen, chosen_text = [], []
    for interviewer, index in ((first, 0), (second, 2)):
        interviewer.goto(link)
        choice = offered_times(interviewer).nth(index)
        choice.check()
        chosen.append(int(choice.get_attribute("value")))
        chosen_text.append(
            interviewer.locator(f"label[for='choice-{chosen[-1]}'] .when").inner_text()
        )
    for interviewer in (first, second):
        interviewer.get_by_role("button", name="Send my answer").focus()
    for interviewer in (first, second):  # a key press has no waits: both answers leave at once
        interviewer.keyboard.press("Enter")
    outcomes = []
    for interviewer in (first, second):
        confirmed = interviewer.get_by_role("heading", name=CONFIRMED_HEADING)
        refused = interviewer.get_by_text(ALREADY_ANSWERED)
        expect(confirmed.or_(refused)).to_be_visible()
        outcomes.append(confirmed.is_visible())

    assert sorted(outcomes) == [False, True]
    winner = chosen[outcomes.index(True)]
    loser = (first, second)[outcomes.index(False)]
    expect(loser.get_by_role("heading", name="The new time")).to_be_visible()
    expect(loser.locator(".confirmed-time")).to_contain_text(chosen_text[outcomes.index(True)])
    with live_app.app_context():
        offer = db.session.scalar(db.select(Offer))
        confirmations = db.session.scalars(db.select(Message).filter_by(kind="confirmation")).all()
        assert offer.picked_slot_id == winner
        assert len(confirmations) == 1
    assert len(list(outbox.glob("*.eml"))) == 2  # the letter and one confirmation


def test_the_public_page_at_phone_width_by_keyboard(live_app, page, interviewer_page):
    base = live_app.config["PUBLIC_URL"]
    link = offer_link(page, base, Path(live_app.config["OUTBOX_DIR"]))
    phone = interviewer_page(width=375, zone="Asia/Tokyo")  # travelling: offer.js adds Tokyo
    phone.goto(link)
    times = offered_times(phone)
    expect(times.first).to_have_accessible_name(
        re.compile(r"EST \(America/New_York\) In your browser’s time zone \(Asia/Tokyo\): ")
    )
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone, "interviewer-offer-phone")

    for _ in range(12):  # the skip link and the header's links come first
        phone.keyboard.press("Tab")
        if phone.evaluate("document.activeElement.type") == "radio":
            break
    expect(times.first).to_be_focused()
    phone.keyboard.press("Space")
    expect(times.first).to_be_checked()
    phone.keyboard.press("ArrowDown")
    expect(times.nth(1)).to_be_focused()
    expect(times.nth(1)).to_be_checked()
    picked = times.nth(1).get_attribute("value")
    phone.keyboard.press("Enter")

    expect(phone.get_by_role("heading", name=CONFIRMED_HEADING)).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    with live_app.app_context():
        assert db.session.scalar(db.select(Offer)).picked_slot_id == int(picked)
