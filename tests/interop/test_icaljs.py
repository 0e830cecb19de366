"""Every invite Newslot writes, read by ical.js: an independent parser must see the same event.

This is where the VTIMEZONE form matters: icalendar's own generator writes transitions as one
comma-separated RDATE, which ical.js misreads (a Berlin time after the March change comes out
an hour off). The cases around the March and October changes guard against that.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.messages.invites import (
    Attendee,
    InviteError,
    InviteEvent,
    Person,
    build_invite,
    import_invite,
)
from tests.interop.icaljs import read_with_icaljs
from tests.unit.test_import_invite import APPLE, CORPUS, CORPUS_WITH_METHOD, GOOGLE, OUTLOOK

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 9, 15, 30, tzinfo=UTC)
JOSE = Person("José Núñez, Jr.", "jose@example.org")
WANG = Person("王芳", "wang.fang@example.cn")
CANDIDATE = Person("Wang Fang", "wang.fang@example.cn")
EVENT = InviteEvent(
    uid="interview-42@newslot.example",
    summary="Interview: Backend engineer",
    start=datetime(2026, 4, 2, 10, 0, tzinfo=BERLIN),
    end=datetime(2026, 4, 2, 11, 0, tzinfo=BERLIN),
    organizer=JOSE,
    attendees=(Attendee(WANG), Attendee(Person("Alex Doe", "alex@example.com"))),
    sequence=3,
    location="Room 4; 2nd floor",
    url="https://meet.google.com/abc-defg-hij",
    description="Second round.\nBring your portfolio.",
)


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def at(start: datetime, minutes: int = 60) -> InviteEvent:
    return replace(EVENT, start=start, end=start + timedelta(minutes=minutes))


def test_every_method_reads_the_same_in_icaljs() -> None:
    proposal = replace(
        EVENT,
        start=datetime(2026, 4, 7, 9, 30, tzinfo=BERLIN),
        end=datetime(2026, 4, 7, 10, 30, tzinfo=BERLIN),
    )
    request, cancel, reply, counter = read_with_icaljs(
        build_invite("REQUEST", EVENT, NOW),
        build_invite("CANCEL", EVENT.revised(), NOW),
        build_invite("REPLY", EVENT, NOW, answering=WANG),
        build_invite("COUNTER", proposal, NOW, answering=WANG, partstat="TENTATIVE"),
    )

    assert [c["method"] for c in (request, cancel, reply, counter)] == [
        "REQUEST", "CANCEL", "REPLY", "COUNTER",
    ]  # fmt: skip
    events = [c["events"][0] for c in (request, cancel, reply, counter)]
    assert {e["uid"] for e in events} == {"interview-42@newslot.example"}
    assert [e["sequence"] for e in events] == [3, 4, 3, 3]
    assert [e["status"] for e in events] == ["CONFIRMED", "CANCELLED", None, None]
    assert all(e["dtstamp"] == "2026-03-20T09:15:30.000Z" for e in events)
    assert all(e["organizer"]["email"] == "jose@example.org" for e in events)
    assert all(e["organizer"]["cn"] == "José Núñez, Jr." for e in events)
    assert [(e["start"], e["end"]) for e in events] == [
        ("2026-04-02T08:00:00.000Z", "2026-04-02T09:00:00.000Z"),
    ] * 3 + [("2026-04-07T07:30:00.000Z", "2026-04-07T08:30:00.000Z")]
    assert request["timezones"] == ["Europe/Berlin"]
    assert events[0]["start_tzid"] == "Europe/Berlin"
    assert events[0]["summary"] == "Interview: Backend engineer"
    assert events[0]["description"] == "Second round.\nBring your portfolio."
    assert events[0]["location"] == "Room 4; 2nd floor"
    assert events[0]["url"] == "https://meet.google.com/abc-defg-hij"
    assert events[0]["attendees"] == [
        {
            "email": "wang.fang@example.cn",
            "cn": "王芳",
            "partstat": "NEEDS-ACTION",
            "role": "REQ-PARTICIPANT",
            "rsvp": "TRUE",
        },
        {
            "email": "alex@example.com",
            "cn": "Alex Doe",
            "partstat": "NEEDS-ACTION",
            "role": "REQ-PARTICIPANT",
            "rsvp": "TRUE",
        },
    ]
    assert len(events[1]["attendees"]) == 2
    assert [(a["email"], a["cn"], a["partstat"]) for a in events[2]["attendees"]] == [
        ("wang.fang@example.cn", "王芳", "DECLINED")
    ]
    assert [(a["email"], a["partstat"]) for a in events[3]["attendees"]] == [
        ("wang.fang@example.cn", "TENTATIVE")
    ]


NEW_YORK = ZoneInfo("America/New_York")
# (local wall time in its zone, the UTC instant worked out by hand)
DST_CASES = [
    (datetime(2026, 3, 27, 10, 0, tzinfo=BERLIN), "2026-03-27T09:00:00.000Z"),
    (datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN), "2026-03-30T08:00:00.000Z"),  # after March
    (datetime(2026, 10, 23, 10, 0, tzinfo=BERLIN), "2026-10-23T08:00:00.000Z"),
    (datetime(2026, 10, 26, 10, 0, tzinfo=BERLIN), "2026-10-26T09:00:00.000Z"),
    (datetime(2026, 3, 6, 10, 0, tzinfo=NEW_YORK), "2026-03-06T15:00:00.000Z"),
    (datetime(2026, 3, 10, 10, 0, tzinfo=NEW_YORK), "2026-03-10T14:00:00.000Z"),  # US moved,
    (datetime(2026, 3, 24, 10, 0, tzinfo=NEW_YORK), "2026-03-24T14:00:00.000Z"),  # EU not yet
    (datetime(2026, 10, 28, 10, 0, tzinfo=NEW_YORK), "2026-10-28T14:00:00.000Z"),  # EU back
    (datetime(2026, 11, 2, 10, 0, tzinfo=NEW_YORK), "2026-11-02T15:00:00.000Z"),
    (datetime(2026, 4, 6, 10, 0, tzinfo=ZoneInfo("Australia/Sydney")), "2026-04-06T00:00:00.000Z"),
    (datetime(2026, 3, 30, 10, 0, tzinfo=ZoneInfo("Asia/Jerusalem")), "2026-03-30T07:00:00.000Z"),
    (datetime(2026, 3, 30, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata")), "2026-03-30T04:30:00.000Z"),
    (datetime(2026, 3, 30, 10, 0, tzinfo=ZoneInfo("UTC")), "2026-03-30T10:00:00.000Z"),
]


def test_times_across_dst_changes_come_out_at_the_right_utc_instant() -> None:
    events = [at(start) for start, _ in DST_CASES]

    read = read_with_icaljs(*(build_invite("REQUEST", event, NOW) for event in events))

    assert [c["events"][0]["start"] for c in read] == [expected for _, expected in DST_CASES]
    assert [c["events"][0]["end"] for c in read] == [iso(event.end) for event in events]
    utc_calendar = read[-1]
    assert utc_calendar["timezones"] == []
    assert utc_calendar["events"][0]["start_tzid"] is None


SWEEP_ZONES = [
    "Europe/London", "Europe/Dublin", "America/Los_Angeles", "America/Sao_Paulo",
    "America/Santiago", "America/Havana", "Africa/Casablanca", "Asia/Gaza", "Asia/Tehran",
    "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Auckland", "Asia/Kathmandu",
]  # fmt: skip


def test_a_sweep_through_a_year_in_tricky_zones_agrees_with_zoneinfo() -> None:
    events = [
        at(datetime(2026, 1, 2, 11, 30, tzinfo=ZoneInfo(zone)) + timedelta(weeks=week), 45)
        for zone in SWEEP_ZONES
        for week in range(0, 53, 4)
    ]

    read = read_with_icaljs(*(build_invite("REQUEST", event, NOW) for event in events))

    assert [c["events"][0]["start"] for c in read] == [iso(event.start) for event in events]


def test_display_names_survive_in_icaljs() -> None:
    names = ["José Núñez", "王芳", 'Smith, John "JJ"', "O'Brien: Sales; EMEA", "CORP\\jsmith"]

    read = read_with_icaljs(
        *(
            build_invite("REQUEST", replace(EVENT, organizer=Person(name, "o@example.org")), NOW)
            for name in names
        )
    )

    assert [calendar["events"][0]["organizer"]["cn"] for calendar in read] == names


def test_answers_to_google_outlook_and_apple_invites_read_right() -> None:
    imported = [import_invite(data).event for data in (GOOGLE, OUTLOOK, APPLE)]

    read = read_with_icaljs(
        *(build_invite("REPLY", event, NOW, answering=CANDIDATE) for event in imported)
    )

    for event, calendar in zip(imported, read, strict=True):
        (answer,) = calendar["events"]
        assert calendar["method"] == "REPLY"
        assert answer["uid"] == event.uid
        assert answer["sequence"] == event.sequence
        assert (answer["start"], answer["end"]) == (iso(event.start), iso(event.end))
        assert [a["partstat"] for a in answer["attendees"]] == ["DECLINED"]


def test_answers_to_the_corpus_invites_read_right() -> None:
    imported = []
    for name in CORPUS_WITH_METHOD:
        try:
            event = import_invite((CORPUS / name).read_bytes()).event
        except InviteError:
            continue
        imported.append(event if event.organizer else replace(event, organizer=JOSE))
    assert imported, "some corpus invites should import"

    read = read_with_icaljs(
        *(build_invite("REPLY", event, NOW, answering=CANDIDATE) for event in imported)
    )

    assert [c["events"][0]["uid"] for c in read] == [event.uid for event in imported]
    assert [c["events"][0]["start"] for c in read] == [iso(event.start) for event in imported]
