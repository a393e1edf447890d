"""`mailroom fetch`: mailboxes checked now, once (`mailroom run` is mailroom/app.py).

Part of the command line (mailroom/cli.py has the parser). `fetch` stops between
messages on the first Ctrl-C or SIGTERM and still reports what it imported; it says
which auto-replies wait and why.
"""

from __future__ import annotations

import json
import signal
import threading

from mailroom.cli import command, open_controller, with_fix, with_password_hint
from mailroom.errors import MailroomError

class _Interrupt:
    """SIGINT/SIGTERM during a fetch: the first stops it between messages (the session
    QUITs, what was imported is reported); a second one stops at once."""

    def __init__(self):
        self.stop = threading.Event()
        self.signum: int | None = None

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, _frame) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.signum = signum
        self.stop.set()

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    @property
    def exit_status(self) -> int:
        return 128 + (self.signum or 0)  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them


def cmd_fetch(args) -> int:
    ctl = open_controller(args)
    boxes = [ctl.mailbox(args.mailbox)] if args.mailbox else ctl.mailboxes(enabled_only=True)
    reports = []
    drained = None
    with _Interrupt() as interrupt:
        for box in boxes:
            if interrupt.stop.is_set():
                break
            try:
                report = ctl.run_mailbox(box.id, stop=interrupt.stop)
                reports.append({**report.as_dict(), "error": report.error and with_fix(report.error, report.error_fix)})
            except MailroomError as exc:
                if exc.kind != "busy":
                    raise
                reports.append({"mailbox": box.description, "error_kind": exc.kind, "error": exc.message})
        if not interrupt.stop.is_set():  # stopped: the replies wait for the next run, not hold up the stop
            drained = ctl.send_replies()
    for r in reports:
        if r.get("error_kind") == "auth":
            r["error"] = with_password_hint(MailroomError(r["error"], kind="auth", field="password"), r["mailbox"])
    if args.json:
        print(json.dumps({"mailboxes": reports, "sent": drained.sent if drained else 0,
                          "send_failed": drained.failed if drained else 0,
                          "send_waiting": drained.waiting if drained else 0,
                          "send_error": with_fix(drained.error, drained.fix) if drained and drained.error else None,
                          "interrupted": interrupt.signum is not None}))
    else:
        _print_fetch(ctl, boxes, reports, drained)
    if interrupt.signum is not None:
        return interrupt.exit_status
    unsent = drained.failed or drained.waiting or drained.error
    return 1 if unsent or any(r.get("error") for r in reports) else 0


def _print_fetch(ctl, boxes, reports: list[dict], drained) -> None:
    if not boxes:
        print("No mailbox is enabled. Add one to a settings file and import it; see: "
              + command("config", "import", "--help"))
    for r in reports:
        if r.get("error"):
            print(f"{r['mailbox']}: {r['error']}")
        else:
            print(f"{r['mailbox']}: {r['imported']} imported, {r['duplicates']} duplicates, "
                  f"{r['skipped_before_cutoff']} skipped (before cutoff), {r['quarantined']} quarantined, "
                  f"{r['too_large']} too large (left on the server), "
                  f"{r['deleted']} deleted from the server ({r['listed']} listed, {r['new']} new).")
    if drained is None:
        print("Interrupted: stopped after the message being imported; the rest, and the auto-replies, "
              "come with the next fetch.")
    else:
        print(f"Auto-replies: {drained.sent} sent, {drained.failed} failed"
              + (f", {drained.waiting} waiting." if drained.waiting else "."))
        if drained.error:
            print(f"Auto-replies could not be sent: {with_fix(drained.error, drained.fix)} They wait and are "
                  "sent by the next fetch that reaches the server.")
    outbox = ctl.stats().outbox
    counted = drained.waiting if drained else 0
    parts = []
    if outbox.pending > counted:
        parts.append(f"{outbox.pending - counted} {'more ' if counted else ''}waiting to be sent")
    if outbox.uncertain:
        parts.append(f"{outbox.uncertain} uncertain (interrupted while sending; not resent, check with "
                     "the client)")
    if parts:
        print(f"Outbox: {', '.join(parts)}.")
