"""Desktop notifications from the real tray process: a real Controller importing from Dovecot,
desktop-notifier on a private D-Bus, and a notification server that records each Notify and
can click one."""

from __future__ import annotations

import sqlalchemy as sa

from mailroom.store import schema as s
from mailroom.worker import run_locked
from tests.mailgen import make_message
from tests.tray.conftest import wait_until

SENDERS = ("Lena Fischer <lena@example.com>", "Tom Baker <tom@example.net>", "Ann Archer <ann@example.org>")


def finished_runs(ctx, mailbox_id: int) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(s.runs).where(
            s.runs.c.mailbox_id == mailbox_id, s.runs.c.ended_at.is_not(None))).scalar()


def test_three_new_messages_make_one_summary_naming_the_senders(ctx, configure, mailbox_user, tray_process,
                                                                  notifications):
    box = configure(poll_minutes=60)
    mailbox_user.deliver(make_message(0, to=mailbox_user.address, sender="Old Client <old@example.com>"))
    assert run_locked(ctx, box).imported == 1                      # imported before the tray started
    tray = tray_process("--quiet", "0")
    wait_until(lambda: finished_runs(ctx, box["id"]) == 2, what="the tray's first run")
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, sender=sender, subject=f"Subject {i}")
                              for i, sender in enumerate(SENDERS, 1))
    tray.send("check")
    shown = wait_until(notifications.snapshot, what="a notification")
    summary = shown[0]
    assert summary.summary == "3 new emails" and summary.app_name == "Mailroom"
    for i, name in enumerate(("Lena Fischer", "Tom Baker", "Ann Archer"), 1):
        assert f"{name}: Subject {i}" in summary.body
    assert "Old Client" not in summary.body                        # imported earlier: never announced
    assert "default" in summary.actions                            # clicking it does something
    notifications.invoke(summary.id)
    wait_until(lambda: tray.opened() == [None], what="the page to open")   # three clients: the dashboard
    assert len(notifications.snapshot()) == 1                       # one summary, not one per message


def test_a_wrong_password_is_told_once_and_its_repair_once(ctx, configure, mailbox_user, tray_process,
                                                           notifications):
    box = configure(password="wrong", poll_minutes=60)
    tray = tray_process("--quiet", "0")
    error = wait_until(notifications.snapshot, what="the error notification")[0]
    assert error.summary == "Studio: login rejected" and "password" in error.body.lower()
    tray.send("check")
    wait_until(lambda: finished_runs(ctx, box["id"]) == 2, what="the second failing run")
    tray.send(f"password {box['id']} {mailbox_user.password}")
    tray.send("check")
    shown = wait_until(lambda: (n := notifications.snapshot()) and len(n) >= 2 and n, what="working again")
    assert [n.summary for n in shown] == ["Studio: login rejected", "Studio: working again"]
    assert shown[0].closed                                           # replaced, not stacked
    notifications.invoke(error.id)                                   # already closed: nothing happens
    notifications.invoke(shown[1].id)
    wait_until(lambda: tray.opened(), what="the page to open")
    assert tray.opened() == [None]


def test_clicking_a_problem_opens_the_mailbox_settings(configure, tray_process, notifications):
    box = configure(password="wrong", poll_minutes=60)
    tray = tray_process("--quiet", "0")
    error = wait_until(notifications.snapshot, what="the error notification")[0]
    notifications.invoke(error.id)
    wait_until(lambda: tray.opened() == [f"/mailboxes/{box['id']}"], what="the mailbox's settings to open")
