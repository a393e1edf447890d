"""Clients: the list and search, one client's page and timeline, their addresses, a merge,
and the messages filed under no client (or one of several) with "attach" / "new client".

Plain functions over the store (mailroom/store/clients.py, mail.py) returning the frozen
types of mailroom.model; each change is one transaction. Must not: hold SQL (that is the
store's), or take an address without the checks the settings apply to one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from mailroom.errors import ConfigError
from mailroom.model import ClientSummary, Page, TimelineEntry, UnfiledMessage
from mailroom.settings.fields import check_email, check_no_controls
from mailroom.store import clients as store
from mailroom.store import mail, records
from mailroom.views import paging

NAME_MAX = 300     # clients.name


def _summary(row: dict) -> ClientSummary:
    return ClientSummary(id=row["id"], name=row["name"], emails=tuple(row["emails"]), messages=row["messages"] or 0,
                         open_tasks=row["open_tasks"] or 0, last_contact=row["last_contact"])


def clients(engine: Engine, text: str = "", after: str | None = None, limit: int | None = None) -> Page:
    """Clients A to Z whose name or an address contains `text`, with their counts."""
    limit = paging.size(limit)
    key = paging.decode(after, str, int)
    with engine.connect() as conn:
        rows = store.list_clients(conn, (text or "").strip(), limit + 1, key)
    rows, cursor = paging.cut(rows, limit, lambda r: (r["key"], r["id"]))
    return Page(tuple(_summary(r) for r in rows), cursor)


def client(engine: Engine, client_id: int) -> ClientSummary:
    with engine.connect() as conn:
        row = store.get_client(conn, client_id)
    if row is None:
        raise ConfigError(f"There is no client number {client_id} (merged into another, perhaps).", field="client")
    return _summary(row)


def _entry(row: dict) -> TimelineEntry:
    if row["kind"] == "task":
        return TimelineEntry(kind="task", id=row["id"], at=row["at"], title=row["title"], who=row["who_name"],
                             state=row["state"] or "", closed=bool(row["closed"]), message_pk=row["message_pk"])
    who = (row["who_name"] or row["who_addr"]) if row["direction"] == "in" else row["to_addrs"]
    return TimelineEntry(kind=row["direction"], id=row["id"], at=row["at"], title=row["title"], who=who or "",
                         state=row["state"] or "", note=row["note"] or "", attachments=row["attachments"] or 0)


def timeline(engine: Engine, client_id: int, after: str | None = None, limit: int | None = None) -> Page:
    """The client's messages and tasks, newest first."""
    limit = paging.size(limit)
    key = paging.decode(after, dt.datetime, str, int)
    with engine.connect() as conn:
        rows = mail.timeline(conn, client_id, limit + 1, key)
    rows, cursor = paging.cut(rows, limit, lambda r: (r["at"], r["kind"], r["id"]))
    return Page(tuple(_entry(r) for r in rows), cursor)


def clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    problem = check_no_controls(email) or check_email(email)
    if problem:
        raise ConfigError(f"The address {problem}.", field="email")
    return email


def add_email(engine: Engine, client_id: int, email: str) -> tuple[tuple[int, str], ...]:
    """Add an address; returns the other clients that have it too (their mail becomes ambiguous)."""
    email = clean_email(email)
    with engine.begin() as conn:
        if store.get_client(conn, client_id) is None:
            raise ConfigError(f"There is no client number {client_id}.", field="client")
        if not store.add_email(conn, client_id, email):
            raise ConfigError(f"This client has the address {email} already.", field="email")
        return tuple((i, n) for i, n in store.owners(conn, email) if i != client_id)


def remove_email(engine: Engine, client_id: int, email: str) -> None:
    email = (email or "").strip().lower()
    with engine.begin() as conn:
        if not store.remove_email(conn, client_id, email):
            raise ConfigError(f"This client has no address {email}.", field="email")


def merge(engine: Engine, keep: int, gone: int) -> ClientSummary:
    """Move everything of client `gone` to `keep` and remove `gone`, in one transaction."""
    if keep == gone:
        raise ConfigError("Choose another client to merge with: a client cannot be merged with itself.",
                          field="other")
    with engine.begin() as conn:
        for client_id in (keep, gone):
            if store.get_client(conn, client_id) is None:
                raise ConfigError(f"There is no client number {client_id} (merged already, perhaps).",
                                  field="other")
        store.merge(conn, keep, gone)
        return _summary(store.get_client(conn, keep))


def unfiled(engine: Engine, after: str | None = None, limit: int | None = None) -> Page:
    """Messages under no client, or under one of several sharing the sender's address."""
    limit = paging.size(limit)
    key = paging.decode(after, int)
    with engine.connect() as conn:
        rows = store.unfiled(conn, limit + 1, key[0] if key else None)
    rows, cursor = paging.cut(rows, limit, lambda r: (r["id"],))
    return Page(tuple(UnfiledMessage(pk=r["id"], at=r["date"] or r["created_at"], subject=r["subject"],
                                     from_name=r["from_name"], from_addr=r["from_addr"], mailbox=r["description"] or "",
                                     ambiguous=bool(r["client_ambiguous"]), candidates=tuple(r["candidates"]))
                      for r in rows), cursor)


def _incoming(conn, pk: int) -> dict:
    row = store.message_sender(conn, pk)
    if row is None or row["direction"] != "in":
        raise ConfigError(f"There is no incoming message number {pk}.", field="message")
    return row


def attach(engine: Engine, pk: int, client_id: int) -> bool:
    """File message `pk` (and the tasks it opened) under client `client_id`. An address no
    client has is added to this one, so the sender's next mail is filed here by itself;
    returns whether it was."""
    with engine.begin() as conn:
        row = _incoming(conn, pk)
        if store.get_client(conn, client_id) is None:
            raise ConfigError(f"There is no client number {client_id}.", field="client")
        added = bool(row["from_addr"]) and not store.owners(conn, row["from_addr"])
        if added:
            store.add_email(conn, client_id, row["from_addr"])
        store.file_message(conn, pk, client_id, row["conversation_id"])
        return added


def new_client(engine: Engine, pk: int, name: str, now: dt.datetime) -> int:
    """A new client for the sender of message `pk`, with the message filed under them."""
    name = " ".join((name or "").split())
    problem = check_no_controls(name)
    if not name or problem or len(name) > NAME_MAX:
        raise ConfigError("Give the client a name" + (f": it {problem}." if problem else
                          f" of at most {NAME_MAX} characters." if name else "."), field="name")
    with engine.begin() as conn:
        row = _incoming(conn, pk)
        if not row["from_addr"]:
            raise ConfigError("This message has no sender address to make a client of.", field="message")
        client_id = records.insert_client(conn, name, row["from_addr"], now)
        store.file_message(conn, pk, client_id, row["conversation_id"])
        return client_id
