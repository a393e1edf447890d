"""The full-text index: written in the import's own transaction, built by its migration for the
mail imported before, and replaced by LIKE where there is none."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from mailroom.context import Context
from mailroom.controller import Controller
from mailroom.fetch import MailboxRun
from mailroom.mail.parse import parse_message
from mailroom.store import db, records
from mailroom.store import schema as s
from tests.mailgen import make_message


def indexed(ctx) -> list[int]:
    """The ids of the messages in the index; the index checked against the messages first."""
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO message_search(message_search) VALUES ('integrity-check')")
        return sorted(r[0] for r in conn.exec_driver_sql("SELECT id FROM message_search_docsize"))


def test_each_import_is_indexed_in_its_own_transaction(ctx, configure, mailbox_user, monkeypatch):
    box = configure(create_tasks=True, task_type="Inquiry")
    real = records.insert_task

    def fragile(conn, **kwargs):             # fails after the message (and its index entry) were written
        if kwargs["title"].endswith("(2)"):
            raise ValueError("simulated failure after the message was written")
        return real(conn, **kwargs)

    monkeypatch.setattr(records, "insert_task", fragile)
    fresh = dt.datetime.now(dt.timezone.utc)          # new mail: a mailbox's old backlog opens no tasks
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, subject=f"Albums {i} ({i})", date=fresh,
                                           body=f"Prints in size {i}0x{i}5.") for i in (1, 2, 3))
    report = MailboxRun(ctx, box).run()
    assert (report.imported, report.quarantined) == (2, 1)
    with ctx.engine.connect() as conn:
        stored = sorted(r[0] for r in conn.execute(sa.select(s.messages.c.id)))
    assert indexed(ctx) == stored and len(stored) == 2       # nothing indexed for the message rolled back
    found = Controller(ctx).records.search("albums")
    assert sorted("".join(t for t, _ in hit.title) for hit in found.messages) == ["Albums 1 (1)", "Albums 3 (3)"]
    assert [hit.snippet for hit in Controller(ctx).records.search("30x35").messages] == [
        (("Prints in size ", False), ("30x35", True), (".", False))]


def test_the_migration_indexes_the_mail_imported_before_it(mailroom_home, in_process_keyring):
    engine = db.make_engine()
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002_fetch_limits")           # the revision before the index
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(s.mailboxes.insert().values(id=1, description="Old", host="h", port=995, security="ssl",
                                                 email="old@example.com", aliases=[], username="u"))
        for i in range(3):
            records.insert_message(conn, parse_message(make_message(i, subject=f"Portrait session {i}")),
                                   direction="in", mailbox_id=1, client_id=None, conversation_id=None,
                                   is_reply=False, client_ambiguous=False, now=now)
        for uid, state, reason in (("big", "too_large", "It is 60.0 MB, larger than allowed."),
                                   ("line", "quarantined", "A line longer than 1 MB. It was left on the server; "
                                                           "its headers are kept."),
                                   ("bad", "quarantined", "parser failure: RecursionError")):
            conn.execute(s.seen_uids.insert().values(mailbox_id=1, uid=uid, state=state, seen_at=now))
            conn.execute(sa.text("INSERT INTO quarantine (mailbox_id, uid, raw_sha256, reason, created_at) "
                                 "VALUES (1, :uid, NULL, :reason, :now)"),
                         {"uid": uid, "reason": reason, "now": now.replace(tzinfo=None)})
        assert not conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'message_search'").all()
    engine.dispose()
    ctx = Context.open()                                     # migrates to the head
    assert len(indexed(ctx)) == 3
    found = Controller(ctx).records.search("portrait")
    assert found.full_text and len(found.messages) == 3
    with ctx.engine.connect() as conn:
        flags = dict(conn.execute(sa.select(s.quarantine.c.uid, s.quarantine.c.headers_only)).all())
    assert flags == {"big": True, "line": True, "bad": False}


def test_without_the_index_messages_are_matched_with_like_and_the_results_say_so(ctx, configure, mailbox_user):
    with ctx.engine.begin() as conn:                         # as on PostgreSQL, or a SQLite without FTS5
        conn.exec_driver_sql("DROP TABLE message_search")
    box = configure()
    mailbox_user.deliver_many([make_message(1, to=mailbox_user.address, subject="Albums", body="Hello"),
                               make_message(2, to=mailbox_user.address, subject="Frames",
                                            body="And the albums, in leather?")])
    assert MailboxRun(ctx, box).run().imported == 2
    found = Controller(ctx).records.search("ALBUMS")
    assert found.full_text is False
    assert ["".join(t for t, _ in hit.title) for hit in found.messages] == ["Frames", "Albums"]   # newest first
    assert ("albums", True) in found.messages[0].snippet


def test_more_messages_page_on_by_rank_and_a_very_common_word_ranks_only_the_newest(ctx, configure, mailbox_user,
                                                                                   monkeypatch):
    from mailroom.store import search
    from mailroom.views import search as view

    box = configure()
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, subject=f"Frames {i}",
                                           body="frames " * i) for i in range(1, 8))
    assert MailboxRun(ctx, box).run().imported == 7
    records = Controller(ctx).records
    monkeypatch.setattr(view, "MESSAGES", 3)
    seen, more = [], None
    while True:
        found = records.search("frames", more)
        seen += [hit.id for hit in found.messages]
        assert not found.newest_only
        if found.more_messages is None:
            break
        more = found.more_messages
    assert len(seen) == len(set(seen)) == 7
    monkeypatch.setattr(search, "RANKED", 4)             # only the newest 4 of the 7 are ranked
    found = records.search("frames")
    assert found.newest_only
    again = records.search("frames", found.more_messages)
    assert sorted(hit.id for hit in found.messages + again.messages) == sorted(seen)[-4:]
