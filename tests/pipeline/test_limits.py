"""A stranger's message, or a hostile server, never stalls a mailbox or exhausts memory.

One message the store refuses is quarantined and the run goes on; a store that cannot
write stops the run and says why; a message beyond max_message_mb, a lying LIST, a line
of megabytes or a repeated UIDL each fail on their own, with the process alive.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from mailroom import paths
from mailroom.fetch import MailboxRun
from mailroom.mail.pop3 import MAX_MESSAGE_LINE
from mailroom.mail.stream import LARGE
from mailroom.store import records
from mailroom.store import schema as s
from mailroom.store.raw import RawStore
from tests.mailgen import make_message
from tests.servers.scripted import ScriptedPop3

MB = 1 << 20


def rows(ctx, *columns, where=None) -> list[tuple]:
    query = sa.select(*columns)
    if where is not None:
        query = query.where(where)
    with ctx.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def count(ctx, table, *where) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


def with_references(raw: bytes, ids: list[str]) -> bytes:
    """`raw` with a References header naming `ids`, folded as a mail client folds it."""
    lines = [" ".join(f"<{mid}>" for mid in ids[i:i + 40]) for i in range(0, len(ids), 40)]
    return raw.replace(b"Subject:", b"References: " + "\r\n ".join(lines).encode() + b"\r\nSubject:", 1)


def scripted_box(configure, server: ScriptedPop3, **fields) -> dict:
    return configure(host="127.0.0.1", port=server.port, security="none", user=server.user,
                     email="studio@localhost", ca_file=None, password=server.password, **fields)


# --- 1. one message's failure is that message's, a storage failure is the store's -------

def test_more_references_than_sqlite_allows_import_and_the_run_goes_on(ctx, configure, mailbox_user):
    # SQLite as many builds ship it (999 variables a statement; newer ones allow 32,766 or
    # 250,000, but the parser keeps at most 1 MiB of headers, so a References header can
    # never name that many): the lookup must bind fewer, whatever the header holds.
    def old_limit(dbapi_connection, _record):
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)

    box = configure()
    ctx.engine.dispose()
    sa.event.listen(ctx.engine, "connect", old_limit)
    jane = "Jane <jane@client.example>"            # a reply from the thread's own client joins it
    parent = make_message(1, to=mailbox_user.address, sender=jane, message_id="<parent@client.example>")
    mailbox_user.deliver(parent)
    assert MailboxRun(ctx, box).run().imported == 1
    # More ids than one SQLite statement may bind, ending (as References does) with the parent.
    ids = [f"r{i}@x.example" for i in range(999 + 1)] + ["parent@client.example"]
    hostile = with_references(make_message(2, to=mailbox_user.address, sender=jane, subject="Re: hello"), ids)
    mailbox_user.deliver_many([make_message(3, to=mailbox_user.address), hostile,
                               make_message(4, to=mailbox_user.address)])

    report = MailboxRun(ctx, box).run()

    assert (report.error, report.new, report.imported, report.quarantined) == (None, 3, 3, 0)
    [(parent_conversation,)] = rows(ctx, s.messages.c.conversation_id,
                                    where=s.messages.c.message_id == "parent@client.example")
    [(conversation, is_reply)] = rows(ctx, s.messages.c.conversation_id, s.messages.c.is_reply,
                                      where=s.messages.c.subject == "Re: hello")
    assert (conversation, is_reply) == (parent_conversation, True)       # threaded by its last reference
    again = MailboxRun(ctx, box).run()
    assert (again.error, again.new, again.imported) == (None, 0, 0)


def test_a_message_the_database_refuses_is_quarantined_and_the_good_mail_around_it_imports(
        ctx, configure, mailbox_user):
    # A SQLite whose variable limit is below even the capped lookup (as old builds' 999 was
    # below an uncapped one): the store refuses a statement of this one message only.
    def low_limit(dbapi_connection, _record):
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER,
                                  records.LOOKUP_FIRST + records.LOOKUP_LAST - 1)

    box = configure()
    ids = [f"r{i}@x.example" for i in range(100)]
    hostile = with_references(make_message(2, to=mailbox_user.address), ids)
    mailbox_user.deliver_many([make_message(1, to=mailbox_user.address), hostile,
                               make_message(3, to=mailbox_user.address)])
    ctx.engine.dispose()
    sa.event.listen(ctx.engine, "connect", low_limit)

    report = MailboxRun(ctx, box).run()

    assert (report.error, report.imported, report.quarantined) == (None, 2, 1)
    [(reason, sha)] = rows(ctx, s.quarantine.c.reason, s.quarantine.c.raw_sha256)
    assert reason == "OperationalError: too many SQL variables"
    assert b"r99@x.example" in RawStore(paths.raw_dir()).get(sha)       # kept whole for a person to look at
    again = MailboxRun(ctx, box).run()
    assert (again.error, again.new, again.imported, again.quarantined) == (None, 0, 0, 0)


def test_a_full_database_stops_the_run_says_so_and_loses_nothing(ctx, configure, mailbox_user):
    box = configure(leave_on_server=False)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, html=True) for i in range(20))
    with ctx.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def full(dbapi_connection, _record):                # SQLite's own "database or disk is full"
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    ctx.engine.dispose()
    sa.event.listen(ctx.engine, "connect", full)
    report = MailboxRun(ctx, box).run()
    assert report.error_kind == "storage" and "the disk is full" in report.error
    assert (report.imported, report.quarantined, report.deleted) == (0, 0, 0)
    assert count(ctx, s.quarantine) == 0 and mailbox_user.message_count() == 20

    sa.event.remove(ctx.engine, "connect", full)
    ctx.engine.dispose()
    again = MailboxRun(ctx, box).run()
    assert (again.error, again.imported, again.deleted) == (None, 20, 20)


# --- 3. bounded replies: max_message_mb, a lying LIST, a line of megabytes ---------------

def held(ctx) -> list[tuple[str, str]]:
    """(uid, state) of the held messages, with a quarantine record each."""
    return rows(ctx, s.seen_uids.c.uid, s.seen_uids.c.state,
                where=s.seen_uids.c.state.in_(["quarantined", "too_large"]))


def test_a_message_beyond_max_message_mb_is_not_downloaded_only_its_headers_kept(ctx, configure, caplog):
    big = make_message(2, attachment_kb=2048)
    with ScriptedPop3([make_message(1), big, make_message(3)], uidls=["a", "big", "c"]) as server:
        box = scripted_box(configure, server, max_message_mb=1, leave_on_server=False)
        report = MailboxRun(ctx, box).run()
        assert (report.error, report.imported, report.too_large, report.deleted) == (None, 2, 1, 2)
        commands = [c for session in server.sessions for c in session]
        assert "RETR 2" not in commands and "TOP 2 0" in commands
        assert [uid for uid, _raw in server.mailbox] == ["big"]                  # left on the server
        assert held(ctx) == [("big", "too_large")]
        [(reason, sha)] = rows(ctx, s.quarantine.c.reason, s.quarantine.c.raw_sha256)
        assert "larger than the 1 MB allowed for this mailbox (its largest message size)" in reason
        assert RawStore(paths.raw_dir()).get(sha) == big[:big.index(b"\r\n\r\n") + 4]   # its headers
        assert any("too large" in r.getMessage() and "big" in r.getMessage() for r in caplog.records)
        again = MailboxRun(ctx, box).run()
    assert (again.new, again.imported, again.too_large, again.deleted) == (0, 0, 0, 0)
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.select(s.runs.c.too_large).order_by(s.runs.c.id)).scalars().all() == [1, 0]


def test_a_reply_far_beyond_its_announced_size_is_cut_at_max_message_mb(ctx, configure):
    # LIST says 100 bytes; RETR brings 20 MB. Read into memory unbounded, before.
    huge = make_message(2, attachment_kb=20 * 1024)
    with ScriptedPop3([make_message(1), huge, make_message(3)], uidls=["a", "liar", "c"],
                      announce={2: 100}) as server:
        box = scripted_box(configure, server, max_message_mb=1)
        report = MailboxRun(ctx, box).run()
        assert (report.error, report.imported, report.too_large, report.quarantined) == (None, 2, 1, 0)
        assert held(ctx) == [("liar", "too_large")]
        commands = [c for session in server.sessions for c in session]
        assert commands.count("RETR 2") == 1   # cut once, then seen: the next session went on with the rest
        again = MailboxRun(ctx, box).run()
    assert (again.new, again.imported) == (0, 0)


def test_a_reply_beyond_its_announced_size_but_allowed_is_streamed_and_imported_whole(ctx, configure):
    from mailroom.mail.parse import parse_message

    grown = make_message(2, html=True, attachment_kb=3 * 1024)
    with ScriptedPop3([make_message(1), grown, make_message(3)], announce={2: 100}) as server:
        box = scripted_box(configure, server)
        report = MailboxRun(ctx, box).run()
    assert (report.error, report.imported) == (None, 3)
    expected = parse_message(grown)
    [(size, text)] = rows(ctx, s.messages.c.size, s.messages.c.text,
                          where=s.messages.c.raw_sha256 == expected.raw_sha256)
    assert (size, text) == (len(grown), expected.text)
    assert RawStore(paths.raw_dir()).get(expected.raw_sha256) == grown
    assert not list(paths.raw_dir().glob("spool-*"))


@pytest.mark.parametrize("line_mb", [2, LARGE // MB + 2], ids=["read in memory", "streamed to a spool file"])
def test_a_line_of_megabytes_fails_that_message_not_the_process(ctx, configure, line_mb):
    endless = make_message(2, body="LINE").replace(b"LINE", b"x" * (line_mb * MB))   # no CRLF for megabytes
    assert line_mb * MB > MAX_MESSAGE_LINE
    with ScriptedPop3([make_message(1), endless, make_message(3)], uidls=["a", "long", "c"]) as server:
        box = scripted_box(configure, server)
        report = MailboxRun(ctx, box).run()
        assert (report.error, report.imported, report.quarantined, report.too_large) == (None, 2, 1, 0)
        assert held(ctx) == [("long", "quarantined")]
        [(reason,)] = rows(ctx, s.quarantine.c.reason)
        assert "line longer than 1 MB" in reason
        again = MailboxRun(ctx, box).run()
    assert (again.new, again.imported) == (0, 0)


# --- 4. a repeated UIDL --------------------------------------------------------------------

def test_two_messages_under_one_uidl_refuse_the_listing_and_nothing_is_deleted(ctx, configure):
    messages = [make_message(i) for i in range(4)]
    with ScriptedPop3(messages, uidls=["a", "dup", "dup", "b"]) as server:
        box = scripted_box(configure, server, leave_on_server=False)
        for _ in range(2):
            report = MailboxRun(ctx, box).run()
            assert report.error_kind == "uidl" and '"dup"' in report.error and "RFC 1939" in report.error
            assert (report.imported, report.deleted) == (0, 0)
            assert len(server.mailbox) == 4
        assert count(ctx, s.messages) == 0 and count(ctx, s.seen_uids) == 0
        server.mailbox[2] = ("d", server.mailbox[2][1])            # the provider repaired the mailbox
        fixed = MailboxRun(ctx, box).run()
    assert (fixed.error, fixed.imported, fixed.deleted, len(server.mailbox)) == (None, 4, 4, 0)
