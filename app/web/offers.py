"""The interviewer's public page `/o/<token>` and the candidate's own confirmation of a time.

The public page shows only what the interviewer needs (company, role, the candidate's name, the
offered times in the interviewer's zone) and is rate-limited per address. Both ways of answering
go through `confirming.pick`, which records a pick exactly once. Holds on the offered times go
when the offer is answered or seen to be over (here, or on the candidate's page).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user, login_required

from app.extensions import limiter
from app.models import Interview, Offer, OfferSlot
from app.services import confirming, holds, offers
from app.web.access import own_interview
from app.web.clock import now
from app.web.forms import ActionForm, ConfirmSlotForm, OfferAnswerForm

blueprint = Blueprint("offers", __name__)

PAGE_LIMIT, ANSWER_LIMIT = "60 per minute", "10 per minute"
NONE_OF_THESE = "none"
_GONE = (offers.EXPIRED, offers.WITHDRAWN)


# --- The interviewer's page ---------------------------------------------------------------------


@blueprint.get("/o/<token>")
@limiter.limit(PAGE_LIMIT)
def page(token: str):
    offer = _public_offer(token)
    state = offers.status(offer, now())
    if state in _GONE:
        return _gone(offer)
    if state != offers.OPEN:
        return _answered(token, offer, just_now=True)
    return _answer_page(token, offer, _answer_form(offer))


@blueprint.post("/o/<token>")
@limiter.limit(ANSWER_LIMIT)
def answer(token: str):
    offer = _public_offer(token)
    state = offers.status(offer, now())
    if state in _GONE:
        return _gone(offer)
    if state != offers.OPEN:
        return _answered(token, offer, just_now=False)
    form = _answer_form(offer)
    if not form.validate_on_submit():
        return _answer_page(token, offer, form, status=400)
    note = form.note.data or ""
    if form.choice.data == NONE_OF_THESE:
        if not offers.decline(offer, note, now()):
            return _answered(token, offer, just_now=False)
        holds.release_holds(offer, secret_key=current_app.config["VAULT_KEYS"])
        return redirect(url_for(".page", token=token))
    slot = offers.slot_of(offer, int(form.choice.data))
    outcome = confirming.pick(
        offer, slot, note, now(), current_app.config, current_app.instance_path
    )
    if outcome.result == confirming.NO_LONGER_FREE:
        return _answer_page(token, offer, _answer_form(offer), free=outcome.free, status=409)
    if outcome.result == confirming.ALREADY_ANSWERED:
        return _answered(token, offer, just_now=False)
    return redirect(url_for(".page", token=token))


@blueprint.get("/o/<token>/invite.ics")
@limiter.limit(PAGE_LIMIT)
def public_invite(token: str):
    offer = _public_offer(token)
    if offer.state != offers.PICKED:
        abort(404)
    return _ics(offer.interview)


def _public_offer(token: str) -> Offer:
    offer = offers.find_offer(token)
    if offer is None or offer.state == offers.DRAFT:
        abort(404)
    return offer


def _answer_form(offer: Offer) -> OfferAnswerForm:
    form = OfferAnswerForm()
    form.choice.choices = [(str(slot.id), str(slot.id)) for slot in offer.slots]
    form.choice.choices.append((NONE_OF_THESE, NONE_OF_THESE))
    return form


def _answer_page(
    token: str,
    offer: Offer,
    form: OfferAnswerForm,
    *,
    free: tuple[OfferSlot, ...] | None = None,
    status: int = 200,
):
    """The form with the times to pick from (see `_shown`)."""
    interview = offer.interview
    return render_template(
        "offers/offer.html",
        token=token,
        form=form,
        interview=interview,
        candidate=offers.interview_owner(interview),
        slots=offers.written(interview, _shown(offer, free), now(), candidate_zone=False),
        refused=free is not None,
    ), status


def _answered(token: str, offer: Offer, *, just_now: bool):
    """The offer's answer: the confirmed time with its invite, or 'none of these work'."""
    interview = offer.interview
    picked = offers.slot_of(offer, offer.picked_slot_id)
    invite_ready = picked is not None and confirming.confirmed_invite(interview) is not None
    return render_template(
        "offers/answered.html",
        token=token,
        offer=offer,
        interview=interview,
        candidate=offers.interview_owner(interview),
        picked=offers.written(interview, [picked], now(), candidate_zone=False)[0]
        if picked
        else None,
        links=confirming.calendar_links(interview) if invite_ready else None,
        just_now=just_now,
    ), 200 if just_now else 409


