"""Measure `newslot propose` against icalendar's parse of the same calendar, in one run.

Usage (from the project root, after scripts/test or scripts/run installed the venv):
    .venv/bin/python bench/propose_bench.py [--sizes 1000,10000,50000] [--repeat 5]

Calendars come from ../shared/bench/gen_calendar.py (byte-identical to BASELINE.md's); the window
is BASELINE's: 13 October 2025 in Europe/Berlin plus 30 days, which crosses both DST changes.
Reports best-of-N wall times (a cold process for the whole command, as a user runs it), the peak
resident memory of that process, and `propose()` alone on an already-loaded calendar.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT.parent / "shared" / "bench" / "gen_calendar.py"
OUT = ROOT / "bench" / "out"
YEARS = {1000: 1, 10000: 2, 50000: 5}
BERLIN = ZoneInfo("Europe/Berlin")
ARGS = [
    "propose", "--start", "2025-10-14T10:00", "--duration", "60", "--tz", "Europe/Berlin",
    "--interviewer-tz", "America/New_York", "--now", "2025-10-13T00:00", "--window-days", "30",
    "--json",
]  # fmt: skip
PEAK_RSS = (
    "import atexit, sys\n"
    "def report():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM'):\n"
    "            sys.stderr.write(line)\n"
    "atexit.register(report)\n"
    "from app.cli import main\n"
    "main(sys.argv[1:])\n"
)


def calendar(events: int) -> Path:
    """The generated calendar, made once."""
    path = OUT / f"cal_{events}_{YEARS[events]}y.ics"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(GENERATOR), "--events", str(events), "--years",
             str(YEARS[events]), "--seed", "1", "--out", str(path)],
            check=True,
        )  # fmt: skip
    return path


def best(repeat: int, action) -> float:
    """The fastest of `repeat` runs, after a collection so runs start alike."""
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def cold_command(path: Path) -> None:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "newslot"), *ARGS, "--calendar", str(path)],
        capture_output=True,
        cwd=OUT,
    )
    if done.returncode != 0:
        raise SystemExit(f"newslot failed: {done.stderr.decode()}")


def peak_rss_mib(path: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *ARGS, "--calendar", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    line = next(line for line in done.stderr.splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def propose_only_ms(path: Path, repeat: int) -> tuple[float, int]:
    """`propose()` on busy time already read, as the web app holds it."""
    from app.scheduling.model import Interview, Rules
    from app.scheduling.proposals import propose
    from calendar_providers.ics import IcsProvider

    now = datetime(2025, 10, 13, tzinfo=BERLIN)
    start = datetime(2025, 10, 14, 10, tzinfo=BERLIN)
    interview = Interview(start, start + timedelta(hours=1), BERLIN, ZoneInfo("America/New_York"))
    rules = Rules(window=timedelta(days=30))
    busy = IcsProvider(str(path)).busy(now, now + timedelta(days=31), BERLIN).events
    return best(repeat * 4, lambda: propose(interview, busy, rules, now)) * 1000, len(busy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    print(
        "| events | file MiB | icalendar parse s | newslot propose (cold) s | ratio | "
        "peak RSS MiB | propose() alone ms (busy events) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for events in (int(size) for size in options.sizes.split(",")):
        path = calendar(events)
        data = path.read_bytes()
        parse_repeat = max(1, options.repeat if events <= 10000 else options.repeat // 2)
        parse = best(parse_repeat, lambda data=data: icalendar.Calendar.from_ical(data))
        command = best(options.repeat, lambda path=path: cold_command(path))
        rss = peak_rss_mib(path)
        alone, busy = propose_only_ms(path, options.repeat)
        print(
            f"| {events:,} | {len(data) / 2**20:.1f} | {parse:.3f} | {command:.3f} | "
            f"{command / parse:.3f}x | {rss:.0f} | {alone:.2f} ({busy}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
