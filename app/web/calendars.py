"""The user's calendars: upload, subscribe, connect a CalDAV account, refresh, remove."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app import google_client
from app.services import calendars, google_accounts
from app.services.accounts import ACCOUNT_KINDS, GOOGLE
from app.web.access import calendar_access, found_or_404
from app.web.clock import now
from app.web.forms import (
    NO_CALENDAR,
    AccountCalendarsForm,
    ActionForm,
    CaldavForm,
    FeedForm,
    UploadForm,
)

blueprint = Blueprint("calendars", __name__, url_prefix="/calendars")


@blueprint.before_request
@login_required
def require_sign_in() -> None:
    """Every page here is the signed-in user's own."""


def _google_accounts(sources) -> dict[int, dict]:
    """Per Google account: its address, whether it needs reconnecting, whether Gmail sends."""
    return {
        source.id: {
            "account": google_accounts.account_of(source),
            "reconnect": google_accounts.needs_reconnect(source),
            "gmail": google_accounts.sends_mail(source),
        }
        for source in sources
        if source.kind == GOOGLE
    }


def _page(
    upload: UploadForm | None = None,
    feed: FeedForm | None = None,
    caldav: CaldavForm | None = None,
    status: int = 200,
):
    sources = current_user.calendars
    return render_template(
        "calendars/index.html",
        sources=sources,
        choices={s.id: calendars.account_choice(s) for s in sources if s.kind in ACCOUNT_KINDS},
        google=_google_accounts(sources),
        google_enabled=google_client.from_config(current_app.config) is not None,
        upload=upload or UploadForm(),
        feed=feed or FeedForm(),
        caldav=caldav or CaldavForm(),
        action=ActionForm(),
    ), status


@blueprint.get("/")
def index():
    return _page()


@blueprint.post("/upload")
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return _page(upload=form, status=400)
    try:
        source = calendars.add_upload(
            current_user, form.file.data.filename, form.file.data.read(), now()
        )
    except calendars.CalendarProblem as problem:
        form.file.errors.append(str(problem))
        return _page(upload=form, status=400)
    flash(f"Added {source.name} ({source.event_count} events).")
    return redirect(url_for(".index"))


@blueprint.post("/feed")
def feed():
    form = FeedForm()
    if not form.validate_on_submit():
        return _page(feed=form, status=400)
    try:
        source = calendars.add_feed(
            current_user, form.url.data, form.name.data or "", now(), **calendar_access()
        )
    except calendars.CalendarProblem as problem:
        form.url.errors.append(str(problem))
        return _page(feed=form, status=400)
    flash(f"Subscribed to {source.name} ({source.event_count} events).")
    return redirect(url_for(".index"))


@blueprint.post("/caldav")
def connect_caldav():
    form = CaldavForm()
    if not form.validate_on_submit():
        return _page(caldav=form, status=400)
    try:
        source = calendars.add_caldav(
            current_user, form.url.data, form.username.data, form.password.data, now(),
            secret_key=current_app.config["VAULT_KEYS"],
        )  # fmt: skip
    except calendars.CalendarProblem as problem:
        form.form_errors.append(str(problem))  # about the whole account, not one field
        return _page(caldav=form, status=400)
    flash(f"Connected {source.name}. Choose the calendars Newslot should use.")
    return redirect(url_for(".account_calendars", source_id=source.id))


@blueprint.route("/<int:source_id>/calendars", methods=["GET", "POST"])
def account_calendars(source_id: int):
    """Which of an account's calendars count as busy, and which receives confirmed events."""
    source = found_or_404(calendars.owned_source(current_user, source_id))
    if source.kind not in ACCOUNT_KINDS:
        abort(404)
    choice = calendars.account_choice(source)
    form = AccountCalendarsForm()
    form.busy.choices = [(calendar.id, calendar.name) for calendar in choice.calendars]
    form.write.choices = [
        *((calendar.id, calendar.name) for calendar in choice.calendars if calendar.can_write),
        (NO_CALENDAR, "None: do not write confirmed interviews to this account"),
    ]
    if not form.is_submitted():
        form.busy.data = sorted(choice.busy)
        form.write.data = choice.write or NO_CALENDAR
    elif form.validate():
        write = None if form.write.data == NO_CALENDAR else form.write.data
        try:
            relieved = calendars.choose_account_calendars(source, form.busy.data, write)
        except calendars.CalendarProblem as problem:
            form.busy.errors = [*form.busy.errors, str(problem)]
        else:
            flash(f"Saved the calendars of {source.name}.")
            if relieved:
                flash(
                    f"Confirmed interviews now go to this account only, no longer to"
                    f" {', '.join(relieved)}."
                )
            return redirect(url_for(".index"))
    status = 400 if form.errors else 200
    return render_template("calendars/account.html", source=source, form=form), status


@blueprint.post("/sample")
def sample():
    source = calendars.add_sample(current_user, now())
    flash(f"Added a sample calendar ({source.event_count} events) to try Newslot with.")
    return redirect(url_for(".index"))


@blueprint.post("/<int:source_id>/refresh")
def refresh(source_id: int):
    source = found_or_404(calendars.owned_source(current_user, source_id))
    calendars.refresh(source, now(), **calendar_access())
    flash(
        f"Could not refresh {source.name}: {source.error}"
        if source.error
        else f"Refreshed {source.name}."
    )
    return redirect(url_for(".index"))


@blueprint.post("/<int:source_id>/remove")
def remove(source_id: int):
    source = found_or_404(calendars.owned_source(current_user, source_id))
    name = source.name
    revoked = calendars.remove(source, secret_key=current_app.config["VAULT_KEYS"])
    if revoked is False:
        flash(
            f"Removed {name} here, but Google could not be told: remove Newslot's access at"
            " myaccount.google.com/permissions."
        )
    elif revoked:
        flash(f"Disconnected {name}: Google has withdrawn Newslot's access.")
    else:
        flash(f"Removed {name}.")
    return redirect(url_for(".index"))
