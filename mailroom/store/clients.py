"""Clients as the page sees and edits them: the list, one client, their addresses, a
merge, and the messages filed under no client (or under one of several).

Reads return plain dicts; each write takes the caller's connection, so a merge (or the
filing of a message with its tasks) is one transaction. Lists are keyset-paged: the
caller passes the sort key of the last row shown, never a row count (no OFFSET).
Must not: commit (the caller owns the transaction) or decide anything (mailroom/views/).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.store import schema as s

c, ce, m, t, ts = s.clients, s.client_emails, s.messages, s.tasks, s.task_statuses

# A task is open while it has no status or a status that is not final.
OPEN = sa.or_(ts.c.final.is_(None), ts.c.final == sa.false())


def _counts(client_id):
    """Correlated counts for the client `client_id` (a column or a value)."""
    messages = sa.select(sa.func.count()).select_from(m).where(m.c.client_id == client_id).scalar_subquery()
    open_tasks = (sa.select(sa.func.count()).select_from(t.outerjoin(ts, t.c.task_status_id == ts.c.id))
                  .where(t.c.client_id == client_id, OPEN).scalar_subquery())
    last = sa.type_coerce(sa.select(sa.func.max(sa.func.coalesce(m.c.date, m.c.created_at)))
                          .where(m.c.client_id == client_id).scalar_subquery(), s.UTCDateTime)
    return messages.label("messages"), open_tasks.label("open_tasks"), last.label("last_contact")


def emails_of(conn: Connection, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for client_id, email in conn.execute(sa.select(ce.c.client_id, ce.c.email)
                                             .where(ce.c.client_id.in_(ids)).order_by(ce.c.id)):
            found[client_id].append(email)
    return found


def list_clients(conn: Connection, text: str, limit: int, after: tuple[str, int] | None = None) -> list[dict]:
    """Clients by name (A to Z, case aside) whose name or an address contains `text`
    ("" for all), with their counts; `after` is (lowercased name, id) of the last shown."""
    key = sa.func.lower(c.c.name)
    page = sa.select(c.c.id, c.c.name, key.label("key"))
    if text:
        page = page.where(sa.or_(c.c.name.icontains(text, autoescape=True),
                                 c.c.id.in_(sa.select(ce.c.client_id).where(ce.c.email.icontains(
                                     text, autoescape=True)))))
    if after is not None:
        page = page.where(sa.tuple_(key, c.c.id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
    # The page first, then the counts of its rows only (computed for every client before
    # the sort, they took most of the list's time with 50,000 messages).
    page = page.order_by(key, c.c.id).limit(limit).subquery()
    query = sa.select(page.c.id, page.c.name, page.c.key, *_counts(page.c.id)).order_by(page.c.key, page.c.id)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    emails = emails_of(conn, [r["id"] for r in rows])
    for row in rows:
        row["emails"] = emails[row["id"]]
    return rows


def get_client(conn: Connection, client_id: int) -> dict | None:
    row = conn.execute(sa.select(c.c.id, c.c.name, c.c.created_at, *_counts(c.c.id))
                       .where(c.c.id == client_id)).mappings().first()
    if row is None:
        return None
    return {**row, "emails": emails_of(conn, [client_id])[client_id]}


def add_email(conn: Connection, client_id: int, email: str) -> bool:
    """False when the client has this address already."""
    exists = conn.execute(sa.select(ce.c.id).where(ce.c.client_id == client_id, ce.c.email == email)).first()
    if exists:
        return False
    conn.execute(ce.insert().values(client_id=client_id, email=email))
    return True


def remove_email(conn: Connection, client_id: int, email: str) -> bool:
    return conn.execute(ce.delete().where(ce.c.client_id == client_id, ce.c.email == email)).rowcount > 0


def owners(conn: Connection, email: str) -> list[tuple[int, str]]:
    """(id, name) of every client with this address."""
    return [tuple(r) for r in conn.execute(sa.select(c.c.id, c.c.name).join(ce, ce.c.client_id == c.c.id)
                                           .where(ce.c.email == email).order_by(c.c.id))]


def merge(conn: Connection, keep: int, gone: int) -> None:
    """Move the addresses, messages, conversations and tasks of client `gone` to `keep`,
    then remove `gone`. The caller's transaction makes it all or nothing."""
    kept = sa.select(ce.c.email).where(ce.c.client_id == keep)
    conn.execute(ce.delete().where(ce.c.client_id == gone, ce.c.email.in_(kept)))
    conn.execute(ce.update().where(ce.c.client_id == gone).values(client_id=keep))
    for table in (m, t, s.conversations):
        conn.execute(table.update().where(table.c.client_id == gone).values(client_id=keep))
    conn.execute(c.delete().where(c.c.id == gone))
    # A sender that matched both was ambiguous; if no other client has the address now, it is not.
    sharing = (sa.select(sa.func.count(sa.distinct(ce.c.client_id))).where(ce.c.email == m.c.from_addr)
               .scalar_subquery())
    conn.execute(m.update().where(m.c.client_id == keep, m.c.client_ambiguous == sa.true(), sharing <= 1)
                 .values(client_ambiguous=False))


def unfiled(conn: Connection, limit: int, before: int | None = None) -> list[dict]:
    """Incoming messages under no client, or under one of several that share the sender's
    address; newest first, `before` the id of the last one shown."""
    query = (sa.select(m.c.id, m.c.date, m.c.created_at, m.c.subject, m.c.from_name, m.c.from_addr,
                       m.c.client_ambiguous, s.mailboxes.c.description)
             .select_from(m.outerjoin(s.mailboxes, m.c.mailbox_id == s.mailboxes.c.id))
             .where(m.c.direction == "in", sa.or_(m.c.client_id.is_(None), m.c.client_ambiguous == sa.true())))
    if before is not None:
        query = query.where(m.c.id < before)
    rows = [dict(r) for r in conn.execute(query.order_by(m.c.id.desc()).limit(limit)).mappings()]
    addresses = sorted({r["from_addr"] for r in rows if r["from_addr"]})
    found: dict[str, list[tuple[int, str]]] = {}
    if addresses:
        for email, client_id, name in conn.execute(
                sa.select(ce.c.email, c.c.id, c.c.name).join(c, c.c.id == ce.c.client_id)
                .where(ce.c.email.in_(addresses)).order_by(c.c.id)):
            found.setdefault(email, []).append((client_id, name))
    for row in rows:
        row["candidates"] = found.get(row["from_addr"], [])
    return rows


def message_sender(conn: Connection, pk: int) -> dict | None:
    row = conn.execute(sa.select(m.c.id, m.c.direction, m.c.from_name, m.c.from_addr, m.c.conversation_id,
                                 m.c.client_id).where(m.c.id == pk)).mappings().first()
    return dict(row) if row else None


def file_message(conn: Connection, pk: int, client_id: int, conversation_id: int | None) -> None:
    """File a message (and the tasks it opened, and its conversation when that has no
    client yet) under `client_id`."""
    conn.execute(m.update().where(m.c.id == pk).values(client_id=client_id, client_ambiguous=False))
    conn.execute(t.update().where(t.c.source_message_pk == pk).values(client_id=client_id))
    if conversation_id is not None:
        cv = s.conversations
        conn.execute(cv.update().where(cv.c.id == conversation_id, cv.c.client_id.is_(None))
                     .values(client_id=client_id))


def client_names(conn: Connection, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(conn.execute(sa.select(c.c.id, c.c.name).where(c.c.id.in_(ids))).all())
