"""Read calendars with ical.js, an independent parser, through node (tests/interop/read_ics.mjs).

ical.js comes from the npm registry; the tests never install it. Install it once with
`npm ci --prefix tests/interop` (scripts/test does this and sets NEWSLOT_REQUIRE_INTEROP, so
there a missing ical.js fails); without it, elsewhere, the tests skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
INSTALL = "npm ci --prefix tests/interop"


def read_with_icaljs(*calendars: bytes) -> list[dict[str, Any]]:
    """What ical.js reads in each calendar: methods, events, instants as UTC ISO strings."""
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed, so ical.js cannot run"
    elif not (HERE / "node_modules" / "ical.js").is_dir():
        missing = f"ical.js is not installed: run `{INSTALL}`"
    if missing and os.environ.get("NEWSLOT_REQUIRE_INTEROP"):
        pytest.fail(missing)  # scripts/test installs it: a skip there would hide a broken set-up
    if missing:
        pytest.skip(missing)
    result = subprocess.run(
        ["node", str(HERE / "read_ics.mjs")],
        input=json.dumps([calendar.decode() for calendar in calendars]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"ical.js could not read the calendars:\n{result.stderr}")
    return json.loads(result.stdout)
