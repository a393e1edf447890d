"""exclude_before: the instant before which a mailbox's messages are never downloaded.

The setting is a day, and a business's day begins at midnight where the business is:
a studio in Auckland that sets 2026-01-01 means its own New Year's Day, which began
eleven hours before UTC's. So the cutoff is midnight of that day in the company's
time zone (the `timezone` setting), and the fetch, `mailroom explain` and moving a
cutoff earlier (settings/repo.py: the messages it skipped come back) all ask here.

A second, automatic line protects a mailbox connected with years of mail on it: mail
dated more than `BACKLOG_GRACE` before the mailbox was first checked is its backlog.
It is still imported and filed against its clients (their history is worth having),
but it opens no task (`rules.decide`); auto-replies never go to it anyway, as they
never go to mail older than a day (`rules.autoreply`, "too-old").

Pure: the zone and the dates are passed in; no clock, no store.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo


def company_zone(name: str | None) -> dt.tzinfo:
    """The company's time zone; UTC when none is set (an unknown name is refused by validation)."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def cutoff_instant(day: dt.date | None, zone: dt.tzinfo) -> dt.datetime | None:
    """Midnight at the start of `day` in `zone`, as an aware UTC datetime; None for no cutoff."""
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)


def is_before_cutoff(date: dt.datetime | None, cutoff: dt.datetime | None) -> bool:
    """Is a message dated `date` skipped? One without a date never is: it may be new."""
    return cutoff is not None and date is not None and date < cutoff


# Mail from the last week before the mailbox was connected is work in hand (an enquiry
# of last Friday still wants an answer); older mail was dealt with elsewhere.
BACKLOG_GRACE = dt.timedelta(days=7)


def is_backlog(date: dt.datetime | None, first_checked: dt.datetime | None) -> bool:
    """Was a message dated `date` old mail already when the mailbox was first checked
    (`first_checked`, None: unknown)? One without a date is not: it may be new."""
    return first_checked is not None and date is not None and date < first_checked - BACKLOG_GRACE
