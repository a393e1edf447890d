"""The one door into Mailroom for every face: the command line, the local page, the tray.

A face calls a `Controller` method and gets frozen data back (mailroom.model), or a
MailroomError whose `field` (and, for settings, `problems`) says what to fix. Nothing
else in `mailroom` is imported by `web/` or `tray/` (a test holds this), so the
worker, the outbox, the store and the keyring can change behind this module.

Thread-safe: the tray's thread, the page's request threads and the worker call in
at once. Status changes are pushed to subscribers from the thread that caused them;
a subscriber must return quickly and never call back into a GUI toolkit directly
(the tray posts to its own queue).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import secrets as pysecrets
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from mailroom.context import Context
from mailroom.errors import ConfigError, MailroomError, Problem
from mailroom.model import (CheckResult, FieldSpec, MailboxState, MergeFieldHelp, NewMessage, OutboxCounts,
                            RunCounts, RunRecord, SectionSpec, Status, TemplatePreview)
from mailroom.settings.document import Document
from mailroom.settings.fields import REQUIRED, SECTION, SECTIONS
from mailroom.store import schema as s

log = logging.getLogger("mailroom.controller")

Account = str | int          # "outgoing", or a mailbox id
NEW_MESSAGES_SHOWN = 5


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Controller:
    """The opened app: settings, passwords, checks, and (after `start`) the worker."""

    def __init__(self, ctx: Context, *, clock: Callable[[], dt.datetime] = utcnow):
        self.ctx = ctx
        self.clock = clock
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
            self._worker = Worker(self.ctx, clock=self.clock, after_runs=self._drain_outbox)
            self._worker.status.subscribe(self._worker_changed)
            self._worker.start()
        self._announce()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop between messages (the POP3 session QUITs); returns when the worker has ended."""
        with self._lock:
            worker, self._worker = self._worker, None
            self._cancel_resume_timer()
        if worker is not None:
            worker.stop(timeout)

    @property
    def running(self) -> bool:
        return self._worker is not None

    def check_now(self, mailbox_id: int | None = None) -> None:
        """Check one mailbox (or every enabled one) now, even while paused."""
        worker = self._require_worker()
        if mailbox_id is None:
            worker.check_now()
            return
        worker.check_now(self._description(mailbox_id))

    def set_paused(self, paused: bool, until: dt.datetime | None = None) -> None:
        """Pause scheduled checks (until `until`, or until resumed); check-now still works."""
        worker = self._require_worker()
        with self._lock:
            self._cancel_resume_timer()
            if paused:
                worker.pause()
                self._paused_until = until if until is not None else None
                if until is not None:
                    seconds = max((until - self.clock()).total_seconds(), 0.0)
                    self._resume_timer = threading.Timer(seconds, self.set_paused, args=(False,))
                    self._resume_timer.daemon = True
                    self._resume_timer.start()
            else:
                worker.resume()
                self._paused_until = None
        self._announce()

    def _cancel_resume_timer(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None

    def _require_worker(self):
        worker = self._worker
        if worker is None:
            raise MailroomError("Mailroom is not running its mailbox checks in this process.", kind="state")
        return worker

    def _drain_outbox(self) -> None:
        from mailroom.outbox import drain

        result = drain(self.ctx)
        with self._lock:
            self._outbox_error = result.error
        self._announce()

    # --- status -----------------------------------------------------------------------
    def status(self) -> Status:
        """Every mailbox's state, the outbox and the quarantine, as one frozen snapshot."""
        with self.ctx.engine.connect() as conn:
            rows = conn.execute(sa.select(s.mailboxes.c.id, s.mailboxes.c.description, s.mailboxes.c.enabled,
                                          s.mailboxes.c.poll_minutes).order_by(s.mailboxes.c.id)).all()
            outbox = dict(conn.execute(sa.select(s.outbox.c.state, sa.func.count()).group_by(s.outbox.c.state)).all())
            quarantined = conn.execute(sa.select(sa.func.count()).select_from(s.quarantine)).scalar()
            last_runs = self._last_runs(conn)
        worker = self._worker
        live = worker.status.snapshot() if worker is not None else {}
        paused = bool(worker is not None and worker.status.paused)
        boxes = []
        with self._lock:
            for mailbox_id, description, enabled, _poll in rows:
                boxes.append(self._mailbox_state(mailbox_id, description, bool(enabled), live.get(description),
                                                 last_runs.get(mailbox_id), paused))
            return Status(paused=paused, paused_until=self._paused_until if paused else None,
                          mailboxes=tuple(boxes),
                          outbox=OutboxCounts(**{k: outbox.get(k, 0) for k in
                                                 ("pending", "sending", "sent", "failed", "uncertain")}),
                          quarantined=quarantined, unread=self._unread, outbox_error=self._outbox_error,
                          seq=self._seq)

    def _mailbox_state(self, mailbox_id, description, enabled, live, last_run: RunRecord | None,
                       paused: bool) -> MailboxState:
        state = MailboxState(id=mailbox_id, description=description, enabled=enabled,
                             state="waiting" if enabled else "disabled",
                             run_seq=self._run_seq.get(mailbox_id, 0),
                             new_messages=self._new.get(mailbox_id, ()))
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
                                error_field=getattr(report, "error_field", None))
        if paused and enabled and state.state == "waiting":
            state = replace(state, state="paused")
        return state

    @staticmethod
    def _last_runs(conn) -> dict[int, RunRecord]:
        # One newest-first walk of each mailbox's runs on its mailbox_id index, not a
        # GROUP BY over the whole history (8 ms at 14,400 runs; the dashboard asks often).
        r = s.runs.alias("r")
        newest = (sa.select(r.c.id).where(r.c.mailbox_id == s.mailboxes.c.id, r.c.ended_at.is_not(None))
                  .order_by(r.c.id.desc()).limit(1).scalar_subquery())
        latest = sa.select(newest).select_from(s.mailboxes)
        rows = conn.execute(sa.select(s.runs).where(s.runs.c.id.in_(latest))).mappings()
        return {r["mailbox_id"]: _run_record(r, "") for r in rows}

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
        """The worker finished or started a run: count it and note what it imported."""
        with self._lock:
            for description, live in snapshot.items():
                if live.state == "running" or live.last_report is None:
                    continue
                mailbox_id = self._mailbox_id(description)
                if mailbox_id is None or live.last_run_at is None:
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
        m = s.messages
        with self.ctx.engine.connect() as conn:
            rows = conn.execute(sa.select(m.c.id, m.c.client_id, m.c.from_name, m.c.from_addr, m.c.subject)
                                .where(m.c.mailbox_id == mailbox_id, m.c.direction == "in")
                                .order_by(m.c.id.desc()).limit(min(count, NEW_MESSAGES_SHOWN))).all()
        return tuple(NewMessage(pk, client, name or addr, subject) for pk, client, name, addr, subject in reversed(rows))

    def acknowledge_new_mail(self) -> None:
        """The user has seen the page: clear the unread count (the tray's badge)."""
        with self._lock:
            if not self._unread:
                return
            self._unread = 0
        self._announce()

    def _description(self, mailbox_id: int) -> str:
        with self.ctx.engine.connect() as conn:
            name = conn.execute(sa.select(s.mailboxes.c.description).where(s.mailboxes.c.id == mailbox_id)).scalar()
        if name is None:
            raise ConfigError(f"There is no mailbox number {mailbox_id}.", field="mailbox")
        return name

    def _mailbox_id(self, description: str) -> int | None:
        with self.ctx.engine.connect() as conn:
            return conn.execute(sa.select(s.mailboxes.c.id).where(s.mailboxes.c.description == description)).scalar()

    # --- the desktop: notifications and start at login ----------------------------------
    def notify_new_mail(self) -> bool:
        """The company setting: announce new mail on the desktop (problems are always announced)."""
        with self.ctx.engine.connect() as conn:
            value = conn.execute(sa.select(s.company.c.notify_new_mail).where(s.company.c.id == 1)).scalar()
        return True if value is None else bool(value)

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
        r, b = s.runs, s.mailboxes
        query = (sa.select(r, b.c.description).select_from(r.outerjoin(b, r.c.mailbox_id == b.c.id))
                 .order_by(r.c.id.desc()).limit(max(1, min(limit, 500))))
        if mailbox_id is not None:
            query = query.where(r.c.mailbox_id == mailbox_id)
        if before is not None:
            query = query.where(r.c.id < before)
        with self.ctx.engine.connect() as conn:
            return tuple(_run_record(row, row["description"] or "") for row in conn.execute(query).mappings())

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
        return self._save(doc)

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
        self._validate(doc, entry_path)
        return []

    def _place(self, section: str, values: dict[str, Any], key: str | None):
        """The settings with `values` added (or put in place of `key`), its path, and the renames."""
        spec = SECTION[section]
        doc = self.ctx.settings()
        entries = doc[section]
        index = next((i for i, e in enumerate(entries) if e[spec.key] == key), None) if key is not None else None
        if key is not None and index is None:
            raise ConfigError(f'There is no {_singular(section)} called "{key}" any more.', field=spec.key)
        renamed = values.get(spec.key)
        renames = None
        if index is None:
            entries.append(dict(values))
            index = len(entries) - 1
        else:
            entries[index] = dict(values)
            if renamed is not None and renamed != key:
                _rename_references(doc, section, key, renamed)
                renames = {section: {key: renamed}}
        return doc, f"{section}[{index + 1}]", renames

    def delete_entry(self, section: str, key: str) -> None:
        """Remove one entry; refused, naming what uses it, while anything refers to it."""
        users = self.usages(section, key)
        if users:
            raise ConfigError(f'"{key}" is still used by ' + "; ".join(users) + ". Change those first.",
                              field=SECTION[section].key)
        spec = SECTION[section]
        doc = self.ctx.settings()
        doc[section] = [e for e in doc[section] if e[spec.key] != key]
        self._save(doc, removing=(section, key))

    def usages(self, section: str, key: str) -> list[str]:
        """Where other settings refer to the entry `key` of `section` ("mailbox "Sales" (department)")."""
        found = []
        doc = self.ctx.settings()
        for other in SECTION.values():
            for f in other.fields:
                if f.ref != section:
                    continue
                entries = [doc[other.name]] if other.single else doc[other.name]
                for entry in entries:
                    if entry.get(f.name) == key:
                        found.append(f'{_singular(other.name)} "{entry.get(other.key, other.name)}" ({f.name.replace("_", " ")})')
        return found

    def _save(self, doc: Document, *, entry_path: str | None = None, removing: tuple[str, str] | None = None,
              renames: dict[str, dict[str, str]] | None = None) -> list[str]:
        from mailroom.settings import repo

        canonical, warnings = self._validate(doc, entry_path)
        removed_mailbox = self._mailbox_id(removing[1]) if removing and removing[0] == "mailboxes" else None
        repo.save(self.ctx.engine, canonical, renames=renames, prune=removing is not None)
        if removed_mailbox is not None:
            self._forget_password(removed_mailbox)
        self._settings_changed()
        return warnings

    @staticmethod
    def _validate(doc: Document, entry_path: str | None) -> tuple[Document, list[str]]:
        from mailroom.settings.document import validate

        try:
            return validate(doc)
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

    # --- templates --------------------------------------------------------------------
    def merge_fields(self) -> tuple[MergeFieldHelp, ...]:
        """The merge fields a template may use, with help and the preview's sample values."""
        from mailroom.rules.templates import MERGE_FIELDS

        return tuple(MergeFieldHelp(f.name, f.help, f.sample) for f in MERGE_FIELDS)

    def preview_template(self, kind: str, subject: str, body: str) -> TemplatePreview:
        """Render a template (saved or not) in the sandbox on sample data; problems name the line."""
        from mailroom.rules.templates import KINDS, TemplateError, preview, validate_template

        if kind not in KINDS:
            return TemplatePreview("", "", None, (f"Choose the kind of template ({', '.join(KINDS)}).",))
        problems = validate_template(kind, subject, body)
        if problems:
            return TemplatePreview("", "", None, tuple(problems))
        try:
            rendered = preview(kind, subject, body)
        except TemplateError as exc:
            return TemplatePreview("", "", None, tuple(exc.problems))
        return TemplatePreview(rendered.subject, rendered.text, rendered.html)

    # --- the page's own keys ----------------------------------------------------------
    @property
    def install_id(self) -> str:
        """This install's random id (names the page's cookie: cookies are shared across localhost ports)."""
        return self.ctx.install_id

    def page_secret_key(self) -> bytes:
        """The page's session-signing key: random per install, kept in the store, never a constant."""
        from mailroom.context import meta_value

        return bytes.fromhex(meta_value(self.ctx.engine, "page_secret_key", lambda: pysecrets.token_hex(32)))

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

    def _forget_password(self, mailbox_id: int) -> None:
        try:
            self.clear_password(mailbox_id)
        except MailroomError as exc:
            log.warning("the password of a removed mailbox could not be removed from the keyring: %s", exc.message)

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
        """Connect, log in and list with settings that need not be saved yet.

        Without `password`, the saved password of the mailbox `key` (the description it
        is saved under, which the form may be renaming) or of the entry's description is
        used. Errors name the field to fix.
        """
        from mailroom.checks import probe_mailbox

        box = _entry_for_check("mailboxes", entry)
        if not password:
            saved_as = key or box.get("description")
            mailbox_id = self._mailbox_id(saved_as) if saved_as else None
            if mailbox_id is None:
                raise ConfigError("Enter the password to test this email box.", field="password")
            password = self.ctx.secrets.require(self._account(mailbox_id), f'mailbox "{box["description"]}"')
        return probe_mailbox(self.ctx, box, password)

    def send_test_email(self, to: str | None = None) -> CheckResult:
        """Send the *Send Test Email* message through the saved outgoing account."""
        from mailroom.checks import send_test_email

        return send_test_email(self.ctx, to)


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
                     choices=tuple(f.choices), ref=f.ref)


