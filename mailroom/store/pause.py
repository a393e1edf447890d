"""The pause of scheduled checks, as the store keeps it across restarts.

One row (id 1) while paused, none otherwise; `paused_until` None means "until the
user resumes". The controller writes it when the user pauses or resumes and reads it
when it starts the worker. No decisions here: whether a stored pause has ended is the
controller's question, asked with its clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.store import schema as s

_ROW = 1


@dataclass(frozen=True)
class StoredPause:
    paused_at: dt.datetime
    until: dt.datetime | None


def load(conn: Connection) -> StoredPause | None:
    """The stored pause, or None when checks are not paused."""
    row = conn.execute(sa.select(s.pause.c.paused_at, s.pause.c.paused_until)
                       .where(s.pause.c.id == _ROW)).first()
    return StoredPause(row[0], row[1]) if row else None


def save(conn: Connection, now: dt.datetime, until: dt.datetime | None) -> None:
    """Checks are paused from `now` until `until` (None: until resumed)."""
    conn.execute(s.pause.delete().where(s.pause.c.id == _ROW))
    conn.execute(s.pause.insert().values(id=_ROW, paused_at=now, paused_until=until))


def clear(conn: Connection) -> None:
    """Checks are not paused (any more)."""
    conn.execute(s.pause.delete().where(s.pause.c.id == _ROW))
