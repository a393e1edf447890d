"""The menu and tooltip as data: a snapshot and a clock in, items out."""

from __future__ import annotations

import datetime as dt

import pytest

from mailroom.model import MailboxState, OutboxCounts, Status
from tray.menu import Action, ago, build_menu, tooltip

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.timezone.utc)


def box(id=3, name="Sales", **fields) -> MailboxState:
    fields.setdefault("state", "waiting")
    return MailboxState(id=id, description=name, enabled=fields.pop("enabled", True), **fields)


def snap(*boxes, paused=False, until=None, unread=0, outbox=OutboxCounts(), outbox_error=None) -> Status:
    return Status(paused=paused, paused_until=until, mailboxes=boxes, outbox=outbox, quarantined=0,
                  unread=unread, outbox_error=outbox_error)


def texts(items) -> list[str]:
    return [i.text for i in items]


def test_the_whole_menu_of_a_quiet_day():
    items = build_menu(snap(box(last_run_at=NOW - dt.timedelta(minutes=3))), NOW, autostart_on=True)
    assert texts(items) == ["Open Mailroom", "Check now", "Pause", "-", "Sales — checked 3 min ago", "-",
                            "Start at login", "Open data folder", "-", "Quit"]
    first = items[0]
    assert first.default and first.action == Action("open")
    assert [i for i in items if i.default] == [first]
    pause = items[2]
    assert [(i.text, i.action) for i in pause.submenu] == [
        ("30 minutes", Action("pause", 30)), ("1 hour", Action("pause", 60)), ("4 hours", Action("pause", 240)),
        ("Until resumed", Action("pause", None))]
    line = items[4]
    assert not line.enabled and line.action is None
    assert items[6].checked is True and items[6].action == Action("autostart")
    assert items[7].action == Action("folder") and items[9].action == Action("quit")


@pytest.mark.parametrize("mailbox, line, opens", [
    (box(state="checking"), "Sales — checking…", None),
    (box(state="error", error_kind="auth", error="The server rejected the password."), "Sales — login rejected",
     Action("open", "/mailboxes/3")),
    (box(state="error", error_kind="connect"), "Sales — server unreachable", Action("open", "/mailboxes/3")),
    (box(state="error", error_kind="certificate"), "Sales — certificate not trusted", Action("open", "/mailboxes/3")),
    (box(state="error", error_kind="internal"), "Sales — error", Action("open", "/mailboxes/3")),
    (box(state="busy"), "Sales — being checked by another Mailroom", None),
    (box(state="disabled", enabled=False), "Sales — turned off", None),
    (box(), "Sales — not checked yet", None),
    (box(last_run_at=NOW - dt.timedelta(seconds=20)), "Sales — checked just now", None),
    (box(last_run_at=NOW - dt.timedelta(hours=5)), "Sales — checked 5 h ago", None),
])
def test_one_status_line_per_mailbox_in_words(mailbox, line, opens):
    item = build_menu(snap(mailbox), NOW, autostart_on=False)[4]
    assert item.text == line
    assert item.action == opens and item.enabled == (opens is not None)   # a problem leads to its settings


def test_paused_offers_resume_with_the_end_time():
    until = NOW + dt.timedelta(minutes=30)
    items = build_menu(snap(box(state="paused"), paused=True, until=until), NOW, autostart_on=False,
                       tz=dt.timezone.utc)
    assert "Pause" not in texts(items)
    assert items[2].text == "Resume (paused until 10:30)" and items[2].action == Action("resume")
    assert build_menu(snap(box(state="paused"), paused=True), NOW, autostart_on=False)[2].text == "Resume (paused)"


def test_unread_mail_outbox_trouble_and_no_mailboxes():
    items = build_menu(snap(unread=4, outbox=OutboxCounts(failed=2)), NOW, autostart_on=False)
    assert texts(items)[:5] == ["Open Mailroom (4 new)", "Check now", "Pause", "-", "No mailboxes yet"]
    assert not items[1].enabled                                      # nothing to check
    assert items[5].text == "Auto-replies — 2 not sent" and items[5].action == Action("open", None)
    assert items[7].checked is False
    waiting = build_menu(snap(outbox=OutboxCounts(pending=3), outbox_error="Login refused."), NOW, autostart_on=False)
    assert "Auto-replies — 3 waiting: cannot send" in texts(waiting)


def test_tooltip_has_one_line_per_mailbox_and_fits_windows():
    status = snap(box(last_run_at=NOW - dt.timedelta(minutes=3)), box(4, "Weddings", state="error", error_kind="auth"),
                  unread=2)
    assert tooltip(status, NOW) == "Mailroom — 2 new\nSales — checked 3 min ago\nWeddings — login rejected"
    many = snap(*(box(i, f"Mailbox number {i}") for i in range(20)))
    short = tooltip(many, NOW, limit=127)
    assert len(short) == 127 and short.endswith("…")


@pytest.mark.parametrize("seconds, words", [(0, "just now"), (59, "just now"), (60, "1 min ago"),
                                            (3599, "59 min ago"), (3600, "1 h ago"), (86400 * 2, "on 27 Nov")])
def test_ago(seconds, words):
    assert ago(NOW - dt.timedelta(seconds=seconds), NOW) == words
