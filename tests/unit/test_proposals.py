"""propose(): rules by example, then every rule at once against a brute-force oracle."""

import random
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.model import (
    BUSY,
    MONDAY_TO_FRIDAY,
    TENTATIVE,
    BusyEvent,
    Interview,
    Rules,
    WorkHours,
)
from app.scheduling.proposals import propose

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN)  # Monday 2 March 2026, 07:00 UTC
ONE_HOUR = timedelta(hours=1)
ORIGINAL = Interview(
    datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN),
    datetime(2026, 3, 2, 11, 0, tzinfo=BERLIN),
    BERLIN,
    BERLIN,
    uid="interview-1",
)


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


def utc(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def busy(start: datetime, end: datetime, uid: str = "other", status: str = BUSY) -> BusyEvent:
    return BusyEvent(uid=uid, summary=uid, start=start, end=end, status=status)


def interview_at(start: datetime, length: timedelta = ONE_HOUR) -> Interview:
    return Interview(start, start + length, BERLIN, BERLIN, uid="interview-1")


def starts(proposal) -> list[datetime]:
    return [slot.start for slot in proposal.slots]


def test_three_slots_on_the_soonest_days_at_the_original_time_of_day():
    proposal = propose(ORIGINAL, [], Rules(), NOW)
    assert starts(proposal) == [utc(3, 9), utc(4, 9), utc(5, 9)]  # 10:00 Berlin, Tue-Thu
    assert all(slot.end - slot.start == ONE_HOUR for slot in proposal.slots)
    assert all(slot.start.tzinfo is UTC for slot in proposal.slots)
    assert proposal.notes == ()


def test_the_buffer_keeps_events_clear_and_an_exact_buffer_is_enough():
    rules = Rules(count=1)
    ends_at_1030 = busy(berlin(3, 9, 30), berlin(3, 10, 30))
    assert starts(propose(ORIGINAL, [ends_at_1030], rules, NOW)) == [berlin(3, 10, 45)]
    ends_at_1031 = busy(berlin(3, 9, 30), berlin(3, 10, 31))
    assert starts(propose(ORIGINAL, [ends_at_1031], rules, NOW)) == [berlin(3, 11)]


def test_a_slot_may_end_exactly_a_buffer_before_an_event():
    rules = Rules(count=1)
    interview = interview_at(berlin(2, 15))  # aim for 15:00
    starts_at_1615 = busy(berlin(3, 16, 15), berlin(3, 17))
    assert starts(propose(interview, [starts_at_1615], rules, NOW)) == [berlin(3, 15)]
    starts_at_1614 = busy(berlin(3, 16, 14), berlin(3, 17))
    assert starts(propose(interview, [starts_at_1614], rules, NOW)) == [berlin(3, 14, 45)]


def test_tentative_events_block_too():
    maybe = busy(berlin(3, 9), berlin(3, 17), status=TENTATIVE)
    assert starts(propose(ORIGINAL, [maybe], Rules(count=1), NOW)) == [berlin(4, 10)]


def test_the_interview_own_event_does_not_block_its_new_time():
    itself = busy(berlin(3, 9), berlin(3, 17), uid="interview-1")
    assert starts(propose(ORIGINAL, [itself], Rules(count=1), NOW)) == [berlin(3, 10)]


def test_zero_length_events_hold_no_time():
    marker = busy(berlin(3, 10, 30), berlin(3, 10, 30))
    assert starts(propose(ORIGINAL, [marker], Rules(count=1), NOW)) == [berlin(3, 10)]


def test_never_the_original_time():
    wednesday_ten = interview_at(berlin(4, 10))
    # Wednesday's 10:00 is the original: the nearest other times tie, the earlier wins.
    assert starts(propose(wednesday_ten, [], Rules(), NOW)) == [
        berlin(3, 10),
        berlin(4, 9, 45),
        berlin(5, 10),
    ]


def test_ties_go_to_the_earlier_slot():
    half_hour = interview_at(berlin(2, 10), timedelta(minutes=30))
    blocks_ten = busy(berlin(3, 10), berlin(3, 10, 30))
    rules = Rules(count=1, buffer=timedelta(0))
    # 09:30 and 10:30 are both 30 minutes from 10:00.
    assert starts(propose(half_hour, [blocks_ten], rules, NOW)) == [berlin(3, 9, 30)]


@pytest.mark.parametrize(
    ("notice", "expected"),
    [(timedelta(hours=4), berlin(2, 10)), (timedelta(hours=4, minutes=1), berlin(2, 10, 15))],
)
def test_slots_start_no_sooner_than_the_notice(notice, expected):
    at_nine = interview_at(berlin(6, 9))
    rules = Rules(count=1, min_notice=notice)
    assert starts(propose(at_nine, [], rules, berlin(2, 6))) == [expected]


@pytest.mark.parametrize(
    ("window", "expected"),
    [(timedelta(hours=5), berlin(2, 10)), (timedelta(hours=4, minutes=59), berlin(2, 9, 45))],
)
def test_slots_end_by_the_end_of_the_window(window, expected):
    at_ten = interview_at(berlin(6, 10))
    rules = Rules(count=1, min_notice=timedelta(0), window=window)
    assert starts(propose(at_ten, [], rules, berlin(2, 6))) == [expected]


def test_when_days_run_short_the_days_take_turns():
    rules = Rules(min_notice=timedelta(0), window=timedelta(days=2))
    at_ten = interview_at(datetime(2026, 2, 27, 10, 0, tzinfo=BERLIN))
    proposal = propose(at_ten, [], rules, berlin(2, 8))
    # Monday 10:00, Tuesday 10:00, then Monday's best non-overlapping slot: 09:00 ties 11:00.
    assert starts(proposal) == [berlin(2, 9), berlin(2, 10), berlin(3, 10)]
    assert proposal.notes == ("Two slots are on the same day: only 2 days had room.",)


def test_a_day_offers_no_overlapping_slots():
    rules = Rules(count=3, min_notice=timedelta(0), window=timedelta(hours=10))
    short_day = interview_at(datetime(2026, 2, 27, 12, 0, tzinfo=BERLIN), timedelta(hours=3))
    proposal = propose(short_day, [], rules, berlin(2, 8))  # room until 18:00, work until 17:00
    assert starts(proposal) == [berlin(2, 9), berlin(2, 12)]
    assert proposal.notes == (
        "Only 2 free slots in the next 10 hours.",
        "Your working hours (09:00-17:00 Europe/Berlin) and the interviewer's "
        "(09:00-17:00 Europe/Berlin) overlap for only 8 hours in the next 10 hours.",
        "Both slots are on the same day: only one day had room.",
    )


def test_notes_say_the_calendar_is_full():
    whole_fortnight = busy(berlin(2, 0), berlin(16, 0))
    friday_free = [busy(berlin(2, 0), berlin(13, 9)), busy(berlin(13, 11), berlin(16, 0))]
    rules = Rules()
    assert propose(ORIGINAL, [whole_fortnight], rules, NOW).notes == (
        "No free slot in the next 14 days.",
        "The rest of the time when you both work is taken by your calendar "
        "(with 15 minutes kept clear around each event).",
    )
    proposal = propose(ORIGINAL, friday_free, rules, NOW)
    assert starts(proposal) == [berlin(13, 9, 45)]  # free 09:15-10:45 after buffers
    assert proposal.notes[0] == "Only 1 free slot in the next 14 days."


def test_notes_when_the_notice_leaves_no_room():
    rules = Rules(min_notice=timedelta(hours=24), window=timedelta(hours=24))
    proposal = propose(ORIGINAL, [], rules, NOW)
    assert proposal.slots == ()
    assert proposal.notes[1] == (
        "Slots must start at least 24 hours from now: that leaves no room "
        "for the interview (1 hour) in the 24 hours searched."
    )


def test_notes_when_the_window_is_shorter_than_the_interview():
    rules = Rules(min_notice=timedelta(0), window=timedelta(minutes=45))
    assert propose(ORIGINAL, [], rules, NOW).notes == (
        "No free slot in the next 45 minutes.",
        "There is no room for the interview (1 hour) in the 45 minutes searched.",
    )


def test_the_grid_follows_the_user_wall_clock():
    # Kolkata is UTC+05:30: its full hours are half hours in UTC.
    interview = Interview(utc(2, 9), utc(2, 10), KOLKATA, BERLIN)  # 10:00 for the interviewer
    rules = Rules(count=1, step=timedelta(hours=1))
    # Shared hours 08:00-11:30 UTC; 08:30 and 09:30 UTC are both 30 minutes from 10:00 Berlin.
    (slot,) = propose(interview, [], rules, NOW).slots
    assert slot.start == utc(3, 8, 30)
    assert slot.start.astimezone(KOLKATA).time() == time(14, 0)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="now"):
        propose(ORIGINAL, [], Rules(), datetime(2026, 3, 2, 8, 0))  # noqa: DTZ001


