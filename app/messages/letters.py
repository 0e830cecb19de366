"""The letters the interviewer receives: reschedule, cancel, switch to video, confirm.

The wording lives in Jinja2 templates (app/messages/templates). Each letter is rendered twice from
the same template, as plain text and as autoescaped HTML, so the two bodies cannot drift apart.
This module prepares what the templates need: cleaned user text, every time written in both
parties' zones with its warnings, urgency and the reply-by date.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from jinja2.environment import TemplateModule
from markupsafe import Markup

from app.scheduling.clock_changes import offset_changes
from app.scheduling.intervals import to_utc
from app.scheduling.model import Interview, Slot, require_aware

KINDS = ("reschedule", "cancel", "virtual", "confirmation")
REASONS = ("emergency", "illness", "travel", "conflict", "personal", "other")
DEFAULT_REASON = "personal"  # honest but private; the CLI and the web form start from it
URGENT_WITHIN = timedelta(hours=24)
REPLY_WORKING_DAYS = 2

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEB_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")


@dataclass(frozen=True)
class LetterContext:
    """Everything a letter may mention; user-typed fields are cleaned before use."""

    candidate_name: str
    interviewer_name: str
    company: str
    role: str
    interview: Interview
    now: datetime
    slots: tuple[Slot, ...] = ()
    confirmed: Slot | None = None
    pick_url: str | None = None
    candidate_phone: str | None = None
    reason_text: str | None = None
    meeting_link: str | None = None
    times_rescheduled: int = 0
    reply_by: date | None = None
    candidate_organised: bool = False

    def __post_init__(self) -> None:
        require_aware(self.now, "now")
        if self.times_rescheduled < 0:
            raise ValueError("times_rescheduled cannot be negative")


@dataclass(frozen=True)
class Letter:
    """A composed letter and the advice that goes with it (warnings are for the user only)."""

    subject: str
    text: str
    html: str
    urgent: bool
    phone_script: str | None
    warnings: tuple[str, ...]
    reply_by: date | None


@dataclass(frozen=True)
class SlotText:
    """One time written for both parties: the interviewer's zone first, the candidate's second."""

    interviewer: str
    candidate: str | None
    notes: tuple[str, ...]
    day: str
    starts: str
    spoken: str


def compose(kind: str, reason: str, context: LetterContext) -> Letter:
    """Write one letter of `kind` giving `reason` (unused by a confirmation)."""
    _check(kind, reason, context)
    interview = context.interview
    slots = tuple(sorted(context.slots)) if kind == "reschedule" else ()
    # Elapsed time (UTC): on a clock-change night the wall clocks are an hour off.
    time_left = to_utc(interview.start) - to_utc(context.now)
    urgent = kind != "confirmation" and timedelta(0) < time_left < URGENT_WITHIN
    reply_by, reply_warnings = _reply_by(kind, context, slots)
    values = _template_values(kind, reason, context, slots, reply_by) | {"urgent": urgent}
    text = _render(kind, html=False, values=values)
    html = _render(kind, html=True, values=values)
    return Letter(
        subject=clean(text.subject()),
        text=_tidy(str(text)),
        html=_tidy(str(html)),
        urgent=urgent,
        phone_script=clean(text.phone()) if urgent else None,
        warnings=(*_advice(kind, context, urgent), *reply_warnings),
        reply_by=reply_by,
    )


def format_slot(
    slot: Slot, interviewer_tz: ZoneInfo, candidate_tz: ZoneInfo, now: datetime
) -> SlotText:
    """Write a slot in both zones, noting a date that differs or clocks that change before it."""
    start = slot.start.astimezone(interviewer_tz)
    own_start = slot.start.astimezone(candidate_tz)
    same_zone = interviewer_tz.key == candidate_tz.key
    dates_differ = not same_zone and start.date() != own_start.date()
    notes = ["note: the dates differ between our time zones"] if dates_differ else []
    notes += _clock_change_notes(now, slot.end, (interviewer_tz, candidate_tz))
    return SlotText(
        interviewer=_span(slot, interviewer_tz, with_date=True),
        candidate=None if same_zone else _span(slot, candidate_tz, with_date=dates_differ),
        notes=tuple(notes),
        day=_day(start.date()),
        starts=f"{_day(start.date())}, {start:%H:%M} {_zone_abbreviation(start)}",
        spoken=f"{_DAY_NAMES[start.weekday()]} {start.day} {_MONTH_NAMES[start.month - 1]} "
        f"at {start:%H:%M}",
    )


def default_reply_by(
    now: datetime, candidate_tz: ZoneInfo, first: datetime | None, interviewer_tz: ZoneInfo
) -> date | None:
    """Two working days after today, but never after the last working day before `first`.

    None means "as soon as possible": no working day after today is left before `first`, and a
    reply-by date of today would read as a deadline already running out.
    """
    today = now.astimezone(candidate_tz).date()
    reply_by = _working_days_after(today, REPLY_WORKING_DAYS)
    if first is not None:
        latest = _last_working_day_before(first.astimezone(interviewer_tz).date())
        reply_by = min(reply_by, latest)
    return reply_by if reply_by > today else None


def clean(text: str) -> str:
    """One header-safe line: NFC letters, no control characters, single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return " ".join(text.split())


