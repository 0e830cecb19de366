"""The `newslot` command line: the same core as the web app, for scripts and a first look.

Option names and the JSON shapes are a contract with users' scripts: add, never rename.
Every bad input ends with exit status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from app.scheduling.model import BusyEvent, Interview, Rules, Slot, WorkHours, local_moment
from calendar_providers.base import ProviderError

USAGE_ERROR = 2
WALL_CLOCK = "%Y-%m-%dT%H:%M"


class InputError(click.ClickException):
    """Bad input from the user: reported in one line with exit status 2."""

    exit_code = USAGE_ERROR


def main(argv: list[str] | None = None) -> None:
    """Run the command line; turn every expected failure into one line and exit status 2."""
    try:
        code = cli.main(args=argv, prog_name="newslot", standalone_mode=False)
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as error:
        click.echo(f"newslot: error: {error.format_message()}", err=True)
        code = USAGE_ERROR
    except click.exceptions.Abort:
        click.echo("newslot: aborted", err=True)
        code = 1
    sys.exit(code or 0)


@click.group(help="Reschedule or cancel an interview politely.")
def cli() -> None:
    """The command group; each command is one use case."""


def parse_zone(name: str) -> ZoneInfo:
    """An IANA zone, or a clear error naming what was given."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin"
        ) from None


def parse_wall_clock(text: str, zone: ZoneInfo, option: str) -> datetime:
    """A YYYY-MM-DDTHH:MM wall-clock time in `zone`; times skipped by a DST change are refused."""
    try:
        naive = datetime.strptime(text.strip(), WALL_CLOCK)  # noqa: DTZ007 - zone added below
    except ValueError:
        raise InputError(f"{option} must look like 2026-03-02T14:30, got {text!r}") from None
    local = local_moment(naive.date(), naive.time(), zone)
    if local is None:
        raise InputError(
            f"{option} {text} does not exist in {zone.key}: the clocks skip it for daylight saving"
        )
    return local


def parse_hours(text: str, option: str) -> WorkHours:
    try:
        return WorkHours.parse(text)
    except ValueError:
        raise InputError(
            f"{option} must look like 09:00-17:00 (start before end), got {text!r}"
        ) from None