def test_a_thousand_events_take_well_under_20_ms():
    generator = random.Random(2026)
    events = []
    for number in range(1000):  # about 70 a day over the fortnight: worse than any real diary
        start = NOW + timedelta(minutes=15 * generator.randrange(14 * 96))
        length = timedelta(minutes=15 * generator.randrange(1, 4))
        events.append(busy(start, start + length, uid=f"event-{number}"))
    first = propose(ORIGINAL, events, Rules(), NOW)
    timings = []
    for _ in range(5):
        began = clock.perf_counter()
        again = propose(ORIGINAL, events, Rules(), NOW)
        timings.append(clock.perf_counter() - began)
        assert again == first  # deterministic
    assert first.slots  # the walk reached free time, not just an empty merge
    assert min(timings) < 0.020


# --- properties: every rule at once, against a brute-force oracle ----------------------------

FAST = settings(max_examples=100, deadline=None)
ZONES = [
    ZoneInfo(name)
    for name in ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata")
]
# DST changes in 2026 (UTC), and a quiet week, so generated times crowd around the hard nights.
ANCHORS = [
    utc(8, 7),  # New York springs forward
    utc(29, 1),  # Berlin springs forward
    utc(4, 16, month=4),  # Sydney falls back
    utc(15, 12, month=6),
    utc(3, 16, month=10),  # Sydney springs forward
    utc(25, 1, month=10),  # Berlin falls back
    utc(1, 6, month=11),  # New York falls back
]
QUARTER = timedelta(minutes=15)


