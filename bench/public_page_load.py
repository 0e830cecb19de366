"""Load on the interviewer's page `/o/<token>`, served by gunicorn, measured with wrk (loopback).

Usage (after scripts/test; needs Debian's `wrk` and the [bench] extra for gunicorn):
    apt-get install -y wrk && .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/public_page_load.py [--workers 2] [--connections 16] [--seconds 10]

It builds a database with one user, an interview and an open offer of three slots, starts
gunicorn on 127.0.0.1 with the app's real settings except the per-address rate limit (one load
generator is one address, so the limit would answer 429 to nearly everything), then runs wrk and
prints requests/s and the latency percentiles.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "load"


def prepare(database: Path) -> str:
    """A user, an interview and an open offer; returns the offer's raw token."""
    from app import create_app
    from app.extensions import db
    from app.models import Interview, Offer, OfferSlot, User
    from app.services.offers import open_offer

    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now + timedelta(days=3)).replace(minute=0, second=0)
    with app.app_context():
        user = User(email="bench@example.org", name="Bench Candidate", password_hash="-",
                    time_zone="Europe/Berlin", created_at=now)  # fmt: skip
        db.session.add(user)
        db.session.flush()
        interview = Interview(
            user_id=user.id, company="Acme Corp", role="Data Engineer",
            interviewer_name="Zoë Brontë", interviewer_email="zoe@acme.example",
            interviewer_tz="America/New_York", start=start, end=start + timedelta(hours=1),
            created_at=now,
        )  # fmt: skip
        db.session.add(interview)
        db.session.flush()
        offer = Offer(interview_id=interview.id, created_at=now)
        offer.slots = [
            OfferSlot(start=start + timedelta(days=day), end=start + timedelta(days=day, hours=1))
            for day in (1, 2, 3)
        ]
        db.session.add(offer)
        db.session.commit()
        token = open_offer(offer, now, now + timedelta(days=7))
        db.session.commit()
    return token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    options = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    database = OUT / "load.sqlite3"
    database.unlink(missing_ok=True)
    token = prepare(database)
    port = free_port()
    environment = {
        **os.environ,
        "NEWSLOT_SECRET_KEY": "bench",
        "NEWSLOT_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "NEWSLOT_AUTO_MIGRATE": "false",
        "NEWSLOT_RATELIMIT_ENABLED": "false",
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", str(options.workers), "-b",
         f"127.0.0.1:{port}", "--log-level", "warning", "app:create_app()"],
        env=environment, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/o/{token}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if b"Acme Corp" not in response.read():
                        raise SystemExit("the offer page does not show the offer")
                break
            except OSError:
                time.sleep(0.1)
        done = subprocess.run(
            ["wrk", "-t", "2", "-c", str(options.connections), "-d", f"{options.seconds}s",
             "--latency", url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    report = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report).group(1)
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", report, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    print(
        f"workers={options.workers} connections={options.connections} "
        f"requests/s={rate} p50={percentiles.get('50')} p99={percentiles.get('99')} "
        f"non-2xx={errors.group(1) if errors else 0}"
    )


if __name__ == "__main__":
    main()