_SECTION_SPECS = tuple(SectionSpec(name=s.name, help=s.help, single=s.single, key=s.key,
                                   fields=tuple(_field_spec(f) for f in s.fields)) for s in SECTIONS)


def _singular(section: str) -> str:
    words = {"mailboxes": "mailbox", "task_statuses": "task status", "task_types": "task type",
             "departments": "department", "users": "user", "templates": "template"}
    return words.get(section, section)


def _rename_references(doc: Document, section: str, old: str, new: str) -> None:
    """Settings refer to entries by name: a rename follows everywhere it is used."""
    for other in SECTION.values():
        for f in other.fields:
            if f.ref != section:
                continue
            entries = [doc[other.name]] if other.single else doc[other.name]
            for entry in entries:
                if entry.get(f.name) == old:
                    entry[f.name] = new


def _run_record(row, description: str) -> RunRecord:
    counts = RunCounts(**{k: row[k] or 0 for k in ("listed", "new", "imported", "duplicates",
                                                  "skipped_before_cutoff", "quarantined", "too_large", "deleted")})
    return RunRecord(id=row["id"], mailbox_id=row["mailbox_id"], mailbox=description, started_at=row["started_at"],
                     ended_at=row["ended_at"], counts=counts, error_kind=row["error_kind"], error=row["error"])


__all__ = ["Controller", "Problem", "utcnow"]
