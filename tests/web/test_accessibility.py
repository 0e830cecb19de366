"""Every form control on every page has a label a screen reader announces."""

import re
from datetime import timedelta
from html.parser import HTMLParser

from app.extensions import db
from app.models import Interview
from app.services import interviews, offers
from tests.web.conftest import NOW, sign_up
from tests.web.test_interviews import create_typed, upload_calendar

SKIPPED_TYPES = {"hidden", "submit", "button", "image", "reset"}


class _Controls(HTMLParser):
    """The controls of a page and the ids that a <label for> names or that a <label> wraps."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.labelled: set[str] = set()
        self.label_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "label":
            self.label_depth += 1
            if attributes.get("for"):
                self.labelled.add(attributes["for"])
        elif tag in ("input", "select", "textarea"):
            if attributes.get("type", "text") in SKIPPED_TYPES:
                return
            attributes["wrapped"] = "yes" if self.label_depth else ""
            self.controls.append(attributes)

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1


def unlabelled(page: str) -> list[dict[str, str]]:
    parser = _Controls()
    parser.feed(page)
    return [
        control
        for control in parser.controls
        if not (
            control["wrapped"]
            or control.get("aria-label")
            or control.get("aria-labelledby")
            or control.get("id") in parser.labelled
        )
    ]


def test_every_control_is_labelled_on_every_page(app, client):
    anonymous_pages = ["/sign-in", "/sign-up"]
    for path in anonymous_pages:
        assert unlabelled(client.get(path).get_data(as_text=True)) == [], path
    sign_up(client)
    upload_calendar(client)
    interview_path = create_typed(client)
    pages = [
        "/", "/calendars/", "/interviews/new", interview_path, f"{interview_path}/proposals",
        f"{interview_path}/letter?kind=reschedule", f"{interview_path}/letter?kind=cancel",
        "/outbox",
    ]  # fmt: skip
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert unlabelled(page) == [], path
        # the tab's title is plain words ending in the app's name (no markup leaked into it)
        assert re.search(r"<title>[^<>]+ · Newslot</title>", page), path
    with app.app_context():
        interview = db.session.scalar(db.select(Interview))
        token = offers.open_offer(interviews.draft_offer(interview), NOW, NOW + timedelta(days=2))
        db.session.commit()
    public = app.test_client().get(f"/o/{token}")
    assert public.status_code == 200
    assert unlabelled(public.get_data(as_text=True)) == []


def test_every_control_is_labelled_on_the_google_pages(google_app, fake_google):
    from tests.web.google_helpers import ME, connect_google

    fake_google.add_calendar(ME, ME, roles={ME: "owner"})
    client = google_app.test_client()
    assert unlabelled(client.get("/sign-in").get_data(as_text=True)) == []  # with its Google form
    sign_up(client)
    with google_app.app_context():
        source_id = connect_google(client, fake_google).id
    for path in ("/calendars/", f"/calendars/{source_id}/calendars", "/interviews/new/google"):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert unlabelled(page) == [], path
        assert re.search(r"<title>[^<>]+ · Newslot</title>", page), path
