"""Time the proposals page on a 10k-event calendar, through the real app (Flask's test client).

Usage (from the project root):
    .venv/bin/python bench/web_proposals.py [--events 10000] [--requests 20]

Signs up, uploads the generated calendar (../shared/bench/gen_calendar.py, the same file as
BASELINE.md's), types in an interview on 14 October 2025 (Berlin; interviewer in London), opens
the proposals page once to load the calendar (parse, cache, draft offer), widens the search
through the page's own form (the generated calendar is too full for the defaults: 30 days,
07:00-21:00 for both, no buffer; 30 days is BASELINE's window, across both DST changes), then
times further GETs of the page. Target: under 300 ms once the calendar is loaded.
"""

from __future__ import annotations

import argparse
import gc
import io
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.propose_bench import YEARS, calendar  # noqa: E402
from tests.web.conftest import post_form, sign_up  # noqa: E402

NOW = datetime(2025, 10, 13, 6, 0, tzinfo=UTC)  # Monday 08:00 in Berlin, inside the calendar
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

SEARCH = {
    "window_days": "30",
    "work_hours": "07:00-21:00",
    "interviewer_work_hours": "07:00-21:00",
    "buffer_minutes": "0",
    "min_notice_hours": "24",
}


def timed(action) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000, choices=sorted(YEARS))
    parser.add_argument("--requests", type=int, default=20)
    options = parser.parse_args()
    path = calendar(options.events)

    from app import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SECRET_KEY": "benchmark",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite3'}",
                "FEED_CACHE_DIR": str(Path(folder) / "cache"),
                "NOW": lambda: NOW,
            }
        )
        client = app.test_client()
        sign_up(client, email="alex@example.org")
        upload_ms, response = timed(
            lambda: post_form(
                client,
                "/calendars/upload",
                {"file": (io.BytesIO(path.read_bytes()), path.name)},
                form_page="/calendars/",
                content_type="multipart/form-data",
            )
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        response = post_form(client, "/interviews/new", INTERVIEW)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        page = response.headers["Location"] + "/proposals"

        first_ms, response = timed(lambda: client.get(page))
        assert response.status_code == 200
        response = post_form(client, page + "/adjust", SEARCH, form_page=page)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        assert b"Option 3" in client.get(page).data
        times = []
        for _ in range(options.requests):
            elapsed, response = timed(lambda: client.get(page))
            assert response.status_code == 200
            times.append(elapsed)
        day_ms, response = timed(lambda: client.get(page.removesuffix("/proposals")))
        assert response.status_code == 200

    print(
        f"calendar: {path.name} ({path.stat().st_size / 2**20:.1f} MiB, {options.events:,} events)"
    )
    print(f"upload: {upload_ms:.0f} ms; first proposals page (parse + draft): {first_ms:.0f} ms")
    print(
        f"proposals page, {options.requests} GETs once loaded: "
        f"p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms (target < 300 ms)"
    )
    print(f"interview page (day view, first visit: its own window is parsed): {day_ms:.0f} ms")


if __name__ == "__main__":
    main()
