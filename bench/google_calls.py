"""Count the HTTP calls one proposal costs against Google, through the real app and the fake.

Usage (from the project root):
    .venv/bin/python bench/google_calls.py [--events 1000]

Starts the fake Google (tests/fakes/google_server.py) on 127.0.0.1 and seeds the account's
primary calendar with the generated calendar of BASELINE.md (../shared/bench/gen_calendar.py,
expanded as Google serves it with singleEvents=true) and a small second calendar ("Team"), both
counting as busy. The web app runs in-process (Flask's test client): the account is connected
(seeded: the grant kept as the OAuth callback keeps it, then the calendar list read), an
interview is typed in on 14 October 2025, and its pages are opened in the order a user opens
them. Prints the Google API calls each step cost. Target: 1 freebusy.query per refresh and one
events.list per chosen calendar (the interview's day), none while the answers are fresh.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.propose_bench import YEARS, calendar  # noqa: E402
from tests.fakes.google_server import BERLIN, FakeGoogle, events_from_ics  # noqa: E402
from tests.web.conftest import post_form, sign_up  # noqa: E402
from tests.web.google_helpers import ME, google_config, seed_google  # noqa: E402

NOW = datetime(2025, 10, 13, 6, 0, tzinfo=UTC)  # Monday 08:00 in Berlin, inside the calendar
TEAM = "team@group.calendar.google.com"
INTERVIEW = {
    "company": "Acme Corp",
    "role": "Data Engineer",
    "interviewer_name": "Jordan Lee",
    "interviewer_email": "jordan.lee@acme.example",
    "interviewer_tz": "Europe/London",
    "date": "2025-10-14",
    "time": "10:00",
    "duration": "60",
}
KINDS = ("freebusy", "events.list", "calendarList", "token")


def kind(method: str, path: str) -> str:
    if (method, path) == ("POST", "/calendar/v3/freeBusy"):
        return "freebusy"
    if method == "GET" and re.fullmatch(r"/calendar/v3/calendars/[^/]+/events", path):
        return "events.list"
    if path == "/calendar/v3/users/me/calendarList":
        return "calendarList"
    if path == "/token":
        return "token"
    return f"{method} {path}"


def team_events() -> list[dict]:
    """A weekly team meeting, Tuesdays and Thursdays 14:00-15:00 in Berlin, for 12 weeks."""
    events = []
    for week in range(12):
        for day in (1, 3):  # Tuesday, Thursday
            start = datetime(2025, 10, 13, 14, tzinfo=BERLIN) + timedelta(weeks=week, days=day)
            events.append({
                "id": f"team{week:02d}{day}", "iCalUID": f"team-{week}-{day}@example.org",
                "summary": "Team meeting", "status": "confirmed",
                "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
                "end": {"dateTime": (start + timedelta(hours=1)).isoformat(),
                        "timeZone": "Europe/Berlin"},
            })  # fmt: skip
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, choices=sorted(YEARS))
    options = parser.parse_args()
    path = calendar(options.events)

    from app import create_app
    from app.extensions import db
    from app.models import User
    from app.services import account_answers

    with FakeGoogle() as fake, tempfile.TemporaryDirectory() as folder:
        seeded = events_from_ics(
            path.read_bytes(), BERLIN, NOW - timedelta(days=2), NOW + timedelta(days=90)
        )
        fake.add_calendar(ME, "Me", roles={ME: "owner"}, events=seeded)
        fake.add_calendar(TEAM, "Team", roles={ME: "reader"}, events=team_events())
        app = create_app(
            {
                "SECRET_KEY": "benchmark",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite3'}",
                "FEED_CACHE_DIR": str(Path(folder) / "cache"),
                "NOW": lambda: NOW,
                **google_config(fake),
            }
        )
        client = app.test_client()
        sign_up(client, email="alex@example.org")
        rows: list[tuple[str, Counter]] = []

        def step(name: str, action) -> None:
            fake.requests.clear()
            action()
            rows.append((name, Counter(kind(r.method, r.path) for r in fake.requests)))

        def connect() -> None:
            with app.app_context():
                seed_google(app, db.session.scalar(db.select(User)), fake)

        def get(page: str):
            def action() -> None:
                response = client.get(page)
                assert response.status_code == 200, response.get_data(as_text=True)[:500]

            return action

        step("connect (seeded grant, calendar list read)", connect)
        response = post_form(client, "/interviews/new", INTERVIEW)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        interview = response.headers["Location"]
        proposals = interview + "/proposals"
        step("proposals page, cold", get(proposals))
        step("proposals page again (answers fresh)", get(proposals))
        step("interview page (day view, fresh)", get(interview))
        account_answers.forget_all()  # as after ACCOUNT_TTL seconds
        step(f"proposals page after {account_answers.ACCOUNT_TTL:g} s", get(proposals))
        account_answers.forget_all()
        fake.expire_access_tokens()  # as an hour later
        step("proposals page, access token expired", get(proposals))

    others = sorted({k for _, counts in rows for k in counts} - set(KINDS))
    columns = [*KINDS, *others]
    width = max(len(name) for name, _ in rows)
    print(f"calendar: {path.name} ({len(seeded):,} events served in the window) + Team")
    print(f"{'step':<{width}}  " + "  ".join(f"{c:>12}" for c in columns))
    for name, counts in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{counts[c]:>12}" for c in columns))


if __name__ == "__main__":
    main()
