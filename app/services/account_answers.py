"""Answers from calendar accounts (CalDAV, Google), remembered for a minute.

A page view reads busy time several times, and a server that is down would cost one timeout per
read: each answer (or error) is kept for ACCOUNT_TTL seconds, keyed by the connection it came
from and the question, so a page costs one request per question and a dead server one timeout.
"""

from __future__ import annotations

import time as clock
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock
from typing import TypeVar
from zoneinfo import ZoneInfo

from app.models import CalendarSource, User
from calendar_providers.base import ProviderError

ACCOUNT_TTL = 60.0  # seconds an answer is reused: fresh enough, one read per page
ENTRIES = 64
T = TypeVar("T")
# key -> (when it was asked, on the monotonic clock; the answer, or the error to raise again)
_answers: OrderedDict[tuple, tuple[float, object]] = OrderedDict()
_lock = Lock()


def connection(source: CalendarSource, user: User, tz: ZoneInfo) -> tuple:
    """What an account's answers depend on, besides the question.

    The sealed credentials are new ciphertext at every connection, so a reused row id never
    serves another connection's answer; the settings hold the chosen calendars.
    """
    return (source.id, source.settings, source.sealed_credentials, user.email, tz.key)


def remembered(key: tuple, ask: Callable[[], T]) -> T:
    """ask()'s answer, or its ProviderError raised again, reused for ACCOUNT_TTL seconds."""
    with _lock:
        kept = _answers.get(key)
    if kept is None or clock.monotonic() - kept[0] >= ACCOUNT_TTL:
        try:
            outcome: object = ask()
        except ProviderError as error:
            outcome = error
        kept = (clock.monotonic(), outcome)
        with _lock:
            _answers[key] = kept
            _answers.move_to_end(key)
            while len(_answers) > ENTRIES:
                _answers.popitem(last=False)
    if isinstance(kept[1], ProviderError):
        raise kept[1].with_traceback(None)  # the same error again, without piling up tracebacks
    return kept[1]  # type: ignore[return-value]


def forget_all() -> None:
    """Ask every account afresh next time (tests, benchmarks: as after ACCOUNT_TTL seconds)."""
    with _lock:
        _answers.clear()
