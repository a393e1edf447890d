"""A client's timeline and one message with what was done with it.

The timeline is the client's messages (incoming, and the auto-replies that went out)
and tasks in one list, newest first, keyset-paged on (time, kind, id): a message's
time is its Date header (when it was written), or when it was imported if it had
none; a task's is when it was opened. An incoming message carries its auto-reply's
outbox state, so a reply still waiting, refused or perhaps sent twice shows on it.
Reads only; must not change anything.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.store import schema as s

m, t, ts, o, u = s.messages, s.tasks, s.task_statuses, s.outbox, s.users


def _attachment_count():
    return (sa.select(sa.func.count()).select_from(s.attachments)
            .where(s.attachments.c.message_pk == m.c.id).scalar_subquery())


def timeline(conn: Connection, client_id: int, limit: int,
             after: tuple[dt.datetime, str, int] | None = None) -> list[dict]:
    """Rows with kind ("message" | "task"), id, at, direction, title, who_name, who_addr,
    to_addrs, state, note, closed, attachments and message_pk; `after` is the
    (at, kind, id) of the last row shown."""
    messages = (sa.select(sa.literal("message").label("kind"), m.c.id,
                          sa.func.coalesce(m.c.date, m.c.created_at).label("at"), m.c.direction,
                          m.c.subject.label("title"), m.c.from_name.label("who_name"),
                          m.c.from_addr.label("who_addr"), m.c.to_addrs, o.c.state.label("state"),
                          sa.func.coalesce(o.c.last_error, m.c.autoreply_note).label("note"),
                          sa.literal(False).label("closed"), _attachment_count().label("attachments"),
                          sa.literal(None, sa.Integer).label("message_pk"))
                .select_from(m.outerjoin(o, o.c.reply_to_message_pk == m.c.id))
                .where(m.c.client_id == client_id))
    tasks = (sa.select(sa.literal("task"), t.c.id, t.c.created_at, sa.literal(""), t.c.title,
                       sa.func.coalesce(u.c.name, ""), sa.literal(""), sa.literal(""),
                       sa.func.coalesce(ts.c.name, ""), sa.literal(""),
                       sa.func.coalesce(ts.c.final, False), sa.literal(0), t.c.source_message_pk)
             .select_from(t.outerjoin(ts, t.c.task_status_id == ts.c.id).outerjoin(u, t.c.user_id == u.c.id))
             .where(t.c.client_id == client_id))
    both = sa.union_all(messages, tasks).subquery()
    query = sa.select(both)
    if after is not None:
        at, kind, row_id = after
        at = sa.bindparam("after_at", at, type_=s.UTCDateTime)
        query = query.where(sa.or_(both.c.at < at, sa.and_(both.c.at == at, both.c.kind > kind),
                                   sa.and_(both.c.at == at, both.c.kind == kind, both.c.id < row_id)))
    query = query.order_by(both.c.at.desc(), both.c.kind, both.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def message(conn: Connection, pk: int) -> dict | None:
    """The message row with its mailbox's description and its client's name."""
    row = conn.execute(
        sa.select(m, sa.func.coalesce(s.mailboxes.c.description, "").label("mailbox"),
                  sa.func.coalesce(s.clients.c.name, "").label("client_name"))
        .select_from(m.outerjoin(s.mailboxes, m.c.mailbox_id == s.mailboxes.c.id)
                     .outerjoin(s.clients, m.c.client_id == s.clients.c.id))
        .where(m.c.id == pk)).mappings().first()
    return dict(row) if row else None


def attachments(conn: Connection, pk: int) -> list[dict]:
    a = s.attachments
    return [dict(r) for r in conn.execute(sa.select(a.c.filename, a.c.content_type, a.c.size, a.c.sha256)
                                          .where(a.c.message_pk == pk).order_by(a.c.id)).mappings()]


def tasks_of(conn: Connection, pk: int) -> list[tuple[int, str]]:
    return [tuple(r) for r in conn.execute(sa.select(t.c.id, t.c.title).where(t.c.source_message_pk == pk)
                                           .order_by(t.c.id))]


OUTGOING_COLUMNS = (o.c.id, o.c.to_addr, o.c.state, o.c.attempts, o.c.last_error, o.c.created_at, o.c.sent_at,
                    o.c.reply_to_message_pk, sa.func.coalesce(s.mailboxes.c.description, "").label("mailbox"),
                    sa.func.coalesce(m.c.subject, "").label("subject"), m.c.client_id)


def outgoing(where, limit: int = 1, before: int | None = None):
    """The outbox rows matching `where`, newest first, with their mailbox and the subject
    and client of the message they answer."""
    query = (sa.select(*OUTGOING_COLUMNS)
             .select_from(o.outerjoin(s.mailboxes, o.c.mailbox_id == s.mailboxes.c.id)
                          .outerjoin(m, o.c.reply_to_message_pk == m.c.id))
             .where(*where))
    if before is not None:
        query = query.where(o.c.id < before)
    return query.order_by(o.c.id.desc()).limit(limit)


def autoreply_of(conn: Connection, pk: int) -> dict | None:
    """The outbox row of the auto-reply to message `pk`."""
    row = conn.execute(outgoing([o.c.reply_to_message_pk == pk])).mappings().first()
    return dict(row) if row else None


def sent_raw(conn: Connection, message_id: str) -> bytes | None:
    """The bytes of an auto-reply Mailroom sent (kept in the outbox, not the raw store)."""
    return conn.execute(sa.select(o.c.raw).where(o.c.message_id == message_id).order_by(o.c.id.desc())
                        .limit(1)).scalar()
