"""store/records.py on a real SQLite store: each read and write, and the activity log."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from mailroom.mail.parse import parse_message
from mailroom.model import OutboxCounts, RunCounts
from mailroom.rules.thread import KnownMessage
from mailroom.settings import repo
from mailroom.settings.document import validate
from mailroom.store import mailboxes, records
from mailroom.store.db import open_store
from tests.helpers import mailbox, settings
from tests.mailgen import make_message

NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def engine(mailroom_home):
    engine = open_store()
    repo.save(engine, validate(settings(mailboxes=[
        mailbox("Sales", host="pop.x.example", port=995, user="s@x.example"),
        mailbox("Help", host="pop.x.example", port=995, user="h@x.example")]))[0])
    return engine


@pytest.fixture
def ids(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {b.description: b.id for b in mailboxes.every(conn)}


def stored(conn, mailbox_id: int, i: int, **kwargs) -> int:
    msg = parse_message(make_message(i, sender=f"Client {i} <c{i}@example.com>", **kwargs))
    client = records.insert_client(conn, msg.from_addr.name, msg.from_addr.email.upper(), NOW)
    conversation = records.insert_conversation(conn, client, mailbox_id, msg.subject, NOW)
    return records.insert_message(conn, msg, direction="in", mailbox_id=mailbox_id, client_id=client,
                                  conversation_id=conversation, is_reply=False, client_ambiguous=False, now=NOW)


def test_seen_uids_are_per_mailbox_and_can_be_forgotten(engine, ids):
    sales, help_ = ids["Sales"], ids["Help"]
    with engine.begin() as conn:
        records.mark_seen(conn, sales, "a", "imported", NOW)
        records.mark_skipped_many(conn, sales, [("old", NOW - dt.timedelta(days=400)),
                                                ("recent", NOW - dt.timedelta(days=2))], NOW)
        records.quarantine(conn, sales, "bad", None, "x" * 5000, NOW)
        records.mark_seen(conn, help_, "a", "duplicate", NOW)
    with engine.begin() as conn:
        assert records.seen_uids(conn, sales) == {"a": "imported", "old": "skipped", "recent": "skipped",
                                                  "bad": "quarantined"}
        assert records.forget_skipped(conn, sales, NOW - dt.timedelta(days=30)) == 1      # "recent" only
        assert records.quarantined_count(conn) == 1
        assert records.forget_seen(conn, sales) == 3
        assert records.seen_uids(conn, sales) == {} and records.seen_uids(conn, help_) == {"a": "duplicate"}


def test_messages_clients_and_threads_are_found_again(engine, ids):
    with engine.begin() as conn:
        first = stored(conn, ids["Sales"], 1, message_id="<one@example.com>")
        second = stored(conn, ids["Help"], 2)
    with engine.connect() as conn:
        raw = parse_message(make_message(1, sender="Client 1 <c1@example.com>", message_id="<one@example.com>"))
        assert records.find_duplicate(conn, raw.message_id, raw.raw_sha256) == first
        assert records.find_duplicate(conn, raw.message_id, "0" * 64) is None
        [client] = records.client_candidates(conn, "C1@Example.com")
        assert (client.name, client.emails) == ("Client 1", ("c1@example.com",))
        known = records.known_messages(conn, ["one@example.com", "nobody@example.com"])
        assert list(known) == ["one@example.com"] and isinstance(known["one@example.com"], KnownMessage)
        assert [m.message_pk for m in records.newest_messages(conn, ids["Sales"], 5)] == [first]
        assert records.newest_messages(conn, ids["Help"], 5)[0].sender == "Client 2"
        assert second != first


def test_a_long_references_chain_is_looked_up_at_its_ends_only(engine, ids):
    with engine.begin() as conn:
        stored(conn, ids["Sales"], 1, message_id="<root@example.com>")
        stored(conn, ids["Sales"], 2, message_id="<middle@example.com>")
        stored(conn, ids["Sales"], 3, message_id="<newest@example.com>")
    chain = ["root@example.com", *(f"filler{i}@example.com" for i in range(500)), "middle@example.com",
             *(f"more{i}@example.com" for i in range(500)), "newest@example.com"]
    with engine.connect() as conn:
        assert set(records.known_messages(conn, chain)) == {"root@example.com", "newest@example.com"}


def test_autoreplies_are_queued_counted_and_remembered_per_sender(engine, ids):
    with engine.begin() as conn:
        pk = stored(conn, ids["Sales"], 1)
        outbox_id = records.queue_autoreply(conn, mailbox_id=ids["Sales"], reply_to_message_pk=pk,
                                            to_addr="Ann@Example.com", to_key="ann@example.com",
                                            from_addr="studio@x.example", message_id="r1@x.example",
                                            raw=b"reply", now=NOW)
    with engine.connect() as conn:
        assert outbox_id > 0
        assert records.last_autoreply(conn, "ann@example.com") == NOW
        assert records.last_autoreply(conn, "bob@example.com") is None
        assert records.autoreplies_since(conn, NOW) == 1
        assert records.autoreplies_since(conn, NOW + dt.timedelta(seconds=1)) == 0
        assert records.outbox_counts(conn) == OutboxCounts(pending=1)
        stats = records.stats(conn)
    assert (stats.clients, stats.messages_in, stats.messages_out, stats.tasks) == (1, 1, 0, 0)
    assert stats.as_dict()["outbox"] == {"pending": 1, "sending": 0, "sent": 0, "failed": 0, "uncertain": 0}


def test_the_activity_log_keeps_each_run_with_its_counts_and_error(engine, ids):
    sales, help_ = ids["Sales"], ids["Help"]
    counts = {f.name: 0 for f in dataclasses.fields(RunCounts)}
    with engine.begin() as conn:
        first = records.start_run(conn, sales, NOW)
        records.finish_run(conn, first, NOW, {**counts, "imported": 3, "error": None, "error_kind": None})
        failed = records.start_run(conn, sales, NOW)
        records.finish_run(conn, failed, NOW, {**counts, "error": "The login failed.", "error_kind": "auth"})
        other = records.start_run(conn, help_, NOW)
        records.finish_run(conn, other, NOW, counts | {"error": None, "error_kind": None})
        records.start_run(conn, sales, NOW)                                   # still running
    with engine.connect() as conn:
        everything = records.recent_runs(conn, 10)
        assert [r.id for r in everything] == sorted((r.id for r in everything), reverse=True)
        assert len(everything) == 4 and everything[0].ended_at is None
        [latest_failed] = [r for r in everything if r.id == failed]
        assert (latest_failed.error, latest_failed.error_kind, latest_failed.mailbox) == ("The login failed.",
                                                                                       "auth", "Sales")
        assert [r.id for r in records.recent_runs(conn, 10, mailbox_id=help_)] == [other]
        assert [r.id for r in records.recent_runs(conn, 2, before=failed)] == [first]
        latest = records.latest_runs(conn)
        assert {k: v.id for k, v in latest.items()} == {sales: failed, help_: other}    # finished ones only
        assert records.recent_runs(conn, 10, mailbox_id=sales)[-1].counts.imported == 3


def test_a_removed_mailbox_takes_its_runs_with_it(engine, ids):
    with engine.begin() as conn:
        records.start_run(conn, ids["Help"], NOW)
        kept = records.start_run(conn, ids["Sales"], NOW)
    repo.save(engine, validate(settings(mailboxes=[
        mailbox("Sales", host="pop.x.example", port=995, user="s@x.example")]))[0], prune=True)
    with engine.connect() as conn:
        assert [(r.id, r.mailbox) for r in records.recent_runs(conn, 10)] == [(kept, "Sales")]


def test_the_company_time_zone(engine):
    with engine.connect() as conn:
        assert records.company_timezone(conn) == "Europe/London"          # tests.helpers.settings sets it


def test_a_run_report_writes_every_column_the_activity_log_reads():
    from mailroom.fetch import RunReport

    written = set(RunReport(mailbox="Sales").counts())
    assert {f.name for f in dataclasses.fields(RunCounts)} | {"error", "error_kind"} == written
