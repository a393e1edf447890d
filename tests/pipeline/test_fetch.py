"""One mailbox run against the real Dovecot: import, exactly once, cutoff, deletion."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mailroom.fetch import MailboxRun
from mailroom.importer import explain
from mailroom.settings import repo
from mailroom.settings.document import validate
from mailroom.store import schema as s
from tests.mailgen import make_message


def count(ctx, table, *where) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


def test_a_thousand_messages_import_once_with_clients_and_tasks(ctx, configure, mailbox_user):
    box = configure(create_tasks=True, task_type="Inquiry", department="Front desk")
    fresh = dt.datetime.now(dt.timezone.utc)          # new mail: a mailbox's old backlog opens no tasks
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, date=fresh) for i in range(1000))

    first = MailboxRun(ctx, box).run()
    assert (first.error, first.listed, first.new, first.imported, first.duplicates) == (None, 1000, 1000, 1000, 0)
    assert count(ctx, s.messages) == 1000
    assert count(ctx, s.tasks) == 1000                   # every message is a new conversation
    assert count(ctx, s.clients) == 1000                 # mailgen gives each message its own sender
    assert count(ctx, s.seen_uids, s.seen_uids.c.state == "imported") == 1000

    again = MailboxRun(ctx, box).run()
    assert (again.listed, again.new, again.imported) == (1000, 0, 0)

    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(1000, 1010))
    more = MailboxRun(ctx, box).run()
    assert (more.new, more.imported) == (10, 10)
    assert count(ctx, s.messages) == 1010
    assert mailbox_user.message_count() == 1010         # leave_on_server is the default


def test_exclude_before_never_downloads_older_mail_and_leaves_it(ctx, configure, mailbox_user):
    box = configure(exclude_before="2026-02-01", leave_on_server=False)
    cutoff = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    old = [make_message(i, to=mailbox_user.address, date=cutoff - dt.timedelta(days=1 + i)) for i in range(30)]
    new = [make_message(100 + i, to=mailbox_user.address, date=cutoff + dt.timedelta(hours=i)) for i in range(5)]
    mailbox_user.deliver_many(old + new)
    logouts_before = len(mailbox_user.pop3_logouts())

    report = MailboxRun(ctx, box).run()

    assert (report.skipped_before_cutoff, report.imported, report.deleted) == (30, 5, 5)
    sessions = mailbox_user.wait_pop3_logouts(logouts_before + 1)[logouts_before:]
    assert sum(sess["retr"] for sess in sessions) == 5     # only the new ones were RETR'd
    assert mailbox_user.message_count() == 30              # skipped stay on the server, delete on
    assert count(ctx, s.seen_uids, s.seen_uids.c.state == "skipped") == 30

    again = MailboxRun(ctx, box).run()
    assert (again.listed, again.new, again.skipped_before_cutoff, again.deleted) == (30, 0, 0, 0)


def test_the_cutoff_day_begins_at_midnight_where_the_company_is(ctx, configure, mailbox_user):
    """2026-01-01 in Los Angeles begins at 08:00 UTC: mail of the evening before is older.
    Moving the company to UTC moves the cutoff earlier, and that mail comes back."""
    box = configure(exclude_before="2026-01-01", company={"timezone": "America/Los_Angeles"})
    evening_before = make_message(1, to=mailbox_user.address, date=dt.datetime(2026, 1, 1, 3, tzinfo=dt.timezone.utc))
    morning = make_message(2, to=mailbox_user.address, date=dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc))
    mailbox_user.deliver_many([evening_before, morning])
    assert explain(ctx, evening_before)["cutoff"]["skipped"] is True
    assert explain(ctx, morning)["cutoff"]["skipped"] is False

    report = MailboxRun(ctx, box).run()
    assert (report.skipped_before_cutoff, report.imported) == (1, 1)

    doc = repo.load(ctx.engine)
    doc["company"]["timezone"] = "UTC"
    repo.save(ctx.engine, validate(doc)[0])
    assert (MailboxRun(ctx, box).run().imported, explain(ctx, evening_before)["cutoff"]["skipped"]) == (1, False)


def test_a_message_without_any_date_is_imported_not_dropped(ctx, configure, mailbox_user):
    box = configure(exclude_before="2026-02-01")
    raw = make_message(1, to=mailbox_user.address).replace(b"Date:", b"X-Old-Date:")
    mailbox_user.deliver(raw)
    report = MailboxRun(ctx, box).run()
    assert (report.imported, report.skipped_before_cutoff) == (1, 0)


def test_leave_on_server_off_deletes_exactly_the_imported(ctx, configure, mailbox_user):
    box = configure(leave_on_server=False)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(20))
    report = MailboxRun(ctx, box).run()
    assert (report.imported, report.deleted) == (20, 20)
    assert mailbox_user.message_count() == 0


def test_a_large_message_is_streamed_and_stored_byte_for_byte(ctx, configure, mailbox_user):
    from mailroom import paths
    from mailroom.mail.parse import parse_message
    from mailroom.mail.stream import LARGE
    from mailroom.store.raw import RawStore

    box = configure(leave_on_server=False)
    big = make_message(1, to=mailbox_user.address, html=True, attachment_kb=LARGE // 1024 + 512)
    small = make_message(2, to=mailbox_user.address)
    mailbox_user.deliver_many([big, small])
    report = MailboxRun(ctx, box).run()
    assert (report.error, report.imported, report.deleted) == (None, 2, 2)
    expected = parse_message(big)
    with ctx.engine.connect() as conn:
        row = conn.execute(sa.select(s.messages).where(s.messages.c.raw_sha256 == expected.raw_sha256)).mappings().one()
        [attachment] = conn.execute(sa.select(s.attachments).where(s.attachments.c.message_pk == row["id"])).mappings()
    assert (row["subject"], row["text"], row["html"], row["size"]) == (expected.subject, expected.text, expected.html,
                                                                       len(big))
    assert (attachment["filename"], attachment["size"], attachment["sha256"]) == (
        expected.attachments[0].filename, expected.attachments[0].size, expected.attachments[0].sha256)
    assert RawStore(paths.raw_dir()).get(expected.raw_sha256) == big
    assert not list(paths.raw_dir().glob("spool-*"))
