"""Sign up, sign in, sign out."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from app import google_client
from app.extensions import db, limiter
from app.models import User
from app.web.clock import now
from app.web.forms import GoogleSignInForm, SignInForm, SignUpForm, time_zones

blueprint = Blueprint("auth", __name__)
# Checked against when the address is unknown, so both cases take the same time.
_NO_SUCH_USER = generate_password_hash("no such user")


@blueprint.route("/sign-up", methods=["GET", "POST"])
def sign_up():
    form = SignUpForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if db.session.scalar(db.select(User).filter_by(email=email)):
            form.email.errors.append("An account with this address exists; sign in instead.")
        else:
            user = User(
                email=email, name=form.name.data.strip(), time_zone=form.time_zone.data,
                password_hash=generate_password_hash(form.password.data), created_at=now(),
            )  # fmt: skip
            db.session.add(user)
            db.session.commit()
            login_user(user)
            return redirect(url_for("calendars.index"))
    return render_template("auth/sign_up.html", form=form, zones=time_zones())


@blueprint.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGN_IN_RATE_LIMIT"], methods=["POST"])
def sign_in():
    form = SignInForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(db.select(User).filter_by(email=email))
        if (
            check_password_hash(user.password_hash if user else _NO_SUCH_USER, form.password.data)
            and user
        ):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("home.index"))
        form.password.errors.append("That address and password do not match.")
    google = google_client.from_config(current_app.config) is not None
    return render_template(
        "auth/sign_in.html", form=form, google_form=GoogleSignInForm() if google else None
    )


@blueprint.route("/sign-out", methods=["POST"])
@login_required
def sign_out():
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("auth.sign_in"))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect to another one."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
