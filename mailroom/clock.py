"""The one clock: the current time as an aware UTC datetime.

Everything that needs "now" takes a `clock` callable defaulting to `utcnow`, so tests
can pass their own; nothing else in Mailroom reads the system clock for a timestamp.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
