"""`newslot letter`, `newslot ics` and `newslot import-invite`: contracts with users' scripts."""

import email
import email.policy
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest

from app.cli import main
from tests.conftest import ROOT

DEMO = str(ROOT / "app" / "demo" / "demo.ics")
PLAN = [
    "--calendar", DEMO, "--start", "2026-12-01T16:00", "--duration", "60", "--tz", "Europe/Berlin",
    "--interviewer-tz", "America/New_York", "--ignore-uid", "interview-acme@demo.newslot",
    "--now", "2026-11-30T09:00",
]  # fmt: skip
PEOPLE = [
    "--candidate", "José García", "--interviewer", "Zoë Brontë", "--interviewer-email",
    "zoe@acme.example", "--company", "Acme Corp", "--role", "Data Engineer",
]  # fmt: skip
INVITE = [
    "ics", "--summary", "Interview: Data Engineer", "--start", "2026-12-02T16:00",
    "--duration", "45", "--tz", "Europe/Berlin", "--organizer", "Zoë Brontë <zoe@acme.example>",
    "--attendee", "José García <jose@example.org>", "--uid", "abc-123@acme.example",
    "--now", "2026-11-30T09:00",
]  # fmt: skip


def run(capsys, *args):
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def proposed_slots(capsys):
    _, out, _ = run(capsys, "propose", *PLAN, "--json")
    return [datetime.fromisoformat(slot["start"]) for slot in json.loads(out)["slots"]]


def test_letter_prints_subject_blank_line_and_body_with_the_engines_slots(capsys):
    slots = proposed_slots(capsys)
    code, out, _ = run(capsys, "letter", "--kind", "reschedule", *PEOPLE, *PLAN)
    assert code == 0
    subject, blank, first, *_ = out.splitlines()
    assert (
        subject
        == "Subject: Request to reschedule: interview for Data Engineer on Tuesday 1 December 2026"
    )
    assert blank == "" and first == "Dear Zoë Brontë,"
    for start in slots:  # each slot, interviewer's zone first
        new_york = start.astimezone(ZoneInfo("America/New_York"))
        assert f"{new_york:%A} {new_york.day} {new_york:%B %Y}, {new_york:%H:%M}" in out


def test_urgent_letter_says_so_and_gives_a_phone_script(capsys):
    args = [*PLAN]
    args[args.index("--now") + 1] = "2026-12-01T10:00"
    code, out, err = run(
        capsys, "letter", "--kind", "cancel", "--reason", "illness", *PEOPLE, *args
    )
    assert code == 0 and out.startswith("Subject: Urgent: ")
    assert "phone script: " in err


def test_other_reason_needs_its_text(capsys):
    code, out, err = run(capsys, "letter", "--kind", "cancel", "--reason", "other", *PEOPLE, *PLAN)
    assert code == 2 and out == "" and err.count("\n") == 1
    code, out, _ = run(capsys, "letter", "--kind", "cancel", "--reason", "other",
                       "--reason-text", "My train was cancelled", *PEOPLE, *PLAN)  # fmt: skip
    assert code == 0 and "train was cancelled" in out


def test_confirmation_email_carries_the_invite_for_the_best_slot(capsys, tmp_path):
    first = proposed_slots(capsys)[0]
    eml = tmp_path / "confirm.eml"
    code, _, _ = run(capsys, "letter", "--kind", "confirmation", *PEOPLE, *PLAN,
                     "--me", "jose@example.org", "--eml", str(eml))  # fmt: skip
    assert code == 0
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/mixed"
    assert str(message["To"]) == "Zoë Brontë <zoe@acme.example>"
    calendar_parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert len(calendar_parts) == 1 and calendar_parts[0].get_param("method") == "REQUEST"
    event = icalendar.Calendar.from_ical(calendar_parts[0].get_content()).walk("VEVENT")[0]
    assert event.start.astimezone(UTC) == first.astimezone(UTC)


