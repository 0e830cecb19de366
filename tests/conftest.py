"""Shared fixtures: paths to test data, loaded by name."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "ics"


@pytest.fixture
def ics_fixture():
    """The path of a test calendar under tests/fixtures/ics, by name."""

    def path(name: str) -> str:
        found = FIXTURES / "ics" / name
        assert found.is_file(), f"no fixture {name}"
        return str(found)

    return path
