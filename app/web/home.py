"""The dashboard."""

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

from app.services import holds
from app.web.clock import now

blueprint = Blueprint("home", __name__)


@blueprint.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    # Offers that expired since the last visit give their held times back (cheap when none).
    holds.release_finished(current_user, now(), secret_key=current_app.config["VAULT_KEYS"])
    return render_template("home.html")
