"""The user's interviews: enter one, see its day and what clashes, choose the times to offer.

Times swapped away or removed are remembered in the session (per interview, as UTC starts) so
they are not proposed again while the user keeps choosing; they are a preference of this
browser session, not data worth a table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer

from app.messages.invites import InviteError
from app.models import Interview
from app.services import choosing, dayview, google_interviews, interviews
from app.web.access import calendar_access, found_or_404, own_interview
from app.web.clock import now
from app.web.forms import ActionForm, InterviewForm, InviteForm, SearchForm, SlotForm, time_zones
from calendar_providers.base import ProviderError

blueprint = Blueprint("interviews", __name__)

REJECTED_KEPT = 40  # per interview; the session is a cookie and must stay small


@blueprint.before_request
@login_required
def require_sign_in() -> None:
    """Every page here is the signed-in user's own."""


@blueprint.app_template_filter("local")
def local(moment: datetime, zone: str) -> str:
    """'Tue 1 Dec 2026, 16:00 CET': a stored UTC time on the given zone's clock."""
    moment = moment.astimezone(ZoneInfo(zone))
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} {moment.tzname()}"


# --- Entering an interview ----------------------------------------------------------------------


@blueprint.route("/interviews/new", methods=["GET", "POST"])
def new():
    form = InterviewForm()
    if not form.validate_on_submit():
        return _new_page(form, status=400 if form.is_submitted() else 200)
    zone = ZoneInfo(current_user.time_zone)
    try:
        start = interviews.wall_clock(form.date.data, form.time.data, zone)
    except interviews.TimeProblem as problem:
        form.time.errors.append(str(problem))
        return _new_page(form, status=400)
    invite = _opened_invite(form.invite.data)
    interview = interviews.create_interview(
        current_user,
        interviews.Details(
            company=form.company.data.strip(),
            role=form.role.data.strip(),
            interviewer_name=form.interviewer_name.data.strip(),
            interviewer_email=form.interviewer_email.data.strip(),
            interviewer_tz=form.interviewer_tz.data,
            start=start,
            end=start + timedelta(minutes=form.duration.data),
            location=(form.location.data or "").strip(),
            meeting_link=(form.meeting_link.data or "").strip(),
            uid=invite.get("uid"),
            sequence=invite.get("sequence", 0),
            organised_by_user=invite.get("organised", False),
        ),
        now(),
    )
    flash(f"Added the interview with {interview.company}.")
    return redirect(url_for(".show", interview_id=interview.id))


@blueprint.post("/interviews/new/invite")
def read_invite():
    upload = InviteForm()
    if not upload.validate_on_submit():
        return _new_page(upload=upload, status=400)
    try:
        details = interviews.details_from_invite(upload.file.data.read(), current_user)
    except InviteError as error:
        upload.file.errors.append(f"This invite cannot be used: {error}.")
        return _new_page(upload=upload, status=400)
    return _new_page(_prefilled(details), imported=details, imported_from="the invite")


@blueprint.get("/interviews/new/google")
def google_events():
    """The upcoming events of the user's Google calendar, to pick the interview from."""
    listing = google_interviews.upcoming(
        current_user, now(), secret_key=current_app.config["VAULT_KEYS"]
    )
    return render_template(
        "interviews/google_events.html",
        listing=listing,
        action=ActionForm(),
        days=google_interviews.LOOK_AHEAD.days,
    )


@blueprint.post("/interviews/new/google")
def from_google():
    """The new-interview form filled in from the chosen Google event, for the user to check."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        details = google_interviews.chosen_details(
            current_user,
            request.form.get("event", ""),
            now(),
            secret_key=current_app.config["VAULT_KEYS"],
        )
    except ProviderError as error:
        flash(str(error))
        return redirect(url_for(".google_events"))
    return _new_page(
        _prefilled(details), imported=details, imported_from="your Google Calendar event"
    )


def _prefilled(details: interviews.Details) -> InterviewForm:
    """The interview form filled in from an event, its identity signed into `invite`."""
    start = details.start.astimezone(ZoneInfo(current_user.time_zone))
    return InterviewForm(
        formdata=None,
        company=details.company,
        role=details.role,
        interviewer_name=details.interviewer_name,
        interviewer_email=details.interviewer_email,
        interviewer_tz=details.interviewer_tz,
        date=start.date(),
        time=start.time(),
        duration=round((details.end - details.start) / timedelta(minutes=1)),
        location=details.location,
        meeting_link=details.meeting_link,
        invite=_sealed_invite(details),
    )


def _new_page(
    form: InterviewForm | None = None,
    upload: InviteForm | None = None,
    imported: interviews.Details | None = None,
    imported_from: str = "",
    status: int = 200,
):
    return render_template(
        "interviews/new.html",
        form=form or InterviewForm(formdata=None),
        upload=upload or InviteForm(formdata=None),
        imported=imported,
        imported_from=imported_from,
        has_google=bool(google_interviews.google_sources(current_user)),
        zones=time_zones(),
    ), status


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="interviews.invite")


def _sealed_invite(details: interviews.Details) -> str:
    """The event's identity from the invite, signed, to come back with the filled-in form."""
    return _serializer().dumps(
        {"uid": details.uid, "sequence": details.sequence, "organised": details.organised_by_user}
    )