def test_reschedule_email_has_no_calendar_object(capsys, tmp_path):
    eml = tmp_path / "ask.eml"
    code, _, _ = run(capsys, "letter", "--kind", "reschedule", *PEOPLE, *PLAN,
                     "--me", "jose@example.org", "--eml", str(eml))  # fmt: skip
    assert code == 0
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    types = {part.get_content_type() for part in message.walk()}
    assert "text/calendar" not in types and {"text/plain", "text/html"} <= types


def test_eml_needs_the_senders_address(capsys, tmp_path):
    code, _, err = run(capsys, "letter", "--kind", "cancel", *PEOPLE, *PLAN,
                       "--eml", str(tmp_path / "x.eml"))  # fmt: skip
    assert code == 2 and "--eml needs --me" in err


def test_ics_request_is_a_parsable_invite(capsys):
    code, out, _ = run(capsys, *INVITE, "--method", "REQUEST", "--sequence", "2")
    assert code == 0
    calendar = icalendar.Calendar.from_ical(out)
    assert calendar["METHOD"] == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert event["UID"] == "abc-123@acme.example" and event["SEQUENCE"] == 2
    assert event["DTSTAMP"].dt == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert event.start.astimezone(UTC) == datetime(2026, 12, 2, 15, tzinfo=UTC)
    assert (event.end - event.start).total_seconds() == 45 * 60


def test_ics_reply_answers_for_the_first_attendee(capsys):
    code, out, _ = run(capsys, *INVITE, "--method", "REPLY", "--partstat", "DECLINED")
    assert code == 0
    event = icalendar.Calendar.from_ical(out).walk("VEVENT")[0]
    attendee = event["ATTENDEE"]
    assert str(attendee).lower() == "mailto:jose@example.org"
    assert attendee.params["PARTSTAT"] == "DECLINED"


@pytest.mark.parametrize(
    ("option", "value"),
    [("--organizer", "Zoë\r\nBcc: x@y.example <zoe@acme.example>"), ("--tz", "Nowhere/Here"),
     ("--start", "2026-12-02 16:00"), ("--organizer", "not an address")],
)  # fmt: skip
def test_ics_bad_input_exits_2(capsys, option, value):
    args = [*INVITE, "--method", "REQUEST"]
    args[args.index(option) + 1] = value
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "" and err.count("\n") == 1


def test_import_invite_reads_back_what_ics_wrote(capsys, tmp_path):
    _, out, _ = run(capsys, *INVITE, "--method", "REQUEST", "--location", "Room 4")
    path = tmp_path / "invite.ics"
    path.write_text(out, encoding="utf-8")
    code, out, _ = run(capsys, "import-invite", str(path), "--json")
    assert code == 0
    found = json.loads(out)
    assert set(found) == {"method", "uid", "sequence", "summary", "start", "end", "organizer",
                          "attendees", "location", "url"}  # fmt: skip
    assert found["method"] == "REQUEST" and found["uid"] == "abc-123@acme.example"
    assert found["start"] == "2026-12-02T16:00:00+01:00" and found["location"] == "Room 4"
    assert found["organizer"] == {"name": "Zoë Brontë", "email": "zoe@acme.example"}
    assert [a["email"] for a in found["attendees"]] == ["jose@example.org"]


def test_import_invite_refuses_a_non_invite(capsys):
    code, out, err = run(capsys, "import-invite", DEMO, "--json")
    assert code == 2 and out == "" and err.startswith("newslot: error: demo.ics: ")


def test_a_new_uid_takes_the_organizers_domain_even_when_it_is_not_ascii(capsys):
    args = [*INVITE, "--method", "REQUEST"]
    del args[args.index("--uid") : args.index("--uid") + 2]  # let the command make one
    args[args.index("--organizer") + 1] = "Ana Müller <ana@bücher.example>"
    code, out, err = run(capsys, *args)
    assert code == 0, err
    uid = str(icalendar.Calendar.from_ical(out).walk("VEVENT")[0]["UID"])
    assert uid.endswith("@xn--bcher-kva.example")
