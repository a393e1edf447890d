"""Tasks: the filtered list, and a task's status and assignee changed.

A task is closed when its status is final (`final = true` in the settings). Assigning a
user who belongs to a department moves the task to that department too, as a mailbox's
user must be in its department. Must not: hold SQL (mailroom/store/tasks.py).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from mailroom.errors import ConfigError
from mailroom.model import Page, TaskFilter, TaskRecord
from mailroom.store import tasks as store
from mailroom.views import paging

STATES = ("open", "closed", "all")


def _record(row: dict) -> TaskRecord:
    return TaskRecord(id=row["id"], title=row["title"], created_at=row["created_at"], client_id=row["client_id"],
                      client_name=row["client_name"], message_pk=row["source_message_pk"],
                      task_type=row["task_type"], status=row["status"], closed=bool(row["closed"]),
                      department=row["department"], user=row["user"])


def tasks(engine: Engine, where: TaskFilter = TaskFilter(), after: str | None = None,
          limit: int | None = None) -> Page:
    """Tasks matching `where`, newest first."""
    if where.state not in STATES:
        raise ConfigError(f"Show open, closed or all tasks, not {where.state!r}.", field="state")
    limit = paging.size(limit)
    key = paging.decode(after, int)
    with engine.connect() as conn:
        rows = store.list_tasks(conn, department=where.department, user=where.user, status=where.status,
                                task_type=where.task_type, state=where.state, client_id=where.client_id,
                                limit=limit + 1, before=key[0] if key else None)
    rows, cursor = paging.cut(rows, limit, lambda r: (r["id"],))
    return Page(tuple(_record(r) for r in rows), cursor)


def task(engine: Engine, task_id: int) -> TaskRecord:
    with engine.connect() as conn:
        row = store.get_task(conn, task_id)
    if row is None:
        raise ConfigError(f"There is no task number {task_id}.", field="task")
    return _record(row)


def statuses(engine: Engine, task_id: int) -> tuple[tuple[str, bool], ...]:
    """(name, final) of the statuses this task may be given."""
    with engine.connect() as conn:
        row = store.get_task(conn, task_id)
        if row is None:
            raise ConfigError(f"There is no task number {task_id}.", field="task")
        return tuple(store.statuses_for(conn, row["task_type_id"]))


def update(engine: Engine, task_id: int, *, status: str | None = None, user: str | None = None) -> TaskRecord:
    """Give a task another status (a name; None: unchanged) and/or assignee (a user's
    name, "" for nobody; None: unchanged)."""
    with engine.begin() as conn:
        row = store.get_task(conn, task_id)
        if row is None:
            raise ConfigError(f"There is no task number {task_id}.", field="task")
        values = {}
        if status is not None:
            allowed = {name for name, _final in store.statuses_for(conn, row["task_type_id"])}
            if status not in allowed:
                kind = f'a task of type "{row["task_type"]}"' if row["task_type"] else "this task"
                raise ConfigError(f'"{status}" is not a status for {kind}; choose one of: '
                                  f'{", ".join(sorted(allowed)) or "(none set up)"}.', field="status")
            values["task_status_id"] = store.status_row(conn, status)["id"]
        if user is not None:
            if user == "":
                values["user_id"] = None
            else:
                found = store.user_row(conn, user)
                if found is None:
                    raise ConfigError(f'There is no user called "{user}".', field="user")
                values["user_id"] = found["id"]
                if found["department_id"] is not None:
                    values["department_id"] = found["department_id"]
        if values:
            store.update_task(conn, task_id, **values)
        return _record(store.get_task(conn, task_id))
