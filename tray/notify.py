"""When to notify, and what to say: (Memory, Status, now) → (Memory, Notices). PURE.

The rules (Mailnag's and Syncthing Tray's, see issue 13):
- New mail is ONE summary per run, never one per message: "3 new emails" naming the
  senders; a later summary replaces the earlier one (same `key`), it does not stack.
- Each run is announced once (`MailboxState.run_seq`); what was imported before the
  tray started is never announced, nor are runs that end in the quiet period after
  start (a catch-up burst at login is noise).
- Problems: one notice per kind of problem per mailbox (and one for the outbox), not
  repeated while the same problem persists; one "working again" when it clears. A
  problem that begins during the quiet period is told once the period is over.
- `notify_new_mail=False` (the company setting) silences new mail, never problems.

No clock, no I/O, no GUI: the tray's thread calls `decide` and hands the notices to
a sender (tray/sender.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mailroom.model import MailboxState, Status
from tray.menu import problem

SHOWN_SENDERS = 3
QUIET = dt.timedelta(seconds=15)
OUTBOX = "outbox"


@dataclass(frozen=True)
class Notice:
    """One notification. `key` is its slot: a notice replaces the shown one with its key.

    `path` is where a click leads on the local page (None: the dashboard).
    """

    key: str
    title: str
    body: str
    path: str | None = None
    problem: bool = False


@dataclass(frozen=True)
class Memory:
    """What has been announced. Treat as immutable: `decide` returns a new one."""

    started: dt.datetime
    runs: dict[int, int] = field(default_factory=dict)          # mailbox id → last run_seq seen
    problems: dict[str, str] = field(default_factory=dict)      # slot → problem group announced
    outbox_failed: int = 0


def start(status: Status, now: dt.datetime) -> Memory:
    """The memory at start-up: everything in `status` counts as already seen."""
    return Memory(started=now, runs={b.id: b.run_seq for b in status.mailboxes},
                  outbox_failed=status.outbox.problems)


def decide(memory: Memory, status: Status, now: dt.datetime, *, notify_new_mail: bool = True,
           quiet: dt.timedelta = QUIET) -> tuple[Memory, tuple[Notice, ...]]:
    quiet_now = now < memory.started + quiet
    notices: list[Notice] = []

    runs, fresh = {}, []
    for box in status.mailboxes:
        seen = memory.runs.get(box.id, 0)             # a mailbox added later: all its runs are new
        runs[box.id] = max(seen, box.run_seq)
        if box.run_seq > seen and box.counts is not None and box.counts.imported and not box.error_kind:
            fresh.append(box)
    if fresh and notify_new_mail and not quiet_now:
        notices.append(new_mail_notice(fresh, status.unread))

    problems = dict(memory.problems)
    current = {f"mailbox:{b.id}": b for b in status.mailboxes if b.enabled and b.error_kind}
    for box in status.mailboxes:
        slot = f"mailbox:{box.id}"
        if slot in current:
            group, words = problem(box.error_kind)
            if problems.get(slot) != group and not quiet_now:
                problems[slot] = group
                notices.append(Notice(slot, f"{box.description}: {words}", box.error or words.capitalize() + ".",
                                      path=f"/mailboxes/{box.id}", problem=True))
        elif slot in problems:
            del problems[slot]
            if box.enabled:
                notices.append(Notice(slot, f"{box.description}: working again",
                                      "Mail is being checked again.", problem=True))
    known = {f"mailbox:{b.id}" for b in status.mailboxes}
    for slot in [s for s in problems if s.startswith("mailbox:") and s not in known]:
        del problems[slot]                              # the mailbox was removed: nothing to say

    if status.outbox_error:
        if problems.get(OUTBOX) != OUTBOX and not quiet_now:
            problems[OUTBOX] = OUTBOX
            notices.append(Notice(OUTBOX, "Auto-replies cannot be sent", status.outbox_error, problem=True))
    elif OUTBOX in problems:
        del problems[OUTBOX]
        notices.append(Notice(OUTBOX, "Auto-replies are being sent again", "The outgoing server works again.",
                              problem=True))

    failed = status.outbox.problems
    if failed > memory.outbox_failed and not quiet_now:
        more = failed - memory.outbox_failed
        notices.append(Notice("outbox-failed", f"{more} auto-repl{'y' if more == 1 else 'ies'} not sent",
                              "The outgoing server refused them, or a send was interrupted. See Mailroom's page.",
                              problem=True))
    outbox_failed = failed if not quiet_now or failed < memory.outbox_failed else memory.outbox_failed

    return Memory(memory.started, runs, problems, outbox_failed), tuple(notices)


def new_mail_notice(boxes: list[MailboxState], unread: int) -> Notice:
    """ "3 new emails" — one line per sender and subject, the newest first, at most three."""
    imported = sum(b.counts.imported for b in boxes)
    messages = [m for b in boxes for m in b.new_messages]
    count = max(unread, imported)
    title = f"{count} new email{'s' if count != 1 else ''}"
    lines = [f"{m.sender}: {m.subject or '(no subject)'}" for m in messages[:SHOWN_SENDERS]]
    rest = count - len(lines)
    if rest > 0:
        lines.append(f"…and {rest} more")
    # A click opens the dashboard, where each mailbox shows what its last check imported
    # (the page has no page per client yet to lead to).
    return Notice("new-mail", title, "\n".join(lines))
