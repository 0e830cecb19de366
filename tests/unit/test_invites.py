"""Invites written by Newslot, read back with icalendar (ical.js reads them in tests/interop)."""

from __future__ import annotations

import bisect
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from app.messages.invites import (
    Attendee,
    InviteError,
    InviteEvent,
    Person,
    build_invite,
    new_uid,
    parse_person,
)
from app.messages.vtimezone import vtimezone

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 20, 9, 15, 30, tzinfo=UTC)
JOSE = Person("José Núñez, Jr.", "jose@example.org")
WANG = Person("王芳", "wang.fang@example.cn")
ALEX = Person("Alex Doe", "alex@example.com")


def interview(**changes: object) -> InviteEvent:
    values: dict[str, object] = {
        "uid": "interview-42@newslot.example",
        "summary": "Interview: Backend engineer",
        "start": datetime(2026, 4, 2, 10, 0, tzinfo=BERLIN),
        "end": datetime(2026, 4, 2, 11, 0, tzinfo=BERLIN),
        "organizer": JOSE,
        "attendees": (Attendee(WANG), Attendee(ALEX, role="OPT-PARTICIPANT", rsvp=False)),
        "sequence": 3,
        "location": "Room 4; 2nd floor, Main St. 1",
        "url": "https://meet.google.com/abc-defg-hij",
        "description": "Second round.\nBring your portfolio.",
    }
    values.update(changes)
    return InviteEvent(**values)  # type: ignore[arg-type]


def read(ics: bytes) -> tuple[Calendar, Event]:
    """The calendar and its only event, as icalendar parses them."""
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def addresses(event: Event) -> dict[str, dict[str, str]]:
    attendees = event.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    return {attendee.email: dict(attendee.params) for attendee in attendees}


def test_request_carries_every_field_the_issue_lists() -> None:
    calendar, event = read(build_invite("REQUEST", interview(), NOW))

    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert event["UID"] == "interview-42@newslot.example"
    assert event["SEQUENCE"] == 3
    assert event["STATUS"] == "CONFIRMED"
    assert event["SUMMARY"] == "Interview: Backend engineer"
    assert event["DESCRIPTION"] == "Second round.\nBring your portfolio."
    assert event["LOCATION"] == "Room 4; 2nd floor, Main St. 1"
    assert event["URL"] == "https://meet.google.com/abc-defg-hij"
    assert event["DTSTAMP"].dt == NOW
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.start == datetime(2026, 4, 2, 10, 0, tzinfo=BERLIN)
    assert event.end == datetime(2026, 4, 2, 11, 0, tzinfo=BERLIN)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert event["ORGANIZER"] == "mailto:jose@example.org"
    assert event["ORGANIZER"].params["CN"] == "José Núñez, Jr."
    assert addresses(event) == {
        "wang.fang@example.cn": {
            "CN": "王芳",
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        },
        "alex@example.com": {
            "CN": "Alex Doe",
            "ROLE": "OPT-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "FALSE",
        },
    }


def test_the_file_uses_crlf_lines_folded_at_75_octets() -> None:
    ics = build_invite("REQUEST", interview(description="ü" * 200), NOW)

    lines = ics.split(b"\r\n")
    assert ics.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 75


def test_dtstamp_is_the_utc_instant_of_each_message() -> None:
    first = build_invite("REQUEST", interview(), datetime(2026, 3, 20, 5, 0, tzinfo=NEW_YORK))
    second = build_invite("REQUEST", interview(), datetime(2026, 3, 21, 5, 0, tzinfo=NEW_YORK))

    assert b"DTSTAMP:20260320T090000Z" in first
    assert b"DTSTAMP:20260321T090000Z" in second