def _opened_invite(sealed: str | None) -> dict:
    """What `_sealed_invite` kept; nothing for a typed-in interview or a tampered field."""
    if not sealed:
        return {}
    try:
        return _serializer().loads(sealed)
    except BadSignature:
        return {}


# --- The interview and its day ------------------------------------------------------------------


@blueprint.get("/interviews/<int:interview_id>")
def show(interview_id: int):
    interview = own_interview(interview_id)
    return render_template(
        "interviews/show.html",
        interview=interview,
        when=interviews.in_both_zones(interview, current_user, now()),
        day=dayview.look_at_day(interview, current_user, **calendar_access()),
        letter_url=_letter_url,
    )


# --- The times to offer -------------------------------------------------------------------------


@blueprint.get("/interviews/<int:interview_id>/proposals")
def proposals(interview_id: int):
    return _proposals_page(own_interview(interview_id))


@blueprint.post("/interviews/<int:interview_id>/proposals/<int:slot_id>/swap")
def swap(interview_id: int, slot_id: int):
    interview = own_interview(interview_id)
    row = found_or_404(choosing.offer_slot(interview, slot_id))
    old_start = row.start
    found = choosing.swap_slot(
        interview, current_user, row, now(), _rejected(interview.id), **calendar_access()
    )
    if found is None:
        flash("No other good time is left in the search; widen the search to see more.")
    else:
        _reject(interview.id, old_start)
        flash("Swapped the time for the next best one.")
    return redirect(url_for(".proposals", interview_id=interview.id))


@blueprint.post("/interviews/<int:interview_id>/proposals/<int:slot_id>/remove")
def remove(interview_id: int, slot_id: int):
    interview = own_interview(interview_id)
    row = found_or_404(choosing.offer_slot(interview, slot_id))
    _reject(interview.id, row.start)
    choosing.remove_slot(row)
    flash("Removed the time.")
    return redirect(url_for(".proposals", interview_id=interview.id))


@blueprint.post("/interviews/<int:interview_id>/proposals/add")
def add(interview_id: int):
    interview = own_interview(interview_id)
    form = SlotForm()
    if not form.validate_on_submit():
        return _proposals_page(interview, add_form=form, status=400)
    try:
        start = interviews.wall_clock(
            form.date.data, form.time.data, ZoneInfo(current_user.time_zone)
        )
        warnings = choosing.add_slot(interview, current_user, start, now(), **calendar_access())
    except (interviews.TimeProblem, choosing.SlotProblem) as problem:
        form.time.errors.append(str(problem))
        return _proposals_page(interview, add_form=form, status=400)
    flash("Added your time." + "".join(f" Note: {warning}." for warning in warnings))
    return redirect(url_for(".proposals", interview_id=interview.id))


@blueprint.post("/interviews/<int:interview_id>/proposals/adjust")
def adjust(interview_id: int):
    interview = own_interview(interview_id)
    form = SearchForm()
    if not form.validate_on_submit():
        return _proposals_page(interview, search_form=form, status=400)
    settings = choosing.SearchSettings(
        window_days=form.window_days.data,
        work_hours=form.work_hours.data.strip(),
        interviewer_work_hours=form.interviewer_work_hours.data.strip(),
        buffer_minutes=form.buffer_minutes.data,
        min_notice_hours=form.min_notice_hours.data,
    )
    choosing.adjust_search(
        interview, current_user, settings, now(), _rejected(interview.id), **calendar_access()
    )
    flash("Saved the search settings and proposed again.")
    return redirect(url_for(".proposals", interview_id=interview.id))


def _proposals_page(
    interview: Interview,
    add_form: SlotForm | None = None,
    search_form: SearchForm | None = None,
    status: int = 200,
):
    """The page reads busy time once, in choose_times."""
    moment = now()
    choices = choosing.choose_times(
        interview, current_user, moment, _rejected(interview.id), **calendar_access()
    )
    return render_template(
        "interviews/proposals.html",
        interview=interview,
        when=interviews.in_both_zones(interview, current_user, moment),
        choices=choices,
        add_form=add_form or SlotForm(formdata=None),
        search_form=search_form or SearchForm(formdata=None, obj=interview),
        action=ActionForm(),
        letter_url=_letter_url,
    ), status


def _rejected(interview_id: int) -> set[datetime]:
    kept = session.get("rejected_slots", {}).get(str(interview_id), [])
    return {datetime.fromisoformat(start) for start in kept}


def _reject(interview_id: int, start: datetime) -> None:
    rejected = session.get("rejected_slots", {})
    kept = rejected.get(str(interview_id), [])
    kept = [*kept, start.astimezone(UTC).isoformat()][-REJECTED_KEPT:]
    session["rejected_slots"] = {**rejected, str(interview_id): kept}


# --- Shared -------------------------------------------------------------------------------------


def _letter_url(interview: Interview, kind: str) -> str:
    """The letter page (the letters blueprint's), by path: its endpoint is not ours to name."""
    return f"{request.script_root}/interviews/{interview.id}/letter?kind={kind}"
