"""The interviewer's page /o/<token>: found by its token, only the offered times, answered once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import CalendarSource, Interview, Message, Offer, OfferSlot, User
from app.services import offers
from tests.web.conftest import NOW, csrf_token

START = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # Wednesday; 10:00 in New York, 16:00 in Berlin
SLOT_STARTS = (START, START + timedelta(days=1), START + timedelta(days=2))
HOUR = timedelta(hours=1)
SECRET_EVENT = "Therapy with Dr Quinn"


@dataclass(frozen=True)
class Offered:
    token: str
    user_id: int
    interview_id: int
    offer_id: int
    slot_ids: tuple[int, ...]


def calendar(*events: tuple[str, str, datetime, datetime]) -> bytes:
    """An .ics file of (uid, summary, start, end) events."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    for uid, summary, start, end in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{NOW:%Y%m%dT%H%M%SZ}",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{end:%Y%m%dT%H%M%SZ}",
            f"SUMMARY:{summary}",
            "END:VEVENT",
        ]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def make_offer(
    app,
    *,
    user_id: int | None = None,
    busy: bytes | None = None,
    company: str = "Harbour & Co",
    role: str = "Data Engineer",
    interviewer_tz: str = "America/New_York",
    organised_by_user: bool = False,
    uid: str | None = None,
    sequence: int = 0,
    expires_at: datetime = NOW + timedelta(days=2),
) -> Offered:
    """An interview with an open offer of three slots; a new candidate unless `user_id` is given."""
    with app.app_context():
        if user_id is None:
            user = User(
                email="ana@example.org", name="Ana Lima", password_hash="-",
                time_zone="Europe/Berlin", created_at=NOW,
            )  # fmt: skip
            db.session.add(user)
            db.session.flush()
            user_id = user.id
        if busy is not None:
            db.session.add(
                CalendarSource(
                    user_id=user_id, kind="upload", name="work.ics", content=busy, created_at=NOW
                )
            )
        interview = Interview(
            user_id=user_id, company=company, role=role, interviewer_name="Sam Reed",
            interviewer_email="sam@harbour.example", interviewer_tz=interviewer_tz,
            start=datetime(2026, 12, 1, 14, tzinfo=UTC), end=datetime(2026, 12, 1, 15, tzinfo=UTC),
            meeting_link="https://meet.example/abc def", uid=uid, sequence=sequence,
            organised_by_user=organised_by_user, state="offered", created_at=NOW,
        )  # fmt: skip
        offer = Offer(interview=interview, created_at=NOW)
        offer.slots = [OfferSlot(start=start, end=start + HOUR) for start in SLOT_STARTS]
        db.session.add(interview)
        db.session.flush()
        token = offers.open_offer(offer, NOW, expires_at)
        db.session.commit()
        return Offered(
            token, user_id, interview.id, offer.id, tuple(slot.id for slot in offer.slots)
        )


def answer(client, token: str, data: dict):
    """Post the interviewer's answer with the page's CSRF token, as the browser would."""
    return client.post(
        f"/o/{token}", data={**data, "csrf_token": csrf_token(client, f"/o/{token}")}
    )


def stored_offer(app, offer_id: int) -> Offer:
    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        db.session.expunge(offer)
        return offer


def messages(app) -> list[Message]:
    with app.app_context():
        found = list(db.session.scalars(db.select(Message)))
        db.session.expunge_all()
        return found


@pytest.fixture(autouse=True)
def outbox(app, tmp_path):
    """Email goes to a folder of this test, never the real instance folder."""
    app.config["OUTBOX_DIR"] = str(tmp_path / "outbox")
    return tmp_path / "outbox"


# --- Opening an offer ---------------------------------------------------------------------------


def test_open_offer_keeps_only_the_hash_of_a_long_random_token(app):
    offered = make_offer(app)
    assert len(offered.token) >= 43  # 32 random bytes, base64url
    stored = stored_offer(app, offered.offer_id)
    assert stored.state == "open" and stored.expires_at == NOW + timedelta(days=2)
    assert stored.token_hash == hashlib.sha256(offered.token.encode()).hexdigest()
    assert offered.token not in stored.token_hash
    assert make_offer(app, user_id=offered.user_id).token != offered.token


def test_only_a_draft_with_times_opens(app):
    offered = make_offer(app)
    with app.app_context():
        offer = db.session.get(Offer, offered.offer_id)
        with pytest.raises(ValueError, match="only a draft"):
            offers.open_offer(offer, NOW, NOW + HOUR)
        empty = Offer(interview_id=offered.interview_id, state="draft", created_at=NOW)
        db.session.add(empty)
        with pytest.raises(ValueError, match="at least one time"):
            offers.open_offer(empty, NOW, NOW + HOUR)


# --- Finding it ---------------------------------------------------------------------------------