@st.composite
def work_hours(draw) -> WorkHours:
    """Mostly long days, so zones far apart still share some hours and slots get tested."""
    start = draw(st.integers(min_value=0, max_value=64))
    end = min(96, start + draw(st.integers(min_value=32, max_value=96)))
    weekdays = draw(
        st.one_of(
            st.just(frozenset(range(7))),
            st.just(MONDAY_TO_FRIDAY),
            st.frozensets(st.integers(min_value=0, max_value=6), min_size=3),
        )
    )
    return WorkHours(start * 15, end * 15, weekdays)


@st.composite
def scenarios(draw):
    anchor = draw(st.sampled_from(ANCHORS))
    now = anchor + timedelta(minutes=draw(st.integers(min_value=-4 * 1440, max_value=1440)))
    now = now.astimezone(draw(st.sampled_from([*ZONES, UTC])))
    rules = Rules(
        count=draw(st.integers(min_value=1, max_value=4)),
        buffer=timedelta(minutes=draw(st.sampled_from([0, 5, 15, 30, 60]))),
        min_notice=timedelta(minutes=draw(st.integers(min_value=0, max_value=36 * 60))),
        window=timedelta(hours=draw(st.integers(min_value=6, max_value=6 * 24))),
        user_hours=draw(work_hours()),
        interviewer_hours=draw(work_hours()),
        step=timedelta(minutes=draw(st.sampled_from([15, 20, 30, 45, 60]))),
    )
    start = anchor + QUARTER * draw(st.integers(min_value=-4 * 96, max_value=6 * 96))
    length = timedelta(minutes=draw(st.integers(min_value=10, max_value=240)))
    user_zone, interviewer_zone = draw(st.sampled_from(ZONES)), draw(st.sampled_from(ZONES))
    interview = Interview(
        start.astimezone(user_zone),
        (start + length).astimezone(user_zone),
        user_zone,
        interviewer_zone,
        uid=draw(st.sampled_from(["interview-1", None])),
    )
    events = []
    for _ in range(draw(st.integers(min_value=0, max_value=10))):
        event_start = anchor + timedelta(
            minutes=draw(st.integers(min_value=-5 * 1440, max_value=7 * 1440))
        )
        event_end = event_start + timedelta(minutes=draw(st.integers(min_value=0, max_value=300)))
        zone = draw(st.sampled_from(ZONES))
        events.append(
            BusyEvent(
                uid=draw(st.sampled_from(["interview-1", "a", "b"])),
                summary="event",
                start=event_start.astimezone(zone),
                end=event_end.astimezone(zone),
                status=draw(st.sampled_from([BUSY, TENTATIVE])),
            )
        )
    return interview, events, rules, now


