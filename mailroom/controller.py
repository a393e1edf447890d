"""The one door into Mailroom for every face: the command line, the local page, the tray.

A face calls a `Controller` method and gets frozen data back (mailroom.model), or a
MailroomError whose `field` (and, for settings, `problems`) says what to fix. Nothing
else in `mailroom` is imported by `web/` or `tray/` (a test holds this), so the
worker, the outbox, the store and the keyring can change behind this module. What
Mailroom has on record (clients, their mail and tasks, search, activity, quarantine,
outbox) is behind `Controller.records` (mailroom/views/), loaded on first use.

Thread-safe: the tray's thread, the page's request threads and the worker call in
at once. Status changes are pushed to subscribers from the thread that caused them;
a subscriber must return quickly and never call back into a GUI toolkit directly
(the tray posts to its own queue).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from mailroom.clock import utcnow
from mailroom.context import Context
from mailroom.errors import ConfigError, MailroomError, Problem
from mailroom.model import (CheckResult, FieldSpec, Mailbox, MailboxState, MergeFieldHelp, NewMessage, RunRecord,
                            SectionSpec, Stats, Status, TemplatePreview)
from mailroom.settings.document import Document, references
from mailroom.settings.fields import REQUIRED, SECTION, SECTIONS
from mailroom.store import mailboxes, pause, records

if TYPE_CHECKING:   # imported where used: a face that only reads the status loads neither
    from mailroom.fetch import RunReport
    from mailroom.outbox import DrainResult
    from mailroom.settings.repo import Plan

log = logging.getLogger("mailroom.controller")

Account = str | int          # "outgoing", or a mailbox id
NEW_MESSAGES_SHOWN = 5
# Seconds a connection test the user waits on (the page's OK and Send Test Email) gives a
# server: shorter than the background checks' timeout, since someone is watching it.
TEST_TIMEOUT = 10.0


class Controller:
    """The opened app: settings, passwords, checks, and (after `start`) the worker."""

    def __init__(self, ctx: Context, *, clock: Callable[[], dt.datetime] = utcnow,
                 test_timeout: float = TEST_TIMEOUT):
        self.ctx = ctx
        self.clock = clock
        self.test_timeout = test_timeout
        self._lock = threading.RLock()
        self._subscribers: list[Callable[[Status], None]] = []
        self._worker = None
        self._paused_until: dt.datetime | None = None
        self._resume_timer: threading.Timer | None = None
        self._run_seq: dict[int, int] = {}
        self._new: dict[int, tuple[NewMessage, ...]] = {}
        self._counted: dict[int, dt.datetime] = {}    # the last run of each mailbox already counted
        self._unread = 0
        self._outbox_error: str | None = None
        self._seq = 0
        self._records = None
        self._sender: threading.Thread | None = None

    @classmethod
    def open(cls, url: str | None = None, *, timeout: float = 30.0,
             clock: Callable[[], dt.datetime] = utcnow) -> "Controller":
        """Open the install's store (migrating it) and keyring access; the worker is not started."""
        return cls(Context.open(url, timeout=timeout), clock=clock)

    # --- the worker -------------------------------------------------------------------
    def start(self) -> None:
        """Start checking every enabled mailbox on its schedule; auto-replies go out after each round."""
        from mailroom.worker import Worker

        with self._lock:
            if self._worker is not None:
                return
            self._worker = Worker(self.ctx, clock=self.clock, after_runs=self.send_replies)
            self._worker.status.subscribe(self._worker_changed)
            self._restore_pause(self._worker)
            self._worker.start()
        self._announce()

    def _restore_pause(self, worker) -> None:
        """A pause the user set before a restart still holds (until its end, or until they
        resume); one whose end has passed is forgotten. Before the worker's first round."""
        with self.ctx.engine.begin() as conn:
            stored = pause.load(conn)
            if stored is None:
                return
            if stored.until is not None and stored.until <= self.clock():
                pause.clear(conn)
                return
        self._paused_until = stored.until
        if stored.until is not None:
            self._start_resume_timer(stored.until)
        worker.pause()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop between messages (the POP3 session QUITs); returns when the worker has ended."""
        with self._lock:
            worker, self._worker = self._worker, None
            self._cancel_resume_timer()
        if worker is not None:
            worker.stop(timeout)
        sender = self._sender
        if sender is not None:
            sender.join(timeout)

    @property
    def running(self) -> bool:
        return self._worker is not None

    def check_now(self, mailbox_id: int | None = None) -> None:
        """Check one mailbox (or every enabled one) now, even while paused."""
        worker = self._require_worker()
        if mailbox_id is not None:
            with self.ctx.engine.connect() as conn:
                mailboxes.by_id(conn, mailbox_id)      # a ConfigError when there is none
        worker.check_now(mailbox_id)

    def set_paused(self, paused: bool, until: dt.datetime | None = None) -> None:
        """Pause scheduled checks (until `until`, or until resumed); check-now still works.
        The worker announces the change (`_worker_changed`). The pause is kept in the
        store, so it outlasts a restart."""
        worker = self._require_worker()
        with self._lock:
            self._cancel_resume_timer()
            self._paused_until = until if paused else None
            with self.ctx.engine.begin() as conn:
                if paused:
                    pause.save(conn, self.clock(), until)
                else:
                    pause.clear(conn)
            if paused and until is not None:
                self._start_resume_timer(until)
        if paused:
            worker.pause()
        else:
            worker.resume()

    def _start_resume_timer(self, until: dt.datetime) -> None:
        seconds = max((until - self.clock()).total_seconds(), 0.0)
        self._resume_timer = threading.Timer(seconds, self.set_paused, args=(False,))
        self._resume_timer.daemon = True
        self._resume_timer.start()

    def _cancel_resume_timer(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None

    def _require_worker(self):
        worker = self._worker
        if worker is None:
            raise MailroomError("Mailroom is not running its mailbox checks in this process.", kind="state")
        return worker

    def _send_soon(self) -> None:
        """Drain the outbox on a thread of its own now (a reply was queued from the page)."""
        with self._lock:
            if self._sender is not None and self._sender.is_alive():
                return
            self._sender = threading.Thread(target=self.send_replies, name="mailroom-send-now", daemon=True)
            self._sender.start()

    # --- clients, messages, tasks, search, activity -----------------------------------
    @property
    def records(self):
        """Clients, their mail and tasks, search, activity, quarantine and outbox: a
        mailroom.views.Records (loaded on first use: the command line rarely needs it)."""
        with self._lock:
            if self._records is None:
                from mailroom.views import Records

                self._records = Records(self.ctx, clock=self.clock, changed=self._announce,
                                        send_soon=self._send_soon)
            return self._records

    # --- status -----------------------------------------------------------------------
    def status(self) -> Status:
        """Every mailbox's state, the outbox and the quarantine, as one frozen snapshot."""
        with self.ctx.engine.connect() as conn:
            boxes = mailboxes.every(conn)
            outbox = records.outbox_counts(conn)
            quarantined = records.quarantined_count(conn)
            last_runs = records.latest_runs(conn)
        worker = self._worker
        live = worker.status.snapshot() if worker is not None else {}
        paused = bool(worker is not None and worker.status.paused)
        with self._lock:
            states = tuple(self._mailbox_state(box, live.get(box.id), last_runs.get(box.id), paused)
                           for box in boxes)
            return Status(paused=paused, paused_until=self._paused_until if paused else None,
                          mailboxes=states, outbox=outbox, quarantined=quarantined, unread=self._unread,
                          outbox_error=self._outbox_error, seq=self._seq)

    def _mailbox_state(self, box: Mailbox, live, last_run: RunRecord | None, paused: bool) -> MailboxState:
        enabled = box.enabled
        state = MailboxState(id=box.id, description=box.description, enabled=enabled,
                             state="waiting" if enabled else "disabled",
                             run_seq=self._run_seq.get(box.id, 0),
                             new_messages=self._new.get(box.id, ()))
        if last_run is not None:
            state = replace(state, last_run_at=last_run.ended_at or last_run.started_at, counts=last_run.counts,
                            error=last_run.error, error_kind=last_run.error_kind,
                            state="error" if enabled and last_run.error_kind else state.state)
        if live is not None and enabled:
            report = live.last_report
            word = {"running": "checking"}.get(live.state, live.state)
            state = replace(state, state=word, next_run_at=live.next_run_at, failures=live.failures)
            if report is not None:
                state = replace(state, error=report.error, error_kind=report.error_kind,
                                error_field=report.error_field)
        if paused and enabled and state.state == "waiting":
            state = replace(state, state="paused")
        return state

    def subscribe(self, callback: Callable[[Status], None]) -> Callable[[], None]:
        """Call `callback(status)` after every change; returns the function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _announce(self) -> None:
        with self._lock:
            self._seq += 1
            subscribers = list(self._subscribers)
        if not subscribers:
            return
        snapshot = self.status()
        for callback in subscribers:
            try:
                callback(snapshot)
            except Exception:  # noqa: BLE001 - one broken face must not stop the worker
                log.exception("status subscriber failed")

    def _worker_changed(self, snapshot: dict) -> None:
        """The worker started or finished a run, or paused: count each finished run once,
        note what it imported, and tell the subscribers."""
        with self._lock:
            for mailbox_id, live in snapshot.items():
                if live.state == "running" or live.last_report is None or live.last_run_at is None:
                    continue
                if self._counted.get(mailbox_id) == live.last_run_at:
                    continue
                self._counted[mailbox_id] = live.last_run_at
                self._run_seq[mailbox_id] = self._run_seq.get(mailbox_id, 0) + 1
                imported = live.last_report.imported
                self._new[mailbox_id] = self._imported_messages(mailbox_id, imported) if imported else ()
                self._unread += imported
        self._announce()

    def _imported_messages(self, mailbox_id: int, count: int) -> tuple[NewMessage, ...]:
        with self.ctx.engine.connect() as conn:
            return records.newest_messages(conn, mailbox_id, min(count, NEW_MESSAGES_SHOWN))

    def acknowledge_new_mail(self) -> None:
        """The user has seen the page: clear the unread count (the tray's badge)."""
        with self._lock:
            if not self._unread:
                return
            self._unread = 0
        self._announce()

    def _mailbox_id(self, description: str) -> int | None:
        with self.ctx.engine.connect() as conn:
            return mailboxes.find_id(conn, description)

    # --- the desktop: notifications and start at login ----------------------------------
    def notify_new_mail(self) -> bool:
        """The company setting: announce new mail on the desktop (problems are always announced)."""
        with self.ctx.engine.connect() as conn:
            return records.company_notify_new_mail(conn)

    def autostart_status(self):
        """Does Mailroom start at login, and does the entry start this program? (mailroom.autostart)"""
        from mailroom import autostart

        return autostart.status()

    def set_autostart(self, enabled: bool):
        """Write or remove the start-at-login entry; returns the new status."""
        from mailroom import autostart

        result = autostart.set_enabled(enabled)
        self._announce()
        return result

    # --- the activity log -------------------------------------------------------------
    def activity(self, limit: int = 50, mailbox_id: int | None = None, before: int | None = None) -> tuple[RunRecord, ...]:
        """The latest runs, newest first; `before` is a run id (keyset paging)."""
        with self.ctx.engine.connect() as conn:
            return records.recent_runs(conn, max(1, min(limit, 500)), mailbox_id, before)

    # --- settings ---------------------------------------------------------------------
    def settings(self) -> Document:
        """The whole settings document (a copy: changing it changes nothing)."""
        return copy.deepcopy(self.ctx.settings())

    def save_section(self, section: str, values: dict[str, Any]) -> list[str]:
        """Replace a one-table section ("company", "outgoing"); returns the warnings."""
        spec = SECTION[section]
        if not spec.single:
            raise ConfigError(f"{section} holds a list of entries; save one entry at a time.", field=section)
        doc = self.ctx.settings()
        doc[section] = dict(values)
        return self._save(doc, entry_path=section)

    def save_entry(self, section: str, values: dict[str, Any], key: str | None = None) -> list[str]:
        """Add an entry to a list section, or replace the one called `key` (a rename keeps its id).

        Raises ConfigError; each Problem's `path` is "section[n]" with the entry's place,
        so `ConfigError.entry_path` tells a form which problems are its own.
        """
        doc, entry_path, renames = self._place(section, values, key)
        return self._save(doc, entry_path=entry_path, renames=renames)

    def check_entry(self, section: str, values: dict[str, Any], key: str | None = None) -> list[str]:
        """What `save_entry` would say (its warnings, or its ConfigError), saving nothing."""
        doc, entry_path, _renames = self._place(section, values, key)
        self._validate(doc, entry_path, self.ctx.settings())
        return []

    def save_mailbox(self, values: dict[str, Any], key: str | None = None, password: str | None = None) -> list[str]:
        """`save_entry` for a mailbox, with its `password` stored in the same step, then checked at once.

        The password goes to the keyring inside the transaction that adds the mailbox:
        the worker starts a new mailbox's first check as soon as it can see it, and
        must never find it without its password. Then (when the worker runs) the
        mailbox is checked now, so its state shows these settings, not the last ones.
        """
        doc, entry_path, renames = self._place("mailboxes", values, key)
        index = int(entry_path.removeprefix("mailboxes[").removesuffix("]")) - 1

        saved: list[int] = []

        def store_password(conn, canonical: Document) -> None:
            saved.append(mailboxes.find_id(conn, canonical["mailboxes"][index]["description"]))
            if password:
                self.set_password(saved[0], password)

        warnings = self._save(doc, entry_path=entry_path, renames=renames, before_commit=store_password)
        worker = self._worker
        if worker is not None:
            worker.check_now(saved[0])
        return warnings

    def _place(self, section: str, values: dict[str, Any], key: str | None):
        """The settings with `values` added (or put in place of `key`), its path, and the renames."""
        spec = SECTION[section]
        doc = self.ctx.settings()
        entries = doc[section]
        index = next((i for i, e in enumerate(entries) if e[spec.key] == key), None) if key is not None else None
        if key is not None and index is None:
            raise ConfigError(f'There is no {spec.noun} called "{key}" any more.', field=spec.key)
        renamed = values.get(spec.key)
        renames = None
        if index is None:
            entries.append(dict(values))
            index = len(entries) - 1
        else:
            entries[index] = dict(values)
            if renamed is not None and renamed != key:
                for _other, entry, name in references(doc, section, key):   # a rename follows everywhere
                    entry[name] = renamed
                renames = {section: {key: renamed}}
        return doc, f"{section}[{index + 1}]", renames

    def delete_entry(self, section: str, key: str) -> list[str]:
        """Remove one entry; refused, naming what uses it, while other settings refer to it.
        Tasks that use it lose it (see `recorded_uses`). Returns the warnings."""
        users = self.usages(section, key)
        if users:
            raise ConfigError(f'"{key}" is still used by ' + "; ".join(users) + ". Change those first.",
                              field=SECTION[section].key)
        spec = SECTION[section]
        doc = self.ctx.settings()
        doc[section] = [e for e in doc[section] if e[spec.key] != key]
        return self._save(doc, removing=(section, key))

    def usages(self, section: str, key: str) -> list[str]:
        """Where other settings refer to the entry `key` of `section` ("mailbox "Sales" (department)")."""
        return [f'{other.noun or other.name} "{entry.get(other.key, other.name)}" ({name.replace("_", " ")})'
                for other, entry, name in references(self.ctx.settings(), section, key)]

    def recorded_uses(self, section: str, key: str) -> str:
        """What Mailroom's records (tasks) lose if the entry `key` is deleted: "used by 15
        tasks" ("" for nothing); the settings file's import refuses it without --prune."""
        from mailroom.settings import repo

        spec = SECTION[section]
        doc = self.ctx.settings()
        doc[section] = [e for e in doc[section] if e[spec.key] != key]
        return next((c.in_use for c in repo.plan_for(self.ctx.engine, doc).changes
                     if c.section == section and c.action == "removed"), "")

    def _save(self, doc: Document, *, entry_path: str | None = None, removing: tuple[str, str] | None = None,
              renames: dict[str, dict[str, str]] | None = None,
              before_commit: Callable[[Any, Document], None] | None = None) -> list[str]:
        from mailroom.settings import repo

        canonical, warnings = self._validate(doc, entry_path, self.ctx.settings())
        hook = (lambda conn: before_commit(conn, canonical)) if before_commit is not None else None
        plan = repo.save(self.ctx.engine, canonical, renames=renames, prune=removing is not None,
                         before_commit=hook)
        for problem in self._forget_removed_passwords(plan):
            log.warning("%s", problem)
        self._settings_changed()
        return warnings

    # --- the settings file ------------------------------------------------------------
    @staticmethod
    def read_settings_file(path: Path) -> tuple[Document, list[str]]:
        """A settings file (TOML) read and validated: (document, warnings); ConfigError listing
        every problem. Nothing is saved."""
        from mailroom.settings import tomlfile

        return tomlfile.read(path)

    def plan_settings(self, doc: Document) -> Plan:
        """What `replace_settings(doc)` would add, change, rename and remove; saves nothing."""
        from mailroom.settings import repo

        return repo.plan_for(self.ctx.engine, doc)

    def replace_settings(self, doc: Document, *, prune: bool = False) -> tuple[Plan, list[str]]:
        """Make the settings equal to `doc` (validated), all or nothing: (what changed, warnings).

        Without `prune` a document that lacks a mailbox, or an entry in use, is refused
        (`Plan.refusal()`). A removed mailbox's password leaves the keyring; a warning
        says when it could not.
        """
        from mailroom.settings import repo

        plan = repo.save(self.ctx.engine, doc, prune=prune)
        warnings = self._forget_removed_passwords(plan)
        self._settings_changed()
        return plan, warnings

    def export_settings(self) -> str:
        """The settings as a settings file (TOML); passwords are never part of it."""
        from mailroom.settings import tomlfile

        return tomlfile.dumps(self.ctx.settings())

    def _forget_removed_passwords(self, plan: Plan) -> list[str]:
        problems = []
        for change in plan.changes:
            if change.section == "mailboxes" and change.action == "removed":
                try:
                    self.clear_password(change.row_id)
                except MailroomError as exc:
                    problems.append(f'the password of the removed mailbox "{change.name}" could not be removed '
                                    f"from the keyring: {exc.message}")
        return problems

    @staticmethod
    def _validate(doc: Document, entry_path: str | None, stored: Document) -> tuple[Document, list[str]]:
        """Validated as a whole; what the stored settings already had wrong elsewhere (one
        bad entry from an older version) is a warning, not a reason to refuse this save."""
        from mailroom.settings.document import validate

        try:
            return validate(doc, stored=stored, editing=entry_path)
        except ConfigError as exc:
            exc.entry_path = entry_path
            if entry_path:
                mine = [p for p in exc.problems if p.path == entry_path]
                if mine and mine[0].field:
                    exc.field = mine[0].field
            raise

    def setting_sections(self) -> tuple[SectionSpec, ...]:
        """Every settings section and its fields, in the settings table's order (forms are built from it)."""
        return _SECTION_SPECS

    def mailbox_id(self, description: str) -> int | None:
        """The id of the mailbox called `description` (its password's account), or None."""
        return self._mailbox_id(description)

    def mailbox(self, description: str) -> Mailbox:
        """The mailbox called `description`; ConfigError naming the mailboxes there are."""
        return self.ctx.mailbox(description)

    def mailboxes(self, *, enabled_only: bool = False) -> tuple[Mailbox, ...]:
        """Every mailbox (or every enabled one), in the order they were added."""
        with self.ctx.engine.connect() as conn:
            return tuple(mailboxes.every(conn, enabled_only=enabled_only))

    # --- templates --------------------------------------------------------------------
    def merge_fields(self) -> tuple[MergeFieldHelp, ...]:
        """The merge fields a template may use, with help and the preview's sample values."""
        from mailroom.rules.templates import MERGE_FIELDS

        return tuple(MergeFieldHelp(f.name, f.help, f.sample) for f in MERGE_FIELDS)

    def preview_template(self, kind: str, subject: str, body: str) -> TemplatePreview:
        """Render a template (saved or not) in the sandbox on sample data; problems name the line."""
        from mailroom.mail.display import html_to_text
        from mailroom.rules.templates import KINDS, TemplateError, preview, validate_template

        if kind not in KINDS:
            return TemplatePreview("", "", None, (f"Choose the kind of template ({', '.join(KINDS)}).",))
        problems = validate_template(kind, subject, body)
        if problems:
            return TemplatePreview("", "", None, tuple(problems))
        try:
            rendered = preview(kind, subject, body, to_text=html_to_text)
        except TemplateError as exc:
            return TemplatePreview("", "", None, tuple(exc.problems))
        return TemplatePreview(rendered.subject, rendered.text, rendered.html)

    # --- the page's own keys ----------------------------------------------------------
    @property
    def install_id(self) -> str:
        """This install's random id (names the page's cookie: cookies are shared across localhost ports)."""
        return self.ctx.install_id

    def _settings_changed(self) -> None:
        worker = self._worker
        if worker is not None and hasattr(worker, "reload"):
            worker.reload()
        self._announce()

    # --- passwords --------------------------------------------------------------------
    def _account(self, account: Account) -> str:
        from mailroom.secrets import mailbox_account, outgoing_account

        if account == "outgoing":
            return outgoing_account()
        if isinstance(account, int):
            return mailbox_account(account)
        raise ConfigError(f"Unknown account {account!r}.", field="password")

    def set_password(self, account: Account, password: str) -> None:
        """Save a password in the OS keyring (never anywhere else)."""
        if not password:
            raise ConfigError("The password is empty; nothing was saved.", field="password")
        from mailroom.secrets import backend

        backend()
        self.ctx.secrets.set(self._account(account), password)

    def has_password(self, account: Account) -> bool:
        return bool(self.ctx.secrets.get(self._account(account)))

    def clear_password(self, account: Account) -> None:
        self._forget_account(self._account(account))

    def _forget_account(self, name: str) -> None:
        self.ctx.secrets.delete(name)

    def keyring_problem(self) -> str | None:
        """Why passwords cannot be saved on this machine, or None when they can."""
        from mailroom.secrets import backend

        try:
            backend()
        except MailroomError as exc:
            return exc.message
        return None

    # --- checks -----------------------------------------------------------------------
    def test_mailbox(self, entry: dict[str, Any], password: str | None = None, *,
                     key: str | None = None) -> CheckResult:
        """Connect, log in and list with settings that need not be saved yet: a test the
        user waits on (`test_timeout`, and worded as a test's result).

        Without `password`, the saved password of the mailbox `key` (the description it
        is saved under, which the form may be renaming) or of the entry's description is
        used. Errors name the field to fix.
        """
        from mailroom.checks import probe_mailbox
        from mailroom.store.mailboxes import from_entry

        box = from_entry(_entry_for_check("mailboxes", entry))
        if not password:
            saved_as = key or box.description
            mailbox_id = self._mailbox_id(saved_as) if saved_as else None
            if mailbox_id is None:
                raise ConfigError("Enter the password to test this email box.", field="password")
            password = self.ctx.secrets.require(self._account(mailbox_id), f'mailbox "{box.description}"')
        return self._as_test(lambda timeout: probe_mailbox(self.ctx, box, password, timeout=timeout))

    def _as_test(self, check: Callable[[float], CheckResult]) -> CheckResult:
        """Run `check(timeout)` as a test the user waits on: the shorter timeout, and a failure
        worded for a test (the user tests again; no "Mailroom will try again")."""
        from mailroom.rules.diagnose import worded_for_test

        try:
            return check(min(self.ctx.timeout, self.test_timeout))
        except MailroomError as exc:
            exc.message = worded_for_test(exc.message)
            exc.args = (exc.message,)
            raise

    def send_test_email(self, to: str | None = None) -> CheckResult:
        """Send the *Send Test Email* message through the saved outgoing account."""
        from mailroom.checks import send_test_email

        return send_test_email(self.ctx, to)

    # --- the outgoing account, as the page's form edits it ------------------------------
    def check_outgoing(self, values: dict[str, Any]) -> dict[str, Any]:
        """The outgoing settings `values` as validation completes them; saves nothing.

        ConfigError naming each bad field, and the server name when there is none (an
        account without one sends nothing, so a form saving it is a mistake).
        """
        stored = self.ctx.settings()
        doc = dict(copy.deepcopy(stored), outgoing=dict(values))
        canonical, _warnings = self._validate(doc, "outgoing", stored)
        out = canonical["outgoing"]
        if not out.get("host"):
            raise ConfigError("Enter the name of the SMTP server (for example smtp.gmail.com): without it "
                              "Mailroom cannot send auto-replies.", field="host")
        return out

    def test_outgoing(self, values: dict[str, Any], password: str | None = None, *, send: bool = False,
                      to: str | None = None) -> CheckResult:
        """Test outgoing settings that need not be saved yet: connect, secure and log in
        (with `password`, else the saved one); with `send`, also send the test email (to
        `to`, else the account's own address). A test the user waits on, as `test_mailbox`."""
        from mailroom.checks import probe_outgoing, send_test_email

        out = self.check_outgoing(values)
        if send:
            return self._as_test(lambda timeout: send_test_email(self.ctx, to, out=out, password=password,
                                                                 timeout=timeout))
        return self._as_test(lambda timeout: probe_outgoing(self.ctx, out, password, timeout=timeout))

    def save_outgoing(self, values: dict[str, Any], password: str | None = None) -> list[str]:
        """Save the outgoing account and (when given) its password in one step; then the
        auto-replies waiting for a working account are sent at once (and a stale error clears)."""
        self.check_outgoing(values)
        doc = self.ctx.settings()
        doc["outgoing"] = dict(values)

        def store_password(_conn, _canonical: Document) -> None:
            self.set_password("outgoing", password)

        warnings = self._save(doc, entry_path="outgoing", before_commit=store_password if password else None)
        self._send_soon()
        return warnings

    def check_mailbox(self, mailbox_id: int) -> CheckResult:
        """Connect to a saved mailbox with its saved password, log in and list."""
        from mailroom.checks import probe_mailbox

        with self.ctx.engine.connect() as conn:
            box = mailboxes.by_id(conn, mailbox_id)
        password = self.ctx.secrets.require(self._account(box.id), f'mailbox "{box.description}"')
        return probe_mailbox(self.ctx, box, password)

    def missing_passwords(self) -> list[str | None]:
        """The accounts whose password is still to be saved: mailbox descriptions, and None
        for the outgoing account (when it logs in). CredentialError when the keyring cannot be used."""
        doc = self.ctx.settings()
        wanted: list[tuple[Account, str | None]] = [(b.id, b.description) for b in self.mailboxes()]
        if doc["outgoing"].get("host") and doc["outgoing"].get("username"):
            wanted.append(("outgoing", None))
        return [name for account, name in wanted if not self.has_password(account)]

    # --- one fetch now, and the data behind it ------------------------------------------
    def run_mailbox(self, mailbox_id: int, *, stop: threading.Event | None = None) -> RunReport:
        """Check one mailbox now, in this thread (`stop` ends it between messages); the
        worker need not run. MailroomError (kind "busy") when it is being checked already."""
        from mailroom.worker import MailboxBusy, run_locked

        with self.ctx.engine.connect() as conn:
            box = mailboxes.by_id(conn, mailbox_id)
        try:
            return run_locked(self.ctx, box, stop=stop, clock=self.clock)
        except MailboxBusy:
            raise MailroomError("Another Mailroom is checking this mailbox right now.", kind="busy") from None

    def send_replies(self) -> DrainResult:
        """Send the auto-replies that are due now (the outbox), in this thread."""
        from mailroom.outbox import drain

        result = drain(self.ctx, self.clock)
        with self._lock:
            self._outbox_error = result.error
        self._announce()
        return result

    def forget_seen(self, mailbox_id: int) -> int:
        """Forget which messages on the server a mailbox has seen (the next run looks at
        every one again; stored ones are recognised). MailroomError (kind "busy") while it runs."""
        from mailroom.worker import mailbox_lock

        with self.ctx.engine.connect() as conn:
            box = mailboxes.by_id(conn, mailbox_id)
        lock = mailbox_lock(box.id)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            raise MailroomError(f'Mailroom is checking mailbox "{box.description}" right now; try again when it '
                                "is done.", kind="busy") from None
        try:
            with self.ctx.engine.begin() as conn:
                return records.forget_seen(conn, box.id)
        finally:
            lock.release()

    def stats(self) -> Stats:
        """How many clients, messages, tasks, quarantined messages and auto-replies there are."""
        with self.ctx.engine.connect() as conn:
            return records.stats(conn)

    def explain(self, raw: bytes, description: str | None = None) -> dict:
        """What importing the email `raw` in a mailbox (by default the first enabled one)
        would decide, and why, as plain data; nothing is stored."""
        from mailroom.importer import explain

        return explain(self.ctx, raw, description, clock=self.clock)


def _entry_for_check(section: str, entry: dict[str, Any]) -> dict[str, Any]:
    """One entry converted and completed as validation would, for a check before saving."""
    from mailroom.settings.document import validate

    doc: dict[str, Any] = {section: [dict(entry)]}
    spec = SECTION[section]
    for f in spec.fields:
        if f.ref:
            doc[section][0][f.name] = None   # references do not matter for a connection,
    doc[section][0].update(create_tasks=False, autoreply=False)   # nor what needs them
    try:
        canonical, _ = validate(doc)
    except ConfigError as exc:
        exc.entry_path = f"{section}[1]"
        first = next((p for p in exc.problems if p.field), None)
        if first is not None:
            exc.field = first.field
        raise
    return canonical[section][0]


def _field_spec(f) -> FieldSpec:
    default = None if f.default is REQUIRED else f.default
    return FieldSpec(name=f.name, kind=f.kind, help=f.help, required=f.default is REQUIRED,
                     default=tuple(default) if isinstance(default, list) else default,
                     choices=tuple(f.choices), ref=f.ref, label=f.label or f.name.replace("_", " ").capitalize(),
                     page_help=f.page_help or f.help, choice_labels=tuple(f.choice_labels))


_SECTION_SPECS = tuple(SectionSpec(name=s.name, help=s.help, single=s.single, key=s.key,
                                   fields=tuple(_field_spec(f) for f in s.fields)) for s in SECTIONS)




__all__ = ["Controller", "Problem", "utcnow"]
