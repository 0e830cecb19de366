"""The letters the interviewer receives: wording snapshots plus the rules behind them.

Snapshots live in tests/snapshots/letters/. After an intended wording change, regenerate them with
    NEWSLOT_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_letters.py
then read every changed file as the interviewer would before committing it.
"""

from __future__ import annotations

import html as html_lib
import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape

from app.messages.letters import (
    KINDS,
    REASONS,
    Letter,
    LetterContext,
    clean,
    compose,
    default_reply_by,
    format_slot,
)
from app.scheduling.model import Interview, Slot

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots" / "letters"
UPDATE_SNAPSHOTS = os.environ.get("NEWSLOT_UPDATE_SNAPSHOTS") == "1"

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

OWN_REASON = "I have been called for jury service on that day"


def hour_slot(year: int, month: int, day: int, hour: int, minute: int, zone: ZoneInfo) -> Slot:
    start = datetime(year, month, day, hour, minute, tzinfo=zone)
    return Slot(start, start + timedelta(hours=1))


def interview_at(slot: Slot, candidate_tz: ZoneInfo, interviewer_tz: ZoneInfo) -> Interview:
    return Interview(slot.start, slot.end, tz=candidate_tz, interviewer_tz=interviewer_tz)


# Three zone pairs (interviewer first), names in several scripts; `now` is a Monday morning.
SCENARIOS = {
    "berlin": LetterContext(
        candidate_name="José García",
        interviewer_name="Zoë Brontë",
        company="Nordlicht Systems",
        role="Backend Engineer",
        interview=interview_at(hour_slot(2025, 10, 9, 16, 0, BERLIN), NEW_YORK, BERLIN),
        now=datetime(2025, 10, 6, 9, 0, tzinfo=NEW_YORK),
        slots=(
            hour_slot(2025, 10, 13, 15, 0, BERLIN),
            hour_slot(2025, 10, 14, 16, 0, BERLIN),
            hour_slot(2025, 10, 15, 15, 0, BERLIN),
        ),
        pick_url="https://newslot.example.org/o/6f1c2a",
        candidate_phone="+1 212 555 0147",
        reason_text=OWN_REASON,
    ),
    "kolkata": LetterContext(
        candidate_name="Zoë Brontë",
        interviewer_name="王芳",
        company="Lotus Analytics",
        role="Data Analyst",
        interview=interview_at(hour_slot(2025, 10, 8, 14, 30, KOLKATA), LONDON, KOLKATA),
        now=datetime(2025, 10, 6, 10, 0, tzinfo=LONDON),
        slots=(
            hour_slot(2025, 10, 10, 14, 30, KOLKATA),
            hour_slot(2025, 10, 13, 15, 0, KOLKATA),
            hour_slot(2025, 10, 14, 13, 30, KOLKATA),
        ),
        reason_text=OWN_REASON,
    ),
    "sydney": LetterContext(
        candidate_name="王芳",
        interviewer_name="José García",
        company="Harbour & Co.",
        role="Product Designer",
        interview=interview_at(hour_slot(2025, 10, 10, 10, 0, SYDNEY), LOS_ANGELES, SYDNEY),
        now=datetime(2025, 10, 6, 9, 0, tzinfo=LOS_ANGELES),
        slots=(
            hour_slot(2025, 10, 14, 9, 0, SYDNEY),
            hour_slot(2025, 10, 15, 10, 0, SYDNEY),
            hour_slot(2025, 10, 16, 9, 30, SYDNEY),
        ),
        pick_url="https://newslot.example.org/o/91ab7e",
        candidate_phone="+1 415 555 0199",
        reason_text=OWN_REASON,
    ),
}
PAIR_FOR_REASON = dict(zip(REASONS, ["berlin", "kolkata", "sydney"] * 2, strict=True))


def confirmed(scenario: str, slot_index: int, **changes: object) -> LetterContext:
    context = SCENARIOS[scenario]
    return replace(context, confirmed=context.slots[slot_index], **changes)