def proposal_options(command: Callable) -> Callable:
    """The options of `newslot propose`, shared by every command that proposes slots."""
    options = [
        click.option(
            "--calendar",
            "calendars",
            multiple=True,
            required=True,
            metavar="FILE_OR_URL",
            help="An .ics file or feed URL; repeat for several.",
        ),
        click.option(
            "--start",
            required=True,
            metavar="YYYY-MM-DDTHH:MM",
            help="The interview's start, wall-clock time in --tz.",
        ),
        click.option(
            "--duration",
            required=True,
            type=click.IntRange(min=1),
            metavar="MIN",
            help="The interview's length in minutes.",
        ),
        click.option("--tz", "tz_name", required=True, metavar="IANA", help="Your time zone."),
        click.option(
            "--interviewer-tz", metavar="IANA", help="The interviewer's time zone (default: --tz)."
        ),
        click.option(
            "--ignore-uid",
            metavar="UID",
            help="The interview's own event UID: it never conflicts with itself.",
        ),
        click.option(
            "--me", metavar="EMAIL", help="Your address: invitations you declined are free."
        ),
        click.option(
            "--now",
            "now_text",
            metavar="YYYY-MM-DDTHH:MM",
            help="Pretend it is this time (wall clock in --tz); default: now.",
        ),
        click.option(
            "--window-days",
            default=14,
            show_default=True,
            type=click.IntRange(1, 366),
            metavar="N",
            help="Look for slots this many days ahead.",
        ),
        click.option(
            "--count",
            default=3,
            show_default=True,
            type=click.IntRange(1, 20),
            metavar="N",
            help="How many slots to propose.",
        ),
        click.option(
            "--work-hours",
            default="09:00-17:00",
            show_default=True,
            metavar="HH:MM-HH:MM",
            help="Your working hours, Monday to Friday.",
        ),
        click.option(
            "--interviewer-work-hours",
            default="09:00-17:00",
            show_default=True,
            metavar="HH:MM-HH:MM",
            help="The interviewer's working hours.",
        ),
        click.option(
            "--buffer",
            default=15,
            show_default=True,
            type=click.IntRange(min=0),
            metavar="MIN",
            help="Free minutes kept before and after each slot.",
        ),
        click.option(
            "--min-notice",
            default=24.0,
            show_default=True,
            type=click.FloatRange(min=0),
            metavar="HOURS",
            help="No slot sooner than this after now.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_request(options: dict) -> tuple[Interview, Rules, datetime]:
    """The interview, rules and `now` that the proposal options describe."""
    tz = parse_zone(options["tz_name"])
    interviewer_tz = parse_zone(options["interviewer_tz"]) if options["interviewer_tz"] else tz
    start = parse_wall_clock(options["start"], tz, "--start")
    if options["now_text"]:
        now = parse_wall_clock(options["now_text"], tz, "--now")
    else:
        now = datetime.now(UTC).astimezone(tz)
    end = (start.astimezone(UTC) + timedelta(minutes=options["duration"])).astimezone(tz)
    interview = Interview(start, end, tz, interviewer_tz, uid=options["ignore_uid"])
    rules = Rules(
        count=options["count"],
        buffer=timedelta(minutes=options["buffer"]),
        min_notice=timedelta(hours=options["min_notice"]),
        window=timedelta(days=options["window_days"]),
        user_hours=parse_hours(options["work_hours"], "--work-hours"),
        interviewer_hours=parse_hours(
            options["interviewer_work_hours"], "--interviewer-work-hours"
        ),
    )
    return interview, rules, now


def make_plan(options: dict):
    """Read the calendars and run the core; provider errors become one-line input errors."""
    from app.services.planning import plan

    interview, rules, now = build_request(options)
    try:
        return plan(
            options["calendars"], interview, rules, now, me=options["me"], cache_dir=_cache_dir()
        )
    except ProviderError as error:
        raise InputError(str(error)) from None


def _cache_dir() -> Path:
    """Feeds are cached beside the app's other runtime files."""
    return Path.cwd() / "instance" / "cache"


@cli.command(help="Show what clashes with the interview and propose alternative slots.")
@proposal_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the documented shape).")
def propose(as_json: bool, **options) -> None:
    result = make_plan(options)
    if as_json:
        click.echo(json.dumps(plan_json(result), ensure_ascii=False, indent=2))
    else:
        click.echo(plan_report(result))


def plan_json(result) -> dict:
    """The `propose --json` contract."""
    tz = result.interview.tz
    return {
        "interview": {
            "start": result.interview.start.astimezone(tz).isoformat(),
            "end": result.interview.end.astimezone(tz).isoformat(),
        },
        "conflicts": [
            {
                "uid": event.uid,
                "summary": event.summary,
                "start": event.start.astimezone(tz).isoformat(),
                "end": event.end.astimezone(tz).isoformat(),
                "status": event.status,
                "calendar": event.calendar,
            }
            for event in result.conflicts
        ],
        "slots": [
            {
                "start": slot.start.astimezone(tz).isoformat(),
                "end": slot.end.astimezone(tz).isoformat(),
            }
            for slot in result.proposal.slots
        ],
        "notes": list(result.notes),
    }


def plan_report(result) -> str:
    """The readable report: the interview, its conflicts, then the slots in both zones."""
    interview = result.interview
    tz, other = interview.tz, interview.interviewer_tz
    lines = ["Interview: " + both_zones(Slot(interview.start, interview.end), tz, other), ""]
    if result.conflicts:
        lines.append(f"Conflicts ({len(result.conflicts)}):")
        lines += ["  " + _conflict_line(event, tz) for event in result.conflicts]
    else:
        lines.append("No conflicts: nothing else is on your calendar at that time.")
    lines.append("")
    if result.proposal.slots:
        lines.append("Proposed slots:")
        for number, slot in enumerate(result.proposal.slots, 1):
            lines.append(f"  {number}. {both_zones(slot, tz, other)}")
    else:
        lines.append("No free slots found.")
    if result.notes:
        lines += ["", "Notes:"] + [f"  - {note}" for note in result.notes]
    return "\n".join(lines)


def both_zones(slot: Slot, tz: ZoneInfo, other: ZoneInfo) -> str:
    """A time in the user's zone and, when different, the interviewer's."""
    mine = _span(slot, tz)
    return mine if other.key == tz.key else f"{mine}  |  interviewer: {_span(slot, other)}"


def _span(slot: Slot, zone: ZoneInfo) -> str:
    start, end = slot.start.astimezone(zone), slot.end.astimezone(zone)
    same_day = start.date() == end.date()
    end_text = end.strftime("%H:%M") if same_day else end.strftime("%a %d %b %H:%M")
    return f"{start:%a %d %b %Y %H:%M}–{end_text} {start:%Z} ({zone.key})"


def _conflict_line(event: BusyEvent, tz: ZoneInfo) -> str:
    when = (
        "all day " + f"{event.start.astimezone(tz):%a %d %b}"
        if event.all_day
        else _span(Slot(event.start, event.end), tz)
    )
    status = " [tentative]" if event.status == "tentative" else ""
    return f"{when}  {event.summary}{status}  ({event.calendar})"


def parse_person_option(text: str, option: str):
    """'Name <email>' from an option, or a one-line error."""
    from app.messages.invites import InviteError, parse_person

    try:
        return parse_person(text)
    except InviteError as error:
        raise InputError(f"{option}: {error}") from None


@cli.command(help="Write the reschedule, cancel, video-call or confirmation letter.")
@click.option(
    "--kind",
    type=click.Choice(["reschedule", "cancel", "virtual", "confirmation"]),
    required=True,
    help="What the letter asks for.",
)
@click.option(
    "--reason",
    type=click.Choice(["emergency", "illness", "travel", "conflict", "personal", "other"]),
    default="personal",
    show_default=True,
    help="Why; 'personal' stays discreet.",
)
@click.option("--reason-text", metavar="TEXT", help="Your own sentence (with --reason other).")
@click.option("--candidate", required=True, metavar="NAME", help="Your name, for the sign-off.")
@click.option("--interviewer", required=True, metavar="NAME", help="Who the letter is to.")
@click.option("--interviewer-email", required=True, metavar="EMAIL")
@click.option("--company", required=True, metavar="TEXT")
@click.option("--role", required=True, metavar="TEXT")
@click.option("--phone", metavar="TEXT", help="Your phone number, for the sign-off.")
@click.option("--pick-url", metavar="URL", help="The public link where the interviewer picks.")
@click.option("--meeting-link", metavar="URL", help="The video link (virtual, confirmation).")
@click.option(
    "--times-rescheduled",
    default=0,
    type=click.IntRange(min=0),
    metavar="N",
    help="How often this interview was already moved.",
)
@click.option(
    "--confirmed",
    metavar="YYYY-MM-DDTHH:MM",
    help="The picked time, in --tz (confirmation; default: the best proposed slot).",
)
@click.option(
    "--eml",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Also write the whole email (with the invite for a confirmation).",
)
@proposal_options
def letter(**options) -> None:
    from app.messages.letters import LetterContext, compose

    result = make_plan(options)
    interview = result.interview
    tz = interview.tz
    confirmed = None
    if options["kind"] == "confirmation":
        confirmed = _confirmed_slot(options, result, tz)
    recipient = parse_person_option(
        f"{options['interviewer']} <{options['interviewer_email']}>", "--interviewer-email"
    )
    now = result.now
    context = LetterContext(
        candidate_name=options["candidate"],
        interviewer_name=options["interviewer"],
        company=options["company"],
        role=options["role"],
        interview=interview,
        now=now,
        slots=result.proposal.slots if options["kind"] == "reschedule" else (),
        confirmed=confirmed,
        pick_url=options["pick_url"],
        candidate_phone=options["phone"],
        reason_text=options["reason_text"],
        meeting_link=options["meeting_link"],
        times_rescheduled=options["times_rescheduled"],
    )
    try:
        written = compose(options["kind"], options["reason"], context)
    except ValueError as error:
        raise InputError(str(error)) from None
    click.echo(f"Subject: {written.subject}\n\n{written.text}")
    for advice in (*written.warnings, *result.notes):
        click.echo(f"note: {advice}", err=True)
    if written.phone_script:
        click.echo(f"phone script: {written.phone_script}", err=True)
    if options["eml"]:
        _write_email(options, written, recipient, confirmed, now)


def _confirmed_slot(options: dict, result, tz: ZoneInfo) -> Slot:
    """The time being confirmed: --confirmed, else the best proposed slot."""
    if options["confirmed"]:
        start = parse_wall_clock(options["confirmed"], tz, "--confirmed")
        end = (start.astimezone(UTC) + result.interview.duration).astimezone(tz)
        return Slot(start, end)
    if not result.proposal.slots:
        raise InputError("there is no free slot to confirm: give the picked time with --confirmed")
    return result.proposal.slots[0]


def _write_email(options: dict, written, recipient, confirmed: Slot | None, now: datetime) -> None:
    """The iMIP email: the letter, and for a confirmation the REQUEST invite for the new time."""
    from app.messages.invites import (
        REQUEST,
        Attendee,
        InviteError,
        InviteEvent,
        build_invite,
        new_uid_for,
    )
    from app.messages.mime import build_imip_message

    if not options["me"]:
        raise InputError("--eml needs --me (your email address, the letter's sender)")
    sender = parse_person_option(f"{options['candidate']} <{options['me']}>", "--me")
    invite = None
    if confirmed is not None:
        event = InviteEvent(
            uid=new_uid_for(sender.email),
            summary=f"Interview: {options['role']}, {options['company']}",
            start=confirmed.start,
            end=confirmed.end,
            organizer=sender,
            attendees=(Attendee(recipient), Attendee(sender, partstat="ACCEPTED", rsvp=False)),
            url=options["meeting_link"],
        )
        invite = build_invite(REQUEST, event, now)
    try:
        message = build_imip_message(
            sender=sender, to=[recipient], subject=written.subject, text=written.text,
            html=written.html, invite=invite, now=now,
        )  # fmt: skip
    except (InviteError, ValueError) as error:
        raise InputError(str(error)) from None
    try:
        Path(options["eml"]).write_bytes(bytes(message))
    except OSError as error:
        raise InputError(f"could not write {options['eml']}: {error.strerror}") from None


@cli.command(help="Write a calendar invite (iTIP REQUEST, CANCEL, REPLY or COUNTER) to stdout.")
@click.option(
    "--method", type=click.Choice(["REQUEST", "CANCEL", "REPLY", "COUNTER"]), required=True
)
@click.option("--summary", required=True, metavar="TEXT")
@click.option("--start", required=True, metavar="YYYY-MM-DDTHH:MM", help="Wall clock in --tz.")
@click.option("--duration", required=True, type=click.IntRange(min=1), metavar="MIN")
@click.option("--tz", "tz_name", required=True, metavar="IANA")
@click.option("--organizer", required=True, metavar='"Name <email>"')
@click.option(
    "--attendee",
    "attendees",
    multiple=True,
    required=True,
    metavar='"Name <email>"',
    help="Repeat for several; for REPLY/COUNTER the first is the one answering.",
)
@click.option("--uid", metavar="UID", help="The event's UID (default: a new one).")
@click.option(
    "--sequence", default=0, type=click.IntRange(min=0), metavar="N", help="The SEQUENCE written."
)
@click.option("--partstat", type=click.Choice(["DECLINED", "ACCEPTED", "TENTATIVE"]))
@click.option("--location", metavar="TEXT")
@click.option("--url", metavar="URL")
@click.option("--description", metavar="TEXT")
@click.option("--now", "now_text", metavar="YYYY-MM-DDTHH:MM", help="Fixes DTSTAMP (in --tz).")
def ics(**options) -> None:
    from app.messages.invites import Attendee, InviteError, InviteEvent, build_invite, new_uid_for

    tz = parse_zone(options["tz_name"])
    start = parse_wall_clock(options["start"], tz, "--start")
    end = (start.astimezone(UTC) + timedelta(minutes=options["duration"])).astimezone(tz)
    if options["now_text"]:
        now = parse_wall_clock(options["now_text"], tz, "--now")
    else:
        now = datetime.now(UTC)
    organizer = parse_person_option(options["organizer"], "--organizer")
    attendees = [parse_person_option(text, "--attendee") for text in options["attendees"]]
    try:
        event = InviteEvent(
            uid=options["uid"] or new_uid_for(organizer.email),
            summary=options["summary"],
            start=start,
            end=end,
            organizer=organizer,
            attendees=tuple(Attendee(person) for person in attendees),
            sequence=options["sequence"],
            location=options["location"],
            url=options["url"],
            description=options["description"],
        )
        answering = attendees[0] if options["method"] in ("REPLY", "COUNTER") else None
        invite = build_invite(
            options["method"], event, now, answering=answering, partstat=options["partstat"]
        )
    except InviteError as error:
        raise InputError(str(error)) from None
    click.echo(invite.decode("utf-8"), nl=False)


@cli.command("import-invite", help="Read a received invite .ics and print what it says.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the documented shape).")
@click.option(
    "--tz", "tz_name", metavar="IANA", help="Zone for floating times when the file names none."
)
def import_invite_command(file: str, as_json: bool, tz_name: str | None) -> None:
    from app.messages.invites import InviteError, import_invite

    zone = parse_zone(tz_name) if tz_name else None
    try:
        data = Path(file).read_bytes()
    except OSError as error:
        raise InputError(f"could not read {file}: {error.strerror}") from None
    try:
        imported = import_invite(data, default_tz=zone)
    except InviteError as error:
        raise InputError(f"{Path(file).name}: {error}") from None
    found = imported.as_dict()
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for key, value in found.items():
        click.echo(f"{key}: {value}")


@cli.command(help="Run the web app on this machine (SQLite and the local outbox by default).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    from app import create_app

    create_app().run(host=host, port=port)
