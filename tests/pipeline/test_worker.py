"""The worker thread: schedule, check-now, pause, back-off, graceful stop."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from mailroom.fetch import MailboxRun
from mailroom.store import schema as s
from mailroom.worker import Worker, backoff
from tests.mailgen import make_message
from tests.helpers import wait_until

FIVE = dt.timedelta(minutes=5)


@pytest.mark.parametrize("failures,wait", [
    (0, FIVE), (1, FIVE), (2, 2 * FIVE), (3, 4 * FIVE), (4, 8 * FIVE), (5, dt.timedelta(hours=1)),
    (40, dt.timedelta(hours=1)),
])
def test_backoff_doubles_and_is_capped(failures, wait):
    assert backoff(FIVE, failures) == wait


def stored(ctx) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(s.messages)).scalar()


def state(worker, box) -> str | None:
    live = worker.status.snapshot().get(box.id)
    return live.state if live else None


def test_runs_due_mailboxes_then_waits_for_the_schedule(ctx, configure, mailbox_user):
    box = configure(poll_minutes=60)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(3))
    updates = []
    worker = Worker(ctx)
    worker.status.subscribe(lambda snapshot: updates.append(snapshot[box.id].state))
    worker.start()
    try:
        wait_until(lambda: state(worker, box) == "waiting")
        status = worker.status.snapshot()[box.id]
        assert status.last_report.imported == 3 and status.failures == 0 and status.description == "Studio"
        assert status.next_run_at - status.last_run_at >= dt.timedelta(minutes=59)
        mailbox_user.deliver(make_message(10, to=mailbox_user.address))
        assert worker.next_round()
        assert state(worker, box) == "waiting" and stored(ctx) == 3      # not due for an hour
        worker.check_now(box.id)
        wait_until(lambda: stored(ctx) == 4)
    finally:
        worker.stop()
    assert not worker.is_alive()
    assert updates[:2] == ["running", "waiting"]


def test_paused_runs_nothing_until_checked_or_resumed(ctx, configure, mailbox_user):
    box = configure()
    mailbox_user.deliver(make_message(1, to=mailbox_user.address))
    worker = Worker(ctx)
    paused_seen = []
    worker.status.subscribe(lambda _snapshot: paused_seen.append(worker.status.paused))
    worker.pause()
    assert paused_seen == [True]                                 # announced to subscribers
    worker.start()
    try:
        assert worker.next_round()
        assert state(worker, box) is None and stored(ctx) == 0   # the round looked, and started nothing
        worker.check_now()
        wait_until(lambda: state(worker, box) == "waiting")
        assert stored(ctx) == 1
        mailbox_user.deliver(make_message(2, to=mailbox_user.address))
        worker.resume()
        assert paused_seen[-1] is False
        assert worker.next_round()
        assert state(worker, box) == "waiting" and stored(ctx) == 1  # resumed, but not due for 5 minutes
    finally:
        worker.stop()


def test_a_failing_mailbox_backs_off_and_reports_the_error(ctx, configure):
    box = configure(password="wrong")
    worker = Worker(ctx)
    worker.start()
    try:
        wait_until(lambda: state(worker, box) == "error")
        status = worker.status.snapshot()[box.id]
        assert status.failures == 1 and status.last_report.error_kind == "auth"
        worker.check_now(box.id)
        wait_until(lambda: worker.status.snapshot()[box.id].failures == 2)
        status = worker.status.snapshot()[box.id]
        assert status.next_run_at - status.last_run_at >= dt.timedelta(minutes=10) - dt.timedelta(seconds=1)
    finally:
        worker.stop()


def test_stop_ends_a_run_between_messages_and_nothing_is_lost(ctx, configure, mailbox_user):
    box = configure(leave_on_server=False)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(400))
    stop = threading.Event()
    run = MailboxRun(ctx, box, stop=stop)
    original = run._commit

    def commit_then_stop(batch):
        numbers = original(batch)
        stop.set()                                               # as Worker.stop() would, mid-run
        return numbers

    run._commit = commit_then_stop
    report = run.run()
    assert report.error is None and 0 < report.imported < 400
    assert report.deleted == report.imported                     # the session QUIT cleanly
    assert mailbox_user.message_count() == 400 - report.imported
    rest = MailboxRun(ctx, box).run()
    assert report.imported + rest.imported == 400 and stored(ctx) == 400


def test_an_unexpected_failure_backs_off_instead_of_spinning(ctx, configure, monkeypatch):
    import mailroom.worker

    box = configure()
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("bug")

    monkeypatch.setattr(mailroom.worker, "run_locked", broken)
    worker = Worker(ctx)
    worker.start()
    try:
        wait_until(lambda: state(worker, box) == "error")
        assert worker.next_round() and worker.next_round()      # rounds after the failure ...
        assert state(worker, box) == "error"                    # ... started no run
    finally:
        worker.stop()
    assert len(calls) == 1
    assert worker.status.snapshot()[box.id].last_report.error_kind == "internal"


def test_a_trickling_mailbox_never_stalls_the_others_or_the_outbox(ctx, mailbox_user, smtp, certs):
    """"Slow" (checked first) trickles its RETR; "Studio" on Dovecot imports and its auto-reply
    goes out while Slow's run is still stuck, and check-now never starts a second Slow run."""
    from mailroom.outbox import drain
    from mailroom.secrets import mailbox_account, outgoing_account
    from mailroom.settings import repo
    from mailroom.settings.document import validate
    from tests.helpers import mailbox, outgoing, settings
    from tests.pipeline.test_autoreply import THANKS, inquiry
    from tests.servers.scripted import ScriptedPop3

    slow_server = ScriptedPop3([make_message(i) for i in range(3)], trickle={"RETR": 0.2}).start()
    try:
        doc = settings(
            mailboxes=[mailbox("Slow", port=slow_server.port, user=slow_server.user, email="slow@localhost",
                               security="none"),
                       mailbox("Studio", port=mailbox_user.dovecot.pop3s_port, user=mailbox_user.name,
                               email=mailbox_user.address, ca_file=certs.ca_crt, autoreply=True,
                               autoreply_template="Thanks")],
            outgoing=outgoing(smtp, ca_file=certs.ca_crt), templates=[THANKS])
        repo.save(ctx.engine, validate(doc)[0])
        slow, studio = ctx.mailbox("Slow"), ctx.mailbox("Studio")
        ctx.secrets.set(mailbox_account(slow.id), slow_server.password)
        ctx.secrets.set(mailbox_account(studio.id), mailbox_user.password)
        ctx.secrets.set(outgoing_account(), "studiopw")
        mailbox_user.deliver_many(inquiry(i, mailbox_user) for i in range(3))
        ctx.timeout = 120                      # Slow's deadline is far away: it stays stuck
        worker = Worker(ctx, after_runs=lambda: drain(ctx))
        worker.start()
        try:
            wait_until(lambda: any("RETR 1" in session for session in slow_server.sessions))
            wait_until(lambda: stored(ctx) == 3)                          # Studio imported ...
            smtp.capture.wait_for(3)                                      # ... and replied
            assert worker.status.snapshot()[slow.id].state == "running"    # while Slow is stuck
            worker.check_now(slow.id)
            worker.check_now(studio.id)
            wait_until(lambda: worker.status.snapshot()[studio.id].last_run_at is not None and
                       len(mailbox_user.pop3_logouts()) >= 2)             # the round that saw both passed
            assert len(slow_server.sessions) == 1                          # one run per mailbox at a time
            assert worker.status.snapshot()[slow.id].state == "running"
        finally:
            slow_server.stop()                 # Slow's run ends (connection lost) ...
            wait_until(lambda: worker.status.snapshot()[slow.id].failures >= 2)   # ... and the check-now ran it again
            worker.stop()
        assert not worker.is_alive()
    finally:
        slow_server.stop()
