"""Entering an interview (typed or from its invite), its page with the day drawn, the dashboard."""

import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from app.extensions import db
from app.messages.invites import Attendee, InviteEvent, Person, build_invite
from app.models import Interview
from tests.conftest import ROOT
from tests.web.conftest import NOW, csrf_token, post_form, sign_up

DEMO = (ROOT / "app" / "demo" / "demo.ics").read_bytes()
NEW_YORK = ZoneInfo("America/New_York")
TYPED = {
    "company": "Acme Corp",
    "role": "Senior Data Engineer",
    "interviewer_name": "Jordan Lee",
    "interviewer_email": "jordan.lee@acme.example",
    "interviewer_tz": "America/New_York",
    "date": "2026-12-01",
    "time": "16:00",
    "duration": "60",
    "location": "Acme HQ, Berlin",
    "meeting_link": "",
}


class _Inputs(HTMLParser):
    """name -> value of every input on a page, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.values[attributes["name"]] = attributes.get("value") or ""


def inputs(page: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(page)
    return parser.values


def upload_calendar(client, data=DEMO, filename="demo.ics"):
    response = post_form(
        client, "/calendars/upload", {"file": (io.BytesIO(data), filename)},
        form_page="/calendars/", content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 302


def create_typed(client, **changes):
    response = post_form(client, "/interviews/new", {**TYPED, **changes})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def upload_invite(client, data):
    return post_form(
        client, "/interviews/new/invite", {"file": (io.BytesIO(data), "invite.ics")},
        form_page="/interviews/new", content_type="multipart/form-data",
    )  # fmt: skip


def stored_interviews(app):
    with app.app_context():
        return db.session.scalars(db.select(Interview).order_by(Interview.id)).all()


def invite(
    organizer: Person, attendee: Person, summary="Interview: Acme Corp, Senior Data Engineer"
):
    event = InviteEvent(
        uid="acme-42@acme.example",
        summary=summary,
        start=datetime(2026, 12, 1, 10, 0, tzinfo=NEW_YORK),
        end=datetime(2026, 12, 1, 10, 45, tzinfo=NEW_YORK),
        organizer=organizer,
        attendees=(Attendee(attendee),),
        sequence=2,
        location="Acme HQ",
        url="https://meet.google.com/abc-defg-hij",
    )
    return build_invite("REQUEST", event, NOW)


def text_of(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


# --- Entering an interview ----------------------------------------------------------------------


def test_typed_interview_is_stored_in_utc_and_listed_on_the_dashboard(app, client):
    sign_up(client)
    location = create_typed(client)
    (interview,) = stored_interviews(app)
    assert location == f"/interviews/{interview.id}"
    # 16:00 in Berlin (CET, UTC+1) is 15:00 UTC; 60 minutes long.
    assert interview.start == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert interview.end == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert (interview.state, interview.uid, interview.organised_by_user) == ("draft", None, False)
    assert interview.location == "Acme HQ, Berlin" and interview.meeting_link is None
    home = text_of(client.get("/").get_data(as_text=True))
    assert "Acme Corp: Senior Data Engineer draft Tue 1 Dec 2026, 16:00 CET" in home
    assert "New interview" in home


def test_invite_fills_in_the_form_and_saving_keeps_its_identity(app, client):
    sign_up(client)
    response = upload_invite(
        client,
        invite(Person("Jordan Lee", "jordan.lee@acme.example"), Person("Ana", "ana@example.org")),
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    values = inputs(page)
    assert {key: values[key] for key in TYPED} == {
        **TYPED,  # 10:00 in New York is 16:00 in Berlin, the user's zone
        "duration": "45",
        "location": "Acme HQ",
        "meeting_link": "https://meet.google.com/abc-defg-hij",
    }
    assert "Jordan Lee organised this event" in text_of(page)

    response = client.post("/interviews/new", data=values)
    assert response.status_code == 302
    (interview,) = stored_interviews(app)
    assert (interview.uid, interview.sequence, interview.organised_by_user) == (
        "acme-42@acme.example", 2, False,
    )  # fmt: skip
    assert interview.start == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def test_invite_the_user_organised_names_the_attendee_as_interviewer(app, client):
    sign_up(client)
    data = invite(
        Person("Ana Lima", "ANA@example.org"), Person("Sam Hill", "sam@acme.example"),
        summary="Backend Engineer interview at Harbour & Co",
    )  # fmt: skip
    values = inputs(upload_invite(client, data).get_data(as_text=True))
    assert (values["company"], values["role"]) == ("Harbour & Co", "Backend Engineer")
    assert (values["interviewer_name"], values["interviewer_email"]) == (
        "Sam Hill",
        "sam@acme.example",
    )
    client.post("/interviews/new", data=values)
    (interview,) = stored_interviews(app)
    assert interview.organised_by_user is True and interview.interviewer_email == "sam@acme.example"


def test_a_tampered_invite_field_is_not_trusted(app, client):
    sign_up(client)
    data = invite(Person("Jordan Lee", "jordan.lee@acme.example"), Person("Ana", "ana@example.org"))
    values = inputs(upload_invite(client, data).get_data(as_text=True))
    values["invite"] = values["invite"][:-3] + "xyz"
    assert client.post("/interviews/new", data=values).status_code == 302
    (interview,) = stored_interviews(app)
    assert interview.uid is None and interview.sequence == 0


def test_unusable_invites_are_refused_in_plain_words(app, client):
    sign_up(client)
    for data, words in (
        (b"not a calendar", "This invite cannot be used: this is not a readable iCalendar file"),
        (DEMO, "This invite cannot be used: this file holds 7 different events"),
    ):
        response = upload_invite(client, data)
        assert response.status_code == 400
        assert words in text_of(response.get_data(as_text=True))
    assert stored_interviews(app) == []


def test_invalid_details_come_back_with_errors_and_nothing_is_stored(app, client):
    sign_up(client)
    cases = (
        ({"company": ""}, "This field is required."),
        ({"interviewer_email": "jordan"}, "Invalid email address."),
        ({"interviewer_tz": "Mars/Olympus"}, "Choose a time zone from the list"),
        ({"duration": "0"}, "Give a length between 5 and 600 minutes."),
        ({"date": "1 December"}, "Give the date, such as 2026-12-01."),
        ({"meeting_link": "javascript:alert(1)"}, "starts with https://"),
        ({"role": "Engineer\r\nBcc: x@evil.example"}, "Use one line"),
        # Berlin's clocks jump from 02:00 to 03:00 on 28 March 2027.
        (
            {"date": "2027-03-28", "time": "02:30"},
            "02:30 does not exist on 2027-03-28 in Europe/Berlin",
        ),
    )
    for changes, words in cases:
        response = post_form(client, "/interviews/new", {**TYPED, **changes})
        assert response.status_code == 400, changes
        assert words in text_of(response.get_data(as_text=True)).replace("&#39;", "'"), changes
    assert stored_interviews(app) == []


# --- The interview page: both zones, conflicts, the day drawn -----------------------------------


def test_conflicts_are_listed_and_drawn_for_the_demo_calendar(client):
    sign_up(client, email="alex@example.org")
    upload_calendar(client)
    page = client.get(create_typed(client)).get_data(as_text=True)
    text = text_of(page)
    assert "Tuesday 1 December 2026, 10:00–11:00 EST (America/New_York)" in text
    assert "16:00–17:00 CET (Europe/Berlin)" in text
    assert "2 event(s) on your calendars clash with the interview: Design workshop" in text
    # Drawn: one SVG block per event of the day; the clashing ones marked, the tentative one too;
    # the calendar's own copy of the interview is the interview, not another block.
    svg = page[page.index("<svg") : page.index("</svg>")]
    blocks = re.findall(r'<g class="block ([^"]+)">\s*<title>([^<]+)</title>', svg)
    assert sorted(blocks) == sorted([
        ("busy", "09:30–09:45 Team stand-up"),
        ("busy", "15:00–16:00 1:1 with manager"),
        ("conflict tentative",
         "15:00–16:30 Design workshop (tentative) (clashes with the interview)"),
        ("interview", "16:00–17:00 Interview: Acme Corp, Senior Data Engineer"),
        ("conflict", "16:15–17:00 Dentist (clashes with the interview)"),
    ])  # fmt: skip
    # The interview starts 16:00, 9 hours below 07:00 at one pixel a minute (10 px margin).
    interview_rect = re.search(r'class="block interview">.*?<rect x="[^"]+" y="(\d+)"', svg, re.S)
    assert interview_rect and int(interview_rect.group(1)) == 10 + 9 * 60
    listed = text[text.index("The same day in words") :]
    assert "16:15–17:00 Dentist (Demo (Alex Example)) clashes" in listed


def test_the_page_offers_the_choices_before_cancelling(client):
    sign_up(client)
    location = create_typed(client)
    page = client.get(location).get_data(as_text=True)
    number = location.rsplit("/", 1)[1]
    assert f'href="/interviews/{number}/proposals"' in page
    assert f'href="/interviews/{number}/letter?kind=virtual"' in page
    assert f'href="/interviews/{number}/letter?kind=cancel"' in page
    order = ("Reschedule: find three new times", "Ask to make it a video call", "Cancel outright")
    assert [page.index(choice) for choice in order] == sorted(
        page.index(choice) for choice in order
    )


def test_without_calendars_the_page_says_so(client):
    sign_up(client)
    page = text_of(client.get(create_typed(client)).get_data(as_text=True))
    assert "No calendars yet, so Newslot cannot see what clashes. Add your calendars" in page


def test_other_users_interviews_are_not_found(client):
    sign_up(client)
    location = create_typed(client)
    client.get(location + "/proposals")  # makes the draft offer and its slots
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    sign_up(client, email="bea@example.org", name="Bea")
    assert "Acme" not in client.get("/").get_data(as_text=True)
    token = csrf_token(client, "/interviews/new")
    for path in (location, location + "/proposals"):
        assert client.get(path).status_code == 404
    for path in ("/proposals/1/swap", "/proposals/1/remove", "/proposals/add", "/proposals/adjust"):
        response = client.post(location + path, data={"csrf_token": token, "date": "2026-12-08"})
        assert response.status_code == 404, path
    # Nor may Bea's own interview reach Ana's slots.
    own = create_typed(client)
    assert client.post(own + "/proposals/1/remove", data={"csrf_token": token}).status_code == 404


def test_names_are_escaped_everywhere(client):
    sign_up(client)
    hostile = {"company": "<script>alert(1)</script>", "role": '<img src=x onerror="alert(2)">'}
    location = create_typed(client, **hostile)
    for path in ("/", location, location + "/proposals"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/interviews/new")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_an_early_interview_widens_the_drawing_and_all_day_events_form_a_band(client):
    sign_up(client, email="alex@example.org")
    upload_calendar(client)
    # Thursday 3 December: the demo's all-day conference; the interview starts before 07:00.
    page = client.get(create_typed(client, date="2026-12-03", time="06:30")).get_data(as_text=True)
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "06:00 to 21:00" in svg and ">06:00</text>" in svg
    assert re.search(
        r'<g class="block all-day conflict">.*?All day: Data conference \(out of office\)',
        svg,
        re.S,
    )
    listed = text_of(page)[text_of(page).index("The same day in words") :]
    assert "All day Data conference (out of office) (Demo (Alex Example)) clashes" in listed
    assert listed.index("All day") < listed.index("06:30–07:30 Interview: Acme Corp")


def test_a_double_submitted_interview_is_kept_once(app, client):
    sign_up(client)
    first = create_typed(client)
    assert create_typed(client) == first  # the same form sent twice: one interview
    assert len(stored_interviews(app)) == 1
    create_typed(client, company="Other Co")
    assert len(stored_interviews(app)) == 2
