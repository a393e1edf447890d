"""The pipeline's reads and writes, one function per question or record.

Each function takes an open connection, so the caller decides the transaction: the
import of a message (message + seen UID + client + task + outbox row) is one
transaction made of these calls (DESIGN.md, "exactly once").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailroom.model import NewMessage, OutboxCounts, ParsedMessage, RunCounts, RunRecord, Stats
from mailroom.rules.match import ClientRecord
from mailroom.rules.outbox import QUEUED
from mailroom.rules.thread import KnownMessage
from mailroom.store import schema as s
from mailroom.store import search


def seen_uids(conn: Connection, mailbox_id: int) -> dict[str, str]:
    return dict(conn.execute(_SEEN_UIDS, {"mailbox_id": mailbox_id}).all())


def mark_seen(conn: Connection, mailbox_id: int, uid: str, state: str, now: dt.datetime,
              message_pk: int | None = None) -> None:
    conn.execute(_INSERT_SEEN, {"mailbox_id": mailbox_id, "uid": uid, "state": state,
                                "message_pk": message_pk, "seen_at": now})


def mark_seen_each(conn: Connection, mailbox_id: int,
                   seen: Iterable[tuple[str, str, int | None, dt.datetime]]) -> None:
    """mark_seen for each (uid, state, message_pk, seen_at), in one executemany."""
    rows = [{"mailbox_id": mailbox_id, "uid": uid, "state": state, "message_pk": pk, "seen_at": at}
            for uid, state, pk, at in seen]
    if rows:
        conn.execute(_INSERT_SEEN, rows)


def mark_skipped_many(conn: Connection, mailbox_id: int, dated: Iterable[tuple[str, dt.datetime]],
                      now: dt.datetime) -> None:
    """Record UIDs skipped before the cutoff with the date each one had, so that moving
    the cutoff earlier can make them eligible again (`forget_skipped`)."""
    rows = [{"mailbox_id": mailbox_id, "uid": uid, "state": "skipped", "message_pk": None, "seen_at": now,
             "message_date": date} for uid, date in dated]
    if rows:
        conn.execute(_INSERT_SEEN, rows)


def forget_skipped(conn: Connection, mailbox_id: int, cutoff: dt.datetime | None) -> int:
    """Forget the UIDs skipped before the cutoff that `cutoff` (None: no cutoff) no longer
    excludes; the next run looks at them again. Rows with no date (written before dates
    were kept) are forgotten too: looking again costs one TOP, missing a message costs it."""
    t = s.seen_uids
    where = [t.c.mailbox_id == mailbox_id, t.c.state == "skipped"]
    if cutoff is not None:
        where.append(sa.or_(t.c.message_date.is_(None), t.c.message_date >= cutoff))
    return conn.execute(t.delete().where(*where)).rowcount


def forget_uid(conn: Connection, mailbox_id: int, uid: str) -> int:
    """Forget one seen UID (a held message to be imported or fetched again)."""
    t = s.seen_uids
    return conn.execute(t.delete().where(t.c.mailbox_id == mailbox_id, t.c.uid == uid)).rowcount


def forget_seen(conn: Connection, mailbox_id: int) -> int:
    """Forget every seen UID of a mailbox (`mailroom mailbox reset`): the next run lists
    them as new; what is stored already is recognised by Message-ID + hash."""
    return conn.execute(s.seen_uids.delete().where(s.seen_uids.c.mailbox_id == mailbox_id)).rowcount


# The statements below are built once: building a Core statement per call (`.values()`,
# `.where()`) cost more than running it. Lookups filter by their selective column only:
# with a mailbox_id in the WHERE clause too, SQLite (no statistics) picked the
# mailbox_id index and scanned every message of the mailbox for each new one.
_FIND_DUPLICATE = sa.select(sa.func.min(s.messages.c.id)).where(
    s.messages.c.message_id == sa.bindparam("message_id"), s.messages.c.raw_sha256 == sa.bindparam("raw_sha256"))
_LAST_AUTOREPLY = sa.select(sa.func.max(s.outbox.c.created_at)).where(s.outbox.c.to_key == sa.bindparam("to_key"))
_AUTOREPLIES_SINCE = sa.select(sa.func.count()).select_from(s.outbox).where(
    s.outbox.c.created_at >= sa.bindparam("since"))
_INSERT_OUTBOX = s.outbox.insert()
# The clients owning an address, each with all its addresses: one statement per message.
_OWNER = s.client_emails.alias("owner")
_CLIENT_CANDIDATES = (sa.select(s.clients.c.id, s.clients.c.name, s.client_emails.c.email)
                      .select_from(_OWNER.join(s.clients, s.clients.c.id == _OWNER.c.client_id)
                                   .join(s.client_emails, s.client_emails.c.client_id == s.clients.c.id))
                      .where(_OWNER.c.email == sa.bindparam("email"))
                      .order_by(s.clients.c.id, s.client_emails.c.id))
_FIRST_TASK = (sa.select(sa.func.min(s.tasks.c.id))
               .where(s.tasks.c.conversation_id == s.messages.c.conversation_id).scalar_subquery())
_THREAD_CLIENT = (sa.select(s.conversations.c.client_id)
                  .where(s.conversations.c.id == s.messages.c.conversation_id).scalar_subquery())
_SEEN_UIDS = sa.select(s.seen_uids.c.uid, s.seen_uids.c.state).where(
    s.seen_uids.c.mailbox_id == sa.bindparam("mailbox_id"))
_INSERT_SEEN = s.seen_uids.insert()
_INSERT_CLIENT = s.clients.insert()
_INSERT_CLIENT_EMAIL = s.client_emails.insert()
_INSERT_CONVERSATION = s.conversations.insert()
_INSERT_MESSAGE = s.messages.insert()
_INSERT_ATTACHMENTS = s.attachments.insert()
_INSERT_TASK = s.tasks.insert()


@functools.lru_cache(maxsize=None)
def _known_messages(count: int) -> sa.Select:
    """The lookup of `count` Message-IDs, one statement per count (at most LOOKUP_FIRST +
    LOOKUP_LAST of them): an "expanding" IN list would be rewritten at every execution."""
    ids = [sa.bindparam(f"id{i}") for i in range(count)]
    return sa.select(s.messages.c.message_id, s.messages.c.conversation_id, _FIRST_TASK,
                     s.messages.c.direction, _THREAD_CLIENT).where(s.messages.c.message_id.in_(ids))


def find_duplicate(conn: Connection, message_id: str, raw_sha256: str) -> int | None:
    """A message already stored, from any mailbox, with the same Message-ID and bytes."""
    return conn.execute(_FIND_DUPLICATE, {"message_id": message_id, "raw_sha256": raw_sha256}).scalar()


def client_candidates(conn: Connection, email: str) -> list[ClientRecord]:
    """The clients that own `email` (any case), lowest id first, each with all its addresses."""
    names: dict[int, str] = {}
    emails: dict[int, list[str]] = {}
    for client_id, name, address in conn.execute(_CLIENT_CANDIDATES, {"email": email.lower()}):
        names[client_id] = name
        emails.setdefault(client_id, []).append(address)
    return [ClientRecord(id=i, name=n, emails=tuple(emails[i])) for i, n in names.items()]


# How many of a message's thread ids are looked up: the first LOOKUP_FIRST (In-Reply-To,
# normally one id, then the oldest References) and the last LOOKUP_LAST (the newest
# References). RFC 5322 §3.6.4 builds References as the parent's References plus the
# parent's Message-ID, so the thread's root comes first and the nearest ancestors
# last; the middle of a long thread adds nothing. Unbounded, one stranger's message
# naming 250,000 ids made a statement SQLite refuses ("too many SQL variables").
LOOKUP_FIRST = 21
LOOKUP_LAST = 20


def known_messages(conn: Connection, message_ids: Iterable[str]) -> dict[str, KnownMessage]:
    """What the store knows of `message_ids`: In-Reply-To's ids, then References' (oldest
    first), as the importer passes them; at most LOOKUP_FIRST + LOOKUP_LAST are looked up."""
    ids = list(dict.fromkeys(message_ids))
    if len(ids) > LOOKUP_FIRST + LOOKUP_LAST:
        ids = ids[:LOOKUP_FIRST] + ids[-LOOKUP_LAST:]
    if not ids:
        return {}
    rows = conn.execute(_known_messages(len(ids)), {f"id{i}": mid for i, mid in enumerate(ids)})
    return {mid: KnownMessage(message_id=mid, conversation_id=conv, task_id=task_id, direction=direction,
                              client_id=client_id)
            for mid, conv, task_id, direction, client_id in rows}


def last_autoreply(conn: Connection, to_key: str) -> dt.datetime | None:
    """When any mailbox last queued an auto-reply to `to_key` (see rules.match.sender_key)."""
    return conn.execute(_LAST_AUTOREPLY, {"to_key": to_key}).scalar()


def autoreplies_since(conn: Connection, since: dt.datetime) -> int:
    """How many auto-replies the whole install queued at or after `since`, whatever became of them."""
    return conn.execute(_AUTOREPLIES_SINCE, {"since": since}).scalar()


def queue_autoreply(conn: Connection, *, mailbox_id: int, reply_to_message_pk: int, to_addr: str, to_key: str,
                    from_addr: str, message_id: str, raw: bytes, now: dt.datetime) -> int:
    """The pending outbox row of one auto-reply; `to_key` is what the rate limit looks up."""
    return conn.execute(_INSERT_OUTBOX, dict(
        mailbox_id=mailbox_id, reply_to_message_pk=reply_to_message_pk, to_addr=to_addr.lower(), to_key=to_key,
        from_addr=from_addr, message_id=message_id, raw=raw, state=QUEUED,
        created_at=now)).inserted_primary_key[0]


def insert_client(conn: Connection, name: str, email: str, now: dt.datetime) -> int:
    client_id = conn.execute(_INSERT_CLIENT, {"name": name, "created_at": now}).inserted_primary_key[0]
    conn.execute(_INSERT_CLIENT_EMAIL, {"client_id": client_id, "email": email.lower()})
    return client_id


def insert_conversation(conn: Connection, client_id: int | None, mailbox_id: int, subject: str,
                        now: dt.datetime) -> int:
    return conn.execute(_INSERT_CONVERSATION, {"client_id": client_id, "mailbox_id": mailbox_id, "subject": subject,
                                               "created_at": now}).inserted_primary_key[0]


def _addresses(addrs) -> str:
    return ", ".join(a.email for a in addrs)


def insert_message(conn: Connection, msg: ParsedMessage, *, direction: str, mailbox_id: int | None,
                   client_id: int | None, conversation_id: int | None, is_reply: bool,
                   client_ambiguous: bool, now: dt.datetime, task_note: str | None = None,
                   autoreply_rule: str | None = None, autoreply_note: str | None = None) -> int:
    """Store one message; the notes say why it got no task and why it got, or not, an auto-reply."""
    pk = conn.execute(_INSERT_MESSAGE, dict(
        direction=direction, mailbox_id=mailbox_id, client_id=client_id, conversation_id=conversation_id,
        message_id=msg.message_id, in_reply_to=" ".join(msg.in_reply_to), references=" ".join(msg.references),
        subject=msg.subject, from_addr=msg.from_addr.email if msg.from_addr else "",
        from_name=msg.from_addr.name if msg.from_addr else "", to_addrs=_addresses(msg.to),
        cc_addrs=_addresses(msg.cc), date=msg.date, text=msg.text, html=msg.html,
        raw_sha256=msg.raw_sha256, size=msg.size, is_reply=is_reply, client_ambiguous=client_ambiguous,
        task_note=task_note, autoreply_rule=autoreply_rule, autoreply_note=autoreply_note,
        created_at=now)).inserted_primary_key[0]
    # The search index's entry commits (or rolls back) with the message itself.
    search.index_message(conn, pk, subject=msg.subject, from_name=msg.from_addr.name if msg.from_addr else "",
                         from_addr=msg.from_addr.email if msg.from_addr else "", text=msg.text)
    if msg.attachments:
        conn.execute(_INSERT_ATTACHMENTS, [
            dict(message_pk=pk, filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256)
            for a in msg.attachments])
    return pk


def insert_task(conn: Connection, *, client_id, conversation_id, title, task_type_id, task_status_id,
                department_id, user_id, source_message_pk, now: dt.datetime) -> int:
    return conn.execute(_INSERT_TASK, dict(
        client_id=client_id, conversation_id=conversation_id, title=title, task_type_id=task_type_id,
        task_status_id=task_status_id, department_id=department_id, user_id=user_id,
        source_message_pk=source_message_pk, created_at=now)).inserted_primary_key[0]


def quarantine(conn: Connection, mailbox_id: int, uid: str, raw_sha256: str | None, reason: str,
               now: dt.datetime, state: str = "quarantined", headers_only: bool = False) -> None:
    """Hold a message back for a person to look at; its UID is seen with `state`
    ("quarantined", or "too_large": left on the server, only its headers kept).
    `headers_only`: `raw_sha256` names only its headers (it was left on the server).
    A message held already (the same UID and content, met again after `mailbox reset`)
    keeps its one record: it is counted once."""
    q = s.quarantine
    held = conn.execute(sa.select(q.c.id).where(q.c.mailbox_id == mailbox_id, q.c.uid == uid,
                                                q.c.raw_sha256.is_not_distinct_from(raw_sha256))).first()
    if held is None:
        conn.execute(q.insert().values(mailbox_id=mailbox_id, uid=uid, raw_sha256=raw_sha256,
                                       reason=reason[:2000], created_at=now, headers_only=headers_only))
    mark_seen(conn, mailbox_id, uid, state, now)


def start_run(conn: Connection, mailbox_id: int, now: dt.datetime) -> int:
    return conn.execute(s.runs.insert().values(mailbox_id=mailbox_id, started_at=now)).inserted_primary_key[0]


def finish_run(conn: Connection, run_id: int, now: dt.datetime, counts: dict) -> None:
    conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(ended_at=now, **counts))


def company_timezone(conn: Connection) -> str | None:
    """The company's time zone setting (None before any settings were saved)."""
    return conn.execute(sa.select(s.company.c.timezone).where(s.company.c.id == 1)).scalar()