# Every (kind, reason) with a reason, each confirmation, and the situations that change a letter.
SNAPSHOT_CASES: dict[str, tuple[str, str, LetterContext]] = {
    **{
        f"{kind}-{reason}": (kind, reason, SCENARIOS[PAIR_FOR_REASON[reason]])
        for kind in ("reschedule", "cancel", "virtual")
        for reason in REASONS
    },
    "confirmation-berlin": (
        "confirmation",
        "personal",
        confirmed("berlin", 1, meeting_link="https://meet.example.org/abc-defg-hij"),
    ),
    "confirmation-kolkata": (
        "confirmation",
        "personal",
        confirmed("kolkata", 0, candidate_organised=True),
    ),
    "confirmation-sydney": ("confirmation", "personal", confirmed("sydney", 2)),
    "reschedule-second-request": (
        "reschedule",
        "conflict",
        replace(SCENARIOS["berlin"], times_rescheduled=1),
    ),
    "reschedule-urgent": (
        "reschedule",
        "emergency",
        replace(SCENARIOS["berlin"], now=datetime(2025, 10, 8, 17, 0, tzinfo=NEW_YORK)),
    ),
    "cancel-urgent": (
        "cancel",
        "illness",
        replace(SCENARIOS["kolkata"], now=datetime(2025, 10, 7, 16, 0, tzinfo=LONDON)),
    ),
    "virtual-urgent": (
        "virtual",
        "travel",
        replace(SCENARIOS["sydney"], now=datetime(2025, 10, 9, 8, 0, tzinfo=LOS_ANGELES)),
    ),
    "virtual-link": (
        "virtual",
        "illness",
        replace(SCENARIOS["kolkata"], meeting_link="https://meet.example.org/lotus?room=7&pin=42"),
    ),
    "reschedule-no-slots": ("reschedule", "personal", replace(SCENARIOS["kolkata"], slots=())),
    # Europe has left summer time on 26 October, New York only on 2 November.
    "reschedule-clock-change": (
        "reschedule",
        "travel",
        replace(
            SCENARIOS["berlin"],
            interview=interview_at(hour_slot(2025, 10, 24, 16, 0, BERLIN), NEW_YORK, BERLIN),
            now=datetime(2025, 10, 22, 9, 0, tzinfo=NEW_YORK),
            slots=(
                hour_slot(2025, 10, 27, 15, 0, BERLIN),
                hour_slot(2025, 10, 29, 16, 0, BERLIN),
                hour_slot(2025, 11, 4, 15, 0, BERLIN),
            ),
        ),
    ),
}
HTML_SNAPSHOTS = (
    "reschedule-personal",
    "cancel-emergency",
    "virtual-other",
    "virtual-link",
    "confirmation-berlin",
    "reschedule-clock-change",
)


def render_snapshot(letter: Letter) -> str:
    """Everything the user and the interviewer see, in one reviewable file."""
    reply_by = letter.reply_by.isoformat() if letter.reply_by else "none"
    warnings = "".join(f"\n  - {warning}" for warning in letter.warnings) or " none"
    return (
        f"Subject: {letter.subject}\n"
        f"Urgent: {'yes' if letter.urgent else 'no'}\n"
        f"Reply by: {reply_by}\n"
        f"Warnings:{warnings}\n"
        f"Phone script: {letter.phone_script or 'none'}\n"
        f"{'-' * 72}\n"
        f"{letter.text}"
    )


