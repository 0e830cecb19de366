"""The database: every row that holds a user's data belongs to one user.

Times are stored in UTC (aware on the way in and out). Schema changes go through migrations in
app/migrations (`flask --app app db migrate -m "..."`, then `db upgrade`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

from app.extensions import db


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: their zone would be a guess")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class User(UserMixin, db.Model):
    """Someone who reschedules their interviews with Newslot."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    # Set once the user signs in with Google: Google's stable id for the account ("sub").
    google_subject: Mapped[str | None] = mapped_column(String(255), unique=True, index=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    calendars: Mapped[list[CalendarSource]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="CalendarSource.id"
    )
    interviews: Mapped[list[Interview]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Interview.start"
    )


class CalendarSource(db.Model):
    """A calendar the user's busy time comes from: an upload (its bytes), a feed (its address,
    encrypted), or an account such as CalDAV (`settings` as JSON, e.g. server URL, user name and
    the calendars chosen; `sealed_credentials` encrypted with app.vault)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "upload" | "feed" | "caldav" | "google"
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_url: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[str | None] = mapped_column(Text)
    sealed_credentials: Mapped[str | None] = mapped_column(Text)
    event_count: Mapped[int | None]
    refreshed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    user: Mapped[User] = relationship(back_populates="calendars")


# Interview states, in the order a reschedule moves through them.
DRAFT, OFFERED, CONFIRMED, CANCELLED = "draft", "offered", "confirmed", "cancelled"


class Interview(db.Model):
    """An interview the user has to move or cancel, with the search settings they chose for it.

    `uid`/`sequence` are the calendar event's (typed in: none; imported: the invite's);
    `organised_by_user` decides how a new time is announced (REQUEST with the same UID and a
    higher SEQUENCE when the user organised it, a new event otherwise).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    company: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    interviewer_name: Mapped[str] = mapped_column(String(200))
    interviewer_email: Mapped[str] = mapped_column(String(320))
    interviewer_tz: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    location: Mapped[str | None] = mapped_column(Text)
    meeting_link: Mapped[str | None] = mapped_column(Text)
    uid: Mapped[str | None] = mapped_column(String(500))
    sequence: Mapped[int] = mapped_column(default=0)
    organised_by_user: Mapped[bool] = mapped_column(default=False)
    times_rescheduled: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16), default=DRAFT)
    # The search settings, kept so an adjusted search stays adjusted.
    window_days: Mapped[int] = mapped_column(default=14)
    work_hours: Mapped[str] = mapped_column(String(11), default="09:00-17:00")
    interviewer_work_hours: Mapped[str] = mapped_column(String(11), default="09:00-17:00")
    buffer_minutes: Mapped[int] = mapped_column(default=15)
    min_notice_hours: Mapped[int] = mapped_column(default=24)
    # The confirmed new time and the calendar event that carries it.
    confirmed_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    confirmed_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    confirmed_uid: Mapped[str | None] = mapped_column(String(500))
    confirmed_sequence: Mapped[int | None]
    confirmed_invite: Mapped[bytes | None] = mapped_column(LargeBinary)  # exactly as emailed
    # Where the confirmed event was written through a provider (JSON: source id, href, etag...).
    event_ref: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    user: Mapped[User] = relationship(back_populates="interviews")
    offers: Mapped[list[Offer]] = relationship(
        back_populates="interview", cascade="all, delete-orphan", order_by="Offer.id"
    )


class Offer(db.Model):
    """The times offered to the interviewer: a draft while the user picks them, then open.

    The public link carries a random token; only its SHA-256 is stored. `picked_slot_id` is set
    once, by a conditional UPDATE, so two simultaneous picks give one confirmed event.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interview.id"), index=True)
    # draft | open | picked | declined | withdrawn
    state: Mapped[str] = mapped_column(String(16), default="draft")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    picked_slot_id: Mapped[int | None] = mapped_column(ForeignKey("offer_slot.id", use_alter=True))
    answer_note: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    interview: Mapped[Interview] = relationship(back_populates="offers")
    slots: Mapped[list[OfferSlot]] = relationship(
        back_populates="offer",
        cascade="all, delete-orphan",
        order_by="OfferSlot.start",
        foreign_keys="OfferSlot.offer_id",
    )


class OfferSlot(db.Model):
    """One offered time, [start, end)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"), index=True)
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    added_by_hand: Mapped[bool] = mapped_column(default=False)
    # A tentative "hold" event on the user's calendar for this time (JSON, provider-specific).
    hold_ref: Mapped[str | None] = mapped_column(Text)
    offer: Mapped[Offer] = relationship(back_populates="slots", foreign_keys=[offer_id])


class GoogleAuthRequest(db.Model):
    """One trip to Google's consent screen, from its start until the browser comes back.

    Keyed by the SHA-256 of the OAuth `state`; keeps the PKCE code verifier (sealed) on the
    server, never in the browser. Used once, then deleted; stale after a few minutes.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_verifier: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(16))  # connect | gmail | sign_in
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(Text)  # space-separated, as asked
    time_zone: Mapped[str | None] = mapped_column(String(64))  # sign-in: for a new account
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Message(db.Model):
    """An email the user sends (or keeps to send): the exact bytes, where it stands, and why.

    A message is claimed for sending by a conditional UPDATE (queued/failed -> sending), so a
    double click or two workers never send it twice; a failure keeps it with its error for retry.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interview.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reschedule|cancel|virtual|confirmation
    subject: Mapped[str] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text)
    eml: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sending|sent|failed
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    transport: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # when sending began
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
