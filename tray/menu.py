"""The tray menu and tooltip as plain data: (Status, clock, autostart) → MenuItem tuple.

PURE: no pystray, no controller calls, no clock of its own. tray/app.py turns the
items into pystray's, and carries out each item's `Action` through the controller;
tests read the items as a table. The words for a mailbox's state live here too, so
the menu, the tooltip and the notifications say the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailroom.model import MailboxState, Status

PAUSES = (("30 minutes", 30), ("1 hour", 60), ("4 hours", 240), ("Until resumed", None))

# One word group per error kind (mailroom.errors kinds and diagnose.py's): what a
# person sees in the menu and in a problem notification.
PROBLEMS = {
    "auth": ("login", "login rejected"),
    "keyring": ("login", "password not available"),
    "dns": ("unreachable", "server not found"),
    "connect": ("unreachable", "server unreachable"),
    "timeout": ("unreachable", "server not answering"),
    "certificate": ("certificate", "certificate not trusted"),
    "tls": ("security", "secure connection failed"),
    "starttls": ("security", "secure connection refused"),
    "uidl": ("server", "server not supported"),
    "protocol": ("server", "unexpected server reply"),
    "storage": ("storage", "cannot save mail"),
    "config": ("settings", "settings incomplete"),
}


def problem(kind: str | None) -> tuple[str, str]:
    """(group, words) for an error kind: the group decides "the same problem"."""
    return PROBLEMS.get(kind or "", ("other", "error"))


@dataclass(frozen=True)
class Action:
    """What an item does: open [path], check, pause [minutes], resume, autostart, folder, quit."""

    name: str
    arg: str | int | None = None


@dataclass(frozen=True)
class MenuItem:
    text: str
    action: Action | None = None
    enabled: bool = True
    checked: bool | None = None          # None: not a check item
    default: bool = False                # the left click
    submenu: tuple["MenuItem", ...] = ()

    @property
    def separator(self) -> bool:
        return self.text == "-"


SEPARATOR = MenuItem("-", enabled=False)


def ago(then: dt.datetime, now: dt.datetime) -> str:
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"on {then.day} {then:%b}"


def mailbox_line(box: MailboxState, now: dt.datetime) -> str:
    """ "Sales — checked 3 min ago", "Sales — login rejected", "Sales — checking…" """
    if not box.enabled:
        words = "turned off"
    elif box.state == "checking":
        words = "checking…"
    elif box.state == "busy":
        words = "being checked by another Mailroom"
    elif box.error_kind:
        words = problem(box.error_kind)[1]
    elif box.state == "paused":
        words = "paused"
    elif box.last_run_at is not None:
        words = f"checked {ago(box.last_run_at, now)}"
    else:
        words = "not checked yet"
    return f"{box.description} — {words}"


def outbox_line(status: Status) -> str | None:
    if status.outbox_error:
        waiting = status.outbox.pending
        return f"Auto-replies — {waiting} waiting: cannot send" if waiting else "Auto-replies — cannot send"
    if status.outbox.problems:
        return f"Auto-replies — {status.outbox.problems} not sent"
    return None


def until_words(until: dt.datetime, now: dt.datetime, tz: dt.tzinfo | None) -> str:
    local = until.astimezone(tz)
    return f"{local:%H:%M}" if until - now < dt.timedelta(hours=20) else f"{local:%a %H:%M}"


def build_menu(status: Status, now: dt.datetime, *, autostart_on: bool,
               tz: dt.tzinfo | None = None) -> tuple[MenuItem, ...]:
    """The whole menu for this snapshot; `tz` is the local zone for "paused until 14:30"."""
    enabled_boxes = [b for b in status.mailboxes if b.enabled]
    opened = "Open Mailroom" + (f" ({status.unread} new)" if status.unread else "")
    items = [MenuItem(opened, Action("open"), default=True),
             MenuItem("Check now", Action("check"), enabled=bool(enabled_boxes))]
    if status.paused:
        until = f" (paused until {until_words(status.paused_until, now, tz)})" if status.paused_until else " (paused)"
        items.append(MenuItem("Resume" + until, Action("resume")))
    else:
        items.append(MenuItem("Pause", submenu=tuple(MenuItem(text, Action("pause", minutes))
                                                     for text, minutes in PAUSES)))
    items.append(SEPARATOR)
    if not status.mailboxes:
        items.append(MenuItem("No mailboxes yet", enabled=False))
    for box in status.mailboxes:
        # A mailbox in trouble opens its settings (where the notification leads too).
        troubled = box.enabled and bool(box.error_kind) and box.state != "checking"
        items.append(MenuItem(mailbox_line(box, now), Action("open", f"/mailboxes/{box.id}") if troubled else None,
                              enabled=troubled))
    line = outbox_line(status)
    if line:
        items.append(MenuItem(line, Action("open", None)))
    items += [SEPARATOR,
              MenuItem("Start at login", Action("autostart"), checked=autostart_on),
              MenuItem("Open data folder", Action("folder")),
              SEPARATOR,
              MenuItem("Quit", Action("quit"))]
    return tuple(items)


def tooltip(status: Status, now: dt.datetime, *, limit: int | None = None) -> str:
    """ "Mailroom" and one line per mailbox (Windows keeps 127 characters: pass `limit`)."""
    lines = ["Mailroom" + (f" — {status.unread} new" if status.unread else "")
             + (" — paused" if status.paused else "")]
    lines += [mailbox_line(b, now) for b in status.mailboxes]
    line = outbox_line(status)
    if line:
        lines.append(line)
    text = "\n".join(lines)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
