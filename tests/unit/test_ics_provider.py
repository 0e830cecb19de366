"""The ICS provider reads busy time the way a person reads their own calendar."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from calendar_providers import provider_class
from calendar_providers.base import InvalidCalendar, NotFound
from calendar_providers.ics import IcsProvider

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def busy(path, start, end, tz=BERLIN, me=None):
    report = IcsProvider(path, me=me).busy(start, end, tz)
    return {event.uid: event for event in report.events}, report.notes


def at(zone, *parts):
    return datetime(*parts, tzinfo=zone)


@pytest.fixture
def semantics(ics_fixture):
    events, notes = busy(
        ics_fixture("busy_semantics.ics"),
        at(BERLIN, 2026, 3, 1),
        at(BERLIN, 2026, 3, 14),
        me="me@example.org",
    )
    assert notes == ()
    return events


def test_registry_finds_the_ics_provider():
    assert provider_class("ics") is IcsProvider
    with pytest.raises(KeyError):
        provider_class("nope")


def test_opaque_events_are_busy_with_their_calendar_name(semantics):
    event = semantics["opaque@test"]
    assert (event.start, event.end) == (at(BERLIN, 2026, 3, 2, 10), at(BERLIN, 2026, 3, 2, 11))
    assert event.status == "busy" and event.calendar == "Work" and not event.all_day


def test_transparent_and_cancelled_events_are_free(semantics):
    assert "transparent@test" not in semantics
    assert "cancelled@test" not in semantics
    assert "holiday@test" not in semantics


def test_tentative_is_busy_but_reported_as_tentative(semantics):
    assert semantics["tentative@test"].status == "tentative"


def test_declined_by_me_is_free_but_declined_by_others_is_not(semantics):
    assert "declined@test" not in semantics
    assert semantics["accepted@test"].status == "busy"


def test_declined_invitation_is_busy_when_me_is_unknown(ics_fixture):
    events, _ = busy(
        ics_fixture("busy_semantics.ics"), at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 14)
    )
    assert "declined@test" in events


def test_all_day_events_block_whole_days_in_the_users_zone(semantics):
    away = semantics["away@test"]
    assert away.all_day
    assert (away.start, away.end) == (at(BERLIN, 2026, 3, 4), at(BERLIN, 2026, 3, 6))
    date_only = semantics["date-only@test"]  # a DATE DTSTART without end lasts one day
    assert (date_only.start, date_only.end) == (at(BERLIN, 2026, 3, 9), at(BERLIN, 2026, 3, 10))


def test_all_day_events_follow_the_users_zone(ics_fixture):
    events, _ = busy(
        ics_fixture("busy_semantics.ics"),
        at(NEW_YORK, 2026, 3, 1),
        at(NEW_YORK, 2026, 3, 14),
        tz=NEW_YORK,
    )
    assert events["away@test"].start == at(NEW_YORK, 2026, 3, 4)
    assert events["floating@test"].start == at(NEW_YORK, 2026, 3, 10, 15)


def test_floating_times_are_read_in_the_users_zone(semantics):
    assert semantics["floating@test"].start == at(BERLIN, 2026, 3, 10, 15)


def test_duration_replaces_dtend_and_zero_length_events_take_no_time(semantics):
    event = semantics["duration@test"]
    assert event.end - event.start == timedelta(minutes=90)
    assert "instant@test" not in semantics
    assert semantics["untitled@test"].summary == "(no title)"


def test_every_datetime_is_aware(semantics):
    for event in semantics.values():
        assert event.start.utcoffset() is not None and event.end.utcoffset() is not None


def test_recurrence_with_exdate_rdate_and_moved_or_cancelled_occurrences(ics_fixture):
    report = IcsProvider(ics_fixture("recurrence.ics")).busy(
        at(NEW_YORK, 2026, 3, 1), at(NEW_YORK, 2026, 4, 1), NEW_YORK
    )
    starts = sorted(event.start for event in report.events)
    assert starts == [
        at(NEW_YORK, 2026, 3, 2, 9),  # before the US change, EST
        # 9 March moved to May, 16 March excluded, 23 March cancelled
        at(NEW_YORK, 2026, 3, 18, 9),  # RDATE
        at(NEW_YORK, 2026, 3, 24, 14),  # the May occurrence moved here
        at(NEW_YORK, 2026, 3, 30, 9),  # after the change: still 09:00 local
    ]
    assert starts[-1].astimezone(UTC).hour == 13


def test_duration_hours_are_elapsed_time_across_dst(ics_fixture):
    events, _ = busy(
        ics_fixture("dst_duration.ics"), at(BERLIN, 2025, 10, 1), at(BERLIN, 2026, 4, 30)
    )
    october = events["night-shift@test"]
    assert october.end.astimezone(UTC) == datetime(2025, 10, 26, 5, tzinfo=UTC)  # 8 real hours
    march = events["spring-night@test"]
    assert march.end.astimezone(UTC) - march.start.astimezone(UTC) == timedelta(hours=8)
    assert march.end.astimezone(UTC) == datetime(2026, 3, 29, 6, tzinfo=UTC)
    # A day is nominal (same wall-clock time next day), the hour after it is exact.
    two_days = events["two-days@test"]
    assert two_days.end == at(BERLIN, 2025, 10, 26, 11)


def test_windows_zone_names_and_custom_vtimezones(ics_fixture):
    events, _ = busy(ics_fixture("zones.ics"), at(BERLIN, 2026, 6, 20), at(BERLIN, 2026, 7, 20))
    assert events["windows@test"].start.astimezone(UTC) == datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert events["eastern@test"].start.astimezone(UTC) == datetime(2026, 7, 1, 14, tzinfo=UTC)
    assert events["custom@test"].start.astimezone(UTC) == datetime(2026, 7, 1, 4, 30, tzinfo=UTC)


def test_google_export_keeps_local_time_through_x_wr_timezone(ics_fixture):
    events = (
        IcsProvider(ics_fixture("google_export.ics"))
        .busy(at(NEW_YORK, 2025, 10, 20), at(NEW_YORK, 2025, 11, 20), NEW_YORK)
        .events
    )
    assert [event.start.astimezone(NEW_YORK).hour for event in events] == [9, 9, 9, 9]
    assert {event.calendar for event in events} == {"Personal"}
    november = sorted(events, key=lambda event: event.start)[1]
    assert november.start.astimezone(UTC) == datetime(2025, 11, 3, 14, tzinfo=UTC)


def test_hostile_rules_are_bounded_and_reported(ics_fixture):
    report = IcsProvider(ics_fixture("hostile_secondly.ics")).busy(
        at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 15), BERLIN
    )
    uids = [event.uid for event in report.events]
    assert "every-second@test" not in uids
    assert uids.count("every-minute@test") == 5000
    assert "real@test" in uids
    assert any("repeats too often (FREQ=SECONDLY)" in note for note in report.notes)
    assert any("first 5,000 occurrences" in note for note in report.notes)


def test_a_flood_of_events_is_cut_with_a_note(tmp_path):
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//flood//EN"]
    for number in range(6000):
        minute = number % 600
        lines += [
            "BEGIN:VEVENT",
            f"UID:flood-{number}",
            f"DTSTART:20260302T{8 + minute // 60:02d}{minute % 60:02d}00Z",
            "DURATION:PT1M",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    path = tmp_path / "flood.ics"
    path.write_text("\r\n".join(lines) + "\r\n")
    report = IcsProvider(str(path)).busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 8), BERLIN)
    assert len(report.events) == 5000
    assert any("1,000 more were left out" in note for note in report.notes)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "not an iCalendar file"),
        (b"BEGIN:VCALENDAR\r\nX\r\nEND:VCALENDAR\r\n", "is not a valid calendar"),
    ],
)
def test_bad_files_are_rejected_in_plain_words(tmp_path, content, message):
    path = tmp_path / "bad.ics"
    path.write_bytes(content)
    with pytest.raises(InvalidCalendar, match=message) as error:
        IcsProvider(str(path)).busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 8), BERLIN)
    assert str(error.value).startswith("bad.ics ")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(NotFound, match="There is no calendar file"):
        IcsProvider(str(tmp_path / "gone.ics")).busy(
            at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 8), BERLIN
        )
    with pytest.raises(InvalidCalendar, match="is a folder"):
        IcsProvider(str(tmp_path)).busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 8), BERLIN)


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.ics"
    with path.open("wb") as handle:
        handle.truncate(101 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(InvalidCalendar, match="larger than 100 MB"):
        IcsProvider(str(path)).busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 8), BERLIN)


def test_naive_window_is_refused(ics_fixture):
    with pytest.raises(ValueError, match="timezone-aware"):
        IcsProvider(ics_fixture("zones.ics")).busy(
            datetime(2026, 3, 1),  # noqa: DTZ001 - the point of the test
            at(BERLIN, 2026, 3, 8),
            BERLIN,
        )


def test_feed_url_is_read_and_revalidated(tmp_path, ics_fixture):
    from tests.unit.feed_server import FeedServer, Reply

    body = Path(ics_fixture("busy_semantics.ics")).read_bytes()
    with FeedServer() as server:
        server.routes["/private-secret/basic.ics"] = Reply(body=body, headers={"ETag": '"v1"'})
        url = server.url("/private-secret/basic.ics")
        provider = IcsProvider(url, cache_dir=tmp_path, me="me@example.org")
        first = provider.busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 14), BERLIN)
        server.routes["/private-secret/basic.ics"] = Reply(status=304)
        again = provider.busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 14), BERLIN)
        assert server.received[-1].headers.get("If-None-Match") == '"v1"'
    assert first.events == again.events and len(first.events) == 8
    assert "secret" not in provider.label and provider.label.startswith("http://127.0.0.1:")


def test_feed_errors_are_provider_errors_without_the_secret(tmp_path):
    from tests.unit.feed_server import FeedServer, Reply

    with FeedServer() as server:
        server.routes["/private-secret/basic.ics"] = Reply(status=404)
        provider = IcsProvider(server.url("/private-secret/basic.ics"), cache_dir=tmp_path)
        with pytest.raises(NotFound) as error:
            provider.busy(at(BERLIN, 2026, 3, 1), at(BERLIN, 2026, 3, 14), BERLIN)
    assert "secret" not in str(error.value)
