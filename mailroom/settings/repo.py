"""Read and write the canonical settings document in the store.

`save` replaces the settings with a validated document in one transaction: entries
are matched by their key (name, or description for mailboxes) so ids, and with them
a mailbox's seen UIDs and history, survive a re-import; entries missing from the
document are removed. `load` gives back the same canonical document.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mailroom.settings.document import Document
from mailroom.settings.fields import SECTIONS, Field, Section
from mailroom.store import schema


def _column(f: Field) -> str:
    return f"{f.name}_id" if f.kind == "ref" else f.name


def _table(section: Section) -> sa.Table:
    return schema.metadata.tables[section.table]


def _key_column(section: Section) -> sa.Column:
    return _table(section).c[section.key]


def _ids(conn: Connection, section_name: str) -> dict[str, int]:
    section = next(s for s in SECTIONS if s.name == section_name)
    return {row[1]: row[0] for row in conn.execute(sa.select(_table(section).c.id, _key_column(section)))}


def save(engine: Engine, doc: Document, *, renames: dict[str, dict[str, str]] | None = None) -> None:
    """Make the store's settings equal to `doc` (already validated), atomically.

    `renames` ({section: {old key: new key}}) says which entries were renamed, so they
    keep their ids (and everything recorded against them) instead of being replaced.
    """
    with engine.begin() as conn:
        for section_name, pairs in (renames or {}).items():
            section = next(s for s in SECTIONS if s.name == section_name)
            for old, new in pairs.items():
                conn.execute(_table(section).update().where(_key_column(section) == old)
                             .values({section.key: new}))
        save_in(conn, doc)


def save_in(conn: Connection, doc: Document) -> None:
    for section in SECTIONS:
        table = _table(section)
        entries = [doc[section.name]] if section.single else doc[section.name]
        existing = {} if section.single else _ids(conn, section.name)
        for entry in entries:
            row: dict[str, Any] = {}
            for f in section.fields:
                value = entry.get(f.name)
                if f.kind == "ref":
                    value = _ids(conn, f.ref).get(value) if value is not None else None
                row[_column(f)] = value
            if section.single:
                row = {k: v for k, v in row.items() if v is not None or table.c[k].nullable}
                if conn.execute(sa.select(table.c.id).where(table.c.id == 1)).first():
                    conn.execute(table.update().where(table.c.id == 1).values(**row))
                else:
                    conn.execute(table.insert().values(id=1, **row))
            elif entry[section.key] in existing:
                conn.execute(table.update().where(table.c.id == existing[entry[section.key]]).values(**row))
            else:
                conn.execute(table.insert().values(**row))
    # Remove what the document no longer names, dependants first.
    for section in reversed(SECTIONS):
        if section.single:
            continue
        keep = [e[section.key] for e in doc[section.name]]
        conn.execute(_table(section).delete().where(_key_column(section).not_in(keep)))


def load(engine: Engine) -> Document:
    """The store's settings as a canonical document (defaults where never set)."""
    with engine.connect() as conn:
        return load_in(conn)


def load_in(conn: Connection) -> Document:
    names: dict[str, dict[int, str]] = {}
    for section in SECTIONS:
        if not section.single:
            names[section.name] = {v: k for k, v in _ids(conn, section.name).items()}
    doc: Document = {}
    for section in SECTIONS:
        table = _table(section)
        rows = conn.execute(sa.select(table).order_by(table.c.id)).mappings().all()
        entries = []
        for row in rows:
            entry = {}
            for f in section.fields:
                value = row[_column(f)]
                if f.kind == "ref":
                    value = names[f.ref].get(value) if value is not None else None
                entry[f.name] = value
            entries.append(entry)
        if section.single:
            doc[section.name] = entries[0] if entries else {
                f.name: (None if f.required else f.default) for f in section.fields}
        else:
            doc[section.name] = entries
    return doc
