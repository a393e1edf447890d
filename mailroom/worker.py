"""The worker thread: runs each enabled mailbox on its schedule.

It owns no socket itself: each run is a `MailboxRun`, on a thread of its own, so
one slow mailbox never holds up the others or the outbox. It adds the schedule
(`poll_minutes`), check-now, pause/resume, exponential back-off after a failure, a
lock per mailbox (one run per mailbox at a time, also between two processes sharing
one data folder), and a graceful stop between messages. Other threads talk to it
only through its methods and the `Status` it publishes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import filelock

from mailroom import paths
from mailroom.context import Context
from mailroom.clock import utcnow
from mailroom.fetch import MailboxRun, RunReport
from mailroom.model import Mailbox
from mailroom.store import mailboxes

log = logging.getLogger("mailroom.worker")

MAX_BACKOFF = dt.timedelta(hours=1)


@dataclass(frozen=True)
class MailboxStatus:
    """One mailbox as the worker last saw it, under its id (the schedule's key): a
    renamed mailbox keeps its state; `description` is its name as of its last update."""

    mailbox_id: int
    description: str
    state: str = "waiting"                  # waiting | running | error | busy
    last_run_at: dt.datetime | None = None
    next_run_at: dt.datetime | None = None
    failures: int = 0
    last_report: RunReport | None = None


Snapshot = dict[int, MailboxStatus]


class Status:
    """A thread-safe snapshot of every mailbox's state and of `paused`, with subscribers.

    A subscriber is called with the snapshot after every change (a mailbox's state, or
    pause and resume), from the thread that made it, outside the lock.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._boxes: Snapshot = {}
        self._paused = False
        self._subscribers: list[Callable[[Snapshot], None]] = []

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    def snapshot(self) -> Snapshot:
        with self._lock:
            return dict(self._boxes)

    def subscribe(self, callback: Callable[[Snapshot], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def set_paused(self, paused: bool) -> None:
        with self._lock:
            self._paused = paused
            subscribers, snapshot = list(self._subscribers), dict(self._boxes)
        self._tell(subscribers, snapshot)

    def update(self, box: Mailbox, **changes) -> MailboxStatus:
        with self._lock:
            current = self._boxes.get(box.id) or MailboxStatus(box.id, box.description)
            self._boxes[box.id] = new = replace(current, description=box.description, **changes)
            subscribers, snapshot = list(self._subscribers), dict(self._boxes)
        self._tell(subscribers, snapshot)
        return new

    @staticmethod
    def _tell(subscribers: list[Callable[[Snapshot], None]], snapshot: Snapshot) -> None:
        for callback in subscribers:
            callback(snapshot)


def backoff(poll: dt.timedelta, failures: int) -> dt.timedelta:
    """Wait after `failures` failed runs in a row: doubles each time, at most an hour."""
    return min(poll * (2 ** min(max(failures - 1, 0), 16)), MAX_BACKOFF) if failures else poll


class MailboxBusy(Exception):
    """Another thread or process is running this mailbox now."""


def mailbox_lock(mailbox_id: int) -> filelock.BaseFileLock:
    """Held by the one run of a mailbox at a time (in any process on this data folder)."""
    return paths.lock(f"mailbox-{mailbox_id}")


def run_locked(ctx: Context, mailbox: Mailbox, *, stop: threading.Event | None = None,
               clock: Callable[[], dt.datetime] = utcnow) -> RunReport:
    """One run of `mailbox` while holding its lock; MailboxBusy when someone else holds it."""
    lock = mailbox_lock(mailbox.id)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise MailboxBusy(mailbox.description) from None
    try:
        return MailboxRun(ctx, mailbox, stop=stop, clock=clock).run()
    finally:
        lock.release()


class Worker(threading.Thread):
    """The scheduler: starts each due mailbox's run on a thread of its own.

    A run holds its mailbox (at most one run per mailbox at a time, also across
    processes: `run_locked`), never the others: a server that trickles, or a large
    import, delays only its own mailbox. After each run the outbox is drained on a
    thread of its own too (`after_runs`, one drain at a time), so auto-replies never
    wait for another mailbox's run. The threads talk to the scheduler only under
    `_lock` and through `_wake`.
    """

    def __init__(self, ctx: Context, *, status: Status | None = None,
                 clock: Callable[[], dt.datetime] = utcnow,
                 after_runs: Callable[[], None] | None = None):
        super().__init__(name="mailroom-worker", daemon=True)
        self.ctx = ctx
        self.status = status or Status()
        self.clock = clock
        self.after_runs = after_runs
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._due_now: set[int | None] = set()     # mailbox ids asked for now; None: every one
        self._due: dict[int, dt.datetime] = {}
        self._failures: dict[int, int] = {}
        self._runs: dict[int, threading.Thread] = {}
        self._drain: threading.Thread | None = None
        self._drain_again = False
        self._ended: dict[int, dt.datetime] = {}       # when each mailbox's last run ended
        self._reload = False
        self._rounds = threading.Condition()
        self._rounds_started = self._rounds_done = 0

    # --- called from other threads ---------------------------------------------------
    def check_now(self, mailbox_id: int | None = None) -> None:
        """Run one mailbox (or all) now, even when paused; one that is running now runs
        again as soon as its current run ends."""
        with self._lock:
            self._due_now.add(mailbox_id)
        self._wake.set()

    def reload(self) -> None:
        """The settings changed: reschedule from each mailbox's (new) poll interval; a run in
        progress is not interrupted, and each run reads its mailbox's settings afresh."""
        with self._lock:
            self._reload = True
        self._wake.set()

    def pause(self) -> None:
        self.status.set_paused(True)

    def resume(self) -> None:
        self.status.set_paused(False)
        self._wake.set()

    def next_round(self, timeout: float = 30.0) -> bool:
        """Wake the loop and wait until it has gone through a round that began after this
        call (so every run then due has started); False if none ended within `timeout`."""
        with self._rounds:
            wanted = self._rounds_started + 1
        self._wake.set()
        with self._rounds:
            return self._rounds.wait_for(lambda: self._rounds_done >= wanted, timeout)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop: every run ends between messages, after its POP3 session QUITs.

        Waits at most `timeout` seconds; a run stuck on a server that does not answer
        ends at its command's deadline (its thread is a daemon: it never holds the
        process open).
        """
        self._stopping.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)

    # --- the loop -------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                # Clear before the round: a wake-up (stop, check-now, a run's end) during it is not lost.
                self._wake.clear()
                with self._rounds:
                    self._rounds_started += 1
                try:
                    self._round()
                except Exception:  # noqa: BLE001 - the worker must outlive one bad round; it is logged
                    log.exception("worker round failed")
                with self._rounds:
                    self._rounds_done += 1
                    self._rounds.notify_all()
                self._wake.wait(self._seconds_to_next())
        finally:
            with self._lock:
                threads = [*self._runs.values(), *([self._drain] if self._drain else [])]
            for thread in threads:
                thread.join()

    def _round(self) -> None:
        now = self.clock()
        with self._lock:
            forced, self._due_now = self._due_now, set()
            reload, self._reload = self._reload, False
        later: set[int | None] = set()
        with self.ctx.engine.connect() as conn:
            boxes = mailboxes.every(conn, enabled_only=True)
        if reload:
            self._reschedule(boxes)
        for box in boxes:
            if self._stopping.is_set():
                return
            wanted = None in forced or box.id in forced
            with self._lock:
                running = box.id in self._runs
                due = self._due.get(box.id, now) <= now
            if running:
                if wanted:
                    later.add(box.id)        # asked for during its run: once more when it ends
                continue
            if not wanted and (self.status.paused or not due):
                continue
            self._start(box)
        if later:
            with self._lock:
                self._due_now |= later

    def _start(self, box: Mailbox) -> None:
        thread = threading.Thread(target=self._run_one, args=(box,), name=f"mailroom-run-{box.id}", daemon=True)
        with self._lock:
            self._runs[box.id] = thread
        self.status.update(box, state="running")
        thread.start()

    def _reschedule(self, boxes: list[Mailbox]) -> None:
        enabled = {box.id for box in boxes}
        changed = []
        with self._lock:
            for mailbox_id in [i for i in self._due if i not in enabled]:
                del self._due[mailbox_id]               # disabled or removed: no longer wakes the loop
            for box in boxes:
                ended = self._ended.get(box.id)
                if ended is None or box.id in self._runs:
                    continue
                poll = dt.timedelta(minutes=box.poll_minutes)
                self._due[box.id] = due = ended + backoff(poll, self._failures.get(box.id, 0))
                changed.append((box, due))
        for box, due in changed:
            self.status.update(box, next_run_at=due)

    def _run_one(self, box: Mailbox) -> None:
        """One run, on its own thread; then its schedule, its status, and the outbox."""
        poll = dt.timedelta(minutes=box.poll_minutes)
        try:
            try:
                report = run_locked(self.ctx, box, stop=self._stopping, clock=self.clock)
            except MailboxBusy:
                with self._lock:
                    self._due[box.id] = next_run = self.clock() + dt.timedelta(minutes=1)
                self.status.update(box, state="busy", next_run_at=next_run)
                return
            except Exception as exc:  # noqa: BLE001 - a bug must back off like any failure, not spin
                log.exception("mailbox %s: run failed", box.description)
                report = RunReport(mailbox=box.description, error=f"Internal error: {type(exc).__name__}",
                                   error_kind="internal")
            ended = self.clock()     # one instant: a reschedule computes the same next run from it
            with self._lock:
                failures = self._failures.get(box.id, 0) + 1 if report.error else 0
                self._failures[box.id] = failures
                self._ended[box.id] = ended
                self._due[box.id] = next_run = ended + backoff(poll, failures)
            self.status.update(box, state="error" if report.error else "waiting", last_run_at=ended,
                               next_run_at=next_run, failures=failures, last_report=report)
            self._request_drain()
        finally:
            with self._lock:
                self._runs.pop(box.id, None)
            self._wake.set()

    def _request_drain(self) -> None:
        """Drain the outbox after a run, on the drain thread; again after it if one is on."""
        if self.after_runs is None or self._stopping.is_set():
            return
        with self._lock:
            if self._drain is not None:
                self._drain_again = True
                return
            self._drain = threading.Thread(target=self._drain_loop, name="mailroom-outbox", daemon=True)
            self._drain.start()

    def _drain_loop(self) -> None:
        while True:
            try:
                self.after_runs()
            except Exception:  # noqa: BLE001 - the next run drains again; it is logged
                log.exception("sending auto-replies failed")
            with self._lock:
                if not self._drain_again or self._stopping.is_set():
                    self._drain = None
                    return
                self._drain_again = False

    def _seconds_to_next(self) -> float:
        with self._lock:
            waiting = [due for box_id, due in self._due.items() if box_id not in self._runs]
        if not waiting:
            return 1.0
        wait = (min(waiting) - self.clock()).total_seconds()
        return min(max(wait, 0.05), 60.0)
