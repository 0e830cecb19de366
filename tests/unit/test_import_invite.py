"""Reading the invite a candidate received (Google, Outlook, Apple) and answering it."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from app.messages.invites import (
    Attendee,
    InviteError,
    InviteEvent,
    Person,
    build_invite,
    import_invite,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "ics"
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
CANDIDATE = Person("Wang Fang", "wang.fang@example.cn")


def ics(text: str) -> bytes:
    """A hand-written fixture with the CRLF line ends clients send."""
    return text.strip().replace("\n", "\r\n").encode() + b"\r\n"


# Shaped like Google Calendar's iMIP invites: IANA TZID with VTIMEZONE, the organizer also an
# attendee, CN equal to the address for guests without a name, X-GOOGLE-CONFERENCE.
GOOGLE = ics("""
BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REQUEST
BEGIN:VTIMEZONE
TZID:America/New_York
X-LIC-LOCATION:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=America/New_York:20260310T100000
DTEND;TZID=America/New_York:20260310T104500
DTSTAMP:20260301T150000Z
ORGANIZER;CN=Priya Raman:mailto:priya.raman@acme.example
UID:4k1d2o3v5b6n7m8q9r0s@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE
 ;CN=Priya Raman;X-NUM-GUESTS=0:mailto:priya.raman@acme.example
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=wang.fang@example.cn;X-NUM-GUESTS=0:mailto:wang.fang@example.cn
X-GOOGLE-CONFERENCE:https://meet.google.com/xyz-abcd-efg
CREATED:20260301T145900Z
DESCRIPTION:Join with Google Meet: https://meet.google.com/xyz-abcd-efg\\n\\nL
 earn more about Meet at: https://support.google.com/a/users/answer/9282720
LAST-MODIFIED:20260301T150000Z
LOCATION:
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Interview: Backend engineer (Acme)
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
""")

# Shaped like Exchange/Outlook invites: a Windows zone name, 1601 rules, LANGUAGE parameters,
# the Teams link only inside the description.
OUTLOOK = ics("""
BEGIN:VCALENDAR
METHOD:REQUEST
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
ORGANIZER;CN="Müller, Anna":mailto:anna.mueller@firma.example
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=王芳:mailto
 :wang.fang@example.cn
ATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Team HR:mai
 lto:hr@firma.example
DESCRIPTION;LANGUAGE=de-DE:Hallo\\,\\n\\nwir freuen uns auf das Gespräch.\\n\\n_
 ___\\nMicrosoft Teams-Besprechung\\nJetzt an der Besprechung teilnehmen<https:
 //teams.microsoft.com/l/meetup-join/19%3ameeting_NjA1%40thread.v2/0?context
 =%7b%22Tid%22%3a%22abc%22%7d>\\n
UID:040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5A6010000000000000000
 10000000ABCDEF
SUMMARY;LANGUAGE=de-DE:Vorstellungsgespräch
DTSTART;TZID=W. Europe Standard Time:20260330T100000
DTEND;TZID=W. Europe Standard Time:20260330T110000
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20260320T080000Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:2
LOCATION;LANGUAGE=de-DE:Microsoft Teams-Besprechung
X-MICROSOFT-CDO-APPT-SEQUENCE:2
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
X-MICROSOFT-DISALLOW-COUNTER:FALSE
END:VEVENT
END:VCALENDAR
""")

# Shaped like Apple Calendar invites: quoted CN and EMAIL parameters, an empty URL, the Zoom link
# in LOCATION, an alarm inside the event.
APPLE = ics("""
BEGIN:VCALENDAR
METHOD:REQUEST
VERSION:2.0
PRODID:-//Apple Inc.//macOS 15.3//EN
CALSCALE:GREGORIAN
BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
DTSTART:19810329T020000
TZNAME:UTC+2
TZOFFSETTO:+0200
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
DTSTART:19961027T030000
TZNAME:UTC+1
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
ATTENDEE;CN="José Núñez";CUTYPE=INDIVIDUAL;EMAIL="jose@example.org";PARTSTAT
 =ACCEPTED;ROLE=CHAIR:mailto:jose@example.org
