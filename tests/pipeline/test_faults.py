"""What a real server will not do on demand: a cut mid-RETR, new UIDs for old mail, a bad message."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailroom import importer
from mailroom.fetch import MailboxRun
from mailroom.store import schema as s
from tests.mailgen import make_message
from tests.servers.scripted import ScriptedPop3


def stored(ctx) -> list[str]:
    with ctx.engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(s.messages.c.message_id).order_by(s.messages.c.id))]


def scripted_box(configure, server: ScriptedPop3, **fields) -> dict:
    return configure(host="127.0.0.1", port=server.port, security="none", user=server.user,
                     email="studio@localhost", ca_file=None, password=server.password, **fields)


def test_a_connection_cut_mid_retr_leaves_no_partial_message(ctx, configure):
    messages = [make_message(i) for i in range(5)]
    with ScriptedPop3(messages, cut_retr_at=300) as server:
        box = scripted_box(configure, server)
        cut = MailboxRun(ctx, box).run()
        assert cut.error_kind == "connect" and cut.imported == 0
        assert stored(ctx) == []
        server.cut_retr_at = None
        done = MailboxRun(ctx, box).run()
    assert (done.error, done.imported) == (None, 5)
    assert len(stored(ctx)) == len(set(stored(ctx))) == 5


def test_mail_served_again_under_new_uids_is_a_duplicate(ctx, configure):
    messages = [make_message(i) for i in range(8)]
    with ScriptedPop3(messages, uidls=[f"old-{i}" for i in range(8)]) as server:
        box = scripted_box(configure, server)
        assert MailboxRun(ctx, box).run().imported == 8
        # a rebuilt server index (or Gmail's "recent" mode) lists the same mail under new UIDs
        server.mailbox = [(f"new-{i}", raw) for i, (_uid, raw) in enumerate(server.mailbox)]
        again = MailboxRun(ctx, box).run()
    assert (again.new, again.imported, again.duplicates) == (8, 0, 8)
    assert len(stored(ctx)) == 8


def test_a_message_the_store_rejects_is_quarantined_and_the_run_goes_on(ctx, configure, monkeypatch):
    real = importer.Importer._import

    def fragile(self, conn, msg):
        if msg.subject.endswith("(3)"):
            raise ValueError("simulated storage fault")
        return real(self, conn, msg)

    monkeypatch.setattr(importer.Importer, "_import", fragile)
    with ScriptedPop3([make_message(i) for i in range(6)]) as server:
        box = scripted_box(configure, server)
        report = MailboxRun(ctx, box).run()
        assert (report.imported, report.quarantined, report.error) == (5, 1, None)
        with ctx.engine.connect() as conn:
            reason, sha = conn.execute(sa.select(s.quarantine.c.reason, s.quarantine.c.raw_sha256)).one()
        assert "simulated storage fault" in reason
        again = MailboxRun(ctx, box).run()                 # not retried forever
    assert (again.new, again.imported, again.quarantined) == (0, 0, 0)
    from mailroom import paths
    from mailroom.store.raw import RawStore

    assert RawStore(paths.raw_dir()).get(sha).startswith(b"From:")   # the raw message is kept


def test_gmail_listing_only_part_of_the_mailbox_per_session_is_fetched_in_one_run(ctx, configure):
    with ScriptedPop3([make_message(i) for i in range(23)], gmail_window=5) as server:
        box = scripted_box(configure, server)
        report = MailboxRun(ctx, box).run()
        assert (report.error, report.imported) == (None, 23)
        assert len(server.sessions) == 6                  # 5 windows of messages, then one that finds none
        again = MailboxRun(ctx, box).run()
    assert (again.listed, again.imported) == (0, 0)


def test_a_server_that_stops_answering_mid_session_is_a_timeout(ctx, configure):
    with ScriptedPop3([make_message(i) for i in range(3)], overrides={"UIDL": b""}) as server:
        box = scripted_box(configure, server)
        ctx.timeout = 1
        report = MailboxRun(ctx, box).run()
    assert report.error_kind == "timeout" and report.imported == 0


def test_a_full_disk_stops_the_run_with_a_clear_error_and_loses_nothing(ctx, configure, monkeypatch):
    import errno

    from mailroom.store.raw import RawStore

    real_put = RawStore.put

    def full(self, sha256, raw, *, durable=False):
        raise OSError(errno.ENOSPC, "No space left on device")

    with ScriptedPop3([make_message(i) for i in range(4)]) as server:
        box = scripted_box(configure, server, leave_on_server=False)
        monkeypatch.setattr(RawStore, "put", full)
        report = MailboxRun(ctx, box).run()
        assert report.error_kind == "storage" and "Free disk space" in report.error
        assert "No space left on device" in report.error
        assert (report.imported, report.deleted, len(server.mailbox)) == (0, 0, 4)
        assert stored(ctx) == []
        monkeypatch.setattr(RawStore, "put", real_put)
        again = MailboxRun(ctx, box).run()
        assert (again.imported, again.deleted, len(server.mailbox)) == (4, 4, 0)


@pytest.mark.parametrize("large", [False, True], ids=["read in memory", "streamed to a spool file"])
def test_a_message_the_parser_fails_on_is_quarantined_whole_and_the_run_goes_on(ctx, configure, monkeypatch,
                                                                                 large):
    from mailroom import paths
    from mailroom.mail import parse, stream
    from mailroom.store.raw import RawStore

    # The parsers never raise on bad mail by design; a bug that makes one raise anyway
    # must cost that message, not the mailbox.
    target, name = (stream, "parse_file") if large else (parse, "parse_message")
    real = getattr(target, name)

    def buggy(*args, **kwargs):
        msg = real(*args, **kwargs)
        if msg.subject.endswith("(1)"):
            raise RecursionError("simulated parser bug")
        return msg

    monkeypatch.setattr(target, name, buggy)
    messages = [make_message(i, attachment_kb=stream.LARGE // 1024 + 64 if large else 0) for i in range(3)]
    with ScriptedPop3(messages) as server:
        box = scripted_box(configure, server)
        report = MailboxRun(ctx, box).run()
        assert (report.error, report.imported, report.quarantined) == (None, 2, 1)
        with ctx.engine.connect() as conn:
            reason, sha = conn.execute(sa.select(s.quarantine.c.reason, s.quarantine.c.raw_sha256)).one()
        assert reason == "parser failure: RecursionError: simulated parser bug"
        assert RawStore(paths.raw_dir()).get(sha) == messages[1]
        again = MailboxRun(ctx, box).run()
    assert (again.new, again.imported, again.quarantined) == (0, 0, 0)
