"""The letter page and the outbox through the test client: what the user sees, edits and keeps.

Forms are submitted the way a browser would: the fields are read from the rendered page (the
composed subject and body included) and posted back, with the user's edits on top.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from app.extensions import db
from app.models import Interview, Message, Offer, OfferSlot, User
from app.services.offers import hash_token
from tests.web.conftest import NOW, csrf_token, sign_up

PUBLIC_URL = "https://newslot.example"
JOSE = {"email": "jose@example.org", "name": "José Núñez", "zone": "Europe/Madrid"}


class _FormReader(HTMLParser):
    """The values a browser would submit from one form: inputs, textareas, selected options."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.values = form_id, False, {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.inside = attributes.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and attributes.get("name"):
            self.values[attributes["name"]] = attributes.get("value") or ""
        elif tag == "textarea":
            self._textarea = attributes["name"]
            self.values[self._textarea] = ""
        elif tag == "select":
            self._select = attributes["name"]
        elif tag == "option" and "selected" in attributes and self._select:
            self.values[self._select] = attributes["value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def page_form(page: str, form_id: str = "letter-form") -> dict[str, str]:
    reader = _FormReader(form_id)
    reader.feed(page)
    body = reader.values.get("body")
    if body is not None:  # a newline right after <textarea> is not part of the value
        reader.values["body"] = re.sub(r"\A\r?\n", "", body)
    return reader.values


def add_interview(
    app,
    email: str = JOSE["email"],
    *,
    starts_in=timedelta(days=3, hours=1),
    slots: int = 3,
    **fields,
) -> int:
    """An interview of the user with that email, and a draft offer of `slots` times next week."""
    values = {
        "company": "Harbour & Co.",
        "role": "Ingeniera de Señales",
        "interviewer_name": "王芳",
        "interviewer_email": "wang.fang@example.cn",
        "interviewer_tz": "Asia/Shanghai",
    } | fields
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=email))
        interview = Interview(
            user_id=user.id,
            start=NOW + starts_in,
            end=NOW + starts_in + timedelta(hours=1),
            created_at=NOW,
            **values,
        )
        offer = Offer(state="draft", created_at=NOW)
        offer.slots = [
            OfferSlot(
                start=NOW + timedelta(days=day, hours=1), end=NOW + timedelta(days=day, hours=2)
            )
            for day in range(7, 7 + slots)
        ]
        interview.offers.append(offer)
        db.session.add(interview)
        db.session.commit()
        return interview.id


