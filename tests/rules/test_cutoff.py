"""exclude_before is midnight of that day where the company is, not in UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from mailroom.rules.cutoff import company_zone, cutoff_instant, is_before_cutoff

NEW_YEAR = dt.date(2026, 1, 1)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("zone,instant", [
    ("UTC", "2026-01-01T00:00"),
    ("Pacific/Auckland", "2025-12-31T11:00"),       # UTC+13 in (southern) summer
    ("America/Los_Angeles", "2026-01-01T08:00"),    # UTC-8
    ("Europe/London", "2026-01-01T00:00"),
    (None, "2026-01-01T00:00"),                      # no time zone set: UTC
])
def test_the_cutoff_is_midnight_in_the_company_time_zone(zone, instant):
    assert cutoff_instant(NEW_YEAR, company_zone(zone)) == utc(instant)


def test_summer_time_moves_the_instant():
    assert cutoff_instant(dt.date(2026, 7, 1), company_zone("Europe/London")) == utc("2026-06-30T23:00")


@pytest.mark.parametrize("date,zone,skipped", [
    ("2026-01-01T03:00", "America/Los_Angeles", True),    # still 31 December in Los Angeles
    ("2026-01-01T09:00", "America/Los_Angeles", False),
    ("2025-12-31T12:00", "Pacific/Auckland", False),      # already 1 January in Auckland
    ("2025-12-31T10:59", "Pacific/Auckland", True),
    ("2025-12-31T23:59", "UTC", True),
    ("2026-01-01T00:00", "UTC", False),                   # the cutoff day itself is kept
])
def test_a_message_is_skipped_only_before_the_cutoff(date, zone, skipped):
    assert is_before_cutoff(utc(date), cutoff_instant(NEW_YEAR, company_zone(zone))) is skipped


def test_no_cutoff_or_no_date_skips_nothing():
    assert cutoff_instant(None, company_zone("UTC")) is None
    assert is_before_cutoff(utc("2000-01-01T00:00"), None) is False
    assert is_before_cutoff(None, utc("2026-01-01T00:00")) is False


def test_an_unknown_zone_name_is_utc():
    assert company_zone("Mars/Olympus") == dt.timezone.utc
