"""The proposals page: three cards in both zones, swap, add by hand, remove, adjust; all kept in
the interview's draft offer, and checked against the scheduling core run on the same calendar."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.extensions import db
from app.messages.letters import format_slot
from app.models import Interview, Offer
from app.scheduling.model import Interview as CoreInterview
from app.scheduling.model import Rules, Slot, WorkHours
from app.scheduling.proposals import propose
from calendar_providers.ics import IcsProvider
from tests.web.conftest import NOW, csrf_token, sign_up
from tests.web.test_interviews import DEMO, create_typed, inputs, text_of, upload_calendar

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
ME = "alex@example.org"
# The typed interview of tests.web.test_interviews: 1 December 2026, 16:00-17:00 in Berlin.
ORIGINAL = CoreInterview(
    datetime(2026, 12, 1, 16, 0, tzinfo=BERLIN),
    datetime(2026, 12, 1, 17, 0, tzinfo=BERLIN),
    BERLIN,
    NEW_YORK,
    uid="interview-acme@demo.newslot",  # the demo calendar's copy of it, which the page ignores
)


def core_slots(rules: Rules | None = None) -> list[Slot]:
    """What the scheduling core proposes on the demo calendar, read without the web app."""
    rules = rules or Rules()
    busy = IcsProvider("demo.ics", me=ME, data=DEMO).busy(
        NOW - timedelta(days=1), NOW + rules.window + timedelta(days=1), BERLIN
    )
    return list(propose(ORIGINAL, busy.events, rules, NOW).slots)


def core_ranking(length: int) -> list[datetime]:
    """The core's slots best first: asking for one more slot adds the next best one."""
    ranking: list[datetime] = []
    for count in range(1, length + 1):
        (added,) = set(utc(core_slots(Rules(count=count)))) - set(ranking)
        ranking.append(added)
    return ranking


def start_page(client) -> str:
    """Signed up with the demo calendar and the typed interview; the proposals page's path."""
    sign_up(client, email=ME)
    upload_calendar(client)
    return create_typed(client) + "/proposals"


def draft(app) -> list[tuple[int, datetime, bool]]:
    """The draft offer's slots as (id, start in UTC, added by hand)."""
    with app.app_context():
        offers = db.session.scalars(db.select(Offer)).all()
        assert [offer.state for offer in offers] == ["draft"]
        return [(row.id, row.start, row.added_by_hand) for row in offers[0].slots]


def starts(app) -> list[datetime]:
    return [start for _, start, _ in draft(app)]


def utc(slots) -> list[datetime]:
    return [slot.start.astimezone(UTC) for slot in slots]


def act(client, page, path, data=None):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


def test_three_cards_in_both_zones_are_the_cores_and_persist_in_the_draft(app, client):
    page_path = start_page(client)
    page = client.get(page_path).get_data(as_text=True)
    expected = core_slots()
    assert len(expected) == 3 and starts(app) == utc(expected)
    text = text_of(page)
    assert "Option 1 Jordan Lee: Wednesday 2 December 2026, 10:00–11:00 EST (America/New_York)" in (
        text
    )
    for slot in expected:
        written = format_slot(slot, NEW_YORK, BERLIN, NOW)
        assert written.interviewer in text and f"You: {written.candidate}" in text
    assert re.search(r'href="/interviews/\d+/letter\?kind=reschedule"', page)
    before = draft(app)
    client.get(page_path)
    assert draft(app) == before  # kept, not proposed afresh


def test_swap_takes_the_next_best_and_never_brings_a_swapped_time_back(app, client):
    page_path = start_page(client)
    client.get(page_path)
    (first, old, third) = draft(app)
    response = act(client, page_path, page_path.replace("proposals", f"proposals/{old[0]}/swap"))
    assert response.status_code == 302
    assert "Swapped the time" in client.get(page_path).get_data(as_text=True)
    ranked = core_ranking(5)
    assert ranked[:3] == [first[1], old[1], third[1]]
    assert starts(app) == sorted([first[1], third[1], ranked[3]])
    replacement = next(row for row in draft(app) if row[1] == ranked[3])
    act(client, page_path, page_path.replace("proposals", f"proposals/{replacement[0]}/swap"))
    # Neither swapped time comes back: the fifth best does (the first day's second time).
    assert starts(app) == sorted([first[1], third[1], ranked[4]])


def test_remove_drops_a_card_and_an_emptied_draft_gets_fresh_times(app, client):
    page_path = start_page(client)
    client.get(page_path)
    removed = draft(app)
    act(client, page_path, page_path.replace("proposals", f"proposals/{removed[0][0]}/remove"))
    assert starts(app) == [removed[1][1], removed[2][1]]
    for slot_id, _, _ in removed[1:]:
        act(client, page_path, page_path.replace("proposals", f"proposals/{slot_id}/remove"))
    page = text_of(client.get(page_path).get_data(as_text=True))
    assert starts(app) == sorted(core_ranking(6)[3:]) and "Option 3" in page
    assert not {start for _, start, _ in removed} & set(starts(app))


def test_a_time_added_by_hand_is_kept_with_its_warnings(app, client):
    page_path = start_page(client)
    client.get(page_path)
    add = page_path + "/add"
    # Monday 7 December, 09:30 in Berlin: the daily stand-up, and 03:30 in New York.
    response = act(client, page_path, add, {"date": "2026-12-07", "time": "09:30"})
    assert response.status_code == 302
    page = text_of(client.get(page_path).get_data(as_text=True))
    assert "Added your time. Note: Clashes with Team stand-up (09:30–09:45)." in page
    assert "Note: Outside the interviewer's working hours (09:00-17:00 America/New_York)." in (
        page.replace("&#39;", "'")
    )
    assert "added by you" in page and "Clashes with Team stand-up (09:30–09:45)" in page
    hand = [row for row in draft(app) if row[2]]
    assert [start for _, start, _ in hand] == [datetime(2026, 12, 7, 8, 30, tzinfo=UTC)]
    assert len(draft(app)) == 4