def company_notify_new_mail(conn: Connection) -> bool:
    """The company's "announce new mail on the desktop" setting (on before any settings were saved)."""
    value = conn.execute(sa.select(s.company.c.notify_new_mail).where(s.company.c.id == 1)).scalar()
    return True if value is None else bool(value)


def outbox_counts(conn: Connection) -> OutboxCounts:
    """How many auto-replies are in each state of the outbox."""
    rows = conn.execute(sa.select(s.outbox.c.state, sa.func.count()).group_by(s.outbox.c.state)).all()
    return OutboxCounts(**dict(rows))


def quarantined_count(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(s.quarantine)).scalar()


def stats(conn: Connection) -> Stats:
    def count(table, *where) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()

    return Stats(clients=count(s.clients), messages_in=count(s.messages, s.messages.c.direction == "in"),
                 messages_out=count(s.messages, s.messages.c.direction == "out"), tasks=count(s.tasks),
                 quarantined=quarantined_count(conn), outbox=outbox_counts(conn))


# --- the activity log -------------------------------------------------------------------

def _run_record(row) -> RunRecord:
    counts = RunCounts(**{f.name: row[f.name] or 0 for f in dataclasses.fields(RunCounts)})
    return RunRecord(id=row["id"], mailbox_id=row["mailbox_id"], mailbox=row["description"] or "",
                     started_at=row["started_at"], ended_at=row["ended_at"], counts=counts,
                     error_kind=row["error_kind"], error=row["error"])


