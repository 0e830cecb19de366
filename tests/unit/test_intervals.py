"""Half-open interval arithmetic, including the same-zone wall-clock pitfalls around DST."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.intervals import (
    free_gaps,
    intersect,
    is_empty,
    merge,
    overlaps,
    subtract,
    to_utc,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_to_utc_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        to_utc(datetime(2026, 3, 2, 9, 0))  # noqa: DTZ001 - the naive input is the point


def test_to_utc_keeps_the_instant():
    assert to_utc(datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)) == utc(9)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ((utc(9), utc(10)), (utc(10), utc(11)), False),  # touching
        ((utc(9), utc(11)), (utc(10), utc(12)), True),  # partial
        ((utc(9), utc(12)), (utc(10), utc(11)), True),  # containment
        ((utc(10), utc(11)), (utc(9), utc(12)), True),  # contained
        ((utc(10), utc(10)), (utc(9), utc(12)), False),  # zero-length inside
        ((utc(9), utc(10)), (utc(11), utc(12)), False),  # apart
    ],
)
def test_overlaps_is_half_open(first, second, expected):
    assert overlaps(first, second) is expected
    assert overlaps(second, first) is expected


def test_overlaps_compares_instants_across_zones():
    berlin_ten = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)  # 09:00 UTC
    new_york_four = datetime(2026, 3, 2, 4, 0, tzinfo=NEW_YORK)  # 09:00 UTC
    assert overlaps((berlin_ten, berlin_ten + timedelta(hours=1)), (utc(8), new_york_four)) is False
    assert overlaps((berlin_ten, berlin_ten + timedelta(hours=1)), (utc(8), utc(9, 1))) is True


def test_is_empty():
    assert is_empty((utc(9), utc(9)))
    assert not is_empty((utc(9), utc(9, 1)))


def test_merge_joins_overlapping_and_touching_and_drops_empty():
    merged = merge(
        [
            (utc(13), utc(14)),
            (utc(9), utc(10)),
            (utc(10), utc(11)),  # touches the 9:00 one
            (utc(10, 30), utc(10, 45)),  # inside
            (utc(12), utc(12)),  # empty
            (utc(13, 30), utc(15)),
        ]
    )
    assert merged == [(utc(9), utc(11)), (utc(13), utc(15))]
    assert all(start.tzinfo is UTC and end.tzinfo is UTC for start, end in merged)


def test_merge_sorts_by_instant_not_by_wall_clock_in_the_repeated_hour():
    # 25 Oct 2026, Berlin falls back at 03:00 CEST -> 02:00 CET; 02:00-03:00 happens twice.
    second_0230 = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)  # 01:30 UTC
    first_0245 = datetime(2026, 10, 25, 2, 45, tzinfo=BERLIN)  # 00:45 UTC
    later = (second_0230, datetime(2026, 10, 25, 1, 40, tzinfo=UTC))
    earlier = (first_0245, datetime(2026, 10, 25, 0, 55, tzinfo=UTC))
    assert second_0230 < first_0245  # the wall-clock comparison gets it wrong
    assert merge([later, earlier]) == [
        (datetime(2026, 10, 25, 0, 45, tzinfo=UTC), datetime(2026, 10, 25, 0, 55, tzinfo=UTC)),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 40, tzinfo=UTC)),
    ]


def test_intersect_keeps_touching_pieces_apart():
    days = [(utc(0, day=2), utc(0, day=3)), (utc(0, day=3), utc(0, day=4))]
    assert intersect([(utc(20, day=2), utc(4, day=3))], days) == [
        (utc(20, day=2), utc(0, day=3)),
        (utc(0, day=3), utc(4, day=3)),
    ]


def test_intersect_of_several_intervals():
    first = [(utc(8), utc(10)), (utc(11), utc(15))]
    second = [(utc(9), utc(12)), (utc(14), utc(16))]
    assert intersect(first, second) == [(utc(9), utc(10)), (utc(11), utc(12)), (utc(14), utc(15))]
    assert intersect(first, [(utc(10), utc(11))]) == []


def test_subtract_leaves_the_gaps():
    holes = merge([(utc(10), utc(11)), (utc(12), utc(13)), (utc(20), utc(21))])
    assert subtract((utc(9), utc(14)), holes) == [
        (utc(9), utc(10)),
        (utc(11), utc(12)),
        (utc(13), utc(14)),
    ]


def test_subtract_with_holes_covering_the_ends_or_everything():
    assert subtract((utc(9), utc(12)), merge([(utc(8), utc(10)), (utc(11), utc(13))])) == [
        (utc(10), utc(11))
    ]
    assert subtract((utc(9), utc(12)), merge([(utc(8), utc(13))])) == []
    assert subtract((utc(9), utc(12)), []) == [(utc(9), utc(12))]


def test_free_gaps_accepts_unsorted_overlapping_busy_times():
    busy = [(utc(11), utc(12)), (utc(9, 30), utc(10, 30)), (utc(10), utc(11))]
    assert free_gaps((utc(9), utc(13)), busy) == [(utc(9), utc(9, 30)), (utc(12), utc(13))]


def test_free_gap_lengths_are_elapsed_time_across_spring_forward():
    # 29 Mar 2026: Berlin jumps from 02:00 CET to 03:00 CEST; 01:00-04:00 local is two hours.
    night = (
        datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN),
        datetime(2026, 3, 29, 4, 0, tzinfo=BERLIN),
    )
    assert night[1] - night[0] == timedelta(hours=3)  # wall-clock subtraction: wrong
    ((start, end),) = free_gaps(night, [])
    assert end - start == timedelta(hours=2)