def _check(kind: str, reason: str, context: LetterContext) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}; got {reason!r}")
    required = {
        "candidate name": context.candidate_name,
        "interviewer name": context.interviewer_name,
        "company": context.company,
        "role": context.role,
    }
    for what, value in required.items():
        if not clean(value):
            raise ValueError(f"the {what} is needed for the letter")
    if reason == "other" and kind != "confirmation" and not clean(context.reason_text or ""):
        raise ValueError("reason 'other' needs the reason text (the user's own sentence)")
    if kind == "confirmation" and context.confirmed is None:
        raise ValueError("a confirmation needs the confirmed slot")


def _template_values(
    kind: str, reason: str, context: LetterContext, slots: tuple[Slot, ...], reply_by: date | None
) -> dict[str, Any]:
    interview = context.interview

    def both_zones(slot: Slot) -> SlotText:
        return format_slot(slot, interview.interviewer_tz, interview.tz, context.now)

    return {
        "reason": reason,
        "reason_text": _full_stop(clean(context.reason_text or "")),
        "candidate": clean(context.candidate_name),
        "interviewer": clean(context.interviewer_name),
        "company": clean(context.company),
        "role": clean(context.role),
        "phone": clean(context.candidate_phone or ""),
        "original": both_zones(Slot(interview.start, interview.end)),
        "slots": [both_zones(slot) for slot in slots],
        "confirmed": both_zones(context.confirmed) if context.confirmed else None,
        "pick_url": clean(context.pick_url or ""),
        "meeting_link": clean(context.meeting_link or ""),
        "reply_by": _day(reply_by) if reply_by else None,
        "times_rescheduled": context.times_rescheduled,
        "candidate_organised": context.candidate_organised,
    }


def _reply_by(
    kind: str, context: LetterContext, slots: tuple[Slot, ...]
) -> tuple[date | None, tuple[str, ...]]:
    """The date the offer holds until (None: as soon as possible) and any warning about it."""
    if kind not in ("reschedule", "virtual"):
        return None, ()
    interview = context.interview
    first = slots[0].start if slots else None
    if kind == "virtual":
        first = interview.start
    if context.reply_by is None:
        return default_reply_by(context.now, interview.tz, first, interview.interviewer_tz), ()
    if first is not None and context.reply_by >= first.astimezone(interview.interviewer_tz).date():
        late = "The reply-by date falls on or after the time it is about; choose an earlier one."
        return context.reply_by, (late,)
    return context.reply_by, ()


