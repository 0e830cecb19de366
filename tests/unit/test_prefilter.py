"""The raw-text prefilter drops what cannot touch the window, and nothing else."""

import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_providers import ics_prefilter
from calendar_providers.ics import IcsProvider
from calendar_providers.ics_prefilter import prefilter
from tests.conftest import SHARED

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2025, 10, 13, tzinfo=BERLIN), datetime(2025, 11, 12, tzinfo=BERLIN))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The benchmark's deterministic 1,000-event calendar (Berlin, overrides, DST, all-day...)."""
    path = tmp_path_factory.mktemp("bench") / "cal_1000_1y.ics"
    subprocess.run(
        [
            sys.executable,
            str(SHARED / "bench" / "gen_calendar.py"),
            "--events",
            "1000",
            "--years",
            "1",
            "--seed",
            "1",
            "--out",
            str(path),
        ],
        check=True,
    )
    return path


def test_drops_most_of_a_year_for_a_month(generated):
    result = prefilter(generated.read_bytes(), *WINDOW)
    assert result.dropped > 700 and result.kept + result.dropped == 1000 and result.cut == 0


def test_generated_calendar_gives_the_same_busy_time(generated, monkeypatch):
    provider = IcsProvider(str(generated))
    filtered = provider.busy(*WINDOW, BERLIN)
    monkeypatch.setattr(ics_prefilter, "_may_touch", lambda *_: True)
    whole = provider.busy(*WINDOW, BERLIN)
    assert sorted(map(repr, filtered.events)) == sorted(map(repr, whole.events))
    assert len(filtered.events) > 150


def block(*lines):
    return "\r\n".join(["BEGIN:VEVENT", *lines, "END:VEVENT"]) + "\r\n"


def calendar(*blocks):
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
    return (head + "".join(blocks) + "END:VCALENDAR\r\n").encode()


def kept_uids(data):
    text = prefilter(data, *WINDOW).data.decode()
    return sorted(line[4:] for line in text.splitlines() if line.startswith("UID:"))


def test_keeps_series_and_overrides_that_touch_the_window():
    data = calendar(
        block("UID:old", "DTSTART:20200101T100000Z", "DTEND:20200101T110000Z"),
        block("UID:near", "DTSTART:20251020T100000Z", "DTEND:20251020T110000Z"),
        block("UID:long", "DTSTART;VALUE=DATE:20250901", "DTEND;VALUE=DATE:20251231"),
        block("UID:weeks", "DTSTART:20250901T100000Z", "DURATION:P8W"),
        block("UID:series", "DTSTART:20200101T100000Z", "DURATION:PT1H", "RRULE:FREQ=WEEKLY"),
        block(
            "UID:series",
            "RECURRENCE-ID:20251020T100000Z",
            "DTSTART:20260301T100000Z",
            "DTEND:20260301T110000Z",
        ),
        block(
            "UID:series",
            "RECURRENCE-ID:20200108T100000Z",
            "DTSTART:20200109T100000Z",
            "DTEND:20200109T110000Z",
        ),
        block("UID:unreadable", "DTSTART:garbage"),
        block("UID:folded", "DTSTART:2025", " 1021T100000Z"),
    )
    assert kept_uids(data) == ["folded", "long", "near", "series", "series", "unreadable", "weeks"]


def test_alarm_durations_do_not_decide_and_alarms_are_removed():
    data = calendar(
        block(
            "UID:alarmed",
            "DTSTART:20251020T100000Z",
            "BEGIN:VALARM",
            "TRIGGER:PT-2H",
            "DURATION:PT15M",
            "ACTION:DISPLAY",
            "END:VALARM",
            "DTEND:20251020T110000Z",
        ),
    )
    result = prefilter(data, *WINDOW).data
    assert b"VALARM" not in result and b"UID:alarmed" in result


def test_a_flood_near_the_window_is_cut(monkeypatch):
    monkeypatch.setattr(ics_prefilter, "MAX_EVENTS", 10)
    start = datetime(2025, 10, 20, 8, tzinfo=BERLIN)
    blocks = [
        block(f"UID:{n}", f"DTSTART:{(start + timedelta(minutes=n)):%Y%m%dT%H%M%S}")
        for n in range(25)
    ]
    result = prefilter(calendar(*blocks), *WINDOW)
    assert (result.kept, result.cut, result.dropped) == (10, 15, 0)
