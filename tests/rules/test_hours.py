"""Business hours: parsing (and its error messages) and the "are we open?" test."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailroom.rules.hours import BusinessHours, Span, is_within_hours, parse_business_hours

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("Mon-Fri 09:00-17:00", [(d, 540, 1020) for d in range(5)]),
        ("Mon 9:00-17:30", [(0, 540, 1050)]),
        ("mon-fri 09:00-17:00, Sat 10:00-14:00",
         [(d, 540, 1020) for d in range(5)] + [(5, 600, 840)]),
        ("Monday 08:00 - 12:00; Monday 13:00-18:00", [(0, 480, 720), (0, 780, 1080)]),
        ("Fri-Mon 10:00-16:00", [(4, 600, 960), (5, 600, 960), (6, 600, 960), (0, 600, 960)]),
        ("Sun 00:00-24:00", [(6, 0, 1440)]),
        ("Tues\u2013Thurs 09:00\u201317:00", [(1, 540, 1020), (2, 540, 1020), (3, 540, 1020)]),
        ("Sat 10:00-14:00,", [(5, 600, 840)]),
    ],
)
def test_parse(text, spans):
    assert parse_business_hours(text) == BusinessHours(tuple(Span(*s) for s in spans))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("  , ", "empty"),
        ("whenever", 'Could not read "whenever"'),
        ("Mon-Fri", 'Could not read "Mon-Fri"'),
        ("9-5", 'Could not read "9-5"'),
        ("Mun-Fri 09:00-17:00", '"Mun" is not a day'),
        ("Mon 25:00-26:00", '"25:00" in "Mon 25:00-26:00" is not a time'),
        ("Mon 09:60-17:00", '"09:60"'),
        ("Mon 24:30-24:45", '"24:30"'),
        ("Mon 17:00-09:00", "closing time must be after the opening time"),
        ("Mon 09:00-09:00", "closing time must be after the opening time"),
        ("Mon-Fri 09:00-17:00, Sat", 'Could not read "Sat"'),
    ],
)
def test_parse_errors_say_what_is_wrong(text, message):
    with pytest.raises(ValueError) as info:
        parse_business_hours(text)
    assert message in str(info.value)


WEEKDAYS = parse_business_hours("Mon-Fri 09:00-17:00, Sat 10:00-14:00")


@pytest.mark.parametrize(
    ("when", "tz", "inside"),
    [
        # 2026-03-04 is a Wednesday; London is on GMT until 29 March.
        (dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.timezone.utc), LONDON, True),
        (dt.datetime(2026, 3, 4, 8, 59, 59, tzinfo=dt.timezone.utc), LONDON, False),
        (dt.datetime(2026, 3, 4, 16, 59, 59, tzinfo=dt.timezone.utc), LONDON, True),
        (dt.datetime(2026, 3, 4, 17, 0, tzinfo=dt.timezone.utc), LONDON, False),
        # 15:00 UTC is 10:00 in New York (EST): open there, and 20:00 UTC is 15:00.
        (dt.datetime(2026, 3, 4, 14, 30, tzinfo=dt.timezone.utc), NEW_YORK, True),
        (dt.datetime(2026, 3, 4, 22, 30, tzinfo=dt.timezone.utc), NEW_YORK, False),
        # Summer time: 08:30 UTC on 1 April is 09:30 BST, so open.
        (dt.datetime(2026, 4, 1, 8, 30, tzinfo=dt.timezone.utc), LONDON, True),
        # Saturday has its own hours, Sunday none.
        (dt.datetime(2026, 3, 7, 11, 0, tzinfo=LONDON), LONDON, True),
        (dt.datetime(2026, 3, 7, 15, 0, tzinfo=LONDON), LONDON, False),
        (dt.datetime(2026, 3, 8, 11, 0, tzinfo=LONDON), LONDON, False),
        # The weekday is the local one: Friday 23:30 in New York is Saturday in UTC.
        (dt.datetime(2026, 3, 7, 4, 30, tzinfo=dt.timezone.utc), NEW_YORK, False),
    ],
)
def test_is_within_hours(when, tz, inside):
    assert is_within_hours(WEEKDAYS, tz, when) is inside


def test_end_of_day_2400_covers_the_last_minute():
    hours = parse_business_hours("Sun 00:00-24:00")
    assert is_within_hours(hours, LONDON, dt.datetime(2026, 3, 8, 23, 59, 59, tzinfo=LONDON))
    assert not is_within_hours(hours, LONDON, dt.datetime(2026, 3, 9, 0, 0, tzinfo=LONDON))


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        is_within_hours(WEEKDAYS, LONDON, dt.datetime(2026, 3, 4, 12, 0))


@settings(database=None, max_examples=300)
@given(st.text(max_size=60))
def test_any_text_parses_or_says_why(text):
    try:
        hours = parse_business_hours(text)
    except ValueError as exc:
        assert str(exc).endswith(".")
    else:
        assert hours.spans and all(0 <= s.start < s.end <= 1440 for s in hours.spans)
