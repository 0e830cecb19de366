"""propose() across DST changes, table-driven, with exact UTC instants worked out by hand.

2026 changes used here: Europe/Berlin 29 Mar and 25 Oct (last Sundays, 01:00 UTC);
America/New_York 8 Mar and 1 Nov (second / first Sunday, 02:00 local);
Australia/Sydney 5 Apr (ends) and 4 Oct (starts) (first Sundays).
Between 8 and 29 March, and between 25 October and 1 November, New York is four hours behind
UTC while Berlin is one hour ahead, so their shared working hours are an hour longer.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.model import BusyEvent, Interview, Rules, WorkHours
from app.scheduling.proposals import propose

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
EVERY_DAY = frozenset(range(7))
AROUND_THE_CLOCK = WorkHours(0, 24 * 60, EVERY_DAY)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def local(zone: ZoneInfo, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def starts(proposal) -> list[datetime]:
    return [slot.start for slot in proposal.slots]


def busy_except(free_from: datetime, free_until: datetime) -> list[BusyEvent]:
    """A calendar busy for weeks around the night in question, except [free_from, free_until)."""
    return [
        BusyEvent("before", "before", free_from - timedelta(days=30), free_from),
        BusyEvent("after", "after", free_until, free_until + timedelta(days=30)),
    ]


@pytest.mark.parametrize(
    ("zone", "saturday", "expected"),
    [
        # Saturday 10:00 before the change + 48 h elapsed notice; Monday is shaped by the notice.
        pytest.param(
            BERLIN, (3, 28), [utc(3, 30, 9), utc(3, 31, 8), utc(4, 1, 8)], id="Berlin-spring"
        ),
        pytest.param(
            BERLIN, (10, 24), [utc(10, 26, 9), utc(10, 27, 9), utc(10, 28, 9)], id="Berlin-autumn"
        ),
        pytest.param(
            NEW_YORK, (3, 7), [utc(3, 9, 15), utc(3, 10, 14), utc(3, 11, 14)], id="NewYork-spring"
        ),
        pytest.param(
            NEW_YORK,
            (10, 31),
            [utc(11, 2, 15), utc(11, 3, 15), utc(11, 4, 15)],
            id="NewYork-autumn",
        ),
        pytest.param(
            SYDNEY, (4, 4), [utc(4, 6, 0), utc(4, 7, 0), utc(4, 8, 0)], id="Sydney-DST-ends"
        ),
        pytest.param(
            SYDNEY, (10, 3), [utc(10, 5, 0), utc(10, 5, 23), utc(10, 6, 23)], id="Sydney-DST-starts"
        ),
    ],
)
def test_slots_across_a_change_weekend(zone, saturday, expected):
    """Mon-Fri 09:00-17:00 for both, original at 10:00 on the Friday before the change.

    Spring: 48 h after Saturday 10:00 it is Monday 11:00 on the new clock, so Monday's slot is
    11:00 (wall-clock arithmetic would wrongly allow 10:00). Autumn: it is Monday 09:00, so 10:00.
    Tuesday and Wednesday are 10:00 on the new clock.
    """
    month, day = saturday
    friday_ten = local(zone, month, day - 1, 10)
    interview = Interview(friday_ten, friday_ten + timedelta(hours=1), zone, zone)
    rules = Rules(min_notice=timedelta(hours=48))
    proposal = propose(interview, [], rules, local(zone, month, day, 10))
    assert starts(proposal) == expected
    assert [slot.end - slot.start for slot in proposal.slots] == [timedelta(hours=1)] * 3


# Berlin user, New York interviewer, both Mon-Fri 09:00-17:00, searched over one Monday.
# Shared hours in UTC: 14:00-16:00 when both are on winter (or both on summer: 13:00-15:00) time,
# 13:00-16:00 in the weeks when New York has changed and Berlin has not.
MIXED_WEEKS = [
    pytest.param((3, 2), [utc(3, 2, 14), utc(3, 2, 15)], id="both-winter"),
    pytest.param((3, 9), [utc(3, 9, 13), utc(3, 9, 14), utc(3, 9, 15)], id="US-changed-9-Mar"),
    pytest.param((3, 23), [utc(3, 23, 13), utc(3, 23, 14), utc(3, 23, 15)], id="US-changed-23-Mar"),
    pytest.param((3, 30), [utc(3, 30, 13), utc(3, 30, 14)], id="both-summer"),
    pytest.param((10, 26), [utc(10, 26, 13), utc(10, 26, 14), utc(10, 26, 15)], id="EU-back-Oct"),
    pytest.param((11, 2), [utc(11, 2, 14), utc(11, 2, 15)], id="both-winter-again"),
]


def berlin_user_new_york_interviewer(monday: tuple[int, int], length: timedelta) -> Interview:
    """Originally on the Friday before, 09:00 on the interviewer's clock."""
    friday = date(2026, *monday) - timedelta(days=3)
    friday_nine = datetime.combine(friday, time(9), tzinfo=NEW_YORK)
    return Interview(friday_nine, friday_nine + length, BERLIN, NEW_YORK, uid="interview-1")