def assert_matches_snapshot(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE_SNAPSHOTS:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {name}; see this module's docstring to create it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", SNAPSHOT_CASES)
def test_letter_text_matches_snapshot(case: str) -> None:
    kind, reason, context = SNAPSHOT_CASES[case]
    assert_matches_snapshot(f"{case}.txt", render_snapshot(compose(kind, reason, context)))


@pytest.mark.parametrize("case", HTML_SNAPSHOTS)
def test_letter_html_matches_snapshot(case: str) -> None:
    kind, reason, context = SNAPSHOT_CASES[case]
    assert_matches_snapshot(f"{case}.html", compose(kind, reason, context).html)


def test_every_snapshot_file_belongs_to_a_case() -> None:
    expected = {f"{case}.txt" for case in SNAPSHOT_CASES} | {f"{c}.html" for c in HTML_SNAPSHOTS}
    assert {path.name for path in SNAPSHOTS.iterdir()} == expected


# --- the parts every letter must have -------------------------------------------------------


@pytest.mark.parametrize("case", SNAPSHOT_CASES)
def test_greeting_names_the_interviewer(case: str) -> None:
    kind, reason, context = SNAPSHOT_CASES[case]
    letter = compose(kind, reason, context)
    assert letter.text.splitlines()[0] == f"Dear {context.interviewer_name},"
    assert f"<p>Dear {html_lib.escape(context.interviewer_name)},</p>" in letter.html


@pytest.mark.parametrize(
    ("kind", "purpose"),
    [
        ("reschedule", "Request to reschedule: "),
        ("cancel", "Cancellation: "),
        ("virtual", "Request to join by video call: "),
        ("confirmation", "Confirming new time: "),
    ],
)
def test_subject_states_the_purpose_role_and_date(kind: str, purpose: str) -> None:
    context = confirmed("berlin", 1)
    subject = compose(kind, "personal", context).subject
    assert subject.startswith(purpose)
    assert "interview for Backend Engineer on " in subject
    day = "Tuesday 14 October 2025, 16:00 CEST" if kind == "confirmation" else "Thursday 9 October"
    assert day in subject


@pytest.mark.parametrize("case", SNAPSHOT_CASES)
def test_text_and_html_carry_the_same_words(case: str) -> None:
    kind, reason, context = SNAPSHOT_CASES[case]
    letter = compose(kind, reason, context)
    html_words = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", letter.html)).split())
    for block in letter.text.split("\n\n"):
        for line in block.splitlines():
            assert " ".join(line.removeprefix("- ").split()) in html_words


def test_sign_off_has_the_candidate_and_optional_phone() -> None:
    with_phone = compose("reschedule", "personal", SCENARIOS["berlin"]).text
    without_phone = compose("reschedule", "personal", SCENARIOS["kolkata"]).text
    assert with_phone.endswith("Kind regards,\nJosé García\n+1 212 555 0147\n")
    assert without_phone.endswith("Kind regards,\nZoë Brontë\n")


def test_reschedule_offers_each_slot_in_both_zones_with_the_pick_link() -> None:
    text = compose("reschedule", "personal", SCENARIOS["berlin"]).text
    assert "- Monday 13 October 2025, 15:00–16:00 CEST (Europe/Berlin)\n" in text
    assert "  my time: 09:00–10:00 EDT (America/New_York)\n" in text
    assert text.count("- ") == 3
    assert "pick one of them here: https://newslot.example.org/o/6f1c2a" in text
    assert "If none of these work, I am happy to find another time" in text
    assert "I remain very interested in the Backend Engineer position" in text


def test_reschedule_without_a_pick_url_does_not_mention_a_link() -> None:
    text = compose("reschedule", "personal", SCENARIOS["kolkata"]).text
    assert "pick one" not in text
    assert "http" not in text


def test_offered_slots_are_listed_in_time_order() -> None:
    context = SCENARIOS["berlin"]
    shuffled = replace(context, slots=tuple(reversed(context.slots)))
    assert compose("reschedule", "personal", shuffled) == compose("reschedule", "personal", context)


def test_cancel_says_plainly_that_no_new_date_is_wanted() -> None:
    letter = compose("cancel", "personal", SCENARIOS["berlin"])
    assert "I am not asking for a new date" in letter.text
    assert "13 October" not in letter.text
    assert letter.reply_by is None
    assert "reply" not in letter.text


def test_virtual_keeps_the_time_and_offers_the_link_when_known() -> None:
    context = replace(SCENARIOS["berlin"], meeting_link="https://meet.example.org/xyz")
    text = compose("virtual", "illness", context).text
    assert "keep the same time and hold it as a video call" in text
    assert "if it helps, we could use this link:\n\nhttps://meet.example.org/xyz\n\n" in text
    assert "13 October" not in text


def test_confirmation_thanks_for_flexibility_and_explains_the_invite() -> None:
    new_event = compose("confirmation", "personal", confirmed("berlin", 1)).text
    updated = compose("confirmation", "personal", confirmed("berlin", 1, candidate_organised=True))
    assert "Thank you for agreeing to a new time, and for your flexibility." in new_event
    assert "- Tuesday 14 October 2025, 16:00–17:00 CEST (Europe/Berlin)" in new_event
    assert "separate entry from the original invitation" in new_event
    assert "updates the original entry" in updated.text


@pytest.mark.parametrize("kind", ["reschedule", "cancel", "virtual"])
def test_every_reason_gives_its_own_sentence(kind: str) -> None:
    given = [reason for reason in REASONS if reason != "other"]
    texts = {compose(kind, reason, SCENARIOS["berlin"]).text for reason in given}
    assert len(texts) == len(given)


def test_personal_reason_stays_discreet() -> None:
    text = compose("reschedule", "personal", SCENARIOS["berlin"]).text
    assert "due to unforeseen personal circumstances, I will not be able to attend" in text


def test_a_company_name_ending_in_a_full_stop_gets_no_second_one() -> None:
    text = compose("virtual", "personal", SCENARIOS["sydney"]).text
    assert "position at Harbour & Co.\n" in text


def test_own_reason_is_used_as_one_sentence() -> None:
    context = replace(SCENARIOS["berlin"], reason_text="  I have been called\r\nfor jury service ")
    letter = compose("reschedule", "other", context)
    assert "I have been called for jury service. I am very sorry" in letter.text


# --- urgency ----------------------------------------------------------------------------------


def starting_in(delay: timedelta) -> LetterContext:
    context = SCENARIOS["berlin"]
    return replace(context, now=context.interview.start - delay)


@pytest.mark.parametrize("kind", ["reschedule", "cancel", "virtual"])
def test_under_24_hours_is_urgent_with_a_phone_script(kind: str) -> None:
    letter = compose(kind, "illness", starting_in(timedelta(hours=23, minutes=59)))
    assert letter.urgent
    assert letter.subject.startswith("Urgent: ")
    assert letter.phone_script is not None
    assert letter.phone_script.startswith("Hello Zoë Brontë, this is José García.")
    assert "I've fallen ill" in letter.phone_script
    assert "\n" not in letter.phone_script
    assert any("call Zoë Brontë now" in warning for warning in letter.warnings)


@pytest.mark.parametrize(
    "delay", [timedelta(hours=24), timedelta(days=3), timedelta(0), -timedelta(hours=1)]
)
def test_not_urgent_at_24_hours_or_more_or_once_started(delay: timedelta) -> None:
    letter = compose("reschedule", "illness", starting_in(delay))
    assert not letter.urgent
    assert not letter.subject.startswith("Urgent")
    assert letter.phone_script is None


def test_a_passed_interview_is_flagged() -> None:
    letter = compose("cancel", "illness", starting_in(-timedelta(hours=1)))
    assert any("already passed" in warning for warning in letter.warnings)


def test_confirmation_is_never_urgent() -> None:
    context = replace(confirmed("berlin", 0), now=starting_in(timedelta(hours=2)).now)
    letter = compose("confirmation", "personal", context)
    assert not letter.urgent
    assert letter.phone_script is None


def test_urgent_phone_script_mentions_the_first_offered_time() -> None:
    letter = compose("reschedule", "travel", starting_in(timedelta(hours=5)))
    assert letter.phone_script is not None
    assert "I could do Monday 13 October at 15:00 your time" in letter.phone_script


# --- a second request -------------------------------------------------------------------------


def test_second_reschedule_warns_and_apologises_once_more() -> None:
    context = replace(SCENARIOS["berlin"], times_rescheduled=1)
    letter = compose("reschedule", "conflict", context)
    assert any(
        "already rescheduled once" in warning and "call Zoë Brontë first" in warning
        for warning in letter.warnings
    )
    assert "I am all the more sorry to ask again" in letter.text


def test_first_reschedule_has_no_such_warning() -> None:
    letter = compose("reschedule", "conflict", SCENARIOS["berlin"])
    assert letter.warnings == ()
    assert "ask again" not in letter.text


# --- reply-by ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 10, 6), date(2025, 10, 8)),  # Monday -> Wednesday
        (date(2025, 10, 9), date(2025, 10, 13)),  # Thursday -> Monday
        (date(2025, 10, 10), date(2025, 10, 14)),  # Friday -> Tuesday
        (date(2025, 10, 11), date(2025, 10, 14)),  # Saturday -> Tuesday
        (date(2025, 10, 12), date(2025, 10, 14)),  # Sunday -> Tuesday
    ],
)
def test_reply_by_is_two_working_days_later(today: date, expected: date) -> None:
    now = datetime.combine(today, datetime.min.time(), tzinfo=NEW_YORK) + timedelta(hours=9)
    assert default_reply_by(now, NEW_YORK, None, BERLIN) == expected


