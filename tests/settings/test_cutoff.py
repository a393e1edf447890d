"""exclude_before: a date in the future is refused (it would skip every message until then)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from mailroom.errors import ConfigError
from mailroom.settings.document import validate
from tests.helpers import mailbox, settings


def with_cutoff(day: dt.date) -> dict:
    return settings(mailboxes=[mailbox("Sales", host="pop.x.example", port=995, user="s@x.example",
                                       exclude_before=day)])


def today() -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo("Europe/London")).date()  # the time zone settings() sets


def test_a_cutoff_in_the_future_is_refused():
    future = today() + dt.timedelta(days=190)
    with pytest.raises(ConfigError) as caught:
        validate(with_cutoff(future))
    [problem] = caught.value.problems
    assert problem.startswith(f"mailboxes[1].exclude_before: {future.isoformat()} is in the future, so every "
                              "message until then would be skipped; use today (")


@pytest.mark.parametrize("days_ago", [0, 1, 400])
def test_today_and_the_past_are_accepted(days_ago):
    day = today() - dt.timedelta(days=days_ago)
    doc, _warnings = validate(with_cutoff(day))
    assert doc["mailboxes"][0]["exclude_before"] == day
