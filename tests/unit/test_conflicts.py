"""conflicts(): which events clash with the interview, checked by example and by property."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.conflicts import conflicts
from app.scheduling.model import BUSY, TENTATIVE, BusyEvent, Interview

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = [
    ZoneInfo(name)
    for name in ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC")
]
FAST = settings(max_examples=100, deadline=None)


def at(hour: int, minute: int = 0, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=zone)


def event(summary: str, start: datetime, end: datetime, **extra) -> BusyEvent:
    return BusyEvent(uid=extra.pop("uid", summary), summary=summary, start=start, end=end, **extra)


INTERVIEW = Interview(at(10), at(11), BERLIN, NEW_YORK, uid="interview-1")


def summaries(events: list[BusyEvent]) -> list[str]:
    return [item.summary for item in events]


def test_touching_events_do_not_clash():
    before = event("before", at(9), at(10))
    after = event("after", at(11), at(12))
    assert conflicts(INTERVIEW, [before, after]) == []


def test_partial_overlap_and_containment_both_clash():
    busy = [
        event("starts before", at(9, 30), at(10, 15)),
        event("ends after", at(10, 45), at(12)),
        event("inside", at(10, 15), at(10, 30)),
        event("around", at(8), at(13)),
    ]
    assert summaries(conflicts(INTERVIEW, busy)) == [
        "around",
        "starts before",
        "inside",
        "ends after",
    ]


def test_zero_length_events_never_clash():
    assert conflicts(INTERVIEW, [event("marker", at(10, 30), at(10, 30))]) == []


def test_the_interview_own_event_is_not_a_conflict():
    itself = event("Interview", at(10), at(11), uid="interview-1")
    other = event("Dentist", at(10), at(11), uid="dentist")
    assert conflicts(INTERVIEW, [itself, other]) == [other]


def test_without_a_uid_every_overlapping_event_counts():
    anonymous = Interview(at(10), at(11), BERLIN, NEW_YORK)
    assert summaries(conflicts(anonymous, [event("Lunch", at(10), at(11), uid="")])) == ["Lunch"]


def test_tentative_events_clash_and_keep_their_status():
    maybe = event("Maybe", at(10, 30), at(11, 30), status=TENTATIVE)
    found = conflicts(INTERVIEW, [maybe])
    assert found == [maybe]
    assert found[0].status == TENTATIVE


def test_sorted_by_start_then_summary():
    busy = [
        event("b", at(10, 30), at(11)),
        event("a", at(10, 30), at(11)),
        event("c", at(9), at(10, 5)),
    ]
    assert summaries(conflicts(INTERVIEW, busy)) == ["c", "a", "b"]


def test_events_in_other_zones_compare_by_instant():
    # 04:30 in New York is 10:30 in Berlin on 2 March (both on standard time).
    new_york = event("call", at(4, 30, NEW_YORK), at(5, 30, NEW_YORK))
    early_utc = event("early", at(8, 0, UTC), at(9, 15, UTC))  # 09:00-10:15 Berlin
    late_utc = event("late", at(10, 0, UTC), at(11, 0, UTC))  # 11:00 Berlin: touching
    assert summaries(conflicts(INTERVIEW, [new_york, late_utc, early_utc])) == ["early", "call"]


def ten_minutes_later(moment: datetime) -> datetime:
    """Elapsed, in the same zone (adding to a fold=1 time directly would reset the fold)."""
    return (moment.astimezone(UTC) + timedelta(minutes=10)).astimezone(moment.tzinfo)


def test_order_is_by_instant_in_the_repeated_hour():
    # 25 Oct 2026: Berlin's 02:00-03:00 happens twice; wall-clock order would swap these.
    interview = Interview(
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 3, 0, tzinfo=UTC),
        BERLIN,
        NEW_YORK,
    )
    second_time = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)  # 01:30 UTC
    first_time = datetime(2026, 10, 25, 2, 45, tzinfo=BERLIN)  # 00:45 UTC
    busy = [
        event("a second 02:30", second_time, ten_minutes_later(second_time)),
        event("b first 02:45", first_time, ten_minutes_later(first_time)),
    ]
    assert summaries(conflicts(interview, busy)) == ["b first 02:45", "a second 02:30"]


# --- property: conflicts are exactly the events sharing an instant with the interview --------

BASE = datetime(2026, 3, 1, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=3 * 24 * 60)


@st.composite
def busy_events(draw) -> BusyEvent:
    start = BASE + timedelta(minutes=draw(minutes))
    length = timedelta(minutes=draw(st.integers(min_value=0, max_value=300)))
    zone = draw(st.sampled_from(ZONES))
    return BusyEvent(
        uid=draw(st.sampled_from(["interview-1", "a", "b", "c"])),
        summary=draw(st.sampled_from(["Lunch", "Gym", "Standup"])),
        start=start.astimezone(zone),
        end=(start + length).astimezone(zone),
        status=draw(st.sampled_from([BUSY, TENTATIVE])),
    )


@st.composite
def interviews(draw) -> Interview:
    start = BASE + timedelta(minutes=draw(minutes))
    length = timedelta(minutes=draw(st.integers(min_value=1, max_value=240)))
    zone = draw(st.sampled_from(ZONES))
    return Interview(
        start.astimezone(zone),
        (start + length).astimezone(zone),
        zone,
        draw(st.sampled_from(ZONES)),
        uid=draw(st.sampled_from(["interview-1", None])),
    )


def shares_an_instant(item: BusyEvent, interview: Interview) -> bool:
    """Brute force on POSIX seconds: some instant lies in both [start, end) ranges."""
    event_start, event_end = item.start.timestamp(), item.end.timestamp()
    begin, finish = interview.start.timestamp(), interview.end.timestamp()
    return event_start < event_end and not (event_end <= begin or finish <= event_start)


@FAST
@given(interview=interviews(), busy=st.lists(busy_events(), max_size=25))
def test_conflicts_match_the_brute_force_definition(interview, busy):
    expected = [
        item for item in busy if item.uid != interview.uid and shares_an_instant(item, interview)
    ]
    expected.sort(key=lambda item: (item.start.timestamp(), item.summary))
    assert conflicts(interview, busy) == expected
