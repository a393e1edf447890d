"""Business hours: parse the company's opening hours and ask "are we open now?".

The text form is what the settings page shows and the user types, e.g.
"Mon-Fri 09:00-17:00, Sat 10:00-14:00". Parsing errors are `ValueError`s whose
message is shown to the user as is, so it names the bad piece and gives an example.

Pure: the time to test and the company's time zone are passed in; this module never
reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

EXAMPLE = "Mon-Fri 09:00-17:00, Sat 10:00-14:00"

# Monday is 0, as in datetime.weekday().
_DAYS = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "weds": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}

# One entry: a day or a day range, then a time range. Dashes may be typed as an
# en dash by word processors and phones, so accept both.
_DASH = r"\s*[-\u2013]\s*"
_ENTRY = re.compile(
    rf"^(?P<first>[A-Za-z]+)(?:{_DASH}(?P<last>[A-Za-z]+))?\s+"
    rf"(?P<start>\d{{1,2}}:\d{{2}}){_DASH}(?P<end>\d{{1,2}}:\d{{2}})$"
)


@dataclass(frozen=True)
class Span:
    """Open on `day` (0 = Monday) from `start` to `end`, in minutes after midnight.

    `end` may be 1440 ("24:00"); spans never cross midnight.
    """

    day: int
    start: int
    end: int


@dataclass(frozen=True)
class BusinessHours:
    """The opening hours of a week, as spans in the company's local time."""

    spans: tuple[Span, ...]


def parse_business_hours(text: str) -> BusinessHours:
    """Parse "Mon-Fri 09:00-17:00, Sat 10:00-14:00"; raise ValueError on anything else.

    Entries are separated by commas or semicolons; an entry is one day or a range of
    days ("Fri-Mon" wraps over the weekend) and a 24-hour time range. Overnight
    hours are written as two entries, one for each day.
    """
    if not text or not text.strip():
        raise ValueError(f'Business hours are empty; write them like "{EXAMPLE}".')
    spans: list[Span] = []
    for raw in re.split(r"[,;]", text):
        entry = raw.strip()
        if not entry:
            continue
        match = _ENTRY.match(entry)
        if match is None:
            raise ValueError(
                f'Could not read "{entry}" in the business hours; '
                f'write them like "{EXAMPLE}".'
            )
        first = _day(match["first"])
        last = _day(match["last"]) if match["last"] else first
        start = _minutes(match["start"], entry)
        end = _minutes(match["end"], entry)
        if end <= start:
            raise ValueError(
                f'In "{entry}" the closing time must be after the opening time; '
                "split hours past midnight into one entry per day."
            )
        day = first
        while True:
            spans.append(Span(day, start, end))
            if day == last:
                break
            day = (day + 1) % 7
    if not spans:
        raise ValueError(f'Business hours are empty; write them like "{EXAMPLE}".')
    return BusinessHours(tuple(spans))


def is_within_hours(hours: BusinessHours, tz: ZoneInfo, when: dt.datetime) -> bool:
    """True when the aware datetime `when`, seen in time zone `tz`, falls in `hours`.

    Spans include their opening minute and exclude their closing one.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("is_within_hours needs an aware datetime")
    local = when.astimezone(tz)
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return any(
        span.day == local.weekday() and span.start * 60 <= seconds < span.end * 60
        for span in hours.spans
    )


def _day(word: str) -> int:
    try:
        return _DAYS[word.lower()]
    except KeyError:
        raise ValueError(
            f'"{word}" is not a day in the business hours; use Mon, Tue, Wed, Thu, '
            "Fri, Sat or Sun."
        ) from None


def _minutes(clock: str, entry: str) -> int:
    hours, minutes = (int(part) for part in clock.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f'"{clock}" in "{entry}" is not a time; use 24-hour HH:MM.')
    return hours * 60 + minutes