def test_a_new_time_for_the_users_own_event_keeps_the_uid_and_raises_the_sequence() -> None:
    original = interview(sequence=0)
    moved = original.revised(
        start=datetime(2026, 4, 3, 14, 0, tzinfo=BERLIN),
        end=datetime(2026, 4, 3, 15, 0, tzinfo=BERLIN),
    )

    _, event = read(build_invite("REQUEST", moved, NOW))

    assert event["UID"] == original.uid
    assert event["SEQUENCE"] == 1
    assert event.start == datetime(2026, 4, 3, 14, 0, tzinfo=BERLIN)


def test_cancel_has_the_same_uid_the_given_sequence_and_status_cancelled() -> None:
    cancelled = interview(sequence=1).revised()

    calendar, event = read(build_invite("CANCEL", cancelled, NOW))

    assert calendar["METHOD"] == "CANCEL"
    assert event["UID"] == "interview-42@newslot.example"
    assert event["SEQUENCE"] == 2
    assert event["STATUS"] == "CANCELLED"
    assert set(addresses(event)) == {"wang.fang@example.cn", "alex@example.com"}


def test_reply_holds_exactly_the_answering_attendee_declining_with_the_same_sequence() -> None:
    calendar, event = read(build_invite("REPLY", interview(), NOW, answering=WANG))

    assert calendar["METHOD"] == "REPLY"
    assert event["UID"] == "interview-42@newslot.example"
    assert event["SEQUENCE"] == 3
    assert addresses(event) == {"wang.fang@example.cn": {"CN": "王芳", "PARTSTAT": "DECLINED"}}
    assert event["ORGANIZER"] == "mailto:jose@example.org"
    assert "STATUS" not in event


@pytest.mark.parametrize("answer", ["ACCEPTED", "tentative", "DECLINED"])
def test_reply_states_the_answer_given(answer: str) -> None:
    _, event = read(build_invite("REPLY", interview(), NOW, answering=ALEX, partstat=answer))

    assert addresses(event)["alex@example.com"]["PARTSTAT"] == answer.upper()


def test_counter_proposes_its_own_time_from_the_answering_attendee() -> None:
    proposal = interview(
        start=datetime(2026, 4, 7, 9, 30, tzinfo=BERLIN),
        end=datetime(2026, 4, 7, 10, 30, tzinfo=BERLIN),
    )

    calendar, event = read(
        build_invite("COUNTER", proposal, NOW, answering=WANG, partstat="TENTATIVE")
    )

    assert calendar["METHOD"] == "COUNTER"
    assert event["SEQUENCE"] == 3
    assert event.start == datetime(2026, 4, 7, 9, 30, tzinfo=BERLIN)
    assert event.end == datetime(2026, 4, 7, 10, 30, tzinfo=BERLIN)
    assert addresses(event) == {"wang.fang@example.cn": {"CN": "王芳", "PARTSTAT": "TENTATIVE"}}


