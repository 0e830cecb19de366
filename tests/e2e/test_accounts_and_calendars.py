"""A newcomer signs up and adds a calendar, in a real browser."""

from tests.conftest import ROOT
from tests.e2e.conftest import screenshot

DEMO = ROOT / "app" / "demo" / "demo.ics"


def sign_up(page, base, email="ana@example.org"):
    page.goto(f"{base}/sign-up")
    page.get_by_label("Your name").fill("Ana Lima")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill("correct horse battery")
    page.get_by_label("Your time zone").fill("Europe/Berlin")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/calendars/")


def test_sign_up_and_upload_a_calendar(live_app, page):
    base = live_app.config["PUBLIC_URL"]
    sign_up(page, base)
    page.get_by_label("Calendar file (.ics)").set_input_files(str(DEMO))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("Added demo.ics (7 events).").wait_for()
    assert page.get_by_role("cell", name="demo.ics", exact=True).is_visible()
    screenshot(page, "calendars")


def test_readable_at_phone_width_and_usable_by_keyboard(live_app, browser):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    base = live_app.config["PUBLIC_URL"]
    page.goto(f"{base}/sign-in")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    context.close()