@pytest.mark.parametrize(("monday", "expected"), MIXED_WEEKS)
def test_shared_hours_grow_by_an_hour_while_only_one_side_has_changed(monday, expected):
    interview = berlin_user_new_york_interviewer(monday, timedelta(hours=1))
    rules = Rules(count=3, min_notice=timedelta(0), window=timedelta(days=1))
    proposal = propose(interview, [], rules, utc(*monday, 0))
    assert starts(proposal) == expected
    assert proposal.slots[0].start.astimezone(NEW_YORK).time() == time(9, 0)
    if len(expected) < 3:
        assert proposal.notes[0] == "Only 2 free slots in the next 24 hours."
        assert "overlap for only 2 hours" in proposal.notes[1]


@pytest.mark.parametrize(("monday", "expected"), MIXED_WEEKS)
def test_a_three_hour_interview_fits_only_in_the_mixed_weeks(monday, expected):
    interview = berlin_user_new_york_interviewer(monday, timedelta(hours=3))
    rules = Rules(count=1, min_notice=timedelta(0), window=timedelta(days=1))
    proposal = propose(interview, [], rules, utc(*monday, 0))
    if len(expected) == 3:
        assert [(slot.start, slot.end) for slot in proposal.slots] == [
            (expected[0], expected[0] + timedelta(hours=3))
        ]
        assert proposal.notes == ()
    else:
        assert proposal.slots == ()
        assert proposal.notes == (
            "No free slot in the next 24 hours.",
            "Your working hours (09:00-17:00 Europe/Berlin) and the interviewer's "
            "(09:00-17:00 America/New_York) overlap by at most 2 hours a day, "
            "less than the interview's 3 hours.",
        )


@pytest.mark.parametrize(
    ("free_from", "free_until", "end_on_the_wall"),
    [
        # 01:00 CET to 05:00 CEST: four hours on the clock, three elapsed.
        pytest.param(utc(3, 29, 0), utc(3, 29, 3), time(5, 0), id="spring-forward"),
        # 02:00 CEST to 04:00 CET: two hours on the clock, three elapsed.
        pytest.param(utc(10, 25, 0), utc(10, 25, 3), time(4, 0), id="fall-back"),
    ],
)
def test_a_slot_across_the_change_night_lasts_the_interview_elapsed_length(
    free_from, free_until, end_on_the_wall
):
    three_hours = timedelta(hours=3)
    aim = free_from.astimezone(BERLIN).replace(day=10)  # same clock time on another day
    interview = Interview(aim, aim + three_hours, BERLIN, BERLIN)
    rules = Rules(
        count=1,
        buffer=timedelta(0),
        min_notice=timedelta(0),
        user_hours=AROUND_THE_CLOCK,
        interviewer_hours=AROUND_THE_CLOCK,
    )
    proposal = propose(interview, busy_except(free_from, free_until), rules, free_from)
    ((start, end),) = [(slot.start, slot.end) for slot in proposal.slots]
    assert (start, end) == (free_from, free_until)
    assert end.astimezone(BERLIN).time() == end_on_the_wall