@pytest.mark.parametrize(
    ("first_slot_day", "expected"),
    [
        (date(2025, 10, 20), date(2025, 10, 8)),  # far away: the default stands
        (date(2025, 10, 8), date(2025, 10, 7)),  # Wednesday: the day before
        (date(2025, 10, 7), None),  # Tuesday: only today is left, ask as soon as possible
        (date(2025, 10, 6), None),  # today
    ],
)
def test_reply_by_never_reaches_the_first_slot(first_slot_day: date, expected: date | None) -> None:
    now = datetime(2025, 10, 6, 9, 0, tzinfo=NEW_YORK)
    first = datetime.combine(first_slot_day, datetime.min.time(), tzinfo=BERLIN) + timedelta(
        hours=15
    )
    assert default_reply_by(now, NEW_YORK, first, BERLIN) == expected


def test_reply_by_skips_back_over_the_weekend_before_a_monday_slot() -> None:
    thursday = datetime(2025, 10, 9, 9, 0, tzinfo=NEW_YORK)
    monday_slot = datetime(2025, 10, 13, 15, 0, tzinfo=BERLIN)
    assert default_reply_by(thursday, NEW_YORK, monday_slot, BERLIN) == date(2025, 10, 10)


def test_reply_by_reads_today_in_the_candidates_zone_and_the_slot_in_the_interviewers() -> None:
    monday_night_in_new_york = datetime(2025, 10, 6, 23, 30, tzinfo=NEW_YORK)  # Tuesday in Berlin
    wednesday_in_berlin = datetime(2025, 10, 8, 1, 0, tzinfo=BERLIN)  # Tuesday in New York
    reply_by = default_reply_by(monday_night_in_new_york, NEW_YORK, wednesday_in_berlin, BERLIN)
    assert reply_by == date(2025, 10, 7)