@pytest.mark.parametrize(
    ("method", "kwargs", "reason"),
    [
        ("PUBLISH", {}, "method must be one of"),
        ("REPLY", {}, "which attendee is answering"),
        ("COUNTER", {}, "which attendee is answering"),
        ("REPLY", {"answering": WANG, "partstat": "MAYBE"}, "answer must be one of"),
    ],
)
def test_invites_that_make_no_sense_are_refused(
    method: str, kwargs: dict[str, object], reason: str
) -> None:
    with pytest.raises(InviteError, match=reason):
        build_invite(method, interview(), NOW, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL", "REPLY", "COUNTER"])
def test_every_message_needs_the_organizer(method: str) -> None:
    with pytest.raises(InviteError, match="organizer's address"):
        build_invite(method, interview(organizer=None), NOW, answering=WANG)


def test_now_must_be_aware() -> None:
    with pytest.raises(InviteError, match="timezone-aware"):
        build_invite("REQUEST", interview(), datetime(2026, 3, 20, 9, 0))  # noqa: DTZ001


@pytest.mark.parametrize("utc", [UTC, ZoneInfo("UTC"), ZoneInfo("Etc/UTC")])
def test_utc_events_are_plain_z_times_without_vtimezone(utc: timezone | ZoneInfo) -> None:
    event = interview(
        start=datetime(2026, 4, 2, 8, 0, tzinfo=utc), end=datetime(2026, 4, 2, 9, 0, tzinfo=utc)
    )

    ics = build_invite("REQUEST", event, NOW)

    assert b"DTSTART:20260402T080000Z\r\n" in ics
    assert b"DTEND:20260402T090000Z\r\n" in ics
    assert b"VTIMEZONE" not in ics


def test_a_zone_without_an_iana_name_is_written_as_the_same_instant_in_utc() -> None:
    plus_five = timezone(timedelta(hours=5, minutes=30))
    event = interview(
        start=datetime(2026, 4, 2, 14, 0, tzinfo=plus_five),
        end=datetime(2026, 4, 2, 15, 0, tzinfo=plus_five),
    )

    ics = build_invite("REQUEST", event, NOW)

    assert b"DTSTART:20260402T083000Z\r\n" in ics
    assert b"VTIMEZONE" not in ics


def test_start_and_end_in_different_zones_each_get_their_vtimezone() -> None:
    event = interview(
        start=datetime(2026, 4, 2, 10, 0, tzinfo=BERLIN),
        end=datetime(2026, 4, 2, 5, 0, tzinfo=NEW_YORK),
    )

    calendar, parsed = read(build_invite("REQUEST", event, NOW))

    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [
        "Europe/Berlin",
        "America/New_York",
    ]
    assert parsed.end - parsed.start == timedelta(hours=1)


@pytest.mark.parametrize(
    "name",
    ["José Núñez", "王芳", 'Smith, John "JJ"', "O'Brien: Sales; EMEA", "Ünïcødé ✓"],
)
def test_display_names_survive_the_calendar_file(name: str) -> None:
    _, event = read(
        build_invite("REQUEST", interview(organizer=Person(name, "o@example.org")), NOW)
    )

    assert event["ORGANIZER"].params["CN"] == name


# --- People and events ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("José <j@x.org>", Person("José", "j@x.org")),
        ('"Smith, John" <john@example.com>', Person("Smith, John", "john@example.com")),
        ("  王芳<wang@example.cn> ", Person("王芳", "wang@example.cn")),
        ("<bare@example.com>", Person("", "bare@example.com")),
        ("bare@example.com", Person("", "bare@example.com")),
    ],
)
def test_parse_person(text: str, expected: Person) -> None:
    assert parse_person(text) == expected


@pytest.mark.parametrize("text", ["no address", "Bob <>", "Bob <bob@example.com> <x@y.org>"])
def test_parse_person_refuses_text_without_one_address(text: str) -> None:
    with pytest.raises(InviteError, match="not an email address"):
        parse_person(text)