def instant(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def clock_reading(moment: datetime, zone: ZoneInfo) -> timedelta:
    local = moment.astimezone(zone)
    return timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)


def local_days(first: datetime, last: datetime, zone: ZoneInfo) -> list[date]:
    """Every local date from a day before `first` to a day after `last`."""
    day, end = (first - timedelta(days=1)).astimezone(zone).date(), last.astimezone(zone).date()
    days = []
    while day <= end + timedelta(days=1):
        days.append(day)
        day += timedelta(days=1)
    return days


def within_hours(start: datetime, end: datetime, hours: WorkHours, zone: ZoneInfo) -> bool:
    """Inside one local day's working hours."""
    for day in local_days(start, end, zone):
        interval = hours.on(day, zone)
        if interval and instant(interval[0]) <= start and end <= instant(interval[1]):
            return True
    return False


def slot_checks(start, interview, events, rules, now) -> dict[str, bool]:
    """Each rule a slot starting at `start` (UTC) must meet, by name."""
    length = instant(interview.end) - instant(interview.start)
    end = start + length
    blocking = [
        event
        for event in events
        if event.uid != interview.uid and instant(event.start) < instant(event.end)
    ]
    return {
        "after the notice": start >= instant(now) + rules.min_notice,
        "inside the window": end <= instant(now) + rules.window,
        "not the original time": start != instant(interview.start),
        "free with buffer": all(
            end + rules.buffer <= instant(event.start) or instant(event.end) + rules.buffer <= start
            for event in blocking
        ),
        "user hours": within_hours(start, end, rules.user_hours, interview.tz),
        "interviewer hours": within_hours(
            start, end, rules.interviewer_hours, interview.interviewer_tz
        ),
    }


def grid_starts(day: date, zone: ZoneInfo, step: timedelta) -> list[datetime]:
    """Every instant of the local day whose wall clock is a multiple of `step` past midnight."""
    found = set()
    wall = datetime.combine(day, time(0), tzinfo=zone)
    while wall.date() == day:
        for fold in (0, 1):
            moment = instant(wall.replace(fold=fold))
            back = moment.astimezone(zone)
            if (back.date(), back.time()) == (wall.date(), wall.time()):  # the time exists
                found.add(moment)
        wall += step  # same-zone addition moves the wall clock: that is the grid
    return sorted(found)


def oracle(interview, events, rules, now) -> dict[date, list[datetime]]:
    """Every valid start per user-local day, by trying each grid time against each rule."""
    days = local_days(instant(now), instant(now) + rules.window, interview.tz)
    return {
        day: [
            start
            for start in grid_starts(day, interview.tz, rules.step)
            if all(slot_checks(start, interview, events, rules, now).values())
        ]
        for day in days
    }


def best(candidates: list[datetime], interview: Interview) -> datetime:
    target = clock_reading(interview.start, interview.interviewer_tz)
    return min(
        candidates,
        key=lambda start: (abs(clock_reading(start, interview.interviewer_tz) - target), start),
    )


@FAST
@given(scenarios())
def test_proposals_obey_every_rule(scenario):
    interview, events, rules, now = scenario
    proposal = propose(interview, events, rules, now)
    valid = oracle(interview, events, rules, now)
    length = instant(interview.end) - instant(interview.start)
    chosen = starts(proposal)

    assert len(chosen) <= rules.count
    assert chosen == sorted(chosen)
    for slot in proposal.slots:
        assert slot.end - slot.start == length
        failed = [
            rule
            for rule, ok in slot_checks(slot.start, interview, events, rules, now).items()
            if not ok
        ]
        assert failed == []
        assert slot.start in valid[slot.start.astimezone(interview.tz).date()], "off the grid"
    for earlier, later in zip(proposal.slots, proposal.slots[1:], strict=False):
        assert earlier.end <= later.start

    days_with_room = sorted(day for day, found in valid.items() if found)
    chosen_days = sorted({start.astimezone(interview.tz).date() for start in chosen})
    assert chosen_days == days_with_room[: rules.count]  # soonest days, one each when possible
    for day in chosen_days:
        assert best(valid[day], interview) in chosen
    if len(chosen) < rules.count:
        assert proposal.notes
        for day in days_with_room:  # no day had room for one more
            assert all(any(abs(start - taken) < length for taken in chosen) for start in valid[day])
    if len(chosen) > len(chosen_days):
        assert any("same day" in note or "several slots" in note for note in proposal.notes)