def test_letter_states_the_reply_by_date() -> None:
    letter = compose("reschedule", "personal", SCENARIOS["berlin"])
    assert letter.reply_by == date(2025, 10, 8)
    assert "I will keep these times free for you until Wednesday 8 October 2025" in letter.text


def test_letter_asks_for_a_reply_as_soon_as_possible_when_no_day_is_left() -> None:
    context = SCENARIOS["berlin"]
    tomorrow = hour_slot(2025, 10, 7, 15, 0, BERLIN)
    letter = compose("reschedule", "personal", replace(context, slots=(tomorrow,)))
    assert letter.reply_by is None
    assert "your reply as soon as possible" in letter.text


def test_reply_by_override_is_used_and_a_late_one_is_flagged() -> None:
    context = SCENARIOS["berlin"]
    early = compose("reschedule", "personal", replace(context, reply_by=date(2025, 10, 10)))
    late = compose("reschedule", "personal", replace(context, reply_by=date(2025, 10, 13)))
    assert early.reply_by == date(2025, 10, 10)
    assert "until Friday 10 October 2025" in early.text
    assert early.warnings == ()
    assert any("reply-by date" in warning for warning in late.warnings)


def test_virtual_reply_by_is_before_the_interview_itself() -> None:
    context = replace(SCENARIOS["berlin"], now=datetime(2025, 10, 7, 9, 0, tzinfo=NEW_YORK))
    letter = compose("virtual", "personal", context)
    assert letter.reply_by == date(2025, 10, 8)
    assert "your reply by Wednesday 8 October 2025" in letter.text


# --- both zones, dates and clock changes --------------------------------------------------------


def test_slot_shows_both_zones_interviewer_first() -> None:
    slot = hour_slot(2025, 10, 14, 10, 0, BERLIN)
    text = format_slot(slot, BERLIN, NEW_YORK, datetime(2025, 10, 6, 9, 0, tzinfo=NEW_YORK))
    assert text.interviewer == "Tuesday 14 October 2025, 10:00–11:00 CEST (Europe/Berlin)"
    assert text.candidate == "04:00–05:00 EDT (America/New_York)"
    assert text.notes == ()
    assert text.day == "Tuesday 14 October 2025"
    assert text.starts == "Tuesday 14 October 2025, 10:00 CEST"
    assert text.spoken == "Tuesday 14 October at 10:00"


