"""The value types refuse what would make time ambiguous, and measure time in elapsed terms."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.model import BusyEvent, Interview, Rules, Slot, WorkHours

BERLIN = ZoneInfo("Europe/Berlin")


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Slot(datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 11, tzinfo=BERLIN))  # noqa: DTZ001


def test_interview_duration_is_elapsed_time_across_the_spring_change():
    start = datetime(2026, 3, 29, 1, tzinfo=BERLIN)
    interview = Interview(start, datetime(2026, 3, 29, 4, tzinfo=BERLIN), BERLIN, BERLIN)
    assert interview.duration == timedelta(hours=2)


def test_an_event_over_the_autumn_change_is_valid_and_a_backwards_one_is_not():
    start = datetime(2026, 10, 25, 2, 45, tzinfo=BERLIN)  # the first 02:45 (summer time)
    end = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)  # the second 02:30 (winter time)
    event = BusyEvent("u", "Night", start, end)
    assert event.end.astimezone(UTC) - event.start.astimezone(UTC) == timedelta(minutes=45)
    with pytest.raises(ValueError, match="before it starts"):
        BusyEvent("u", "Back", datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN), start)


def test_slots_sort_by_instant_not_by_wall_clock():
    early = Slot(
        datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN), datetime(2026, 10, 25, 3, tzinfo=BERLIN)
    )
    late = Slot(
        datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN),
        datetime(2026, 10, 25, 4, tzinfo=BERLIN),
    )
    assert sorted([late, early]) == [early, late]


@pytest.mark.parametrize("text", ["17:00-09:00", "9-5", "09:00-25:00", "09:60-10:00", ""])
def test_bad_working_hours_are_refused(text):
    with pytest.raises(ValueError, match="working hours"):
        WorkHours.parse(text)


def test_working_hours_may_end_at_midnight():
    hours = WorkHours.parse("18:00-24:00")
    assert hours.on(date(2026, 3, 2), BERLIN) == (
        datetime(2026, 3, 2, 18, tzinfo=BERLIN),
        datetime(2026, 3, 3, tzinfo=BERLIN),
    )
    assert hours.on(date(2026, 3, 7), BERLIN) is None  # a Saturday
    assert str(hours) == "18:00-24:00"


def test_rules_refuse_nonsense():
    with pytest.raises(ValueError):
        Rules(count=0)
    with pytest.raises(ValueError):
        Rules(buffer=timedelta(minutes=-5))
