"""Use cases tying calendars, the scheduling core and messages together (CLI and web share them)."""
