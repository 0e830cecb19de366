"""The dashboard."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

blueprint = Blueprint("home", __name__)


@blueprint.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    return render_template("home.html")