def _gone(offer: Offer):
    holds.release_holds(offer, secret_key=current_app.config["VAULT_KEYS"])  # if any are left
    return render_template(
        "offers/gone.html", candidate=offers.interview_owner(offer.interview)
    ), 410


# --- The candidate's side -----------------------------------------------------------------------


@blueprint.get("/interviews/<int:interview_id>/confirm")
@login_required
def candidate_page(interview_id: int):
    interview = own_interview(interview_id)
    holds.release_finished(current_user, now(), secret_key=current_app.config["VAULT_KEYS"])
    return _candidate_page(interview, _confirm_form(offers.current_offer(interview)))


@blueprint.post("/interviews/<int:interview_id>/confirm")
@login_required
def candidate_confirm(interview_id: int):
    interview = own_interview(interview_id)
    offer = offers.current_offer(interview)
    form = _confirm_form(offer)
    if offer is None or offer.state != offers.OPEN:
        flash("This offer is no longer open: it was answered or withdrawn.")
        return redirect(url_for(".candidate_page", interview_id=interview.id))
    if not form.validate_on_submit():
        return _candidate_page(interview, form, status=400)
    outcome = confirming.pick(
        offer,
        offers.slot_of(offer, form.slot.data),
        "",
        now(),
        current_app.config,
        current_app.instance_path,
    )
    if outcome.result == confirming.NO_LONGER_FREE:
        return _candidate_page(interview, _confirm_form(offer), free=outcome.free, status=409)
    if outcome.result == confirming.ALREADY_ANSWERED:
        flash("This offer was already answered.")
    else:
        flash("The new time is confirmed.")
    return redirect(url_for(".candidate_page", interview_id=interview.id))


@blueprint.post("/interviews/<int:interview_id>/write-event")
@login_required
def write_event(interview_id: int):
    """Try again to put the confirmed event on the user's calendar."""
    interview = own_interview(interview_id)
    written = confirming.calendar_write(interview)
    if written is None or not written.can_retry or not confirming.confirmed_invite(interview):
        flash("There is nothing to write to your calendar again.")
    else:
        written = confirming.write_event(interview, secret_key=current_app.config["VAULT_KEYS"])
        if written is None:
            flash("No calendar is chosen for confirmed interviews any more.")
        elif written.written:
            flash(f"The interview is now on your calendar “{written.calendar}”.")
        else:
            flash(f"Still not written to your calendar “{written.calendar}”: {written.problem}")
    return redirect(url_for(".candidate_page", interview_id=interview.id))


@blueprint.get("/interviews/<int:interview_id>/invite.ics")
@login_required
def candidate_invite(interview_id: int):
    return _ics(own_interview(interview_id))


def _confirm_form(offer: Offer | None) -> ConfirmSlotForm:
    form = ConfirmSlotForm()
    form.slot.choices = [(slot.id, str(slot.id)) for slot in offer.slots] if offer else []
    return form


def _candidate_page(
    interview: Interview,
    form: ConfirmSlotForm,
    *,
    free: tuple[OfferSlot, ...] | None = None,
    status: int = 200,
):
    offer = offers.current_offer(interview)
    confirmed = confirming.confirmed_invite(interview) is not None
    return render_template(
        "offers/candidate.html",
        interview=interview,
        offer=offer,
        form=form,
        slots=offers.written(interview, _shown(offer, free), now(), candidate_zone=True),
        refused=free is not None,
        confirmed=offers.confirmed_time(interview, now()) if confirmed else None,
        links=confirming.calendar_links(interview) if confirmed else None,
        message=confirming.confirmation_message(interview) if confirmed else None,
        written=confirming.calendar_write(interview) if confirmed else None,
        held=holds.status(interview),
        action=ActionForm(),
    ), status


def _shown(offer: Offer | None, free: tuple[OfferSlot, ...] | None) -> list[OfferSlot]:
    """The times a page offers: those not started yet, or after a refusal the ones still free."""
    if offer is None:
        return []
    return offers.upcoming(offer, now()) if free is None else list(free)


def _ics(interview: Interview) -> Response:
    invite = confirming.confirmed_invite(interview)
    if invite is None:
        abort(404)
    return Response(
        invite,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="interview.ics"'},
    )
