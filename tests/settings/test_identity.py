"""Saving settings: a mailbox is its account, a re-import never drops data unasked, and a
cutoff moved earlier gives back what it skipped. Against a real SQLite store."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from mailroom.errors import ConfigError
from mailroom.settings import repo
from mailroom.settings.document import validate
from mailroom.store import records
from mailroom.store import schema as s
from mailroom.store.db import open_store
from tests.helpers import mailbox, settings

NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def engine(mailroom_home):
    return open_store()


def box(description: str, user: str = "sales@x.example", host: str = "pop.x.example", **extra) -> dict:
    return mailbox(description, host=host, port=995, user=user, **extra)


def doc(*boxes: dict, **sections) -> dict:
    canonical, _warnings = validate(settings(mailboxes=list(boxes), **sections))
    return canonical


def ids(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(s.mailboxes.c.description, s.mailboxes.c.id)).all())


def seen(engine, mailbox_id: int) -> dict[str, str]:
    with engine.connect() as conn:
        return records.seen_uids(conn, mailbox_id)


def test_a_renamed_mailbox_keeps_its_id_and_seen_uids(engine):
    repo.save(engine, doc(box("Sales")))
    [sales] = ids(engine).values()
    with engine.begin() as conn:
        records.mark_seen(conn, sales, "uid-1", "imported", NOW)
    plan = repo.save(engine, doc(box("Sales inbox")))
    assert ids(engine) == {"Sales inbox": sales}
    assert seen(engine, sales) == {"uid-1": "imported"}
    assert [(c.action, c.old_name, c.name) for c in plan.changes] == [("renamed", "Sales", "Sales inbox")]


@pytest.mark.parametrize("change", [
    {"host": "POP.X.Example."},                       # DNS names: case and the root dot do not matter
    {"user": "Sales@X.example"},                      # a re-capitalised login is the same login
    {"port": 110, "security": "starttls"},            # another way in to the same account
])
def test_the_same_account_is_the_same_mailbox(engine, change):
    repo.save(engine, doc(box("Sales")))
    before = ids(engine)
    fields = {"host": "pop.x.example", "user": "sales@x.example", **change}
    entry = mailbox("Sales desk", port=fields.pop("port", 995), **fields)
    repo.save(engine, doc(entry))
    assert ids(engine) == {"Sales desk": before["Sales"]}


def test_two_mailboxes_can_swap_descriptions(engine):
    repo.save(engine, doc(box("Sales", user="a@x.example"), box("Support", user="b@x.example")))
    before = ids(engine)
    repo.save(engine, doc(box("Support", user="a@x.example"), box("Sales", user="b@x.example")))
    assert ids(engine) == {"Support": before["Sales"], "Sales": before["Support"]}


def test_a_new_account_under_the_same_description_is_that_mailbox_moved(engine):
    repo.save(engine, doc(box("Sales")))
    before = ids(engine)
    plan = repo.save(engine, doc(box("Sales", host="pop.new.example")))
    assert ids(engine) == before
    assert [(c.action, c.fields) for c in plan.changes] == [("changed", ("host",))]


def test_two_mailboxes_on_one_account_are_refused(engine):
    with pytest.raises(ConfigError) as caught:
        repo.save(engine, doc(box("Sales"), box("Sales again", host="POP.x.example")))
    assert caught.value.problems == [
        "mailboxes[2]: the same account (pop3 sales@x.example at pop.x.example) as mailboxes[1]; one mailbox "
        "per account, or its mail would be imported, and answered, twice"]
    assert ids(engine) == {}


def _message(conn, mailbox_id: int) -> int:
    return conn.execute(s.messages.insert().values(
        direction="in", mailbox_id=mailbox_id, message_id="m1@x", raw_sha256="0" * 64, created_at=NOW)
    ).inserted_primary_key[0]


def test_a_file_that_lacks_a_mailbox_is_refused_unless_pruned(engine):
    repo.save(engine, doc(box("Sales"), box("Support", user="b@x.example")))
    support = ids(engine)["Support"]
    with engine.begin() as conn:
        message = _message(conn, support)
        records.mark_seen(conn, support, "uid-1", "imported", NOW, message)
    with pytest.raises(ConfigError) as caught:
        repo.save(engine, doc(box("Sales")))
    assert caught.value.problems == ['mailboxes: "Support" (1 message imported)']
    assert set(ids(engine)) == {"Sales", "Support"}

    plan = repo.save(engine, doc(box("Sales")), prune=True)
    assert plan.removed_mailboxes == [support]
    assert set(ids(engine)) == {"Sales"}
    with engine.connect() as conn:     # the mail stays, without a mailbox; its seen UIDs go with it
        assert conn.execute(sa.select(s.messages.c.mailbox_id).where(s.messages.c.id == message)).all() == [(None,)]
    assert seen(engine, support) == {}


def test_an_empty_file_removes_nothing_that_holds_data(engine):
    full = doc(box("Sales", create_tasks=True, task_type="Inquiry", department="Weddings"),
               departments=[{"name": "Weddings"}, {"name": "Unused"}], task_types=[{"name": "Inquiry"}],
               task_statuses=[{"name": "New"}])
    repo.save(engine, full)
    with engine.begin() as conn:
        dept = conn.execute(sa.select(s.departments.c.id).where(s.departments.c.name == "Weddings")).scalar()
        conn.execute(s.tasks.insert().values(title="t", department_id=dept, created_at=NOW))
    with pytest.raises(ConfigError) as caught:
        repo.save(engine, doc())
    assert caught.value.problems == [
        'departments: "Weddings" (used by 1 task and 1 removed mailbox)',
        'task_types: "Inquiry" (used by 1 removed mailbox)',
        'task_statuses: "New" (used by 1 removed mailbox)',
        'mailboxes: "Sales" (0 messages imported)']
    assert repo.load(engine) == full


def test_an_entry_nothing_uses_is_removed_without_prune(engine):
    repo.save(engine, doc(box("Sales"), departments=[{"name": "Weddings"}, {"name": "Unused"}]))
    plan = repo.save(engine, doc(box("Sales"), departments=[{"name": "Weddings"}]))
    assert [(c.section, c.action, c.name, c.in_use) for c in plan.changes] == [
        ("departments", "removed", "Unused", "")]


def test_the_plan_names_every_kind_of_change(engine):
    repo.save(engine, doc(box("Sales"), users=[{"name": "Ann", "email": "ann@x.example"}]))
    new = doc(box("Sales inbox", poll_minutes=10), box("Support", user="b@x.example"),
              users=[{"name": "Ann", "email": "ann@y.example"}])
    new["company"]["phone"] = "+44 1"
    with engine.connect() as conn:
        plan = repo.plan(conn, new)
    assert [c.sentence() for c in plan.changes] == [
        "changed: phone",
        '"Ann" changed: email',
        '"Sales" renamed to "Sales inbox" (also changed: poll_minutes)',
        '"Support" added']
    assert ids(engine) == {"Sales": 1}                           # planning changes nothing


def skipped(engine, mailbox_id: int, dated: dict[str, dt.datetime | None]) -> None:
    with engine.begin() as conn:
        records.mark_skipped_many(conn, mailbox_id, [(u, d) for u, d in dated.items() if d], NOW)
        for uid in (u for u, d in dated.items() if d is None):   # written before dates were kept
            records.mark_seen(conn, mailbox_id, uid, "skipped", NOW)


def test_moving_the_cutoff_earlier_makes_what_it_no_longer_excludes_eligible(engine):
    repo.save(engine, doc(box("Sales", exclude_before="2026-06-01")))
    sales = ids(engine)["Sales"]
    day = lambda d: dt.datetime(2026, *d, tzinfo=dt.timezone.utc)  # noqa: E731
    skipped(engine, sales, {"jan": day((1, 10)), "mar": day((3, 10)), "may": day((5, 31)), "old-row": None})
    with engine.begin() as conn:
        records.mark_seen(conn, sales, "imported", "imported", NOW)

    repo.save(engine, doc(box("Sales", exclude_before="2026-07-01")))       # later: nothing changes
    assert set(seen(engine, sales)) == {"jan", "mar", "may", "old-row", "imported"}
    repo.save(engine, doc(box("Sales", exclude_before="2026-03-01")))       # earlier: mar and may are back
    assert seen(engine, sales) == {"jan": "skipped", "imported": "imported"}
    repo.save(engine, doc(box("Sales")))                                    # no cutoff: everything is back
    assert seen(engine, sales) == {"imported": "imported"}
