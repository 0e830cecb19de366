"""The web layer: blueprints hold routes only; use cases live in app.services."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from app import google_client
from app.extensions import db, login_manager
from app.models import User

# No inline script or style anywhere, no framing (clickjacking), no referrer (the interviewer's
# page carries its token in the URL). Forms post only here, except that "Connect Google"
# redirects to Google's consent screen, which form-action must allow.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'{google}; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def register(app: Flask) -> None:
    """Blueprints, the user loader, security headers and friendly error pages."""
    from app.web import auth, calendars, google, home, interviews, letters, offers

    for module in (home, auth, calendars, google, interviews, letters, offers):
        app.register_blueprint(module.blueprint)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Please sign in to continue."

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    google = google_client.from_config(app.config)
    auth = urlsplit(google.auth_uri) if google else None
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY.format(
            google=f" {auth.scheme}://{auth.netloc}" if auth else ""
        ),
        **SECURITY_HEADERS,
    }

    @app.after_request
    def secure(response):
        response.headers.update(headers)
        return response

    def problem(status: int, title: str, detail: str):
        return render_template("problem.html", title=title, detail=detail), status

    app.register_error_handler(
        CSRFError,
        lambda error: problem(
            400, "The form expired", "Please go back, reload the page and try again."
        ),
    )
    app.register_error_handler(
        404, lambda error: problem(404, "Not found", "There is nothing at this address.")
    )
    app.register_error_handler(
        413,
        lambda error: problem(
            413,
            "File too large",
            f"Uploads may be at most {app.config['MAX_CONTENT_LENGTH'] // 2**20} MB.",
        ),
    )
    app.register_error_handler(
        429,
        lambda error: problem(429, "Too many attempts", "Please wait a minute and try again."),
    )