def test_slot_on_another_date_in_the_candidates_zone_says_so() -> None:
    slot = hour_slot(2025, 10, 14, 9, 0, SYDNEY)
    text = format_slot(slot, SYDNEY, LOS_ANGELES, datetime(2025, 10, 6, 9, 0, tzinfo=LOS_ANGELES))
    assert text.interviewer == "Tuesday 14 October 2025, 09:00–10:00 AEDT (Australia/Sydney)"
    assert text.candidate == "Monday 13 October 2025, 15:00–16:00 PDT (America/Los_Angeles)"
    assert text.notes == ("note: the dates differ between our time zones",)


def test_clock_change_before_the_slot_is_noted_with_its_date() -> None:
    slot = hour_slot(2026, 3, 30, 15, 0, BERLIN)
    text = format_slot(slot, BERLIN, NEW_YORK, datetime(2026, 3, 23, 9, 0, tzinfo=NEW_YORK))
    assert text.notes == ("note: clocks change on 29 March in Europe/Berlin",)
    assert text.candidate == "09:00–10:00 EDT (America/New_York)"


def test_clock_changes_in_both_zones_are_noted_in_date_order() -> None:
    slot = hour_slot(2025, 11, 4, 15, 0, BERLIN)
    text = format_slot(slot, BERLIN, NEW_YORK, datetime(2025, 10, 22, 9, 0, tzinfo=NEW_YORK))
    assert text.notes == (
        "note: clocks change on 26 October in Europe/Berlin",
        "note: clocks change on 2 November in America/New_York",
    )


def test_same_day_clock_changes_share_one_note() -> None:
    slot = hour_slot(2025, 10, 28, 10, 0, LONDON)
    text = format_slot(slot, BERLIN, LONDON, datetime(2025, 10, 20, 9, 0, tzinfo=LONDON))
    assert text.notes == ("note: clocks change on 26 October in Europe/Berlin and Europe/London",)


def test_no_clock_note_for_a_change_after_the_slot() -> None:
    slot = hour_slot(2025, 10, 24, 15, 0, BERLIN)
    text = format_slot(slot, BERLIN, NEW_YORK, datetime(2025, 10, 20, 9, 0, tzinfo=NEW_YORK))
    assert text.notes == ()


def test_same_zone_is_written_once() -> None:
    slot = hour_slot(2025, 10, 14, 10, 0, BERLIN)
    text = format_slot(slot, BERLIN, BERLIN, datetime(2025, 10, 6, 9, 0, tzinfo=BERLIN))
    assert text.candidate is None


def test_zone_without_letters_is_written_as_a_utc_offset() -> None:
    slot = hour_slot(2025, 10, 14, 10, 0, ZoneInfo("Asia/Kathmandu"))
    now = datetime(2025, 10, 6, 9, 0, tzinfo=BERLIN)
    text = format_slot(slot, ZoneInfo("Asia/Kathmandu"), ZoneInfo("Asia/Dubai"), now)
    assert text.interviewer == "Tuesday 14 October 2025, 10:00–11:00 UTC+05:45 (Asia/Kathmandu)"
    assert text.candidate == "08:15–09:15 UTC+04:00 (Asia/Dubai)"


def test_slot_across_midnight_names_both_days() -> None:
    start = datetime(2025, 10, 14, 23, 30, tzinfo=BERLIN)
    text = format_slot(Slot(start, start + timedelta(hours=1)), BERLIN, BERLIN, start)
    assert text.interviewer == (
        "Tuesday 14 October 2025, 23:30 CEST to Wednesday 15 October 2025, 00:30 CEST "
        "(Europe/Berlin)"
    )


def test_slot_across_a_clock_change_names_both_abbreviations() -> None:
    start = datetime(2025, 10, 26, 1, 30, tzinfo=BERLIN)
    two_hours_later = (start.astimezone(UTC) + timedelta(hours=2)).astimezone(BERLIN)
    text = format_slot(Slot(start, two_hours_later), BERLIN, BERLIN, start)
    assert text.interviewer == "Sunday 26 October 2025, 01:30 CEST–02:30 CET (Europe/Berlin)"


# --- user text: escaped, header-safe, any script -----------------------------------------------

