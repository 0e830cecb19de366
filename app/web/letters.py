"""The letter page (write, preview, edit, send) and the outbox (what became of each letter)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.mail import Transport
from app.messages.letters import DEFAULT_REASON, REASONS, Letter
from app.models import Interview, Message
from app.services import accounts, cancelling, sending
from app.services.interviews import in_both_zones
from app.web.access import found_or_404, own_interview
from app.web.clock import now
from app.web.forms import ActionForm, LetterForm

blueprint = Blueprint("letters", __name__)

PREVIEW, SEND, SAVE = "preview", "send", "save"
STATE_WORDS = {
    sending.QUEUED: "Not sent yet",
    sending.SENDING: "Sending…",
    sending.SENT: "Sent",
    sending.FAILED: "Not sent: failed",
}
TRANSPORT_WORDS = {
    "outbox": "kept in the outbox folder, not emailed",
    "smtp": "by email",
    "gmail": "by email through Gmail",
    sending.BY_HAND: "from your own mail app",
}


@blueprint.before_request
@login_required
def require_sign_in() -> None:
    """Every page here is the signed-in user's own."""


@blueprint.route("/interviews/<int:interview_id>/letter", methods=["GET", "POST"])
def letter(interview_id: int):
    """GET: the suggested letter (JSON for the live preview); POST: preview again, send or keep."""
    interview = own_interview(interview_id)
    if request.method == "GET":
        form = LetterForm(data={**_choice_from_query(), "key": sending.new_key()})
        if _wants_json():
            return _preview_json(interview, form)
        return _page(interview, form, fresh=True)
    form = LetterForm()
    action = request.form.get("action", PREVIEW)
    if action not in (SEND, SAVE):
        return _page(interview, form, fresh=True)
    if not form.validate():
        return _page(interview, form, status=400)
    try:
        message = sending.queue_letter(
            interview,
            current_user,
            _choice(form),
            form.subject.data,
            form.body.data,
            key=form.key.data or "",
            now=now(),
            public_url=_public_url(),
            secret_key=current_app.config["VAULT_KEYS"],
            hold_times=form.hold_times.data,
            from_address=sending.sender_address(current_user, current_app.config),
        )
    except sending.LetterProblem as problem:
        return _page(interview, form, problem=str(problem), status=400)
    if message.kind == sending.CANCEL and (left_on_calendar := cancelling.problem(interview)):
        flash(left_on_calendar)
    if action == SEND:
        _send(message)
    else:
        flash(
            "Kept in your outbox, not sent: open it in your mail app or download the .eml to "
            "send it yourself, or send it from here."
        )
    return redirect(url_for(".message", message_id=message.id))


@blueprint.get("/outbox")
def outbox():
    sending.release_interrupted(current_user, now())
    return render_template(
        "letters/outbox.html", messages=sending.messages_of(current_user), **_outbox_helpers()
    )


@blueprint.get("/outbox/<int:message_id>")
def message(message_id: int):
    message = found_or_404(sending.owned_message(current_user, message_id))
    return render_template(
        "letters/message.html",
        message=message,
        text=sending.plain_text(message),
        mailto=sending.mailto_url(message),
        **_outbox_helpers(),
    )


@blueprint.get("/outbox/<int:message_id>.eml")
def download(message_id: int):
    message = found_or_404(sending.owned_message(current_user, message_id))
    return Response(
        message.eml,
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="newslot-letter-{message.id}.eml"'},
    )


@blueprint.post("/outbox/<int:message_id>/send")
def send(message_id: int):
    _send(found_or_404(sending.owned_message(current_user, message_id)))
    return redirect(url_for(".message", message_id=message_id))


@blueprint.post("/outbox/<int:message_id>/sent-by-me")
def sent_by_me(message_id: int):
    message = found_or_404(sending.owned_message(current_user, message_id))
    if sending.mark_sent_by_hand(message, now()):
        flash("Marked as sent from your own mail app.")
    else:
        flash(f"Nothing changed: this letter is already {STATE_WORDS[message.state].lower()}.")
    return redirect(url_for(".message", message_id=message_id))