def letter_page(client, interview_id: int, query: str = "") -> tuple[str, dict[str, str]]:
    response = client.get(f"/interviews/{interview_id}/letter{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return page, page_form(page)


def submit(client, interview_id: int, action: str = "send", query: str = "", **changes):
    """Fill the letter form as the page offers it, apply `changes`, and press `action`."""
    _, fields = letter_page(client, interview_id, query)
    return client.post(
        f"/interviews/{interview_id}/letter", data={**fields, **changes, "action": action}
    )


def messages(app) -> list[Message]:
    with app.app_context():
        return list(db.session.scalars(db.select(Message).order_by(Message.id)))


def text_part(eml: bytes) -> str:
    email = message_from_bytes(eml, policy=policy.default)
    return email.get_body(("plain",)).get_content().replace("\r\n", "\n")


@pytest.fixture
def jose(client):
    sign_up(client, **JOSE)
    return client


# --- The page --------------------------------------------------------------------------------


def test_the_page_offers_the_composed_letter_from_the_user_to_the_interviewer(app, jose) -> None:
    interview_id = add_interview(app)

    page, fields = letter_page(jose, interview_id)

    assert fields["kind"] == "reschedule" and fields["reason"] == "personal"
    assert fields["subject"] == (
        "Request to reschedule: interview for Ingeniera de Señales on Thursday 3 December 2026"
    )
    assert fields["body"].startswith("Dear 王芳,\n\nThank you again")
    assert "Monday 7 December 2026, 17:00–18:00 CST (Asia/Shanghai)" in fields["body"]
    assert fields["body"].rstrip().endswith("José Núñez")
    assert "José Núñez &lt;jose@example.org&gt;" in page
    assert "王芳 &lt;wang.fang@example.cn&gt;" in page
    assert "Harbour &amp; Co." in page  # escaped, as every value
    assert len(fields["key"]) >= 16
    # Without PUBLIC_URL the interviewer could not open a link, so the letter has none.
    assert "pick one of them here" not in fields["body"]
    assert "PUBLIC_URL" in page


def test_with_a_public_url_the_link_is_a_placeholder_until_the_letter_is_sent(app, jose) -> None:
    app.config["PUBLIC_URL"] = PUBLIC_URL
    interview_id = add_interview(app)

    _, fields = letter_page(jose, interview_id)

    assert "here: [your link to pick a time: added when you send]" in fields["body"]


def test_preview_rewrites_the_letter_for_another_kind_and_the_users_own_reason(app, jose) -> None:
    interview_id = add_interview(app)

    response = submit(
        jose,
        interview_id,
        "preview",
        kind="cancel",
        reason="other",
        reason_text="I have accepted another offer",
        body="my half-edited draft",
    )

    fields = page_form(response.get_data(as_text=True))
    assert response.status_code == 200
    assert fields["kind"] == "cancel"
    assert fields["subject"].startswith("Cancellation: interview for Ingeniera de Señales")
    assert "I have accepted another offer." in fields["body"]
    assert "my half-edited draft" not in fields["body"]


def test_the_reason_other_needs_the_users_sentence(app, jose) -> None:
    interview_id = add_interview(app)

    response = submit(jose, interview_id, "preview", reason="other", reason_text="  ")

    assert "Write your reason in one sentence, or choose another reason." in response.get_data(
        as_text=True
    )


def test_the_live_preview_answers_the_same_letter_as_json(app, jose) -> None:
    interview_id = add_interview(app, times_rescheduled=1)

    answer = jose.get(
        f"/interviews/{interview_id}/letter?kind=virtual&reason=travel",
        headers={"Accept": "application/json"},
    )
    again = jose.get(
        f"/interviews/{interview_id}/letter?reason=travel", headers={"Accept": "application/json"}
    )
    refused = jose.get(
        f"/interviews/{interview_id}/letter?reason=other", headers={"Accept": "application/json"}
    )

    data = answer.get_json()
    assert data["subject"].startswith("Request to join by video call: interview for Ingeniera")
    _, fields = letter_page(jose, interview_id, "?kind=virtual&reason=travel")
    assert (data["subject"], data["body"]) == (fields["subject"], fields["body"])
    assert (data["urgent"], data["phone_script"], data["warnings"]) == (False, None, [])
    [warning] = again.get_json()["warnings"]
    assert warning.startswith("This interview was already rescheduled once")
    assert refused.status_code == 400
    assert refused.get_json()["error"].startswith("Write your reason in one sentence")


def test_under_24_hours_the_page_urges_a_call_and_gives_the_phone_script(app, jose) -> None:
    soon = add_interview(app, starts_in=timedelta(hours=5))
    later = add_interview(app, times_rescheduled=1, role="<b>Chief</b> Engineer")

    urgent_page, fields = letter_page(jose, soon)
    calm_page, _ = letter_page(jose, later)

    assert "Less than 24 hours to go: call as well" in urgent_page
    assert re.search(
        r'<blockquote class="phone-script">Hello 王芳, this is José Núñez', urgent_page
    )
    assert "call 王芳 now if you can" in urgent_page
    assert fields["subject"].startswith("Urgent: ")
    assert "Less than 24 hours" not in calm_page and "phone-script" not in calm_page
    # A second reschedule is flagged; and every value is escaped.
    assert "This interview was already rescheduled once" in calm_page
    assert "&lt;b&gt;Chief&lt;/b&gt; Engineer" in calm_page and "<b>Chief" not in calm_page


# --- Keeping and sending -----------------------------------------------------------------------


def test_sending_keeps_the_edited_letter_and_delivers_it_to_the_outbox(
    app, jose, outbox_folder: Path
) -> None:
    interview_id = add_interview(app)
    _, fields = letter_page(jose, interview_id)
    edited = fields["body"].replace("Kind regards,", "With <b>warm</b> regards & thanks,")

    response = jose.post(
        f"/interviews/{interview_id}/letter",
        data={
            **fields,
            "subject": "Moving our interview, if I may",
            "body": edited,
            "action": "send",
        },
    )

    [message] = messages(app)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/outbox/{message.id}"
    assert (message.state, message.transport, message.sent_at, message.attempts) == (
        "sent",
        "outbox",
        NOW,
        1,
    )
    assert message.subject == "Moving our interview, if I may"
    assert message.recipients == "王芳 <wang.fang@example.cn>"
    email = message_from_bytes(message.eml, policy=policy.default)
    assert text_part(message.eml) == edited.replace("\r\n", "\n")
    html = email.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert "<p>Kind regards" not in html
    assert "With &lt;b&gt;warm&lt;/b&gt; regards &amp; thanks,<br>\nJosé Núñez</p>" in html
    assert [path.read_bytes() for path in outbox_folder.glob("*.eml")] == [message.eml]
    with app.app_context():
        assert db.session.get(Interview, interview_id).state == "offered"
    page = jose.get(response.headers["Location"]).get_data(as_text=True)
    # The outbox folder is not the interviewer's inbox: the user is told, and offered their own.
    assert "nothing was emailed" in page and "Open in my mail app" in page


def test_an_unedited_letter_keeps_the_composed_html(app, jose) -> None:
    interview_id = add_interview(app)

    submit(jose, interview_id)

    [message] = messages(app)
    html = message_from_bytes(message.eml, policy=policy.default).get_body(("html",))
    assert "<li><strong>Monday 7 December 2026, 17:00–18:00 CST" in html.get_content()


def test_the_sent_letter_carries_a_working_link_and_opens_the_offer(app, jose) -> None:
    app.config["PUBLIC_URL"] = PUBLIC_URL
    interview_id = add_interview(app)

    submit(jose, interview_id)

    [message] = messages(app)
    text = text_part(message.eml)
    found = re.search(rf"here: {re.escape(PUBLIC_URL)}/o/([\w-]+)\n", text)
    assert found, text
    assert "[your link" not in text
    html = message_from_bytes(message.eml, policy=policy.default).get_body(("html",))
    assert f'<a href="{found.group()[6:-1]}">' in html.get_content()
    with app.app_context():
        interview = db.session.get(Interview, interview_id)
        [offer] = interview.offers
        assert offer.state == "open"
        assert offer.token_hash == hash_token(found.group(1))
        # The reply-by date (Wednesday 2 December) ends at midnight in Shanghai.
        assert "reply by then" in text and "Wednesday 2 December 2026" in text
        assert offer.expires_at.isoformat() == "2026-12-02T16:00:00+00:00"
        assert interview.state == "offered"


def test_a_new_offer_withdraws_the_one_still_open(app, jose) -> None:
    interview_id = add_interview(app)
    submit(jose, interview_id)
    with app.app_context():  # the user chooses other times (a new draft) and writes again
        interview = db.session.get_one(Interview, interview_id)
        start = NOW + timedelta(days=20)
        draft = Offer(state="draft", created_at=NOW)
        draft.slots = [OfferSlot(start=start, end=start + timedelta(hours=1))]
        interview.offers.append(draft)
        db.session.commit()

    submit(jose, interview_id)

    with app.app_context():
        offers = db.session.get_one(Interview, interview_id).offers
        assert [offer.state for offer in offers] == ["withdrawn", "open"]
    assert "Sunday 20 December 2026, 16:00–17:00 CST" in text_part(messages(app)[1].eml)


def test_times_that_have_passed_are_not_offered(app, jose) -> None:
    interview_id = add_interview(app)
    _, fields = letter_page(jose, interview_id)
    with app.app_context():  # the times pass while the letter waits in the browser
        [offer] = db.session.get_one(Interview, interview_id).offers
        for slot in offer.slots:
            slot.start, slot.end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
        db.session.commit()

    response = jose.post(f"/interviews/{interview_id}/letter", data={**fields, "action": "send"})

    assert response.status_code == 400
    assert "The times you offer have already passed: choose new ones first." in (
        response.get_data(as_text=True)
    )
    assert messages(app) == []
    with app.app_context():
        [offer] = db.session.get_one(Interview, interview_id).offers
        assert offer.state == "draft"
        assert db.session.get_one(Interview, interview_id).state == "draft"


def test_cancelling_cancels_the_interview_and_a_video_call_leaves_it_as_it_is(app, jose) -> None:
    cancelled = add_interview(app)
    moved_online = add_interview(app)

    submit(jose, cancelled, query="?kind=cancel")
    submit(jose, moved_online, query="?kind=virtual")

    with app.app_context():
        assert db.session.get(Interview, cancelled).state == "cancelled"
        assert db.session.get(Interview, moved_online).state == "draft"
        assert {offer.state for offer in db.session.get(Interview, moved_online).offers} == {
            "draft"
        }
    assert [message.kind for message in messages(app)] == ["cancel", "virtual"]


def test_cancelling_after_offering_times_withdraws_them(app, jose) -> None:
    interview_id = add_interview(app)
    submit(jose, interview_id)  # times offered; the interviewer has the link
    submit(jose, interview_id, query="?kind=cancel")
    with app.app_context():
        interview = db.session.get_one(Interview, interview_id)
        assert interview.state == "cancelled"
        sent = [offer.state for offer in interview.offers if offer.state != "draft"]
        assert sent == ["withdrawn"]  # its link now says so


def test_a_line_break_in_the_subject_or_an_empty_letter_is_refused_in_plain_words(
    app, jose
) -> None:
    interview_id = add_interview(app)

    injected = submit(jose, interview_id, subject="Hello\r\nBcc: everyone@example.org")
    split = submit(jose, interview_id, subject="Hello\nthere")
    empty = submit(jose, interview_id, body=" \r\n ")

    for refused in (injected, split):
        assert refused.status_code == 400
        assert "The subject must be a single line: remove the line break" in refused.get_data(
            as_text=True
        )
    assert empty.status_code == 400
    assert "The letter is empty." in empty.get_data(as_text=True)
    assert messages(app) == []


def test_keep_to_send_myself_then_mark_it_sent(app, jose, outbox_folder: Path) -> None:
    interview_id = add_interview(app)

    response = submit(jose, interview_id, "save")

    [message] = messages(app)
    assert message.state == "queued" and not outbox_folder.exists()
    page = jose.get(response.headers["Location"]).get_data(as_text=True)
    assert "Open in my mail app" in page and "I sent it myself" in page
    token = csrf_token(jose, f"/outbox/{message.id}")
    mark = jose.post(f"/outbox/{message.id}/sent-by-me", data={"csrf_token": token})
    again = jose.post(f"/outbox/{message.id}/send", data={"csrf_token": token})

    [message] = messages(app)
    assert mark.status_code == again.status_code == 302
    assert (message.state, message.transport, message.sent_at) == ("sent", "by hand", NOW)
    assert not outbox_folder.exists()  # "Send" on a letter already sent does nothing


# --- Open in my mail app, download ---------------------------------------------------------------


def test_the_mailto_link_carries_the_exact_letter_url_encoded(app, jose) -> None:
    interview_id = add_interview(app, interviewer_email="wang+interviews@example.cn")
    submit(jose, interview_id, "save", subject="Ré: 50% & more?")
    [message] = messages(app)

    page = jose.get(f"/outbox/{message.id}").get_data(as_text=True)

    href = re.search(r'href="(mailto:[^"]+)"', page).group(1).replace("&amp;", "&")
    assert not re.search(r"[\s<>\"]", href)
    parts = urlsplit(href)
    assert unquote(parts.path) == "wang+interviews@example.cn"
    assert "+" not in parts.path  # a literal '+' would read as a space in some clients
    query = dict(pair.split("=", 1) for pair in parts.query.split("&"))
    assert set(query) == {"subject", "body"}
    assert unquote(query["subject"]) == "Ré: 50% & more?"
    assert unquote(query["body"]) == text_part(message.eml).replace("\n", "\r\n")
    assert "Harbour%20%26%20Co." in query["body"]


def test_the_eml_download_is_the_stored_bytes(app, jose) -> None:
    interview_id = add_interview(app)
    submit(jose, interview_id)
    [message] = messages(app)

    response = jose.get(f"/outbox/{message.id}.eml")

    assert response.data == message.eml
    assert response.mimetype == "message/rfc822"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="newslot-letter-{message.id}.eml"'
    )


