"""One run of one mailbox: the only place where a server session meets the core.

The session is a `Connector` (mailroom/mail/connector.py; POP3 today), so the steps
below are named by their POP3 commands:

    UIDL → minus seen UIDs → (TOP n 0 → skip before cutoff) → RETR, pipelined
      → parse → decide (pure) → one transaction per batch → DELE → QUIT

Exactly once (DESIGN.md): a message's row, its seen UID, its client, task and
outbox row commit together; DELE is sent only for committed messages and the server
applies it only at QUIT, so a process killed at any instant leaves each message
either committed or still on the server. A UID seen as imported but still listed
(killed between commit and QUIT) is deleted on the next run, not imported again. A
message served again under a new UID is recognised by Message-ID + content hash.

One message never stops a mailbox: a message the store refuses is quarantined, one
larger than `max_message_mb` is left on the server with only its headers kept
("too_large"), one that breaks a bound mid-reply (a line of megabytes, a reply far
beyond its announced size) likewise; the run goes on, in a new session when the old
one was left mid-reply. Only a store that cannot write (disk full, database locked)
stops a run, and says so. Runs of different mailboxes may go on at once (worker.py);
their store writes take turns (`_STORE_WRITES`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

from mailroom import paths
from mailroom.clock import utcnow
from mailroom.context import Context
from mailroom.errors import Fix, MailroomError, StorageError
from mailroom.mail import connector_for, stream
from mailroom.mail.connector import Connector, MessageRejected, Spooled
from mailroom.mail.parsing import PARALLEL_MIN, ParseFailed, can_spawn, parse_one, parsed_in_order
from mailroom.model import Mailbox, ParsedMessage
from mailroom.rules.cutoff import company_zone, cutoff_instant, is_before_cutoff
from mailroom.secrets import mailbox_account
from mailroom.store import failures, records
from mailroom.store.raw import RawStore

log = logging.getLogger("mailroom.fetch")

BATCH_MESSAGES = 50            # messages per transaction
BATCH_BYTES = 16 << 20         # ... or this many raw bytes, whichever comes first
MAX_SESSIONS = 25              # Gmail lists ~250 messages per session: keep reconnecting

# One writer at a time in this process: runs of different mailboxes import at once, and
# without turns two of them could each create a client for the same new sender (both
# look before either writes). SQLite allows one writer anyway; this only orders them.
# Reentrant: a failed batch quarantines its message inside its own turn.
_STORE_WRITES = threading.RLock()


def store_turn() -> threading.RLock:
    """This process's turn to write mail to the store (held while a run imports): a message
    imported from elsewhere (the page's "try again" on a held one) takes it too."""
    return _STORE_WRITES


@dataclass
class RunReport:
    """What one run of one mailbox did, counted as it goes: the activity log's row
    (`counts()`, model.RunCounts' fields plus the error) and `fetch --json`'s entry.

    `error`/`error_kind` say why the run stopped early (None: it finished) and
    `error_field` which setting to fix, if one is (`error_fix`: where, errors.Fix); `outbox_ids` are the auto-replies it
    queued, for the caller to send.
    """

    mailbox: str
    listed: int = 0
    new: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped_before_cutoff: int = 0
    quarantined: int = 0
    too_large: int = 0
    deleted: int = 0
    error: str | None = None
    error_kind: str | None = None
    error_field: str | None = None
    error_fix: Fix | None = None
    outbox_ids: list[int] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        data = asdict(self)
        del data["outbox_ids"], data["error_field"], data["error_fix"]
        return data

    def failed(self, exc: MailroomError) -> None:
        """The run stopped early because of `exc` (the first failure is the one kept)."""
        if self.error is None:
            self.error, self.error_kind, self.error_field, self.error_fix = exc.message, exc.kind, exc.field, exc.fix

    def counts(self) -> dict:
        """The columns of this run's row in the activity log (runs): counts and the error."""
        return {k: v for k, v in self.as_dict().items() if k != "mailbox"}


@dataclass(frozen=True)
class Fetched:
    """One downloaded message: its number this session, UID, parse, and raw bytes (or the
    spool file they are in; None when they are already in the raw store)."""

    n: int
    uid: str
    msg: ParsedMessage
    raw: bytes | Path | None


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


def _storage_error(raw: RawStore, exc: OSError) -> StorageError:
    return StorageError(f"Mailroom could not save a message in {raw.root} ({exc.strerror}). "
                        "Free disk space; nothing was lost.")


def _header_block(head: bytes) -> bytes:
    """The header section at the start of `head` (up to its blank line), for a held message."""
    for blank in (b"\r\n\r\n", b"\n\n"):
        end = head.find(blank)
        if end >= 0:
            return head[:end + len(blank)]
    return head


class MailboxRun:
    """Run one mailbox once. `stop` is checked between messages."""

    def __init__(self, ctx: Context, mailbox: Mailbox, *, stop: threading.Event | None = None,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.ctx = ctx
        self.box = mailbox
        self.stop = stop or threading.Event()
        self.clock = clock
        self.raw = RawStore(paths.raw_dir())
        self.report = RunReport(mailbox=mailbox.description)
        self.delete = not mailbox.leave_on_server
        self.max_message = mailbox.max_message_mb << 20
        self._importer = None
        self._counted: set[str] = set()

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
        try:
            with self._writing() as conn:
                run_id = records.start_run(conn, box.id, self.clock())
        except StorageError as exc:
            self.report.failed(exc)
            log.warning("mailbox %s: %s", box.description, exc.message)
            return self.report
        try:
            endpoint = self.ctx.mailbox_endpoint(box)
            connector = connector_for(endpoint)
            # The keyring answers over D-Bus while the TLS handshake runs (~15 ms each).
            password = _Background(self.ctx.secrets.require, mailbox_account(box.id),
                                   f'mailbox "{box.description}"')
            for session in range(MAX_SESSIONS):
                with connector.open(endpoint, password.result, max_message=self.max_message) as pop:
                    progressed = self._session(pop, first=session == 0)
                if not progressed or self.stop.is_set():
                    break
        except MailroomError as exc:
            self.report.failed(exc)
            log.warning("mailbox %s: %s", box.description, exc.message)
        finally:
            try:
                with self._writing() as conn:
                    records.finish_run(conn, run_id, self.clock(), self.report.counts())
            except StorageError as exc:
                self.report.failed(exc)
                log.warning("mailbox %s: %s", box.description, exc.message)
        if not self.report.error:
            r = self.report
            log.info("mailbox %s: %d listed, %d new, %d imported, %d duplicates, %d skipped, %d quarantined, "
                     "%d too large, %d deleted", box.description, r.listed, r.new, r.imported, r.duplicates,
                     r.skipped_before_cutoff, r.quarantined, r.too_large, r.deleted)
        return self.report

    # --- one POP3 session -----------------------------------------------------------
    def _session(self, pop: Connector, *, first: bool) -> bool:
        """True when this session found new UIDs: a server that lists only part of the
        mailbox per session (Gmail: about 250) may list more in the next one; and when a
        message was rejected mid-reply, which ends the session early."""
        box, report = self.box, self.report
        # The seen UIDs are read while the server prepares its UIDL listing.
        seen_later = _Background(self._seen_uids)
        try:
            listing = pop.uidl()
        finally:
            seen = seen_later.result()
        new = sorted((n, uid) for n, uid in listing.items() if uid not in seen)
        found_new = bool(new)
        if first:
            report.listed = len(listing)
        report.new += len({uid for _n, uid in new} - self._counted)
        self._counted.update(uid for _n, uid in new)
        to_delete = []
        if self.delete:
            # Committed in an earlier run that died before QUIT: delete, never re-import.
            # (UIDL ids are unique, pop.uidl() makes sure: each number is its own message.)
            to_delete = [n for n, uid in listing.items() if seen.get(uid) in ("imported", "duplicate")]
        try:
            if new and box.exclude_before and not self.stop.is_set():
                new = self._skip_before_cutoff(pop, new)
            if new and not self.stop.is_set():
                to_delete += self._fetch(pop, new)
        except MessageRejected as rejected:
            # The client closed the session mid-reply, so no DELE can be sent in it: what
            # this session committed is deleted by the next one (seen, still listed).
            self._hold(listing[rejected.number], _header_block(rejected.head), too_large=rejected.too_large,
                       reason=f"{rejected.message} It was left on the server; its headers are kept.")
            return True
        for n in to_delete:
            pop.dele(n)
        pop.quit()
        report.deleted += len(to_delete)
        return found_new

    def _seen_uids(self) -> dict[str, str]:
        with self.ctx.engine.connect() as conn:
            return records.seen_uids(conn, self.box.id)

    def _skip_before_cutoff(self, pop: Connector, new: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Read headers only (TOP n 0); record older messages as skipped, never RETR them."""
        from mailroom.mail.parse import header_date   # loaded when there is mail to look at

        with self.ctx.engine.connect() as conn:
            zone = company_zone(records.company_timezone(conn))
        cutoff = cutoff_instant(self.box.exclude_before, zone)
        uid_of = dict(new)
        keep, skip = [], []
        try:
            for n, headers in pop.top_many([n for n, _ in new]):
                date = header_date(headers)
                if is_before_cutoff(date, cutoff):
                    skip.append((uid_of[n], date))  # the date is kept: an earlier cutoff may want it back
                else:
                    keep.append((n, uid_of[n]))
        finally:
            # Also when a TOP was rejected: the decisions made so far hold.
            with self._writing() as conn:
                records.mark_skipped_many(conn, self.box.id, skip, self.clock())
            self.report.skipped_before_cutoff += len(skip)
        return keep

    def _fetch(self, pop: Connector, new: list[tuple[int, str]]) -> list[int]:
        """RETR the new messages, import in batches; the numbers now safe to DELE.

        A message larger (by LIST) than `max_message_mb` is not downloaded: its headers
        are kept and it stays on the server. Ordinary messages are read pipelined into
        memory; one above `stream.LARGE` (by LIST), or whose reply outgrows what LIST
        announced, is streamed to a spool file and parsed from there, so memory stays
        bounded whatever the size.
        """
        sizes = pop.list_sizes()
        wanted = []
        for n, uid in new:
            if sizes.get(n, 0) <= self.max_message:
                wanted.append((n, uid))
            elif not self.stop.is_set():
                self._hold(uid, _header_block(pop.top(n, 0)), too_large=True,
                           reason=f"It is {sizes[n] / (1 << 20):.1f} MB, larger than the "
                                  f"{self.box.max_message_mb} MB allowed for this mailbox (its largest message "
                                  "size). It was left on "
                                  "the server; its headers are kept.")
        large = [(n, uid) for n, uid in wanted if sizes.get(n, 0) > stream.LARGE]
        small = [(n, uid) for n, uid in wanted if sizes.get(n, 0) <= stream.LARGE]
        deletable = self._fetch_small(pop, small, sizes)
        for n, uid in large:
            if self.stop.is_set():
                break
            deletable += self._fetch_large(pop, n, uid)
        return deletable if self.delete else []

    def _fetch_small(self, pop: Connector, new: list[tuple[int, str]], sizes: dict[int, int]) -> list[int]:
        uid_of = dict(new)
        batch: list[Fetched] = []
        size = 0
        deletable: list[int] = []
        spools: list[Path] = []

        def spill(n: int):
            """A reply that outgrew its LIST size continues into a spool file."""
            spools.append(self.raw.spool_path())
            return open(spools[-1], "wb")

        retr = pop.retr_many([n for n, _ in new], sizes, spill)
        parsed = parsed_in_order(retr, parallel=len(new) >= PARALLEL_MIN and can_spawn())
        try:
            try:
                for n, raw, msg in parsed:
                    if isinstance(msg, ParseFailed):
                        self._parse_failed(uid_of[n], raw, msg)
                        continue
                    batch.append(Fetched(n, uid_of[n], msg, raw))
                    size += len(raw) if isinstance(raw, bytes) else 0
                    if len(batch) >= BATCH_MESSAGES or size >= BATCH_BYTES:
                        deletable += self._commit(batch)
                        batch, size = [], 0
                    if self.stop.is_set():
                        break
            except MailroomError:
                # The connection broke mid-RETR (or a message was rejected): keep the
                # complete messages already read; a partial one was never yielded and comes
                # again next session. No DELE can reach the server now, so nothing is
                # deletable in this session.
                if batch:
                    self._commit(batch)
                raise
            except OSError as exc:      # a spool file could not be written
                raise _storage_error(self.raw, exc) from None
            finally:
                parsed.close()
                retr.close()
            if batch:
                deletable += self._commit(batch)
        finally:
            for path in spools:             # those not adopted into the raw store
                path.unlink(missing_ok=True)
        return deletable

    def _fetch_large(self, pop: Connector, n: int, uid: str) -> list[int]:
        spool = self.raw.spool_path()
        try:
            try:
                with open(spool, "wb") as fh:
                    size, sha256 = pop.retr_to(n, fh)
            except OSError as exc:
                raise _storage_error(self.raw, exc) from None
            _path, msg = parse_one(Spooled(spool, size, sha256))
            if isinstance(msg, ParseFailed):
                self._parse_failed(uid, spool, msg)
                return []
            return self._commit([Fetched(n, uid, msg, spool)])
        finally:
            spool.unlink(missing_ok=True)

    # --- the store --------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """One write transaction, in turn with other runs; a store that cannot write
        (disk full, locked) is a StorageError, any other failure is raised as it is."""
        with _STORE_WRITES:
            try:
                with self.ctx.engine.begin() as conn:
                    yield conn
            except Exception as exc:
                kind = failures.storage_failure(exc)
                if kind:
                    raise StorageError(failures.describe(kind, exc)) from None
                raise

    def _commit(self, batch: list[Fetched]) -> list[int]:
        """Import a batch in one transaction: the message numbers now safe to DELE.

        When the batch fails, its messages are retried one by one, so one message the
        store rejects is quarantined and the rest still import. A storage failure (disk
        full, database locked) is not the message's fault: it stops the run instead.
        """
        importer = self.importer      # outside the try: a failure here is no message's fault
        with _STORE_WRITES:
            for item in batch:
                if item.raw is not None:
                    self._keep_raw(item.msg.raw_sha256, item.raw)
            try:
                return self._write(importer, batch)
            except StorageError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad message must not block the mailbox
                if len(batch) == 1:
                    self._hold(batch[0].uid, None, sha256=batch[0].msg.raw_sha256, reason=failures.reason(exc))
                    return []
            deletable = []
            for item in batch:
                try:
                    deletable += self._write(importer, [item])
                except StorageError:
                    raise
                except Exception as exc:  # noqa: BLE001 - as above, for this message alone
                    self._hold(item.uid, None, sha256=item.msg.raw_sha256, reason=failures.reason(exc))
            return deletable

    def _write(self, importer, batch: list[Fetched]) -> list[int]:
        with self._writing() as conn:
            outcomes = importer.import_batch(conn, [(item.uid, item.msg) for item in batch])
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

    def _parse_failed(self, uid: str, raw: bytes | Path, failed: ParseFailed) -> None:
        with _STORE_WRITES:
            self._keep_raw(failed.raw_sha256, raw)
            self._hold(uid, None, sha256=failed.raw_sha256, reason=failed.reason)

    def _hold(self, uid: str, headers: bytes | None, *, reason: str, too_large: bool = False,
              sha256: str | None = None) -> None:
        """Hold a message back: quarantined (kept whole, `sha256`), or too large (left on the
        server, only its `headers` kept). Seen either way: not fetched again."""
        if headers is not None:
            sha256 = hashlib.sha256(headers).hexdigest()
        state = "too_large" if too_large else "quarantined"
        with _STORE_WRITES:
            if headers is not None:
                self._keep_raw(sha256, headers)
            with self._writing() as conn:
                records.quarantine(conn, self.box.id, uid, sha256, reason, self.clock(), state,
                                   headers_only=headers is not None)
        if too_large:
            self.report.too_large += 1
        else:
            self.report.quarantined += 1
        log.warning("mailbox %s: message %s %s: %s", self.box.description, uid,
                    "too large" if too_large else "quarantined", reason)
