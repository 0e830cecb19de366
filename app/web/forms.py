"""The web forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, PasswordField, StringField, URLField
from wtforms.validators import DataRequired, Email, Length, ValidationError


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


class UploadForm(FlaskForm):
    file = FileField("Calendar file (.ics)", validators=[FileRequired("Choose an .ics file.")])


class FeedForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=200)])
    url = URLField(
        "Feed address (https:// or webcal://)", validators=[DataRequired(), Length(max=2000)]
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
