"""The outbox's states and the events that move an auto-reply between them, as one table.

Everything that changes an outbox row's state is a transition listed in `TRANSITIONS`
(h11's _state.py habit): mailroom/outbox.py only carries them out, each as an UPDATE
guarded by the state it leaves, so a row never takes a step this table lacks.

    pending --claim--> sending --sent------> sent
                          |------refused---> failed      5xx: the server refused it for good
                          |------deferred--> pending     4xx: tried again after `retry_delay`
                          |------lost------> uncertain   the connection died mid-transaction
                          '------abandoned-> uncertain   found `sending` when a sender starts:
                                                         the one before died mid-send

`uncertain` and `failed` are final: at most once beats a double reply (RFC 3834 asks
an automatic responder never to repeat itself), so a person looks at them instead.

Pure: no store, no clock.
"""

from __future__ import annotations

import datetime as dt

STATES: tuple[str, ...] = ("pending", "sending", "sent", "failed", "uncertain")
QUEUED = "pending"                   # the state an import writes a new auto-reply in

TRANSITIONS: dict[tuple[str, str], str] = {
    ("pending", "claim"): "sending",     # committed before a byte goes to the server
    ("sending", "sent"): "sent",
    ("sending", "refused"): "failed",
    ("sending", "deferred"): "pending",
    ("sending", "lost"): "uncertain",
    ("sending", "abandoned"): "uncertain",
}

MAX_BACKOFF = dt.timedelta(hours=1)


def next_state(state: str, event: str) -> str:
    """The state `event` moves a row in `state` to; ValueError for a step the table lacks."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise ValueError(f"an outbox row in state {state!r} cannot take the event {event!r}") from None


def send_failure(*, permanent: bool, kind: str) -> str:
    """The event for a send that failed: refused for good (5xx), lost mid-transaction (the
    server may have the message), or deferred (4xx, or no session was ever started)."""
    if permanent:
        return "refused"
    if kind == "connect":
        return "lost"
    return "deferred"


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4 ... minutes after each temporary failure, at most an hour (the exponent is
    capped too: 2**49 minutes would overflow a timedelta after two days of 4xx replies)."""
    return min(dt.timedelta(minutes=2 ** min(max(attempts - 1, 0), 16)), MAX_BACKOFF)
