"""`newslot propose`: the contract its users' scripts rely on."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import ROOT

DEMO = str(ROOT / "app" / "demo" / "demo.ics")
BASE = [
    "propose",
    "--calendar",
    DEMO,
    "--start",
    "2026-12-01T16:00",
    "--duration",
    "60",
    "--tz",
    "Europe/Berlin",
    "--now",
    "2026-11-30T09:00",
]


def run(capsys, *args):
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def test_json_has_exactly_the_documented_shape(capsys):
    code, out, err = run(
        capsys,
        *BASE,
        "--interviewer-tz",
        "America/New_York",
        "--json",
        "--ignore-uid",
        "interview-acme@demo.newslot",
    )
    assert code == 0 and err == ""
    result = json.loads(out)
    assert set(result) == {"interview", "conflicts", "slots", "notes"}
    assert result["interview"] == {
        "start": "2026-12-01T16:00:00+01:00",
        "end": "2026-12-01T17:00:00+01:00",
    }
    for conflict in result["conflicts"]:
        assert set(conflict) == {"uid", "summary", "start", "end", "status", "calendar"}
        assert conflict["status"] in ("busy", "tentative")
        assert conflict["calendar"] == "Demo (Alex Example)"
    assert [(c["summary"], c["status"]) for c in result["conflicts"]] == [
        ("Design workshop", "tentative"),
        ("Dentist", "busy"),
    ]
    assert len(result["slots"]) == 3
    for slot in result["slots"]:
        assert set(slot) == {"start", "end"}
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        assert start.utcoffset().total_seconds() == 3600  # in the user's zone (CET)
        assert (end - start).total_seconds() == 3600
        # inside both working days: 15:00-17:00 Berlin is 09:00-11:00 New York
        assert start.hour >= 15 and end.hour <= 17
    assert len({slot["start"][:10] for slot in result["slots"]}) == 3
    assert isinstance(result["notes"], list)


def test_without_ignore_uid_the_interview_event_is_a_conflict(capsys):
    code, out, _ = run(capsys, *BASE, "--json")
    assert code == 0
    uids = [conflict["uid"] for conflict in json.loads(out)["conflicts"]]
    assert "interview-acme@demo.newslot" in uids


def test_readable_report_shows_conflicts_then_slots_in_both_zones(capsys):
    code, out, _ = run(
        capsys,
        *BASE,
        "--interviewer-tz",
        "America/New_York",
        "--ignore-uid",
        "interview-acme@demo.newslot",
    )
    assert code == 0
    assert out.index("Conflicts (2):") < out.index("Proposed slots:")
    assert "Dentist" in out and "[tentative]" in out
    slot_lines = [line for line in out.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert len(slot_lines) == 3
    assert all("Europe/Berlin" in line and "America/New_York" in line for line in slot_lines)


def test_fewer_slots_come_with_a_reason(capsys):
    code, out, _ = run(
        capsys, *BASE, "--json", "--window-days", "3", "--interviewer-tz", "America/New_York"
    )
    result = json.loads(out)
    assert code == 0 and len(result["slots"]) < 3
    assert result["notes"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--calendar": "/nonexistent/cal.ics"}, "There is no calendar file"),
        ({"--calendar": __file__}, "not an iCalendar file"),
        ({"--tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"--tz": "../../etc/passwd"}, "unknown time zone"),
        ({"--start": "tomorrow"}, "--start must look like"),
        ({"--start": "2026-03-29T02:30"}, "does not exist in Europe/Berlin"),
        ({"--now": "2026-13-01T09:00"}, "--now must look like"),
        ({"--duration": "-30"}, "--duration"),
        ({"--duration": "ten"}, "--duration"),
        ({"--work-hours": "17:00-09:00"}, "--work-hours must look like"),
        ({"--interviewer-work-hours": "9-5"}, "--interviewer-work-hours must look like"),
        ({"--interviewer-tz": "Nowhere"}, "unknown time zone 'Nowhere'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, change, message):
    args = list(BASE)
    for option, value in change.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_missing_required_option_exits_2(capsys):
    code, _, err = run(capsys, "propose", "--calendar", DEMO)
    assert code == 2 and err.startswith("newslot: error: Missing option")


def test_installed_console_script_runs(tmp_path):
    script = Path(sys.executable).with_name("newslot")
    done = subprocess.run(
        [str(script), *BASE, "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["interview"]["start"] == "2026-12-01T16:00:00+01:00"
