"""The outbox's state table: every step an auto-reply can take, and none other."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from mailroom.model import OutboxCounts
from mailroom.rules.outbox import QUEUED, STATES, TRANSITIONS, next_state, retry_delay, send_failure


def test_the_states_are_the_ones_the_faces_count():
    assert STATES == tuple(f.name for f in dataclasses.fields(OutboxCounts))
    assert QUEUED in STATES
    assert {state for pair in TRANSITIONS for state in (pair[0], TRANSITIONS[pair])} <= set(STATES)


@pytest.mark.parametrize("state,event,after", [
    ("pending", "claim", "sending"),
    ("sending", "sent", "sent"),
    ("sending", "refused", "failed"),
    ("sending", "deferred", "pending"),
    ("sending", "lost", "uncertain"),
    ("sending", "abandoned", "uncertain"),
])
def test_each_step(state, event, after):
    assert next_state(state, event) == after


@pytest.mark.parametrize("state,event", [
    ("sent", "claim"),            # sent once: never again
    ("uncertain", "claim"),       # maybe sent: never again
    ("failed", "claim"),
    ("pending", "sent"),          # only a claimed row is sent
    ("sending", "claim"),
])
def test_a_step_the_table_lacks_is_refused(state, event):
    with pytest.raises(ValueError, match=state):
        next_state(state, event)


def test_final_states_have_no_way_out():
    assert not [pair for pair in TRANSITIONS if pair[0] in ("sent", "failed", "uncertain")]


@pytest.mark.parametrize("permanent,kind,event", [
    (True, "send", "refused"), (True, "connect", "refused"),
    (False, "connect", "lost"), (False, "send", "deferred"), (False, "timeout", "deferred"),
])
def test_a_failed_send_is_one_event(permanent, kind, event):
    assert send_failure(permanent=permanent, kind=kind) == event


@pytest.mark.parametrize("attempts,minutes", [(0, 1), (1, 1), (2, 2), (3, 4), (7, 60), (50, 60)])
def test_retries_back_off_to_an_hour(attempts, minutes):
    assert retry_delay(attempts) == dt.timedelta(minutes=minutes)