def test_a_wrong_token_is_not_found(app, client):
    offered = make_offer(app)
    for token in ("nope", offered.token[:-1], offered.token + "x", "x" * 300):
        response = client.get(f"/o/{token}")
        assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)


def test_an_expired_offer_asks_for_an_email_reply(app, client):
    offered = make_offer(app)
    token = csrf_token(client, f"/o/{offered.token}")  # the page was open a moment ago
    with app.app_context():
        db.session.get(Offer, offered.offer_id).expires_at = NOW  # expires_at <= now: expired
        db.session.commit()
    posted = client.post(
        f"/o/{offered.token}", data={"choice": offered.slot_ids[0], "csrf_token": token}
    )
    for response in (client.get(f"/o/{offered.token}"), posted):
        page = response.get_data(as_text=True)
        assert response.status_code == 410
        assert "This link has expired" in page and "reply to Ana Lima’s email" in page
        assert "Wednesday" not in page  # no times offered any more
    assert stored_offer(app, offered.offer_id).state == "open" and messages(app) == []


def test_a_withdrawn_offer_is_gone(app, client):
    offered = make_offer(app)
    with app.app_context():
        db.session.get(Offer, offered.offer_id).state = "withdrawn"
        db.session.commit()
    response = client.get(f"/o/{offered.token}")
    assert response.status_code == 410 and "This link has expired" in response.get_data(True)


# --- What the page shows ------------------------------------------------------------------------