ATTENDEE;CN="Alex Doe";CUTYPE=INDIVIDUAL;EMAIL="alex@example.com";PARTSTAT=
 NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:alex@example.com
CREATED:20260318T101500Z
DTEND;TZID=Europe/Paris:20261028T153000
DTSTAMP:20260318T101600Z
DTSTART;TZID=Europe/Paris:20261028T150000
LAST-MODIFIED:20260318T101600Z
LOCATION:Zoom: https://us02web.zoom.us/j/81234567890?pwd=abc
ORGANIZER;CN="José Núñez";EMAIL="jose@example.org":mailto:jose@example.org
SEQUENCE:1
SUMMARY:Entretien – José / Alex
UID:6F0D3E4A-1B2C-4D5E-8F90-A1B2C3D4E5F6
URL;VALUE=URI:
TRANSP:OPAQUE
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-PT15M
UID:0A1B2C3D-0000-0000-0000-000000000001
END:VALARM
END:VEVENT
END:VCALENDAR
""")


def single_event(*lines: str, method: str = "REQUEST", calendar: tuple[str, ...] = ()) -> bytes:
    """A minimal invite whose VEVENT holds `lines` (UID and DTSTAMP included unless replaced)."""
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Test//EN", *calendar]
    if method:
        head.append(f"METHOD:{method}")
    body = ["BEGIN:VEVENT", "DTSTAMP:20260301T100000Z", *lines, "END:VEVENT", "END:VCALENDAR"]
    return ics("\n".join(head + body))


TIMED = ("UID:one@test", "DTSTART:20260402T080000Z", "DTEND:20260402T090000Z")


def test_google_invite() -> None:
    invite = import_invite(GOOGLE)
    event = invite.event

    assert invite.method == "REQUEST"
    assert event.uid == "4k1d2o3v5b6n7m8q9r0s@google.com"
    assert event.sequence == 0
    assert event.summary == "Interview: Backend engineer (Acme)"
    assert event.start == datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # EDT since 8 March
    assert event.end == datetime(2026, 3, 10, 14, 45, tzinfo=UTC)
    assert event.start.tzinfo == ZoneInfo("America/New_York")
    assert event.organizer == Person("Priya Raman", "priya.raman@acme.example")
    assert event.attendees == (
        Attendee(Person("Priya Raman", "priya.raman@acme.example"), partstat="ACCEPTED"),
        Attendee(Person("", "wang.fang@example.cn")),  # Google's CN was only the address
    )
    assert event.location is None
    assert event.url == "https://meet.google.com/xyz-abcd-efg"


def test_outlook_invite_with_a_windows_zone_name() -> None:
    event = import_invite(OUTLOOK).event

    assert event.summary == "Vorstellungsgespräch"
    assert event.uid.startswith("040000008200E00074C5B7101A82E008") and event.uid.endswith("ABCDEF")
    assert event.sequence == 2
    assert event.start.tzinfo == ZoneInfo("Europe/Berlin")
    assert event.start == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # CEST since 29 March
    assert event.organizer == Person("Müller, Anna", "anna.mueller@firma.example")
    assert [(a.person.name, a.role) for a in event.attendees] == [
        ("王芳", "REQ-PARTICIPANT"),
        ("Team HR", "OPT-PARTICIPANT"),
    ]
    assert event.location == "Microsoft Teams-Besprechung"
    assert event.url == (
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjA1%40thread.v2/0"
        "?context=%7b%22Tid%22%3a%22abc%22%7d"
    )
    assert event.description is not None and "wir freuen uns" in event.description


def test_apple_invite() -> None:
    event = import_invite(APPLE).event

    assert event.summary == "Entretien – José / Alex"
    assert event.sequence == 1
    assert event.start == datetime(2026, 10, 28, 14, 0, tzinfo=UTC)  # CET since 25 October
    assert event.start.tzinfo == ZoneInfo("Europe/Paris")
    assert event.organizer == Person("José Núñez", "jose@example.org")
    assert event.attendees[0] == Attendee(
        Person("José Núñez", "jose@example.org"), partstat="ACCEPTED", role="CHAIR", rsvp=False
    )
    assert event.url == "https://us02web.zoom.us/j/81234567890?pwd=abc"


def test_as_dict_is_the_json_of_import_invite() -> None:
    values = import_invite(OUTLOOK).as_dict()

    assert json.loads(json.dumps(values)) == values
    assert values["method"] == "REQUEST"
    assert values["start"] == "2026-03-30T10:00:00+02:00"
    assert values["end"] == "2026-03-30T11:00:00+02:00"
    assert values["organizer"] == {"name": "Müller, Anna", "email": "anna.mueller@firma.example"}
    assert values["attendees"][0] == {
        "name": "王芳",
        "email": "wang.fang@example.cn",
        "partstat": "NEEDS-ACTION",
    }
    assert set(values) == {
        "method", "uid", "sequence", "summary", "start", "end",
        "organizer", "attendees", "location", "url",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "found"),
    [
        (("URL:https://example.org/page",), "https://example.org/page"),
        (
            ("CONFERENCE;VALUE=URI:https://meet.example/room", "URL:https://example.org/page"),
            "https://meet.example/room",
        ),
        (("LOCATION:Zoom https://acme.zoom.us/j/123 (pwd 9)",), "https://acme.zoom.us/j/123"),
        (
            ("DESCRIPTION:Join: https://meet.google.com/aaa-bbbb-ccc\\nThanks",),
            "https://meet.google.com/aaa-bbbb-ccc",
        ),
        (("LOCATION:Room 4",), None),
    ],
)
def test_the_meeting_link(lines: tuple[str, ...], found: str | None) -> None:
    assert import_invite(single_event(*TIMED, *lines)).event.url == found


def test_a_plain_download_without_method_imports() -> None:
    assert import_invite(single_event(*TIMED, method="")).method is None


def test_floating_times_are_read_in_the_calendars_x_wr_timezone() -> None:
    data = single_event(
        "UID:f@test",
        "DTSTART:20260402T100000",
        "DTEND:20260402T110000",
        calendar=("X-WR-TIMEZONE:Europe/Berlin",),
    )

    assert import_invite(data).event.start == datetime(
        2026, 4, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )


def test_floating_times_without_a_hint_use_the_zone_given_or_are_refused() -> None:
    data = single_event("UID:f@test", "DTSTART:20260402T100000", "DTEND:20260402T110000")
    tokyo = ZoneInfo("Asia/Tokyo")

    assert import_invite(data, default_tz=tokyo).event.start == datetime(
        2026, 4, 2, 10, 0, tzinfo=tokyo
    )
    with pytest.raises(InviteError, match="has no zone"):
        import_invite(data)


def test_duration_instead_of_dtend() -> None:
    data = single_event("UID:d@test", "DTSTART:20260402T080000Z", "DURATION:PT45M")

    assert import_invite(data).event.end == datetime(2026, 4, 2, 8, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "one calendar; this file holds 0"),
        (b"\x89PNG\r\n\x1a\n", "not a readable iCalendar"),
        (single_event(*TIMED, method="REPLY"), "REPLY message, not an invitation"),
        (single_event(*TIMED, method="CANCEL"), "CANCEL message, not an invitation"),
        (single_event("DTSTART:20260402T080000Z", "DTEND:20260402T090000Z"), "has no UID"),
        (single_event("UID:a@t", "DTSTART;VALUE=DATE:20260402"), "all-day event"),
        (single_event(*TIMED, "RRULE:FREQ=WEEKLY"), "repeating event"),
        (single_event(*TIMED[:2], "DTEND:20260402T0800Z"), "cannot be read"),
        (single_event(*TIMED[:2], "DTEND:20260402T070000Z"), "end after"),
        (single_event(*TIMED, "SEQUENCE:two"), "cannot be read"),
        (single_event(*TIMED) + single_event(*TIMED), "holds 2"),
        (ics("BEGIN:VEVENT\nUID:x\nDTSTART:20260402T080000Z\nEND:VEVENT"), "bare VEVENT"),
        (ics("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR"), "holds no event"),
    ],
)  # fmt: skip
def test_files_that_are_not_one_timed_invite_are_refused_with_a_reason(
    data: bytes, reason: str
) -> None:
    with pytest.raises(InviteError, match=reason):
        import_invite(data)


def test_two_events_are_refused_as_a_calendar_export() -> None:
    data = single_event(*TIMED, "END:VEVENT", "BEGIN:VEVENT", "UID:two@test", *TIMED[1:])

    with pytest.raises(InviteError, match="2 different events"):
        import_invite(data)


# --- Answering what was imported -----------------------------------------------------------------


def test_the_candidate_declines_an_imported_invite_with_its_uid_and_sequence() -> None:
    event = import_invite(OUTLOOK).event
    wang = event.attendees[0].person

    reply = Calendar.from_ical(build_invite("REPLY", event, NOW, answering=wang))
    (vevent,) = reply.walk("VEVENT")

    assert vevent["UID"] == event.uid
    assert vevent["SEQUENCE"] == 2
    assert vevent["ORGANIZER"] == "mailto:anna.mueller@firma.example"
    assert vevent["ATTENDEE"].params["PARTSTAT"] == "DECLINED"
    assert vevent.start == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_an_invite_without_organizer_cannot_be_answered() -> None:
    event = import_invite(single_event(*TIMED)).event

    with pytest.raises(InviteError, match="organizer's address"):
        build_invite("REPLY", event, NOW, answering=CANDIDATE)


# --- The shared corpus of real-world files -------------------------------------------------------

CORPUS_WITH_METHOD = sorted(
    path.name for path in CORPUS.glob("*.ics") if b"\nMETHOD" in path.read_bytes().upper()
)


def test_the_corpus_is_there() -> None:
    assert len(CORPUS_WITH_METHOD) >= 30, f"expected the shared corpus at {CORPUS}"


@pytest.mark.parametrize(
    ("name", "uid", "start", "zone"),
    [
        (
            "icalendar__issue_350.ics",
            "20055546456446",
            datetime(2022, 2, 22, 18, 30, tzinfo=UTC),
            "UTC",
        ),
        (
            "ical__office_365_extended_timezone.ics",  # TZID "W. Europe Standard Time"
            "040000008200E00074C5B7101A82E00800000000687C546B5596DA01000000000000000010000000"
            "309AE93C8C3A94489F90ADBEA30C2F2B",
            datetime(2024, 4, 26, 12, 0, tzinfo=UTC),
            "Europe/Berlin",
        ),
    ],
)
def test_corpus_invites_that_import(name: str, uid: str, start: datetime, zone: str) -> None:
    event = import_invite((CORPUS / name).read_bytes()).event

    assert event.uid == uid
    assert event.start == start
    assert event.start.tzinfo == ZoneInfo(zone)


@pytest.mark.parametrize("name", CORPUS_WITH_METHOD)
def test_corpus_files_import_or_are_refused_and_imports_can_be_answered(name: str) -> None:
    try:
        invite = import_invite((CORPUS / name).read_bytes())
    except InviteError as error:
        assert str(error) and "\n" not in str(error)
        return
    event = invite.event
    if event.organizer is None:  # PUBLISH files have none; the answer goes to whoever sent it
        event = replace(event, organizer=Person("Sender", "sender@example.org"))

    reply = Calendar.from_ical(build_invite("REPLY", event, NOW, answering=CANDIDATE))
    (vevent,) = reply.walk("VEVENT")

    assert reply["METHOD"] == "REPLY"
    assert vevent["UID"] == invite.event.uid
    assert vevent["SEQUENCE"] == invite.event.sequence
    assert (vevent.start, vevent.end) == (invite.event.start, invite.event.end)


# --- Properties ----------------------------------------------------------------------------------

ZONES = st.sampled_from(
    ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Asia/Jerusalem"]
)
TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
).map(str.strip)
EMAILS = st.from_regex(r"[a-z0-9._+-]{1,12}@[a-z0-9-]{1,12}\.[a-z]{2,6}", fullmatch=True)
PEOPLE = st.builds(Person, TEXT, EMAILS)
STARTS = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - made aware below
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
).map(lambda value: value.replace(second=0, microsecond=0))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=ZONES,
    start=STARTS,
    minutes=st.integers(15, 240),
    summary=TEXT,
    organizer=PEOPLE,
    guests=st.lists(PEOPLE, min_size=1, max_size=3, unique_by=lambda person: person.email),
    sequence=st.integers(0, 50),
    location=st.none() | TEXT.filter(bool),
    description=st.none() | st.text('ab \n;,:\\"é王', min_size=1).map(str.strip).filter(bool),
)
def test_whatever_newslot_writes_it_reads_back_unchanged(
    zone: str, start: datetime, minutes: int, summary: str, organizer: Person,
    guests: list[Person], sequence: int, location: str | None, description: str | None,
) -> None:  # fmt: skip
    people = [organizer, *guests]
    assume(all(person.name.lower() != person.email for person in people))
    # icalendar's parser reads a trailing backslash in an unquoted CN as escaping the next ';'
    # (ical.js reads it right); names ending in a backslash are left to that upstream fix.
    assume(not any(person.name.endswith("\\") for person in people))
    aware = start.replace(tzinfo=ZoneInfo(zone))
    event = InviteEvent(
        uid="round-trip@newslot.example",
        summary=summary,
        start=aware,
        end=datetime.fromtimestamp(aware.timestamp() + 60 * minutes, ZoneInfo(zone)),
        organizer=organizer,
        attendees=tuple(Attendee(person) for person in guests),
        sequence=sequence,
        location=location,
        url="https://meet.google.com/abc-defg-hij",
        description=description,
    )

    imported = import_invite(build_invite("REQUEST", event, NOW))

    assert imported.method == "REQUEST"
    assert imported.event == event


FIXTURES = [GOOGLE, OUTLOOK, APPLE]
DAMAGE = {
    "drop the line": lambda line: None,
    "drop the colon": lambda line: line.replace(b":", b"", 1),
    "drop the value": lambda line: line.partition(b":")[0] + b":",
    "double the semicolon": lambda line: line.replace(b";", b";;", 1),
    "add a NUL": lambda line: line + b"\x00",
}


@settings(max_examples=100, deadline=None)
@given(
    fixture=st.sampled_from(FIXTURES),
    where=st.floats(0, 1, exclude_max=True),
    damage=st.sampled_from(sorted(DAMAGE)),
)
def test_a_damaged_line_is_imported_around_or_refused_never_a_crash(
    fixture: bytes, where: float, damage: str
) -> None:
    lines = fixture.split(b"\r\n")
    index = int(where * len(lines))
    damaged = DAMAGE[damage](lines[index])
    lines[index : index + 1] = [] if damaged is None else [damaged]

    with contextlib.suppress(InviteError):
        import_invite(b"\r\n".join(lines))


@settings(max_examples=50, deadline=None)
@given(fixture=st.sampled_from(FIXTURES), where=st.floats(0, 1))
def test_a_truncated_invite_is_refused_or_imported_never_a_crash(
    fixture: bytes, where: float
) -> None:
    with contextlib.suppress(InviteError):
        import_invite(fixture[: int(where * len(fixture))])
