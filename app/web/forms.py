"""The web forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.messages.invites import has_control_character
from app.scheduling.model import WorkHours


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones to choose from (the form's searchable list)."""
    return tuple(sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC"))


def known_zone(form, field) -> None:
    if field.data not in time_zones():
        raise ValidationError("Choose a time zone from the list, such as Europe/Berlin.")


class SignUpForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=320)])
    password = PasswordField(
        "Password (at least 10 characters)", validators=[DataRequired(), Length(min=10, max=200)]
    )
    time_zone = StringField("Your time zone", validators=[DataRequired(), known_zone])


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()])
    password = PasswordField("Password", validators=[DataRequired()])


class GoogleSignInForm(FlaskForm):
    """The "Sign in with Google" button; the browser's zone (filled in by zone.js) is used if
    the Google account is new here."""

    time_zone = HiddenField(validators=[Optional(), known_zone])


class UploadForm(FlaskForm):
    file = FileField("Calendar file (.ics)", validators=[FileRequired("Choose an .ics file.")])


class FeedForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=200)])
    url = URLField(
        "Feed address (https:// or webcal://)", validators=[DataRequired(), Length(max=2000)]
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


# --- The interviewer's answer and the candidate's own confirmation (offers) ---


class OfferAnswerForm(FlaskForm):
    """One offered time (its id) or "none", and a note; the view fills in the choices."""

    choice = RadioField(
        "Which time suits you?",
        choices=[],
        validators=[InputRequired("Choose one of the times, or “None of these work”.")],
    )
    note = TextAreaField("A note (optional)", validators=[Length(max=2000)])


class ConfirmSlotForm(FlaskForm):
    """The time the interviewer agreed to by email; the view fills in the offered slots."""

    slot = RadioField(
        "The time the interviewer chose",
        choices=[],
        coerce=int,
        validators=[InputRequired("Choose the time the interviewer agreed to.")],
    )


# --- The letter (kind, reason, the editable subject and body) ---------------------------------

KIND_LABELS = {
    "reschedule": "Ask to reschedule",
    "virtual": "Ask to make it a video call",
    "cancel": "Cancel the interview",
}
REASON_LABELS = {
    "emergency": "A personal emergency",
    "illness": "Illness",
    "travel": "A travel or transport problem",
    "conflict": "An unavoidable conflict",
    "personal": "Personal reasons (no detail given)",
    "other": "Something else, in my own words",
}


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def own_reason_if_other(form, field) -> None:
    if form.reason.data == "other" and not (field.data or "").strip():
        raise ValidationError("Write your reason in one sentence, or choose another reason.")


def letter_subject(form, field) -> None:
    from app.services.sending import LetterProblem, clean_subject

    try:
        field.data = clean_subject(field.data or "")
    except LetterProblem as problem:
        raise ValidationError(str(problem)) from None


def letter_body(form, field) -> None:
    from app.services.sending import LetterProblem, clean_body

    try:
        field.data = clean_body(field.data or "")
    except LetterProblem as problem:
        raise ValidationError(str(problem)) from None


class LetterForm(FlaskForm):
    """The letter page: Preview checks only the first three fields, Send and Save all of them."""

    kind = SelectField("What you ask for", choices=_choices(KIND_LABELS))
    reason = SelectField("Reason", choices=_choices(REASON_LABELS))
    reason_text = StringField(
        "Your reason in one sentence (for “Something else”)",
        validators=[own_reason_if_other, Length(max=300)],
    )
    subject = StringField("Subject", validators=[letter_subject])
    body = TextAreaField("Letter", validators=[letter_body])
    key = HiddenField()
    hold_times = BooleanField("Hold these times on my calendar")  # shown with a write calendar


# --- Interviews and the times to offer (interviews blueprint) -----------------------------------


def one_line(form, field) -> None:
    """Refuse line breaks and control characters: these values end up in mail headers."""
    if field.data and has_control_character(field.data):
        raise ValidationError("Use one line, without line breaks.")


def web_address(form, field) -> None:
    if field.data and not field.data.lower().startswith(("https://", "http://")):
        raise ValidationError("Give a web address that starts with https://.")


def working_hours(form, field) -> None:
    try:
        WorkHours.parse(field.data or "")
    except ValueError:
        raise ValidationError("Write the hours as 09:00-17:00 (24-hour clock).") from None


class InterviewForm(FlaskForm):
    company = StringField("Company", validators=[DataRequired(), Length(max=200), one_line])
    role = StringField("Role", validators=[DataRequired(), Length(max=200), one_line])
    interviewer_name = StringField(
        "Interviewer's name", validators=[DataRequired(), Length(max=200), one_line]
    )
    interviewer_email = EmailField(
        "Interviewer's email", validators=[DataRequired(), Email(), Length(max=320)]
    )
    interviewer_tz = StringField("Interviewer's time zone", validators=[DataRequired(), known_zone])
    date = DateField("Date", validators=[DataRequired("Give the date, such as 2026-12-01.")])
    time = TimeField("Start time", validators=[DataRequired("Give the start time, such as 14:30.")])
    duration = IntegerField(
        "Duration (minutes)",
        default=60,
        validators=[
            InputRequired("Give the length in minutes."),
            NumberRange(5, 600, "Give a length between 5 and 600 minutes."),
        ],
    )
    location = StringField(
        "Location (optional)", validators=[Optional(), Length(max=500), one_line]
    )
    meeting_link = URLField(
        "Meeting link (optional)", validators=[Optional(), Length(max=2000), one_line, web_address]
    )
    invite = HiddenField()  # what the uploaded invite said about the event, signed


class InviteForm(FlaskForm):
    file = FileField(
        "The invite you received (.ics)",
        validators=[FileRequired("Choose the invite's .ics file.")],
    )


class SlotForm(FlaskForm):
    date = DateField("Date", validators=[DataRequired("Give the date, such as 2026-12-03.")])
    time = TimeField("Start time", validators=[DataRequired("Give the start time, such as 10:00.")])


class SearchForm(FlaskForm):
    window_days = IntegerField(
        "Search the next (days)",
        validators=[
            InputRequired("Give a number of days."),
            NumberRange(1, 60, "From 1 to 60 days."),
        ],
    )
    work_hours = StringField("Your working hours", validators=[DataRequired(), working_hours])
    interviewer_work_hours = StringField(
        "The interviewer's working hours", validators=[DataRequired(), working_hours]
    )
    buffer_minutes = IntegerField(
        "Free time around other events (minutes)",
        validators=[
            InputRequired("Give a number of minutes."),
            NumberRange(0, 240, "From 0 to 240."),
        ],
    )
    min_notice_hours = IntegerField(
        "Minimum notice (hours)",
        validators=[
            InputRequired("Give a number of hours."),
            NumberRange(0, 336, "From 0 to 336."),
        ],
    )


# --- CalDAV accounts (calendars blueprint) -------------------------------------------------------


class CaldavForm(FlaskForm):
    url = URLField(
        "Server address",
        validators=[DataRequired("Give the server's address."), Length(max=2000), one_line],
    )
    username = StringField(
        "User name", validators=[DataRequired("Give your user name."), Length(max=200), one_line]
    )
    password = PasswordField(  # never rendered back into the page (hide_value)
        "App-specific password",
        validators=[DataRequired("Give the app-specific password."), Length(max=500)],
    )


NO_CALENDAR = "none"


class AccountCalendarsForm(FlaskForm):
    """Which calendars count as busy, and which receives confirmed events; the view fills in
    the choices from the account's discovered calendars."""

    busy = SelectMultipleField("Calendars that count as busy", choices=[])
    write = RadioField(
        "Calendar that receives confirmed interviews",
        choices=[],
        validators=[InputRequired("Choose a calendar, or “None”.")],
    )
