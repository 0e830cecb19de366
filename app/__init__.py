"""Newslot: reschedule or cancel an interview politely.

`create_app` builds the web app; Flask is imported inside it, so the command line (which only
reads calendars) starts without paying for the web stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(test_config: dict[str, Any] | None = None):
    """The app factory: settings, instance folder, database, extensions, blueprints."""
    from flask import Flask

    from app import config, web
    from app.extensions import csrf, db, limiter, login_manager, migrate

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("NEWSLOT")
    else:
        app.config.from_mapping(test_config)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    config.finish(app.config, instance)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    web.register(app)
    _register_commands(app)
    if app.config["AUTO_MIGRATE"]:
        upgrade_database(app)
    return app


def _register_commands(app) -> None:
    """`flask --app app reseal-secrets`: finish a SECRET_KEY rotation (services/resealing)."""

    @app.cli.command("reseal-secrets")
    def reseal_secrets() -> None:
        """Seal every stored secret under the current SECRET_KEY."""
        import click

        from app.services.resealing import reseal_all

        done = reseal_all(app.config["VAULT_KEYS"])
        click.echo(f"Sealed {done.count} stored secret(s) under the current SECRET_KEY.")
        for source in done.unreadable:
            click.echo(f"No key opens the secrets of {source}; they were left as they are.")
        if done.unreadable:
            raise SystemExit(1)


def upgrade_database(app) -> None:
    """Bring the schema up to date through the migrations (never loses data, safe to repeat)."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(MIGRATIONS))
