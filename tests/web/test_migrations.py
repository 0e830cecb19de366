"""Schema changes go through migrations, and upgrading keeps the data."""

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app import MIGRATIONS, create_app
from app.extensions import db


def make_app(tmp_path):
    return create_app({
        "TESTING": True, "SECRET_KEY": "k", "AUTO_MIGRATE": False,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite3'}",
    })  # fmt: skip


def test_migrations_build_exactly_the_models(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS))
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert differences == []


def test_upgrading_from_the_first_revision_keeps_users(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS), revision="d08cbc0f1bfd")
        db.session.execute(
            text(
                "INSERT INTO user (email, name, password_hash, time_zone, created_at) "
                "VALUES ('a@example.org', 'A', 'h', 'UTC', :now)"
            ),
            {"now": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
        )
        db.session.commit()
        upgrade(directory=str(MIGRATIONS))
        assert db.session.execute(text("SELECT email FROM user")).scalar() == "a@example.org"
        downgrade(directory=str(MIGRATIONS), revision="d08cbc0f1bfd")
        assert db.session.execute(text("SELECT email FROM user")).scalar() == "a@example.org"
