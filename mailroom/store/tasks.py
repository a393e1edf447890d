"""Tasks as the task list shows and changes them: filtered by department, user, status,
type, client and open/closed (a task is closed when its status is final), newest
first, keyset-paged on the task id. Must not commit: the caller owns the transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.store import schema as s

t, ts, tt, d, u, c = s.tasks, s.task_statuses, s.task_types, s.departments, s.users, s.clients

_FROM = (t.outerjoin(ts, t.c.task_status_id == ts.c.id).outerjoin(tt, t.c.task_type_id == tt.c.id)
         .outerjoin(d, t.c.department_id == d.c.id).outerjoin(u, t.c.user_id == u.c.id)
         .outerjoin(c, t.c.client_id == c.c.id))
_COLUMNS = (t.c.id, t.c.title, t.c.created_at, t.c.client_id, sa.func.coalesce(c.c.name, "").label("client_name"),
            t.c.source_message_pk, sa.func.coalesce(tt.c.name, "").label("task_type"),
            sa.func.coalesce(ts.c.name, "").label("status"),
            sa.func.coalesce(ts.c.final, False).label("closed"), sa.func.coalesce(d.c.name, "").label("department"),
            sa.func.coalesce(u.c.name, "").label("user"), t.c.task_type_id)
_CLOSED = ts.c.final == sa.true()


def list_tasks(conn: Connection, *, department: str | None = None, user: str | None = None,
               status: str | None = None, task_type: str | None = None, state: str = "open",
               client_id: int | None = None, words: tuple[str, ...] = (), limit: int = 50,
               before: int | None = None) -> list[dict]:
    """Tasks matching every filter given (names of settings entries; state "open",
    "closed" or "all"; every one of `words` in the title), newest first; `before` is the
    id of the last one shown."""
    where = [t.c.title.icontains(word, autoescape=True) for word in words]
    for column, value in ((d.c.name, department), (u.c.name, user), (ts.c.name, status), (tt.c.name, task_type)):
        if value:
            where.append(column == value)
    if client_id is not None:
        where.append(t.c.client_id == client_id)
    if state == "open":
        where.append(sa.not_(sa.func.coalesce(_CLOSED, False)))
    elif state == "closed":
        where.append(_CLOSED)
    if before is not None:
        where.append(t.c.id < before)
    query = sa.select(*_COLUMNS).select_from(_FROM).where(*where).order_by(t.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def get_task(conn: Connection, task_id: int) -> dict | None:
    row = conn.execute(sa.select(*_COLUMNS).select_from(_FROM).where(t.c.id == task_id)).mappings().first()
    return dict(row) if row else None


def status_row(conn: Connection, name: str) -> dict | None:
    row = conn.execute(sa.select(ts).where(ts.c.name == name)).mappings().first()
    return dict(row) if row else None


def user_row(conn: Connection, name: str) -> dict | None:
    row = conn.execute(sa.select(u).where(u.c.name == name)).mappings().first()
    return dict(row) if row else None


def statuses_for(conn: Connection, task_type_id: int | None) -> list[tuple[str, bool]]:
    """(name, final) of the statuses a task of this type may have: its type's and those for every type."""
    where = ts.c.task_type_id.is_(None)
    if task_type_id is not None:
        where = sa.or_(where, ts.c.task_type_id == task_type_id)
    return [tuple(r) for r in conn.execute(sa.select(ts.c.name, ts.c.final).where(where).order_by(ts.c.id))]


def update_task(conn: Connection, task_id: int, **values) -> None:
    conn.execute(t.update().where(t.c.id == task_id).values(**values))
