"""Desktop notifications from the tray in a child process with no quiet start (the real app,
quiet for its first 15 s, is tested in test_app_tray.py): a real Controller on Dovecot,
desktop-notifier on a private D-Bus, and a notification server that records each Notify."""

from __future__ import annotations

import sqlalchemy as sa

from mailroom.store import schema as s
from tests.helpers import wait_until


def finished_runs(ctx, mailbox_id: int) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(s.runs).where(
            s.runs.c.mailbox_id == mailbox_id, s.runs.c.ended_at.is_not(None))).scalar()


def test_a_wrong_password_is_told_once_and_its_repair_once(ctx, configure, mailbox_user, tray_process,
                                                           notifications):
    box = configure(password="wrong", poll_minutes=60)
    tray = tray_process("--quiet", "0")
    error = wait_until(notifications.snapshot, what="the error notification")[0]
    assert error.summary == "Studio: login rejected" and "password" in error.body.lower()
    tray.send("check")
    wait_until(lambda: finished_runs(ctx, box.id) == 2, what="the second failing run")
    tray.send(f"password {box.id} {mailbox_user.password}")
    tray.send("check")
    shown = wait_until(lambda: (n := notifications.snapshot()) and len(n) >= 2 and n, what="working again")
    assert [n.summary for n in shown] == ["Studio: login rejected", "Studio: working again"]
    assert shown[0].closed                                           # replaced, not stacked
    notifications.invoke(error.id)                                   # already closed: nothing happens
    notifications.invoke(shown[1].id)
    wait_until(lambda: tray.opened(), what="the page to open")
    assert tray.opened() == [None]