def test_an_original_interview_spanning_the_change_keeps_its_elapsed_length():
    # 01:00 CET to 04:00 CEST on 29 March is two hours, although the clock moves by three.
    start, end = local(BERLIN, 3, 29, 1), local(BERLIN, 3, 29, 4)
    interview = Interview(start, end, BERLIN, BERLIN)
    rules = Rules(count=1, min_notice=timedelta(0))
    proposal = propose(interview, [], rules, local(BERLIN, 3, 30, 0))
    (slot,) = proposal.slots
    assert slot.end - slot.start == timedelta(hours=2)


def test_the_repeated_hour_offers_both_of_its_times():
    # 25 Oct: 02:00 happens at 00:00 UTC (CEST) and again at 01:00 UTC (CET).
    half_hour = timedelta(minutes=30)
    aim = local(BERLIN, 10, 18, 2)
    interview = Interview(aim, aim + half_hour, BERLIN, BERLIN)
    rules = Rules(
        count=2,
        buffer=timedelta(0),
        min_notice=timedelta(0),
        user_hours=AROUND_THE_CLOCK,
        interviewer_hours=AROUND_THE_CLOCK,
        step=timedelta(hours=1),
    )
    free_from, free_until = utc(10, 25, 0), utc(10, 25, 2)
    proposal = propose(interview, busy_except(free_from, free_until), rules, free_from)
    assert starts(proposal) == [utc(10, 25, 0), utc(10, 25, 1)]
    assert [slot.start.astimezone(BERLIN).time() for slot in proposal.slots] == [time(2)] * 2
    assert proposal.notes == ("Both slots are on the same day: only one day had room.",)


def test_the_grid_skips_the_missing_hour_and_stays_on_the_clock_after_it():
    # 29 Mar, free 01:00 CET to 05:00 CEST, a 45-minute grid from midnight: 01:30, (02:15 never
    # happens), 03:00, 03:45, 04:30. Stepping on in UTC after the jump would give 03:15 instead.
    half_hour = timedelta(minutes=30)
    aim = local(BERLIN, 3, 20, 3)
    interview = Interview(aim, aim + half_hour, BERLIN, BERLIN)
    rules = Rules(
        count=5,
        buffer=timedelta(0),
        min_notice=timedelta(0),
        user_hours=AROUND_THE_CLOCK,
        interviewer_hours=AROUND_THE_CLOCK,
        step=timedelta(minutes=45),
    )
    free_from, free_until = utc(3, 29, 0), utc(3, 29, 3)
    proposal = propose(interview, busy_except(free_from, free_until), rules, free_from)
    assert starts(proposal) == [
        utc(3, 29, 0, 30),
        utc(3, 29, 1),
        utc(3, 29, 1, 45),
        utc(3, 29, 2, 30),
    ]
    assert [slot.start.astimezone(BERLIN).time() for slot in proposal.slots] == [
        time(1, 30),
        time(3, 0),
        time(3, 45),
        time(4, 30),
    ]
    assert proposal.notes[0] == "Only 4 free slots in the next 14 days."


@pytest.mark.parametrize(
    "now",
    [
        pytest.param(utc(2, 2, 0), id="February: Sydney summer time, Berlin winter time"),
        pytest.param(utc(7, 6, 0), id="July: Sydney winter time, Berlin summer time"),
        pytest.param(utc(3, 30, 0), id="after Berlin sprang forward, before Sydney fell back"),
    ],
)
def test_sydney_and_berlin_office_hours_never_meet(now):
    # Sydney 09:00-17:00 is 22:00-07:00 UTC at its widest; Berlin 09:00-17:00 is 07:00-16:00.
    aim = now + timedelta(days=1)
    interview = Interview(aim, aim + timedelta(hours=1), SYDNEY, BERLIN)
    proposal = propose(interview, [], Rules(), now)
    assert proposal.slots == ()
    assert proposal.notes == (
        "No free slot in the next 14 days.",
        "Your working hours (09:00-17:00 Australia/Sydney) and the interviewer's "
        "(09:00-17:00 Europe/Berlin) do not overlap on any day in the next 14 days.",
    )