HOSTILE = "<script>alert('x')</script> & Partners"


def test_html_escapes_every_user_value() -> None:
    context = replace(
        confirmed("berlin", 0),
        candidate_name=f"José {HOSTILE}",
        interviewer_name=f"Zoë {HOSTILE}",
        company=f"Nordlicht {HOSTILE}",
        role=f"Engineer {HOSTILE}",
        candidate_phone=HOSTILE,
        reason_text=HOSTILE,
        meeting_link=f"https://meet.example.org/?a=1&b={HOSTILE}",
        pick_url=f"https://newslot.example.org/o/x?{HOSTILE}",
    )
    for kind in KINDS:
        letter = compose(kind, "other", context)
        assert "<script>" not in letter.html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Partners" in letter.html
        assert "<script>" in letter.text  # plain text stays as typed


@pytest.mark.parametrize("url", ["javascript:alert(1)", 'https://x.example/"onmouseover="alert(1)'])
def test_only_plain_web_addresses_become_links(url: str) -> None:
    letter = compose("reschedule", "personal", replace(SCENARIOS["berlin"], pick_url=url))
    assert "<a " not in letter.html
    assert escape(url) in letter.html


def test_control_characters_never_reach_the_subject_or_the_greeting() -> None:
    context = replace(
        SCENARIOS["berlin"],
        interviewer_name="Zoë\r\nBcc: victim@example.org",
        role="Backend\nEngineer\x00\x85\u2028Team\t Lead",
    )
    letter = compose("reschedule", "personal", context)
    assert letter.subject == (
        "Request to reschedule: interview for Backend Engineer Team Lead on Thursday 9 October 2025"
    )
    assert letter.text.splitlines()[0] == "Dear Zoë Bcc: victim@example.org,"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", letter.text + letter.html)


def test_clean_composes_letters_and_keeps_any_script() -> None:
    assert clean("Zoe\u0308 Bronte\u0308") == "Zoë Brontë"
    assert clean(" 王芳\n") == "王芳"
    assert clean("José\x1b[31m García") == "José [31m García"


def test_names_in_any_script_come_out_whole() -> None:
    context = replace(SCENARIOS["sydney"], interviewer_name="Zoe\u0308", candidate_name="王芳")
    letter = compose("cancel", "personal", context)
    assert letter.text.startswith("Dear Zoë,\n")
    assert letter.text.endswith("\n王芳\n+1 415 555 0199\n")
    assert '<html lang="en">' in letter.html
    assert "<p>Dear Zoë,</p>" in letter.html


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "reason", "changes", "message"),
    [
        ("apology", "personal", {}, "kind must be one of"),
        ("reschedule", "boredom", {}, "reason must be one of"),
        ("reschedule", "other", {"reason_text": " \n"}, "needs the reason text"),
        ("confirmation", "personal", {}, "needs the confirmed slot"),
        ("cancel", "personal", {"interviewer_name": "\r\n"}, "interviewer name is needed"),
    ],
)
def test_refuses_what_it_cannot_write(
    kind: str, reason: str, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compose(kind, reason, replace(SCENARIOS["berlin"], **changes))


def test_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(SCENARIOS["berlin"], now=datetime(2025, 10, 6, 9, 0))  # noqa: DTZ001


def test_urgency_and_lateness_count_elapsed_time_across_a_clock_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # clocks go back on 25 October 2026, 03:00 -> 02:00
    context = SCENARIOS["berlin"]

    def at(start: datetime, now: datetime) -> LetterContext:
        interview = replace(context.interview, start=start, end=start + timedelta(hours=1))
        return replace(context, interview=interview, now=now)

    # 23½ hours apart on the wall clock, 24½ hours apart in fact: not urgent.
    later = at(
        datetime(2026, 10, 25, 3, 0, tzinfo=berlin), datetime(2026, 10, 24, 3, 30, tzinfo=berlin)
    )
    assert not compose("cancel", "illness", later).urgent
    # 02:15 after the change is 45 minutes after 02:30 before it: urgent, not already passed.
    soon = at(
        datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=berlin),
        datetime(2026, 10, 25, 2, 30, tzinfo=berlin),
    )
    letter = compose("cancel", "illness", soon)
    assert letter.urgent
    assert not any("already passed" in warning for warning in letter.warnings)
