"""What Mailroom did, for the activity pages: the imports per run (for the chart), every
outgoing mail, and the quarantine. The mailbox runs themselves are read by the
controller's `activity` (the dashboard's source too). Keyset-paged on ids, newest first.
Must not commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.store import schema as s
from mailroom.store.mail import outgoing

o, q, r = s.outbox, s.quarantine, s.runs


def imports_since(conn: Connection, since: dt.datetime, mailbox_id: int | None = None) -> list[tuple]:
    """(mailbox_id, started_at, imported) of every run since `since` that imported mail."""
    where = [r.c.started_at >= since, r.c.imported > 0]
    if mailbox_id is not None:
        where.append(r.c.mailbox_id == mailbox_id)
    return [tuple(row) for row in conn.execute(sa.select(r.c.mailbox_id, r.c.started_at, r.c.imported).where(*where))]


def mailboxes(conn: Connection) -> list[tuple[int, str]]:
    return [tuple(row) for row in conn.execute(sa.select(s.mailboxes.c.id, s.mailboxes.c.description)
                                               .order_by(s.mailboxes.c.id))]


def outgoing_mail(conn: Connection, *, mailbox_id: int | None = None, states: tuple[str, ...] = (),
                  limit: int = 50, before: int | None = None) -> list[dict]:
    """Outbox rows, newest first, of one mailbox and/or in these states (all when empty)."""
    where = []
    if mailbox_id is not None:
        where.append(o.c.mailbox_id == mailbox_id)
    if states:
        where.append(o.c.state.in_(states))
    return [dict(row) for row in conn.execute(outgoing(where, limit, before)).mappings()]


def outbox_row(conn: Connection, outbox_id: int) -> dict | None:
    row = conn.execute(outgoing([o.c.id == outbox_id])).mappings().first()
    return dict(row) if row else None


def queue_again(conn: Connection, outbox_id: int, states: tuple[str, ...]) -> bool:
    """Put a failed or uncertain reply back in the queue (sent at the next drain); False
    when it is no longer in one of `states` (someone else did it first)."""
    return conn.execute(o.update().where(o.c.id == outbox_id, o.c.state.in_(states))
                        .values(state="pending", next_attempt_at=None)).rowcount > 0


_HELD = (q.c.id, q.c.mailbox_id, sa.func.coalesce(s.mailboxes.c.description, "").label("mailbox"), q.c.uid,
         q.c.reason, q.c.created_at, q.c.raw_sha256, q.c.headers_only)


def held(conn: Connection, limit: int = 50, before: int | None = None, mailbox_id: int | None = None) -> list[dict]:
    query = sa.select(*_HELD).select_from(q.outerjoin(s.mailboxes, q.c.mailbox_id == s.mailboxes.c.id))
    if before is not None:
        query = query.where(q.c.id < before)
    if mailbox_id is not None:
        query = query.where(q.c.mailbox_id == mailbox_id)
    return [dict(row) for row in conn.execute(query.order_by(q.c.id.desc()).limit(limit)).mappings()]


def held_one(conn: Connection, held_id: int) -> dict | None:
    row = conn.execute(sa.select(*_HELD).select_from(q.outerjoin(s.mailboxes, q.c.mailbox_id == s.mailboxes.c.id))
                       .where(q.c.id == held_id)).mappings().first()
    return dict(row) if row else None


def release(conn: Connection, held_id: int) -> bool:
    """Remove a quarantine record (imported, fetched again, or dismissed)."""
    return conn.execute(q.delete().where(q.c.id == held_id)).rowcount > 0


def note_failure(conn: Connection, held_id: int, reason: str) -> None:
    conn.execute(q.update().where(q.c.id == held_id).values(reason=reason[:2000]))