# --- The outbox ----------------------------------------------------------------------------------


def test_the_outbox_lists_each_letter_with_what_became_of_it(app, jose) -> None:
    interview_id = add_interview(app)
    submit(jose, interview_id)
    submit(jose, add_interview(app), "save", query="?kind=cancel")

    page = jose.get("/outbox").get_data(as_text=True)

    assert page.count("<tr>") == 3  # the header and two letters
    assert "Request to reschedule: interview for Ingeniera de Señales" in page
    assert "Sent</span> · kept in the outbox folder, not emailed" in page
    assert "Not sent yet" in page
    assert page.index("Cancellation:") < page.index("Request to reschedule:")  # newest first


# --- Access ------------------------------------------------------------------------------------


def test_another_users_interview_and_messages_are_not_found(app, client) -> None:
    sign_up(client, **JOSE)
    interview_id = add_interview(app)
    submit(client, interview_id, "save")
    [message] = messages(app)
    _, fields = letter_page(client, interview_id)
    client.post("/sign-out", data={"csrf_token": fields["csrf_token"]})
    sign_up(client, email="mallory@example.org", name="Mallory")
    token = csrf_token(client, "/calendars/")

    gets = [
        f"/interviews/{interview_id}/letter",
        f"/outbox/{message.id}",
        f"/outbox/{message.id}.eml",
    ]
    posts = [
        f"/interviews/{interview_id}/letter",
        f"/outbox/{message.id}/send",
        f"/outbox/{message.id}/sent-by-me",
    ]
    for path in gets:
        assert client.get(path).status_code == 404, path
    for path in posts:
        data = {**fields, "csrf_token": token, "action": "send"}
        assert client.post(path, data=data).status_code == 404, path
    assert "Harbour" not in client.get("/outbox").get_data(as_text=True)
    [unchanged] = messages(app)
    assert (unchanged.state, unchanged.attempts) == ("queued", 0)


def test_the_pages_need_a_signed_in_user(app, client) -> None:
    for path in ("/outbox", "/outbox/1", "/interviews/1/letter"):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