def _page(
    interview: Interview,
    form: LetterForm,
    *,
    fresh: bool = False,
    problem: str | None = None,
    status: int = 200,
):
    """The letter page; `fresh` replaces the subject and body with the newly composed letter."""
    written, compose_problem = _compose(interview, form)
    if written is not None and fresh:
        form.subject.data, form.body.data = written.subject, written.text
    form.key.data = form.key.data or sending.new_key()
    return render_template(
        "letters/letter.html",
        interview=interview,
        form=form,
        letter=written,
        problem=problem or compose_problem,
        when=in_both_zones(interview, current_user, now()),
        placeholder=sending.PICK_LINK_PLACEHOLDER,
        has_times=bool(sending.offered_times(interview)),
        public_url=_public_url(),
        delivery=sending.describe_transport(current_user, current_app.config),
        sender=sending.sender_address(current_user, current_app.config),
        can_hold=accounts.has_write_target(current_user),
    ), status


def _compose(interview: Interview, form: LetterForm) -> tuple[Letter | None, str | None]:
    """The letter for the chosen kind and reason, or why there is none (errors on the fields)."""
    checked = [field.validate(form) for field in (form.kind, form.reason, form.reason_text)]
    if not all(checked):
        return None, None
    try:
        written = sending.compose_letter(
            interview, current_user, _choice(form), now=now(), public_url=_public_url()
        )
    except sending.LetterProblem as problem:
        return None, str(problem)
    return written, None


def _preview_json(interview: Interview, form: LetterForm):
    """The live preview (letter.js): the same letter the page would show, as data."""
    written, problem = _compose(interview, form)
    if written is None:
        errors = [*form.kind.errors, *form.reason.errors, *form.reason_text.errors]
        return jsonify(error=problem or " ".join(errors)), 400
    return jsonify(
        subject=written.subject,
        body=written.text,
        urgent=written.urgent,
        phone_script=written.phone_script,
        warnings=list(written.warnings),
    )


def _send(message: Message) -> None:
    """Deliver through the user's transport and say in the flash what happened."""
    if not sending.deliver(message, _transport, now()):
        flash(f"Not sent again: this letter is already {STATE_WORDS[message.state].lower()}.")
    elif message.state == sending.FAILED:
        flash(f"Not sent. {message.error} The letter is kept in your outbox.")
    elif message.transport == "outbox":
        flash(
            "Saved in the outbox folder on this computer: nothing was emailed. Send it from your "
            "mail app or with the .eml file below."
        )
    else:
        flash(f"Sent to {message.recipients}.")


def _transport() -> Transport:
    return sending.transport_for(current_user, current_app.config, current_app.instance_path)


def _choice(form: LetterForm) -> sending.Choice:
    return sending.Choice(form.kind.data, form.reason.data, (form.reason_text.data or "").strip())


def _choice_from_query() -> dict[str, str]:
    """The kind and reason a link asked for (the conflicts page links here with ?kind=...)."""
    kind = request.args.get("kind", sending.RESCHEDULE)
    reason = request.args.get("reason", DEFAULT_REASON)
    return {
        "kind": kind if kind in sending.LETTER_KINDS else sending.RESCHEDULE,
        "reason": reason if reason in REASONS else DEFAULT_REASON,
        "reason_text": request.args.get("reason_text", "")[:300],
    }


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    )


def _public_url() -> str | None:
    return current_app.config.get("PUBLIC_URL") or None


def _outbox_helpers() -> dict:
    zone = ZoneInfo(current_user.time_zone)

    def local(moment: datetime | None) -> str:
        return "" if moment is None else f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"

    return {
        "action": ActionForm(),
        "local": local,
        "state_words": STATE_WORDS,
        "transport_words": TRANSPORT_WORDS,
        "sendable": sending.SENDABLE,
    }
