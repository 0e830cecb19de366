"""Every real-world calendar in the shared corpus parses or is rejected with a clear error."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_providers import ics_prefilter
from calendar_providers.base import InvalidCalendar
from calendar_providers.ics import IcsProvider
from tests.conftest import CORPUS

BERLIN = ZoneInfo("Europe/Berlin")
FILES = sorted(CORPUS.glob("*.ics"))
_ROW = re.compile(r"^\| \d+ \| `([^`]+)` \|.*\| (valid|quirky|\*\*MALFORMED\*\*) \|", re.M)
CLASSES = dict(_ROW.findall((CORPUS / "MANIFEST.md").read_text(encoding="utf-8")))
_FIRST_START = re.compile(rb"BEGIN:VEVENT.*?\nDTSTART[^:\n]*:(\d{8})", re.S)


def window(path):
    """Thirty days before the file's first event to a year after it."""
    found = _FIRST_START.search(path.read_bytes())
    digits = found.group(1).decode() if found else "20200101"
    first = datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:]), tzinfo=BERLIN)
    return first - timedelta(days=30), first + timedelta(days=400)


def read(path):
    start, end = window(path)
    return IcsProvider(str(path)).busy(start, end, BERLIN)


def test_the_corpus_is_there_and_classified():
    assert len(FILES) == 79
    assert {path.name for path in FILES} == set(CLASSES)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_file_parses_or_is_rejected_clearly(path):
    try:
        report = read(path)
    except InvalidCalendar as error:
        message = str(error)
        assert CLASSES[path.name] == "**MALFORMED**", f"a {CLASSES[path.name]} file was refused"
        assert message.startswith(path.name) and "\n" not in message and len(message) < 300
        return
    for event in report.events:
        assert event.start.utcoffset() is not None and event.start < event.end
    for note in report.notes:
        assert note.startswith(path.name) and "\n" not in note


MALFORMED_OUTCOMES = {
    # file: (refused, a note names the broken part, busy events still read)
    "ical__empty.ics": "refused",
    "icalendar__fuzz_testcase_vtimezone_lone_cr.ics": "refused",
    "icalendar__issue_104_broken_calendar.ics": "refused",
    "khal__event_d_no_value.ics": "refused",
    "khal__invalid_tzoffset.ics": "refused",
    "nodeical__test_with_multiple_tzids_in_vtimezone.ics": "refused",
    "icalendar__broken_ical.ics": "noted",
    "icalendar__parsing_error.ics": "noted",
    "rie__bad_rrule_missing_until_event.ics": "noted",
    "nodeical__bad_custom_ms_tz.ics": "noted",
    "nodeical__ms_timezones.ics": "noted",
}


@pytest.mark.parametrize("name", sorted(MALFORMED_OUTCOMES))
def test_malformed_files_name_what_is_wrong(name):
    path = CORPUS / name
    if MALFORMED_OUTCOMES[name] == "refused":
        with pytest.raises(InvalidCalendar):
            read(path)
    else:
        assert any(note.startswith(name + ": Skipped") for note in read(path).notes)


def test_one_broken_event_does_not_lose_the_valid_rest():
    report = read(CORPUS / "nodeical__ms_timezones.ics")
    assert len({event.uid for event in report.events}) >= 2


def test_mended_rule_is_expanded():
    """A Google export whose RRULE has spaces after commas reads as the rule it means."""
    path = CORPUS / "icalendar__issue_165_missing_event.ics"
    report = IcsProvider(str(path)).busy(
        datetime(2015, 7, 13, tzinfo=BERLIN), datetime(2015, 7, 25, tzinfo=BERLIN), BERLIN
    )
    assert any("Read the malformed repeat rule" in note for note in report.notes)
    days = sorted({event.start.date().isoformat() for event in report.events})
    assert days == [
        "2015-07-13",
        "2015-07-14",
        "2015-07-15",
        "2015-07-16",
        "2015-07-17",
        "2015-07-20",
        "2015-07-21",
        "2015-07-22",
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_prefilter_changes_nothing_but_speed(path, monkeypatch):
    """The raw-text prefilter must give exactly what parsing the whole file gives."""
    try:
        filtered = read(path)
    except InvalidCalendar:
        return
    monkeypatch.setattr(ics_prefilter, "_may_touch", lambda *_: True)
    whole = read(path)
    assert sorted(map(repr, filtered.events)) == sorted(map(repr, whole.events))


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_prefilter_is_exact_on_narrow_windows(path, monkeypatch):
    """Week-long windows across each file, where the prefilter really drops events."""
    start, _ = window(path)
    windows = [
        (start + timedelta(days=23 * k), start + timedelta(days=23 * k + 7)) for k in range(16)
    ]

    def busy_in_all_windows():
        provider = IcsProvider(str(path))
        return [sorted(map(repr, provider.busy(*span, BERLIN).events)) for span in windows]

    try:
        filtered = busy_in_all_windows()
    except InvalidCalendar:
        return
    monkeypatch.setattr(ics_prefilter, "_may_touch", lambda *_: True)
    assert busy_in_all_windows() == filtered
