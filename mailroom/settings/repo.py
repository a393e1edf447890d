"""Read and write the canonical settings document in the store.

`plan` compares a validated document with the store and says what saving it would do,
per section: entries added, changed, renamed and removed. Entries are matched by their
name; mailboxes by their account first (`account_key`: protocol, server, login), then
by description, so a renamed mailbox keeps its id, and with it its seen UIDs, keyring
password and history. `save` carries the plan out in one transaction. It removes no
mailbox, and no entry that data refers to (tasks, or a mailbox being removed), unless
asked to (`prune`): a document that lacks them is refused, naming them, and nothing is
changed. `load` gives back the same canonical document.

This module never touches the keyring: the caller removes a pruned mailbox's password
(its id is in `Plan.removed_mailboxes`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mailroom.errors import ConfigError
from mailroom.rules.cutoff import company_zone, cutoff_instant
from mailroom.settings.document import Document
from mailroom.settings.fields import SECTION, SECTIONS, Field, Section
from mailroom.store import records, schema


def _column(f: Field) -> str:
    return f"{f.name}_id" if f.kind == "ref" else f.name


def _table(section: Section) -> sa.Table:
    return schema.metadata.tables[section.table]


def _key_column(section: Section) -> sa.Column:
    return _table(section).c[section.key]


def _ids(conn: Connection, section_name: str) -> dict[str, int]:
    section = SECTION[section_name]
    return {row[1]: row[0] for row in conn.execute(sa.select(_table(section).c.id, _key_column(section)))}


def account_key(box: dict) -> tuple[str, str, str, str]:
    """What makes a mailbox the same mailbox: the account it logs in to.

    Protocol, server name (lower-case, without a trailing dot: DNS names are
    case-insensitive and "pop.example.com." is the same host) and the login (Windows
    domain and user name, compared case-insensitively: a server that told two logins
    apart by case alone would be rare, while treating a re-capitalised login as a new
    mailbox would import all its mail and auto-reply to it again). The port and the
    security are left out on purpose: the same account reached on 995 with SSL or on
    110 with STLS lists the same messages under the same UIDs.
    """
    return ((box.get("protocol") or "pop3").lower(),
            (box.get("host") or "").strip().lower().rstrip("."),
            (box.get("domain") or "").strip().lower(),
            (box.get("username") or box.get("email") or "").strip().lower())


def _describe_account(key: tuple[str, str, str, str]) -> str:
    protocol, host, domain, user = key
    return f"{protocol} {domain + chr(92) if domain else ''}{user} at {host}"


@dataclass(frozen=True)
class Change:
    """One entry that saving a document adds, changes, renames or removes.

    `fields`: the settings that change. `in_use`: for a removal, the data that would
    lose it (empty when nothing refers to it); such a removal needs `prune`.
    """

    section: str
    action: str                      # added | changed | renamed | removed
    name: str
    old_name: str | None = None
    fields: tuple[str, ...] = ()
    in_use: str = ""
    row_id: int | None = None        # the store's id of an entry changed, renamed or removed

    def sentence(self) -> str:
        what = f'"{self.name}"' if self.name else self.section
        if self.action == "renamed":
            text = f'"{self.old_name}" renamed to "{self.name}"'
            if self.fields:
                text += f" (also changed: {', '.join(self.fields)})"
            return text
        if self.action == "changed":
            return f"{what + ' ' if self.name else ''}changed: {', '.join(self.fields)}"
        if self.action == "removed" and self.in_use:
            return f"{what} removed ({self.in_use})"
        return f"{what} {self.action}"


@dataclass
class Plan:
    """What `save` does with a document: the changes, and for each list section the
    existing id each entry of the document updates (None: a new entry)."""

    changes: list[Change] = field(default_factory=list)
    matched: dict[str, list[int | None]] = field(default_factory=dict)
    removed: dict[str, list[int]] = field(default_factory=dict)

    @property
    def needs_prune(self) -> list[Change]:
        """Removals that lose data: mailboxes, and entries that tasks or a removed mailbox use."""
        return [c for c in self.changes if c.action == "removed" and c.in_use]

    @property
    def removed_mailboxes(self) -> list[int]:
        return self.removed.get("mailboxes", [])

    def refusal(self) -> ConfigError:
        """The error that refuses this plan without `prune` (see `needs_prune`)."""
        return refusal(self.needs_prune)


def _match_mailboxes(doc_boxes: list[dict], rows: list[dict]) -> list[int | None]:
    """The existing mailbox id each document mailbox updates: by account, then by description."""
    by_account = {account_key(r): r["id"] for r in rows}
    by_description = {r["description"]: r["id"] for r in rows}
    problems, first_of = [], {}
    for i, box in enumerate(doc_boxes, 1):
        key = account_key(box)
        if key in first_of:
            problems.append(f"mailboxes[{i}]: the same account ({_describe_account(key)}) as "
                            f"mailboxes[{first_of[key]}]; one mailbox per account, or its mail "
                            "would be imported, and answered, twice")
        first_of.setdefault(key, i)
    if problems:
        raise ConfigError(f"The settings have {len(problems)} problem{'s' if len(problems) > 1 else ''}; "
                          "nothing was changed.", problems=problems)
    matched: list[int | None] = [by_account.get(account_key(box)) for box in doc_boxes]
    claimed = {m for m in matched if m is not None}
    for i, box in enumerate(doc_boxes):
        if matched[i] is None:
            candidate = by_description.get(box["description"])
            if candidate is not None and candidate not in claimed:
                matched[i] = candidate
                claimed.add(candidate)
    return matched


def _in_use(conn: Connection, section: Section, row_id: int, removed_boxes: list[int]) -> str:
    """The data that refers to a settings entry about to be removed, in words ("" for none)."""
    if section.name == "mailboxes":
        count = conn.execute(sa.select(sa.func.count()).select_from(schema.messages).where(
            schema.messages.c.mailbox_id == row_id, schema.messages.c.direction == "in")).scalar()
        return f"{count} message{'s' if count != 1 else ''} imported"
    target = _table(section)
    uses = []
    for table, noun, only in ((schema.tasks, "task", None), (schema.mailboxes, "removed mailbox", removed_boxes)):
        for fk in table.foreign_keys:
            if fk.column.table is not target:
                continue
            where = [fk.parent == row_id]
            if only is not None:
                where.append(table.c.id.in_(only))
            count = conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()
            if count:
                uses.append(f"{count} {noun}{'s' if count != 1 else ''}")
    return f"used by {' and '.join(uses)}" if uses else ""


def plan(conn: Connection, doc: Document) -> Plan:
    """What saving `doc` (already validated) would change; ConfigError when two mailboxes
    share an account. Reads only."""
    current = load_in(conn)
    result = Plan()
    for section in SECTIONS:
        fields = [f.name for f in section.fields]
        if section.single:
            changed = tuple(f for f in fields if doc[section.name].get(f) != current[section.name].get(f))
            if changed:
                result.changes.append(Change(section.name, "changed", "", fields=changed))
            continue
        rows = conn.execute(sa.select(_table(section)).order_by(_table(section).c.id)).mappings().all()
        entries = doc[section.name]
        if section.name == "mailboxes":
            matched = _match_mailboxes(entries, [dict(r) for r in rows])
        else:
            ids = {r[section.key]: r["id"] for r in rows}
            matched = [ids.get(e[section.key]) for e in entries]
        result.matched[section.name] = matched
        old = {r["id"]: e for r, e in zip(rows, current[section.name], strict=True)}
        for entry, row_id in zip(entries, matched, strict=True):
            name = entry[section.key]
            if row_id is None:
                result.changes.append(Change(section.name, "added", name))
                continue
            before = old[row_id]
            changed = tuple(f for f in fields if f != section.key and entry.get(f) != before.get(f))
            if before[section.key] != name:
                result.changes.append(Change(section.name, "renamed", name, before[section.key], changed, row_id=row_id))
            elif changed:
                result.changes.append(Change(section.name, "changed", name, fields=changed, row_id=row_id))
        keep = set(matched)
        result.removed[section.name] = [r["id"] for r in rows if r["id"] not in keep]
    removed_boxes = result.removed.get("mailboxes", [])
    for section in SECTIONS:
        if section.single:
            continue
        names = {v: k for k, v in _ids(conn, section.name).items()}
        for row_id in result.removed[section.name]:
            result.changes.append(Change(section.name, "removed", names[row_id], row_id=row_id,
                                         in_use=_in_use(conn, section, row_id, removed_boxes)))
    return result


def plan_for(engine: Engine, doc: Document) -> Plan:
    with engine.connect() as conn:
        return plan(conn, doc)


def save(engine: Engine, doc: Document, *, prune: bool = False,
         renames: dict[str, dict[str, str]] | None = None,
         before_commit: Callable[[Connection], None] | None = None) -> Plan:
    """Make the store's settings equal to `doc` (already validated), atomically.

    Without `prune`, a document that lacks a mailbox or an entry in use is refused
    (ConfigError naming each one) and nothing changes. `renames` ({section: {old key:
    new key}}) says which entries a form renamed, so they keep their ids (and
    everything recorded against them) instead of being replaced. `before_commit(conn)`
    runs last inside the transaction (a new mailbox has its id there, and no other
    connection sees it yet); if it raises, nothing is saved.
    """
    with engine.begin() as conn:
        for section_name, pairs in (renames or {}).items():
            section = next(s for s in SECTIONS if s.name == section_name)
            for old, new in pairs.items():
                conn.execute(_table(section).update().where(_key_column(section) == old)
                             .values({section.key: new}))
        the_plan = save_in(conn, doc, prune=prune)
        if before_commit is not None:
            before_commit(conn)
        return the_plan


def refusal(blocked: list[Change]) -> ConfigError:
    """The error for a document that lacks entries holding data, naming each one."""
    count = len(blocked)
    them = "them" if count != 1 else "it"
    return ConfigError(
        f"The settings file lacks {count} entr{'ies' if count != 1 else 'y'} with data that refers to "
        f"{them}, so nothing was changed. Add {them} back to the file, or remove {them} on purpose "
        "with --prune (imported mail stays):",
        problems=[f'{c.section}: "{c.name}" ({c.in_use})' for c in blocked], field="prune")


def save_in(conn: Connection, doc: Document, *, prune: bool = False) -> Plan:
    the_plan = plan(conn, doc)
    if the_plan.needs_prune and not prune:
        raise refusal(the_plan.needs_prune)
    old_zone = company_zone(records.company_timezone(conn))
    old_cutoffs = {row_id: cutoff_instant(day, old_zone) for row_id, day in
                   conn.execute(sa.select(schema.mailboxes.c.id, schema.mailboxes.c.exclude_before))}
    # Removals first, dependants first: a kept mailbox may take a removed one's description.
    for section in reversed(SECTIONS):
        gone = the_plan.removed.get(section.name)
        if gone:
            conn.execute(_table(section).delete().where(_table(section).c.id.in_(gone)))
    # Two mailboxes may swap descriptions: free the renamed ones' first (they are unique).
    boxes = schema.mailboxes
    for box, row_id in zip(doc["mailboxes"], the_plan.matched["mailboxes"], strict=True):
        if row_id is not None:
            conn.execute(boxes.update().where(boxes.c.id == row_id, boxes.c.description != box["description"])
                         .values(description=f"\x00renaming {row_id}"))
    for section in SECTIONS:
        table = _table(section)
        entries = [doc[section.name]] if section.single else doc[section.name]
        matched = [1] if section.single else the_plan.matched[section.name]
        for entry, row_id in zip(entries, matched, strict=True):
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
            elif row_id is not None:
                conn.execute(table.update().where(table.c.id == row_id).values(**row))
            else:
                conn.execute(table.insert().values(**row))
    new_zone = company_zone(doc["company"].get("timezone"))
    for box, row_id in zip(doc["mailboxes"], the_plan.matched["mailboxes"], strict=True):
        if row_id is not None:
            _reconsider_skipped(conn, row_id, old_cutoffs.get(row_id), cutoff_instant(box["exclude_before"], new_zone))
    return the_plan


def _reconsider_skipped(conn: Connection, mailbox_id: int, old: dt.datetime | None, new: dt.datetime | None) -> None:
    """A cutoff moved earlier (an earlier day, another time zone, or none) makes the UIDs
    it skipped but no longer excludes eligible again: the next run reads their headers
    once more."""
    if old is None or (new is not None and new >= old):
        return
    records.forget_skipped(conn, mailbox_id, new)


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
