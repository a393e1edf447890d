"""The one loader of `Mailbox`: from the store's row, or from a settings entry not saved yet.

Both are built from the settings table (mailroom/settings/fields.py), so a setting
added there reaches the type and both loaders at once (a test holds them equal). The
queries that find a mailbox (by id, by description, the enabled ones) and when it was
first checked live here and nowhere else. Reads only; saving is mailroom/settings/repo.py's.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.errors import ConfigError
from mailroom.model import Mailbox
from mailroom.settings.fields import SECTION
from mailroom.store import schema as s

_FIELDS = SECTION["mailboxes"].fields


def from_row(row: Any) -> Mailbox:
    """The mailbox a `mailboxes` row holds (a row mapping)."""
    values = {"id": row["id"]}
    for f in _FIELDS:
        name = f"{f.name}_id" if f.kind == "ref" else f.name
        values[name] = row[name]
    values["aliases"] = tuple(values["aliases"] or ())
    return Mailbox(**values)


def from_entry(entry: dict[str, Any], mailbox_id: int | None = None) -> Mailbox:
    """The mailbox of a validated settings entry (references by name are not resolved: None)."""
    values: dict[str, Any] = {"id": mailbox_id}
    for f in _FIELDS:
        if f.kind == "ref":
            values[f"{f.name}_id"] = None
        else:
            values[f.name] = entry.get(f.name)
    values["aliases"] = tuple(values["aliases"] or ())
    return Mailbox(**values)


def by_id(conn: Connection, mailbox_id: int) -> Mailbox:
    """The mailbox `mailbox_id`; ConfigError when there is none (any more)."""
    row = conn.execute(sa.select(s.mailboxes).where(s.mailboxes.c.id == mailbox_id)).mappings().first()
    if row is None:
        raise ConfigError(f"There is no mailbox number {mailbox_id}.", field="mailbox")
    return from_row(row)


def by_description(conn: Connection, description: str) -> Mailbox:
    """The mailbox called `description`; ConfigError naming the mailboxes there are."""
    row = conn.execute(sa.select(s.mailboxes).where(s.mailboxes.c.description == description)).mappings().first()
    if row is not None:
        return from_row(row)
    names = list(conn.execute(sa.select(s.mailboxes.c.description).order_by(s.mailboxes.c.id)).scalars())
    known = (", ".join(f'"{n}"' for n in names) + "." if names else
             "none yet; add them to a settings file and import it, see: mailroom config import --help")
    raise ConfigError(f'No mailbox is called "{description}". Mailboxes: {known}', field="description")


def find_id(conn: Connection, description: str) -> int | None:
    """The id of the mailbox called `description`, or None."""
    return conn.execute(sa.select(s.mailboxes.c.id).where(s.mailboxes.c.description == description)).scalar()


def every(conn: Connection, *, enabled_only: bool = False) -> list[Mailbox]:
    """Every mailbox (or every enabled one), in the order they were added."""
    query = sa.select(s.mailboxes).order_by(s.mailboxes.c.id)
    if enabled_only:
        query = query.where(s.mailboxes.c.enabled)
    return [from_row(row) for row in conn.execute(query).mappings()]


def first_checked(conn: Connection, mailbox_id: int):
    """When the mailbox's first run began (an aware UTC datetime), or None: never checked.
    Mail dated well before it is the backlog the mailbox had when it was connected."""
    return conn.execute(sa.select(sa.func.min(s.runs.c.started_at))
                        .where(s.runs.c.mailbox_id == mailbox_id)).scalar()