_RUNS = sa.select(s.runs, s.mailboxes.c.description).select_from(
    s.runs.outerjoin(s.mailboxes, s.runs.c.mailbox_id == s.mailboxes.c.id))


def recent_runs(conn: Connection, limit: int = 50, mailbox_id: int | None = None,
                before: int | None = None) -> tuple[RunRecord, ...]:
    """The latest runs, newest first (of one mailbox, or all); `before` is a run id (keyset paging).
    A removed mailbox's runs go with it (ON DELETE CASCADE)."""
    query = _RUNS.order_by(s.runs.c.id.desc()).limit(limit)
    if mailbox_id is not None:
        query = query.where(s.runs.c.mailbox_id == mailbox_id)
    if before is not None:
        query = query.where(s.runs.c.id < before)
    return tuple(_run_record(row) for row in conn.execute(query).mappings())


def latest_runs(conn: Connection) -> dict[int, RunRecord]:
    """Each mailbox's last finished run, by mailbox id."""
    # One newest-first walk of each mailbox's runs on its mailbox_id index, not a
    # GROUP BY over the whole history (8 ms at 14,400 runs; the dashboard asks often).
    r = s.runs.alias("r")
    newest = (sa.select(r.c.id).where(r.c.mailbox_id == s.mailboxes.c.id, r.c.ended_at.is_not(None))
              .order_by(r.c.id.desc()).limit(1).scalar_subquery())
    latest = sa.select(newest).select_from(s.mailboxes)
    rows = conn.execute(_RUNS.where(s.runs.c.id.in_(latest))).mappings()
    return {row["mailbox_id"]: _run_record(row) for row in rows}


def newest_messages(conn: Connection, mailbox_id: int, limit: int) -> tuple[NewMessage, ...]:
    """The last `limit` messages a mailbox imported, oldest of them first."""
    m = s.messages
    rows = conn.execute(sa.select(m.c.id, m.c.client_id, m.c.from_name, m.c.from_addr, m.c.subject)
                        .where(m.c.mailbox_id == mailbox_id, m.c.direction == "in")
                        .order_by(m.c.id.desc()).limit(limit)).all()
    return tuple(NewMessage(pk, client, name or addr, subject) for pk, client, name, addr, subject in reversed(rows))