def test_the_page_shows_the_offered_times_in_the_interviewers_zone_and_nothing_else(app, client):
    secret = calendar(("secret@test", SECRET_EVENT, START - 3 * HOUR, START - 2 * HOUR))
    offered = make_offer(app, busy=secret)
    response = client.get(f"/o/{offered.token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ana Lima" in page and "Data Engineer" in page and "Harbour &amp; Co" in page
    assert "America/New_York" in page
    assert "Sign up" not in page and "/sign-in" not in page  # no account links for the interviewer
    for day in ("Wednesday 2 December 2026", "Thursday 3", "Friday 4"):
        assert f"{day}" in page
    assert "10:00–11:00 EST (America/New_York)" in page
    radios = re.findall(r'<input type="radio" name="choice" id="([^"]+)" value="([^"]+)"', page)
    assert [value for _, value in radios] == [*map(str, offered.slot_ids), "none"]
    assert all(re.search(rf'<label for="{id_}">', page) for id_, _ in radios)  # labelled
    # Nothing from the candidate's calendar, nor the candidate's own zone or address.
    assert SECRET_EVENT not in page and "Europe/Berlin" not in page and "16:00–17:00" not in page
    assert "ana@example.org" not in page
    # The browser's zone is added by a script file (CSP), from UTC instants on the page.
    assert 'src="/static/offer.js"' in page and "<script>" not in page
    assert f'data-start="{START.isoformat()}"' in page


def test_the_page_is_public_and_carries_a_csrf_token(app, client):
    offered = make_offer(app)
    assert csrf_token(client, f"/o/{offered.token}")
    posted = client.post(f"/o/{offered.token}", data={"choice": str(offered.slot_ids[0])})
    assert posted.status_code == 400 and "The form expired" in posted.get_data(as_text=True)
    assert stored_offer(app, offered.offer_id).state == "open"


def test_every_value_is_escaped(app, client):
    offered = make_offer(app, company="<script>alert(1)</script>", role='"><img src=x>')
    page = client.get(f"/o/{offered.token}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '"><img src=x>' not in page and "&#34;&gt;&lt;img src=x&gt;" in page
    response = answer(client, offered.token, {"choice": "none", "note": "<b>Tuesdays</b>"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<b>Tuesdays" not in page and "&lt;b&gt;Tuesdays&lt;/b&gt;" in page


def test_the_browser_script_is_served(client):
    script = client.get("/static/offer.js")
    assert script.status_code == 200 and b"resolvedOptions().timeZone" in script.data


# --- Answering ----------------------------------------------------------------------------------


def test_no_choice_is_asked_for_again(app, client):
    offered = make_offer(app)
    response = answer(client, offered.token, {"note": "hello"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Choose one of the times" in page
    assert 'aria-describedby="choice-error"' in page
    other = answer(client, offered.token, {"choice": "999999"})  # not one of this offer's
    assert other.status_code == 400
    assert stored_offer(app, offered.offer_id).state == "open"


def test_none_of_these_work_keeps_the_note_for_the_candidate(app, client):
    offered = make_offer(app)
    token = csrf_token(client, f"/o/{offered.token}")
    response = client.post(
        f"/o/{offered.token}",
        data={"choice": "none", "note": "Only mornings, sorry", "csrf_token": token},
    )
    assert response.status_code == 302
    stored = stored_offer(app, offered.offer_id)
    assert stored.state == "declined" and stored.answer_note == "Only mornings, sorry"
    assert stored.answered_at == NOW and stored.picked_slot_id is None
    with app.app_context():
        assert db.session.get(Interview, offered.interview_id).state == "offered"
    assert messages(app) == []  # no email for a "no"
    page = client.get(f"/o/{offered.token}").get_data(as_text=True)
    assert "Thank you for your answer" in page and "Only mornings, sorry" in page
    again = client.post(
        f"/o/{offered.token}", data={"choice": offered.slot_ids[0], "csrf_token": token}
    )
    assert again.status_code == 409 and "already answered" in again.get_data(as_text=True)
    assert stored_offer(app, offered.offer_id).state == "declined"


def test_a_pick_confirms_and_thanks_with_calendar_links(app, client):
    offered = make_offer(app)
    response = answer(client, offered.token, {"choice": str(offered.slot_ids[1]), "note": "Great"})
    assert response.status_code == 302 and response.headers["Location"] == f"/o/{offered.token}"
    stored = stored_offer(app, offered.offer_id)
    assert stored.state == "picked" and stored.picked_slot_id == offered.slot_ids[1]
    assert stored.answer_note == "Great"
    page = client.get(f"/o/{offered.token}").get_data(as_text=True)
    assert "the new time is confirmed" in page
    assert "Thursday 3 December 2026, 10:00–11:00 EST (America/New_York)" in page
    assert f'href="/o/{offered.token}/invite.ics"' in page
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in page
    assert "https://outlook.live.com/calendar/0/deeplink/compose?" in page


def test_a_double_post_confirms_once(app, client):
    offered = make_offer(app)
    token = csrf_token(client, f"/o/{offered.token}")
    first = client.post(
        f"/o/{offered.token}", data={"choice": offered.slot_ids[0], "csrf_token": token}
    )
    second = client.post(
        f"/o/{offered.token}", data={"choice": offered.slot_ids[2], "csrf_token": token}
    )
    assert first.status_code == 302 and second.status_code == 409
    page = second.get_data(as_text=True)
    assert "This offer was already answered" in page
    assert "Wednesday 2 December 2026, 10:00–11:00 EST" in page  # the time that was chosen
    assert stored_offer(app, offered.offer_id).picked_slot_id == offered.slot_ids[0]
    assert len(messages(app)) == 1


def test_a_slot_that_became_busy_is_refused_and_the_others_offered(app, client):
    clash = calendar(
        ("new@test", SECRET_EVENT, SLOT_STARTS[1] + HOUR / 2, SLOT_STARTS[1] + 2 * HOUR)
    )
    offered = make_offer(app, busy=clash)
    response = answer(client, offered.token, {"choice": str(offered.slot_ids[1])})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "that time is no longer free" in page
    values = re.findall(r'name="choice" id="[^"]+" value="([^"]+)"', page)
    assert values == [str(offered.slot_ids[0]), str(offered.slot_ids[2]), "none"]
    assert "Thursday 3 December" not in page and SECRET_EVENT not in page
    assert stored_offer(app, offered.offer_id).state == "open" and messages(app) == []
    # One of the remaining times still goes through.
    assert answer(client, offered.token, {"choice": str(offered.slot_ids[2])}).status_code == 302


def test_the_interviews_own_event_does_not_block_a_slot(app, client):
    own = calendar(("orig-1@harbour.example", "Interview", SLOT_STARTS[0], SLOT_STARTS[0] + HOUR))
    offered = make_offer(app, busy=own, uid="orig-1@harbour.example")
    response = answer(client, offered.token, {"choice": str(offered.slot_ids[0])})
    assert response.status_code == 302
    assert stored_offer(app, offered.offer_id).picked_slot_id == offered.slot_ids[0]


def test_the_public_page_is_rate_limited(app, client):
    offered = make_offer(app)
    statuses = [client.get(f"/o/{offered.token}").status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    assert "Too many attempts" in client.get(f"/o/{offered.token}").get_data(as_text=True)


def test_answers_are_rate_limited_more_tightly(app, client):
    offered = make_offer(app)
    token = csrf_token(client, f"/o/{offered.token}")
    statuses = [
        client.post(f"/o/{offered.token}", data={"csrf_token": token}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


def test_a_time_that_has_started_is_no_longer_offered(app, client):
    offered = make_offer(app, expires_at=SLOT_STARTS[2])
    token = csrf_token(client, f"/o/{offered.token}")
    app.config["NOW"] = lambda: SLOT_STARTS[0] + HOUR  # the first slot is over; the offer open
    page = client.get(f"/o/{offered.token}").get_data(as_text=True)
    assert "Wednesday 2 December" not in page and "Thursday 3 December" in page
    late = client.post(
        f"/o/{offered.token}", data={"choice": offered.slot_ids[0], "csrf_token": token}
    )
    assert late.status_code == 409 and "no longer free" in late.get_data(as_text=True)
    assert stored_offer(app, offered.offer_id).state == "open"
