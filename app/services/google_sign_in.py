"""Signing in with Google: the Newslot account behind a Google account, made on first use.

Google's `sub` is the stable key (an address can change hands); an existing password account
with the same address is linked only when Google has verified that address, since whoever
controls a verified address could reset the password anyway.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import available_timezones

from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import User
from app.services.google_auth import GoogleAuthProblem


def user_for(info: dict, time_zone: str | None, now: datetime) -> User:
    """The user Google's answer (`sub`, `email`, `email_verified`, `name`) signs in."""
    subject = str(info["sub"])
    user = db.session.scalar(db.select(User).filter_by(google_subject=subject))
    if user is not None:
        return user
    email = str(info["email"]).strip().lower()
    user = db.session.scalar(db.select(User).filter_by(email=email))
    if user is not None:
        if not info.get("email_verified") or user.google_subject:
            raise GoogleAuthProblem(
                f"An account for {email} exists already; sign in with its password."
            )
        user.google_subject = subject
        db.session.commit()
        return user
    user = User(
        email=email,
        name=(str(info.get("name") or "").strip() or email.partition("@")[0])[:200],
        time_zone=time_zone if time_zone in available_timezones() else "UTC",
        # Nobody knows this password: the account signs in through Google until one is set.
        password_hash=generate_password_hash(secrets.token_urlsafe(32)),
        google_subject=subject,
        created_at=now,
    )
    db.session.add(user)
    db.session.commit()
    return user
