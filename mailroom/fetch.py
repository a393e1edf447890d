"""One run of one mailbox: the only place where the POP3 session meets the core.

    UIDL → minus seen UIDs → (TOP n 0 → skip before cutoff) → RETR, pipelined
      → parse → decide (pure) → one transaction per batch → DELE → QUIT

Exactly once (DESIGN.md): a message's row, its seen UID, its client, task and
outbox row commit together; DELE is sent only for committed messages and the server
applies it only at QUIT, so a process killed at any instant leaves each message
either committed or still on the server. A UID seen as imported but still listed
(killed between commit and QUIT) is deleted on the next run, not imported again. A
message served again under a new UID is recognised by Message-ID + content hash.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

from mailroom import paths
from mailroom.context import Context
from mailroom.errors import MailroomError, StorageError
from mailroom.mail.parse import header_date, parse_message
from mailroom.mail import stream
from mailroom.mail.pop3 import Pop3Client
from mailroom.model import Endpoint, ParsedMessage
from mailroom.secrets import mailbox_account
from mailroom.store import records, schema
from mailroom.store.raw import RawStore

log = logging.getLogger("mailroom.fetch")

BATCH_MESSAGES = 50            # messages per transaction
BATCH_BYTES = 16 << 20         # ... or this many raw bytes, whichever comes first
MAX_SESSIONS = 25              # Gmail lists ~250 messages per session: keep reconnecting
PARALLEL_MIN = 200             # new messages that make a parser process worth its start-up
PARSE_CHUNK = 8                # messages sent to the parser process at once
PARSE_CHUNK_BYTES = 2 << 20    # ... or this many raw bytes
PARSE_CHUNKS_AHEAD = 3         # chunks in flight before the oldest is awaited


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class RunReport:
    mailbox: str
    listed: int = 0
    new: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped_before_cutoff: int = 0
    quarantined: int = 0
    deleted: int = 0
    error: str | None = None
    error_kind: str | None = None
    outbox_ids: list[int] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("outbox_ids")
        return data

    def counts(self) -> dict:
        return {k: v for k, v in self.as_dict().items() if k not in ("mailbox", "error")}


def load_mailbox_row(ctx: Context, description: str | None = None, mailbox_id: int | None = None) -> dict:
    table = schema.mailboxes
    where = table.c.id == mailbox_id if mailbox_id is not None else table.c.description == description
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(table).where(where)).mappings().first()
    if row is None:
        ctx.mailbox(description)  # raises the ConfigError that lists the mailboxes
    return dict(row)


@dataclass(frozen=True)
class Fetched:
    """One downloaded message: its number this session, UID, parse, and raw bytes
    (None for a large message, whose raw file is already in the raw store)."""

    n: int
    uid: str
    msg: ParsedMessage
    raw: bytes | None


def _can_spawn() -> bool:
    """A second core, and a program that multiprocessing's "spawn" can start again safely.

    A spawned process re-imports the main script (not a `python -m` package's
    __main__), so every script that runs a mailbox must keep its work under
    `if __name__ == "__main__":`, as `mailroom`'s console script does. A frozen app
    (PyInstaller) would start itself again instead: there, parsing stays in-process.
    """
    return (os.cpu_count() or 1) > 1 and not getattr(sys, "frozen", False)


# Run in the parser process as it starts: exit as soon as this process is gone, even
# killed (SIGKILL), rather than wait forever on its task queue (whose write end it holds too).
# Ctrl-C signals the whole process group: this process leaves stopping to its parent.
_EXIT_WITH_PARENT = """
import multiprocessing, os, signal, threading
signal.signal(signal.SIGINT, signal.SIG_IGN)
parent = multiprocessing.parent_process()
threading.Thread(target=lambda: (parent.join(), os._exit(0)), daemon=True).start()
"""


def _parsed(retr: Iterator[tuple[int, bytes]], *, parallel: bool) -> Iterator[tuple[int, bytes, ParsedMessage]]:
    """(number, raw, parse) for each message `retr` yields, in the same order.

    With `parallel`, parsing (the costliest step, pure Python) runs in a helper process
    on another core while this one reads the socket and writes the store; messages go
    to it in small chunks (one round trip each) and a few chunks are kept in flight.
    parse_message is pure, so where it runs changes nothing; should the helper fail,
    the chunk is parsed here. When the connection breaks, the messages already read are
    still yielded before the error, as without the helper.
    """
    if not parallel:
        for n, raw in retr:
            yield n, raw, parse_message(raw)
        return
    in_flight: deque[tuple[list[tuple[int, bytes]], Iterator[ParsedMessage] | None]] = deque()
    chunk: list[tuple[int, bytes]] = []
    chunk_bytes = 0

    def results(items: list[tuple[int, bytes]], parses: Iterator[ParsedMessage] | None = None):
        try:
            msgs = list(parses) if parses is not None else None
        except Exception:  # noqa: BLE001 - a broken helper (killed, out of memory): parse here
            msgs = None
        if msgs is None or len(msgs) != len(items):
            msgs = [parse_message(raw) for _n, raw in items]
        return [(n, raw, msg) for (n, raw), msg in zip(items, msgs, strict=True)]

    def submit(items: list[tuple[int, bytes]]) -> Iterator[ParsedMessage] | None:
        try:
            return pool.map(parse_message, [raw for _n, raw in items], chunksize=len(items))
        except Exception:  # noqa: BLE001 - the helper is broken: results() parses here
            return None

    # spawn, not fork: forking a process that has threads (keyring calls, the worker) is unsafe
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=functools.partial(exec, _EXIT_WITH_PARENT, {}))
    try:
        try:
            for item in retr:
                chunk.append(item)
                chunk_bytes += len(item[1])
                if len(chunk) >= PARSE_CHUNK or chunk_bytes >= PARSE_CHUNK_BYTES:
                    in_flight.append((chunk, submit(chunk)))
                    chunk, chunk_bytes = [], 0
                    if len(in_flight) > PARSE_CHUNKS_AHEAD:
                        yield from results(*in_flight.popleft())
        except MailroomError:
            while in_flight:
                yield from results(*in_flight.popleft())
            yield from results(chunk)  # the last few: parsed here
            raise
        while in_flight:
            yield from results(*in_flight.popleft())
        yield from results(chunk)  # the last few: parsed here
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Background:
    """fn(*args) on a thread of its own; result() waits, then returns or raises as fn did."""

    def __init__(self, fn: Callable, *args):
        self._outcome: tuple[bool, object] | None = None

        def target() -> None:
            try:
                self._outcome = (True, fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
                self._outcome = (False, exc)

        self._thread = threading.Thread(target=target, name="mailroom-fetch-background", daemon=True)
        self._thread.start()

    def result(self):
        self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value


def _open(endpoint: Endpoint, password: _Background) -> Pop3Client:
    """Pop3Client.open(endpoint, password.result()), connecting while the password comes.

    A keyring failure is reported before a connection failure, and nothing is sent to
    the server before the password is there, as when the password was asked for first.
    """
    client = Pop3Client(endpoint)
    try:
        try:
            client.connect()
        except MailroomError:
            password.result()  # its error, if any, is the one to report
            raise
        client.login(password.result())
    except BaseException:
        client.close()
        raise
    return client


def _storage_error(raw: RawStore, exc: OSError) -> StorageError:
    return StorageError(f"Mailroom could not save a message in {raw.root} ({exc.strerror}). "
                        "Free disk space; nothing was lost.")


def enabled_mailboxes(ctx: Context) -> list[dict]:
    table = schema.mailboxes
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.select(table).where(table.c.enabled).order_by(table.c.id)).mappings()
        return [dict(r) for r in rows]


class MailboxRun:
    """Run one mailbox once. `stop` is checked between messages."""

    def __init__(self, ctx: Context, mailbox: dict, *, stop: threading.Event | None = None,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.ctx = ctx
        self.box = mailbox
        self.stop = stop or threading.Event()
        self.clock = clock
        self.raw = RawStore(paths.raw_dir())
        self.report = RunReport(mailbox=mailbox["description"])
        self.delete = not mailbox["leave_on_server"]
        self._importer = None

    @property
    def importer(self):
        """The Importer, made on first use: a poll that finds nothing new needs neither it
        nor the rules and templates it loads (a fifth of `mailroom fetch --once` start-up)."""
        if self._importer is None:
            from mailroom.importer import Importer

            self._importer = Importer(self.ctx, self.box, clock=self.clock)
        return self._importer

    def run(self) -> RunReport:
        box = self.box
        with self.ctx.engine.begin() as conn:
            run_id = records.start_run(conn, box["id"], self.clock())
        try:
            endpoint = self.ctx.mailbox_endpoint(box)
            # The keyring answers over D-Bus while the TLS handshake runs (~15 ms each).
            password = _Background(self.ctx.secrets.require, mailbox_account(box["id"]),
                                   f'mailbox "{box["description"]}"')
            for session in range(MAX_SESSIONS):
                with _open(endpoint, password) as pop:
                    progressed = self._session(pop, first=session == 0)
                if not progressed or self.stop.is_set():
                    break
        except MailroomError as exc:
            self.report.error, self.report.error_kind = exc.message, exc.kind
            log.warning("mailbox %s: %s", box["description"], exc.message)
        finally:
            with self.ctx.engine.begin() as conn:
                records.finish_run(conn, run_id, self.clock(), self.report.counts())
        if not self.report.error:
            r = self.report
            log.info("mailbox %s: %d listed, %d new, %d imported, %d duplicates, %d skipped, %d quarantined, "
                     "%d deleted", box["description"], r.listed, r.new, r.imported, r.duplicates,
                     r.skipped_before_cutoff, r.quarantined, r.deleted)
        return self.report

    # --- one POP3 session -----------------------------------------------------------
    def _session(self, pop: Pop3Client, *, first: bool) -> bool:
        """True when this session found new UIDs: a server that lists only part of the
        mailbox per session (Gmail: about 250) may list more in the next one."""
        box, report = self.box, self.report
        # The seen UIDs are read while the server prepares its UIDL listing.
        seen_later = _Background(self._seen_uids)
        try:
            listing = pop.uidl()
        finally:
            seen = seen_later.result()
        new = [(n, uid) for n, uid in sorted(listing.items()) if uid not in seen]
        found_new = bool(new)
        if first:
            report.listed = len(listing)
        report.new += len(new)
        to_delete = []
        if self.delete:
            # Committed in an earlier run that died before QUIT: delete, never re-import.
            to_delete = [n for n, uid in listing.items() if seen.get(uid) in ("imported", "duplicate")]
        if new and box["exclude_before"] and not self.stop.is_set():
            new = self._skip_before_cutoff(pop, new)
        if new and not self.stop.is_set():
            to_delete += self._fetch(pop, new)
        for n in to_delete:
            pop.dele(n)
        pop.quit()
        report.deleted += len(to_delete)
        return found_new

    def _seen_uids(self) -> dict[str, str]:
        with self.ctx.engine.connect() as conn:
            return records.seen_uids(conn, self.box["id"])

    def _skip_before_cutoff(self, pop: Pop3Client, new: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Read headers only (TOP n 0); record older messages as skipped, never RETR them."""
        cutoff = dt.datetime.combine(self.box["exclude_before"], dt.time(), dt.timezone.utc)
        uid_of = dict(new)
        keep, skip = [], []
        for n, headers in pop.top_many([n for n, _ in new]):
            date = header_date(headers)
            if date is not None and date < cutoff:
                skip.append((uid_of[n], date))  # the date is kept: an earlier cutoff may want it back
            else:
                keep.append((n, uid_of[n]))
        now = self.clock()
        with self.ctx.engine.begin() as conn:
            records.mark_skipped_many(conn, self.box["id"], skip, now)
        self.report.skipped_before_cutoff += len(skip)
        return keep

    def _fetch(self, pop: Pop3Client, new: list[tuple[int, str]]) -> list[int]:
        """RETR the new messages, import in batches; the numbers now safe to DELE.

        Ordinary messages are read pipelined into memory; a message above
        `stream.LARGE` (by LIST) is streamed to a spool file and parsed from there, so
        memory stays bounded whatever the size.
        """
        sizes = pop.list_sizes()
        large = [(n, uid) for n, uid in new if sizes.get(n, 0) > stream.LARGE]
        small = [(n, uid) for n, uid in new if sizes.get(n, 0) <= stream.LARGE]
        deletable = self._fetch_small(pop, small)
        for n, uid in large:
            if self.stop.is_set():
                break
            deletable += self._fetch_large(pop, n, uid)
        return deletable if self.delete else []

    def _fetch_small(self, pop: Pop3Client, new: list[tuple[int, str]]) -> list[int]:
        uid_of = dict(new)
        batch: list[Fetched] = []
        size = 0
        deletable: list[int] = []
        retr = pop.retr_many([n for n, _ in new])
        parsed = _parsed(retr, parallel=len(new) >= PARALLEL_MIN and _can_spawn())
        try:
            for n, raw, msg in parsed:
                batch.append(Fetched(n, uid_of[n], msg, raw))
                size += len(raw)
                if len(batch) >= BATCH_MESSAGES or size >= BATCH_BYTES:
                    deletable += self._commit(batch)
                    batch, size = [], 0
                if self.stop.is_set():
                    break
        except MailroomError:
            # The connection broke mid-RETR: keep the complete messages already read; the
            # partial one was never yielded and comes again next run. No DELE can reach
            # the server now, so nothing is deletable in this session.
            if batch:
                self._commit(batch)
            raise
        finally:
            parsed.close()
            retr.close()
        if batch:
            deletable += self._commit(batch)
        return deletable

    def _fetch_large(self, pop: Pop3Client, n: int, uid: str) -> list[int]:
        spool = self.raw.spool_path()
        try:
            try:
                with open(spool, "wb") as fh:
                    size, sha256 = pop.retr_to(n, fh)
            except OSError as exc:
                raise _storage_error(self.raw, exc) from None
            msg = stream.parse_file(spool, sha256, size)
            self._keep_raw(msg.raw_sha256, spool)
        finally:
            spool.unlink(missing_ok=True)
        return self._commit([Fetched(n, uid, msg, None)])

    def _commit(self, batch: list[Fetched]) -> list[int]:
        """Import a batch in one transaction: the message numbers now safe to DELE.

        When the batch fails, its messages are retried one by one, so one message the
        store rejects is quarantined and the rest still import. A storage failure (disk
        full, database locked) is not the message's fault: it stops the run instead.
        """
        for item in batch:
            if item.raw is not None:
                self._keep_raw(item.msg.raw_sha256, item.raw)
        try:
            with self.ctx.engine.begin() as conn:
                outcomes = [self.importer.import_message(conn, item.uid, item.msg) for item in batch]
        except sa.exc.OperationalError as exc:
            raise StorageError(f"Mailroom could not write to its database ({exc.orig}). Free disk "
                               "space or close other programs using it; nothing was lost.") from None
        except Exception as exc:  # noqa: BLE001 - one bad message must not block the mailbox
            if len(batch) > 1:
                return [n for item in batch for n in self._commit([item])]
            self._quarantine(batch[0].uid, batch[0].msg, f"{type(exc).__name__}: {exc}")
            return []
        for outcome in outcomes:
            if outcome.state == "duplicate":
                self.report.duplicates += 1
            else:
                self.report.imported += 1
            if outcome.outbox_id:
                self.report.outbox_ids.append(outcome.outbox_id)
        return [item.n for item in batch]

    def _keep_raw(self, sha256: str, raw: bytes | Path) -> None:
        try:
            if isinstance(raw, Path):
                self.raw.adopt(sha256, raw, durable=self.delete)
            else:
                self.raw.put(sha256, raw, durable=self.delete)
        except OSError as exc:
            raise _storage_error(self.raw, exc) from None

    def _quarantine(self, uid: str, msg: ParsedMessage, reason: str) -> None:
        with self.ctx.engine.begin() as conn:
            records.quarantine(conn, self.box["id"], uid, msg.raw_sha256, reason, self.clock())
        self.report.quarantined += 1
        log.warning("mailbox %s: message %s quarantined: %s", self.box["description"], uid, reason)
