"""The outbox sender: drains pending auto-replies over SMTP, each at most once.

Rows are written by the import transaction (importer.py). Here they move through the
states of mailroom/rules/outbox.py's table, and only through those: pending → sending
(committed before the SMTP transaction starts) → sent | failed | pending again. A row
still `sending` when a sender starts means a sender died mid-send: the server may or
may not have the message, so it becomes `uncertain`, is shown to the user, and is
never sent again (at most once beats a double reply). Temporary failures (4xx) retry
with back-off; permanent ones (5xx) are marked failed with the server's reply. Only
one sender runs at a time, also across processes (a lock in the data folder).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import filelock
import sqlalchemy as sa

from mailroom import paths
from mailroom.clock import utcnow
from mailroom.context import Context
from mailroom.errors import Fix, MailroomError, SendError
from mailroom.rules.outbox import QUEUED, next_state, retry_delay, send_failure
from mailroom.secrets import outgoing_account
from mailroom.store import records
from mailroom.store import schema as s

if TYPE_CHECKING:
    from mailroom.mail.smtp import SmtpClient

log = logging.getLogger("mailroom.outbox")

@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    error: str | None = None
    fix: Fix | None = None          # where to fix what stopped every reply (errors.Fix)


def drain(ctx: Context, clock: Callable[[], dt.datetime] = utcnow) -> DrainResult:
    """Send every due pending row; returns the counts. Never raises for a send problem."""
    result = DrainResult()
    lock = paths.lock("outbox")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return result  # another process is sending right now
    try:
        _mark_uncertain(ctx)
        due = _due_rows(ctx, clock())
        if not due:
            return result
        from mailroom.mail.smtp import SmtpClient   # loaded when there is a reply to send

        try:
            endpoint = ctx.outgoing_endpoint()
            password = ctx.secrets.require(outgoing_account(), "the outgoing account") if endpoint.username else None
            smtp = SmtpClient.open(endpoint, password)
        except MailroomError as exc:
            # The server is down or misconfigured: every row waits, none spends an attempt.
            result.waiting, result.error, result.fix = len(due), exc.message, exc.fix
            log.warning("outbox: %d auto-replies wait: %s", len(due), exc.message)
            return result
        with smtp:
            for row in due:
                _send_one(ctx, smtp, row, clock, result)
                if result.error:
                    break
        return result
    finally:
        lock.release()


def _move(conn, where, state: str, event: str, **values) -> int:
    """Carry out `event` on the rows `where` that are in `state` (the table's step from
    it, or ValueError); how many rows moved."""
    t = s.outbox
    return conn.execute(t.update().where(where, t.c.state == state)
                        .values(state=next_state(state, event), **values)).rowcount


def _mark_uncertain(ctx: Context) -> None:
    with ctx.engine.begin() as conn:
        found = _move(conn, sa.true(), "sending", "abandoned", last_error="Mailroom stopped while sending this "
                      "reply; it may or may not have been delivered, so it is not sent again.")
    if found:
        log.warning("outbox: %d auto-replies interrupted mid-send marked uncertain", found)


def _due_rows(ctx: Context, now: dt.datetime) -> list[dict]:
    t = s.outbox
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.to_addr, t.c.from_addr, t.c.raw, t.c.attempts,
                                      t.c.reply_to_message_pk).where(
            t.c.state == QUEUED, sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now))
            .order_by(t.c.id)).mappings()
        return [dict(r) for r in rows]


def _send_one(ctx: Context, smtp: SmtpClient, row: dict, clock, result: DrainResult) -> None:
    t = s.outbox
    this = t.c.id == row["id"]
    with ctx.engine.begin() as conn:
        # Claim the row; `sending` is durable before a byte goes to the server.
        claimed = _move(conn, this, QUEUED, "claim", attempts=t.c.attempts + 1)
    if not claimed:
        return
    try:
        smtp.send(row["raw"], row["from_addr"], [row["to_addr"]])
    except SendError as exc:
        event = send_failure(permanent=exc.permanent, kind=exc.kind)
        values = {"last_error": exc.message}
        if event == "refused":
            result.failed += 1
        elif event == "lost":
            # Lost mid-transaction: the server may have accepted it. Never risk a second copy.
            result.error = exc.message
        else:
            values["next_attempt_at"] = clock() + retry_delay(row["attempts"] + 1)
            result.waiting += 1
        with ctx.engine.begin() as conn:
            _move(conn, this, "sending", event, **values)
        log.warning("outbox: reply %d to %s: %s", row["id"], row["to_addr"], exc.message)
        return
    now = clock()
    with ctx.engine.begin() as conn:
        _move(conn, this, "sending", "sent", sent_at=now, last_error=None)
        original = _record_sent(conn, row, now)
    result.sent += 1
    log.info("outbox: auto-reply %d sent to %s, answering message %s (%r) of mailbox %s", row["id"],
             row["to_addr"], original.get("message_id"), original.get("subject"), original.get("description"))


def _record_sent(conn, row: dict, now: dt.datetime) -> dict:
    """Keep the sent reply on the client's record, in the original's conversation; the
    original's Message-ID, subject and mailbox description (empty when gone)."""
    m = s.messages
    original = conn.execute(sa.select(m.c.mailbox_id, m.c.client_id, m.c.conversation_id, m.c.message_id,
                                      m.c.subject, s.mailboxes.c.description)
                            .select_from(m.outerjoin(s.mailboxes, m.c.mailbox_id == s.mailboxes.c.id))
                            .where(m.c.id == row["reply_to_message_pk"])).mappings().first()
    original = dict(original) if original else {}
    from mailroom.mail.parse import parse_message

    msg = parse_message(row["raw"])
    records.insert_message(conn, msg, direction="out", mailbox_id=original.get("mailbox_id"),
                           client_id=original.get("client_id"), conversation_id=original.get("conversation_id"),
                           is_reply=True, client_ambiguous=False, now=now)
    return original


