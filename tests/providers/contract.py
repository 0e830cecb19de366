"""The provider contract: what every calendar provider does, whatever its source.

A provider's test module subclasses `ProviderContract` and supplies two fixtures:
- `serve`: a function (fixture file name, me=None) -> provider reading that calendar from
  tests/fixtures/ics through the provider's own kind of source (the file itself, a real CalDAV
  server, ...); the busy_semantics calendar is named "Work" wherever it is served;
- `unreachable`: a provider whose source cannot be read.
The same assertions then hold for every provider, so the scheduler can treat them alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.model import BusyEvent
from calendar_providers.base import (
    BusyReport,
    CalendarInfo,
    CalendarProvider,
    ProviderError,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ME = "me@example.org"


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


class ProviderContract:
    """Subclass it in a `Test...` class and override `serve` and `unreachable`."""

    @pytest.fixture
    def serve(self):
        raise NotImplementedError("each provider's subclass serves the fixture calendars")

    @pytest.fixture
    def unreachable(self) -> CalendarProvider:
        raise NotImplementedError("each provider's subclass gives a source that cannot be read")

    @pytest.fixture
    def semantics(self, serve) -> dict[str, BusyEvent]:
        report = serve("busy_semantics.ics", me=ME).busy(
            at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 14), BERLIN
        )
        assert isinstance(report, BusyReport) and report.notes == ()
        return {event.uid: event for event in report.events}

    def test_is_a_provider_with_calendars(self, serve):
        provider = serve("busy_semantics.ics")
        assert isinstance(provider, CalendarProvider) and provider.name
        calendars = provider.list_calendars()
        assert calendars and all(isinstance(calendar, CalendarInfo) for calendar in calendars)
        if provider.can_write:
            for method in ("create_event", "update_event", "cancel_event"):
                assert callable(getattr(provider, method))

    def test_events_are_aware_and_overlap_the_window(self, serve):
        start, end = at(BERLIN, 2026, 3, 3, 12), at(BERLIN, 2026, 3, 10, 15, 30)
        events = serve("busy_semantics.ics").busy(start, end, BERLIN).events
        assert {event.uid for event in events} == {
            "declined@test",  # 12:00-13:00 on the 3rd, starting with the window
            "accepted@test",
            "away@test",
            "date-only@test",
            "floating@test",  # 15:00-16:00 on the 10th, overlapping the window's end
        }
        for event in events:
            assert isinstance(event, BusyEvent)
            assert event.start.utcoffset() is not None and event.end.utcoffset() is not None
            assert event.start < end and event.end > start

    def test_window_is_half_open(self, serve):
        provider = serve("busy_semantics.ics")
        meeting_end = at(BERLIN, 2026, 3, 2, 11)  # the opaque meeting is 10:00-11:00
        after = provider.busy(meeting_end, meeting_end + timedelta(hours=1), BERLIN).events
        last_minute = provider.busy(meeting_end - timedelta(minutes=1), meeting_end, BERLIN)
        assert "opaque@test" not in {event.uid for event in after}
        assert [event.uid for event in last_minute.events] == ["opaque@test"]

    def test_opaque_events_are_busy_with_their_calendar_name(self, semantics):
        event = semantics["opaque@test"]
        assert (event.start, event.end) == (at(BERLIN, 2026, 3, 2, 10), at(BERLIN, 2026, 3, 2, 11))
        assert event.status == "busy" and event.calendar == "Work" and not event.all_day

    def test_transparent_and_cancelled_events_are_free(self, semantics):
        assert not {"transparent@test", "cancelled@test", "holiday@test"} & set(semantics)

    def test_tentative_is_reported_as_tentative(self, semantics):
        assert semantics["tentative@test"].status == "tentative"

    def test_declined_by_me_is_free_but_declined_by_others_is_not(self, semantics, serve):
        assert "declined@test" not in semantics
        assert semantics["accepted@test"].status == "busy"
        anyone = serve("busy_semantics.ics").busy(
            at(BERLIN, 2026, 3, 3), at(BERLIN, 2026, 3, 4), BERLIN
        )
        assert "declined@test" in {event.uid for event in anyone.events}

    def test_zero_length_events_take_no_time_and_duration_counts(self, semantics):
        assert "instant@test" not in semantics
        duration = semantics["duration@test"]
        assert duration.end - duration.start == timedelta(minutes=90)

    @pytest.mark.parametrize("zone", [BERLIN, NEW_YORK], ids=["Berlin", "New_York"])
    def test_all_day_and_floating_times_are_read_in_the_users_zone(self, serve, zone):
        events = {
            event.uid: event
            for event in serve("busy_semantics.ics")
            .busy(at(zone, 2026, 3, 1), at(zone, 2026, 3, 14), zone)
            .events
        }
        away = events["away@test"]
        assert away.all_day
        assert (away.start, away.end) == (at(zone, 2026, 3, 4), at(zone, 2026, 3, 6))
        assert events["floating@test"].start == at(zone, 2026, 3, 10, 15)

    def test_recurrence_exceptions_are_respected(self, serve):
        report = serve("recurrence.ics").busy(
            at(NEW_YORK, 2026, 3, 1), at(NEW_YORK, 2026, 4, 1), NEW_YORK
        )
        starts = sorted(event.start for event in report.events)
        assert starts == [
            at(NEW_YORK, 2026, 3, 2, 9),
            # 9 March moved to May, 16 March excluded, 23 March cancelled
            at(NEW_YORK, 2026, 3, 18, 9),  # RDATE
            at(NEW_YORK, 2026, 3, 24, 14),  # the May occurrence moved here
            at(NEW_YORK, 2026, 3, 30, 9),  # after the US change: still 09:00 local
        ]
        assert starts[-1].astimezone(UTC).hour == 13

    def test_naive_window_is_refused(self, serve):
        with pytest.raises(ValueError, match="timezone-aware"):
            serve("busy_semantics.ics").busy(
                datetime(2026, 3, 1),  # noqa: DTZ001 - the point of the test
                at(BERLIN, 2026, 3, 8),
                BERLIN,
            )

    def test_errors_are_provider_errors_in_one_sentence(self, unreachable):
        with pytest.raises(ProviderError) as raised:
            unreachable.busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 8), BERLIN)
        message = str(raised.value)
        assert message.strip() and "\n" not in message and len(message) < 300
        assert "Traceback" not in message and "Error(" not in message