@pytest.mark.parametrize(
    ("name", "email"),
    [
        ("Bob\r\nBcc: evil@x.org", "bob@x.org"),
        ("Bob", "bob@x.org\r\nBcc: evil@x.org"),
        ("Bob\x00", "bob@x.org"),
        ("Bob\u2028", "bob@x.org"),
        ("Bob", "bob@@x.org"),
    ],
)
def test_person_refuses_control_characters_and_bad_addresses(name: str, email: str) -> None:
    with pytest.raises(InviteError):
        Person(name, email)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"start": datetime(2026, 4, 2, 10, 0)}, "timezone-aware"),  # noqa: DTZ001
        ({"end": datetime(2026, 4, 2, 10, 0, tzinfo=BERLIN)}, "end after it starts"),
        ({"uid": " "}, "needs a UID"),
        ({"uid": "a@b\r\nX-EVIL:1"}, "needs a UID on one line"),
        ({"sequence": -1}, "cannot be negative"),
    ],
)
def test_an_event_that_cannot_be_an_invite_is_refused(
    changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(InviteError, match=reason):
        interview(**changes)


def test_new_uids_are_unique_and_name_the_domain() -> None:
    uids = {new_uid("newslot.example") for _ in range(100)}

    assert len(uids) == 100
    assert all(uid.endswith("@newslot.example") for uid in uids)
    with pytest.raises(InviteError):
        new_uid("bad domain\r\n")


# --- VTIMEZONE -----------------------------------------------------------------------------------

AROUND = datetime(2026, 6, 15, tzinfo=UTC)
WINDOW = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC))
TRICKY_ZONES = [
    "Europe/Berlin",  # last Sunday rules
    "America/New_York",  # second Sunday of March, first of November
    "Australia/Sydney",  # southern hemisphere
    "Australia/Lord_Howe",  # 30-minute DST
    "Europe/Dublin",  # "negative DST" in tzdata
    "Asia/Jerusalem",  # Friday before the last Sunday: no nth-weekday rule
    "Africa/Casablanca",  # DST suspended for Ramadan
    "America/Santiago",  # "Sunday on or after the 2nd"
    "Asia/Kolkata",  # no DST, half-hour offset
    "Asia/Tehran",  # DST abolished in 2022
]
SAMPLED_ZONES = sorted(zoneinfo.available_timezones())[::25]


def offsets_by_vtimezone(zone: ZoneInfo) -> tuple[list[datetime], list[timedelta]]:
    """The onsets (UTC) and offsets our VTIMEZONE declares, as icalendar expands it."""
    times, infos = vtimezone(zone, AROUND).get_transitions()
    return [time.replace(tzinfo=UTC) for time in times], [info[0] for info in infos]


@pytest.mark.parametrize("zone_name", TRICKY_ZONES + SAMPLED_ZONES)
def test_vtimezone_gives_zoneinfos_offset_across_the_window(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    onsets, offsets = offsets_by_vtimezone(zone)

    def declared(instant: datetime) -> timedelta:
        return offsets[bisect.bisect_right(onsets, instant) - 1]

    first, last = WINDOW
    samples = [first + timedelta(hours=12 * n) for n in range((last - first).days * 2)]
    edges = [onset for onset in onsets if first < onset < last]
    for instant in samples + edges + [edge - timedelta(seconds=1) for edge in edges]:
        assert declared(instant) == instant.astimezone(zone).utcoffset(), instant


@pytest.mark.parametrize("zone_name", ["Europe/Berlin", "America/New_York", "Australia/Sydney"])
def test_regular_zones_get_one_yearly_rule_each_not_rdate_lists(zone_name: str) -> None:
    component = vtimezone(ZoneInfo(zone_name), AROUND)

    assert sorted(sub.name for sub in component.subcomponents) == ["DAYLIGHT", "STANDARD"]
    assert all("RRULE" in sub and "RDATE" not in sub for sub in component.subcomponents)


def test_berlins_rules_are_the_last_sundays_of_march_and_october() -> None:
    ics = vtimezone(BERLIN, AROUND).to_ical()

    assert b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n" in ics
    assert b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n" in ics


def test_irregular_zones_list_each_change_as_its_own_observance_without_rdate() -> None:
    component = vtimezone(ZoneInfo("Asia/Jerusalem"), AROUND)

    assert len(component.subcomponents) > 2
    assert not any("RRULE" in sub or "RDATE" in sub for sub in component.subcomponents)


def test_an_event_ending_in_the_repeated_hour_of_a_clock_change_is_written_exactly():
    # Clocks go back at 03:00 on 25 October 2026: 02:45 (first) to 02:15 (second) is 30 minutes.
    start = datetime(2026, 10, 25, 2, 45, tzinfo=BERLIN)
    end = datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN)
    _, event = read(build_invite("REQUEST", interview(start=start, end=end), NOW))
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2026, 10, 25, 0, 45, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # not a TZID time
    with pytest.raises(InviteError, match="must end after it starts"):
        interview(start=end, end=start)  # the wall clock says forward, time says back