def _advice(kind: str, context: LetterContext, urgent: bool) -> list[str]:
    """What the user should do besides sending: call when time is short or trust is thin."""
    interviewer = clean(context.interviewer_name)
    advice = []
    if urgent:
        advice.append(
            f"The interview starts in less than 24 hours: call {interviewer} now if you can "
            "(use the phone script), then send this email so there is a written record."
        )
    elif kind != "confirmation" and to_utc(context.interview.start) <= to_utc(context.now):
        advice.append(
            "The interview time has already passed: check the date, and call if you missed it."
        )
    if kind == "reschedule" and context.times_rescheduled:
        how_often = {1: "once", 2: "twice"}.get(
            context.times_rescheduled, f"{context.times_rescheduled} times"
        )
        advice.append(
            f"This interview was already rescheduled {how_often}, so another request weighs more: "
            f"call {interviewer} first if you can, and send this letter to confirm."
        )
    return advice


def _span(slot: Slot, zone: ZoneInfo, *, with_date: bool) -> str:
    """'Tuesday 14 October 2025, 10:00–11:00 CEST (Europe/Berlin)', dates spelled out."""
    start, end = slot.start.astimezone(zone), slot.end.astimezone(zone)
    start_abbr, end_abbr = _zone_abbreviation(start), _zone_abbreviation(end)
    ends_next_midnight = (
        end.date() == start.date() + timedelta(days=1) and end.hour == end.minute == 0
    )
    if end.date() != start.date() and not ends_next_midnight:
        return (
            f"{_day(start.date())}, {start:%H:%M} {start_abbr} to "
            f"{_day(end.date())}, {end:%H:%M} {end_abbr} ({zone.key})"
        )
    if start_abbr == end_abbr:
        times = f"{start:%H:%M}–{end:%H:%M} {start_abbr}"
    else:
        times = f"{start:%H:%M} {start_abbr}–{end:%H:%M} {end_abbr}"
    prefix = f"{_day(start.date())}, " if with_date else ""
    return f"{prefix}{times} ({zone.key})"


def _zone_abbreviation(moment: datetime) -> str:
    """The zone's letters (CEST), or 'UTC+05:30' where the zone has no letters of its own."""
    name = moment.tzname() or ""
    if name[:1].isalpha():
        return name
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    hours, minutes = divmod(abs(offset) // timedelta(minutes=1), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def _clock_change_notes(since: datetime, until: datetime, zones: tuple[ZoneInfo, ...]) -> list[str]:
    """'note: clocks change on 29 March in Europe/Berlin' for each change in (since, until]."""
    zones_by_day: dict[date, list[str]] = {}
    for zone in dict.fromkeys(zones):
        for change in offset_changes(zone, since, until):
            zones_by_day.setdefault(change.astimezone(zone).date(), []).append(zone.key)
    return [
        f"note: clocks change on {day.day} {_MONTH_NAMES[day.month - 1]} in {' and '.join(keys)}"
        for day, keys in sorted(zones_by_day.items())
    ]


def _working_days_after(day: date, count: int) -> date:
    while count:
        day += timedelta(days=1)
        count -= day.weekday() < 5
    return day


def _last_working_day_before(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _day(day: date) -> str:
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"


def _full_stop(text: str) -> str:
    """End a sentence once: 'Harbour & Co.' needs no second full stop."""
    return text if not text or text.endswith(_SENTENCE_END) else f"{text}."


def _render(kind: str, *, html: bool, values: dict[str, Any]) -> TemplateModule:
    """The rendered template as a module: str() is the body, .subject() and .phone() its macros."""
    return _environment(html).get_template(f"{kind}.j2").make_module(values)


@functools.cache
def _environment(html: bool) -> Environment:
    """One environment per output; only the HTML one escapes, and both refuse unknown names."""
    environment = Environment(
        loader=PackageLoader("app.messages", "templates"),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["html"] = html
    environment.filters["oneline"] = _one_line
    environment.filters["full_stop"] = _full_stop
    environment.tests["weblink"] = _is_web_link
    return environment


def _one_line(value: str) -> str:
    """Join a paragraph written over several template lines, keeping HTML markup safe."""
    joined = " ".join(value.split())
    return Markup(joined) if isinstance(value, Markup) else joined


def _is_web_link(value: str) -> bool:
    """Only http(s) addresses become links; anything else (javascript:, tel:) stays text."""
    return _WEB_LINK.fullmatch(value) is not None


def _tidy(rendered: str) -> str:
    """Trailing spaces off, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in rendered.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