def test_times_that_cannot_be_offered_are_refused_in_plain_words(app, client):
    page_path = start_page(client)
    client.get(page_path)
    first = draft(app)[0][1].astimezone(BERLIN) + timedelta(minutes=30)
    for data, words in (
        ({"date": "2026-11-29", "time": "10:00"}, "That time has already passed"),
        (
            {"date": first.date().isoformat(), "time": f"{first:%H:%M}"},
            "overlaps one already chosen",
        ),
        ({"date": "2027-03-28", "time": "02:15"}, "02:15 does not exist on 2027-03-28"),
        ({"date": "", "time": "10:00"}, "Give the date"),
    ):
        response = act(client, page_path, page_path + "/add", data)
        assert response.status_code == 400, data
        assert words in text_of(response.get_data(as_text=True)), data
    assert len(draft(app)) == 3


def test_cards_note_a_date_that_differs_and_clocks_that_change(app, client):
    sign_up(client, email=ME)
    page_path = create_typed(client, interviewer_tz="Asia/Tokyo") + "/proposals"
    page = text_of(client.get(page_path).get_data(as_text=True))
    # Berlin's and Tokyo's working days do not overlap: propose() says so, and no card is made.
    assert "No free slot in the next 14 days." in page and "do not overlap" in page
    assert "Option 1" not in page
    act(client, page_path, page_path + "/add", {"date": "2026-12-08", "time": "16:30"})
    act(client, page_path, page_path + "/add", {"date": "2027-03-30", "time": "15:00"})
    page = text_of(client.get(page_path).get_data(as_text=True))
    # 16:30 in Berlin is 00:30 the next day in Tokyo.
    assert "Wednesday 9 December 2026, 00:30–01:30 JST (Asia/Tokyo)" in page
    assert "Tuesday 8 December 2026, 16:30–17:30 CET (Europe/Berlin)" in page
    assert "Note: the dates differ between our time zones" in page
    assert "Note: clocks change on 28 March in Europe/Berlin" in page


def test_adjusting_the_search_is_saved_and_proposes_again(app, client):
    page_path = start_page(client)
    client.get(page_path)
    act(client, page_path, page_path + "/add", {"date": "2026-12-18", "time": "19:00"})
    settings = {
        "window_days": "21",
        "work_hours": "10:00-16:00",
        "interviewer_work_hours": "08:00-12:00",
        "buffer_minutes": "30",
        "min_notice_hours": "48",
    }
    response = act(client, page_path, page_path + "/adjust", settings)
    assert response.status_code == 302
    with app.app_context():
        interview = db.session.scalar(db.select(Interview))
        saved = {name: str(getattr(interview, name)) for name in settings}
    assert saved == settings
    rules = Rules(
        buffer=timedelta(minutes=30),
        min_notice=timedelta(hours=48),
        window=timedelta(days=21),
        user_hours=WorkHours.parse("10:00-16:00"),
        interviewer_hours=WorkHours.parse("08:00-12:00"),
    )
    proposed = [start for _, start, by_hand in draft(app) if not by_hand]
    assert proposed == utc(core_slots(rules))[:2]
    assert [start for _, start, by_hand in draft(app) if by_hand] == [
        datetime(2026, 12, 18, 18, 0, tzinfo=UTC)
    ]
    shown = inputs(client.get(page_path).get_data(as_text=True))
    assert {name: shown[name] for name in settings} == settings


def test_invalid_settings_are_refused_and_nothing_changes(app, client):
    page_path = start_page(client)
    client.get(page_path)
    before = draft(app)
    response = act(
        client, page_path, page_path + "/adjust",
        {"window_days": "0", "work_hours": "9 to 5", "interviewer_work_hours": "09:00-17:00",
         "buffer_minutes": "15", "min_notice_hours": "24"},
    )  # fmt: skip
    assert response.status_code == 400
    text = text_of(response.get_data(as_text=True))
    assert "From 1 to 60 days." in text and "Write the hours as 09:00-17:00" in text
    with app.app_context():
        interview = db.session.scalar(db.select(Interview))
        assert (interview.window_days, interview.work_hours) == (14, "09:00-17:00")
    assert draft(app) == before


def test_each_page_reads_the_calendars_once(client, monkeypatch):
    from app.services import busy, choosing, dayview

    reads = []
    real = busy.read_busy
    for reader in (choosing, dayview):  # the two pages' services
        monkeypatch.setattr(
            reader, "read_busy", lambda *args, **kwargs: reads.append(1) or real(*args, **kwargs)
        )
    page_path = start_page(client)
    for path in (page_path, page_path, page_path.removesuffix("/proposals")):
        reads.clear()
        assert client.get(path).status_code == 200
        assert len(reads) == 1, path


def test_a_time_added_beyond_the_search_window_still_shows_its_clash_on_its_card(app, client):
    page_path = start_page(client)
    client.get(page_path)
    # Monday 21 December, 09:30 in Berlin (past the 14-day search): the daily stand-up.
    response = act(client, page_path, page_path + "/add", {"date": "2026-12-21", "time": "09:30"})
    assert response.status_code == 302
    page = text_of(client.get(page_path).get_data(as_text=True))
    assert "Added your time. Note: Clashes with Team stand-up (09:30–09:45)." in page  # the flash
    assert page.count("Clashes with Team stand-up (09:30–09:45)") == 2  # and the time's card
