"""settings/repo.py on a real SQLite store: what is saved is what is loaded, forms rename
without losing ids, and a change of time zone moves the cutoff."""

from __future__ import annotations

import datetime as dt

import pytest

from mailroom.errors import ConfigError
from mailroom.settings import repo
from mailroom.settings.document import validate
from mailroom.store import mailboxes, records
from mailroom.store.db import open_store
from tests.helpers import mailbox, settings

NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def engine(mailroom_home):
    return open_store()


def full(**company) -> dict:
    doc = settings(
        mailboxes=[mailbox("Sales", host="pop.x.example", port=995, user="s@x.example", aliases=["hi@x.example"],
                           department="Front desk", user_name=None, create_tasks=True, task_type="Inquiry",
                           autoreply=True, autoreply_template="Thanks", exclude_before="2026-01-01")],
        outgoing={"host": "smtp.x.example", "security": "ssl", "email": "studio@x.example", "username": "studio"},
        departments=[{"name": "Front desk"}], users=[{"name": "Ann", "email": "ann@x.example",
                                                      "department": "Front desk"}],
        task_types=[{"name": "Inquiry"}], task_statuses=[{"name": "New", "task_type": "Inquiry"}],
        templates=[{"name": "Thanks", "kind": "form_letter", "subject": "Thanks", "body": "Thank you."}])
    doc["mailboxes"][0].pop("user_name")
    doc["company"].update(company)
    return validate(doc)[0]


def test_what_is_saved_is_what_is_loaded(engine):
    doc = full()
    plan = repo.save(engine, doc)
    assert repo.load(engine) == doc
    assert {(c.section, c.action) for c in plan.changes} >= {("mailboxes", "added"), ("company", "changed")}
    assert repo.save(engine, doc).changes == []                          # the same again: nothing to do


def test_an_empty_store_loads_the_defaults(engine):
    doc = repo.load(engine)
    assert doc["company"]["timezone"] == "UTC" and doc["outgoing"]["security"] == "starttls"
    assert doc["mailboxes"] == [] and doc["templates"] == []


def test_a_form_rename_keeps_the_id_and_what_refers_to_it(engine):
    repo.save(engine, full())
    before = repo.load(engine)
    with engine.connect() as conn:
        box = mailboxes.by_description(conn, "Sales")
    doc = repo.load(engine)
    doc["departments"][0]["name"] = "Reception"
    doc["users"][0]["department"] = doc["mailboxes"][0]["department"] = "Reception"
    repo.save(engine, validate(doc)[0], renames={"departments": {"Front desk": "Reception"}})
    with engine.connect() as conn:
        after = mailboxes.by_description(conn, "Sales")
    assert after.department_id == box.department_id                      # the same row, renamed
    assert repo.load(engine)["users"][0]["department"] == "Reception"
    assert before["departments"] != repo.load(engine)["departments"]


def test_a_refused_plan_names_what_it_would_remove(engine):
    repo.save(engine, full())
    empty = validate(settings())[0]
    plan = repo.plan_for(engine, empty)
    error = plan.refusal()
    assert isinstance(error, ConfigError) and error.field == "prune"
    assert any(str(p).startswith('mailboxes: "Sales" (') for p in error.problems)
    with pytest.raises(ConfigError):
        repo.save(engine, empty)
    assert repo.plan_for(engine, empty).removed_mailboxes == plan.removed_mailboxes != []


@pytest.mark.parametrize("entry,key", [
    ({"host": "POP.X.example.", "username": "S@x.example"}, ("pop3", "pop.x.example", "", "s@x.example")),
    ({"host": "pop.x.example", "email": "s@x.example", "username": None}, ("pop3", "pop.x.example", "", "s@x.example")),
    ({"host": "mail.corp", "domain": "CORP", "username": "Ann"}, ("pop3", "mail.corp", "corp", "ann")),
])
def test_the_account_key(entry, key):
    assert repo.account_key(entry) == key


def test_moving_the_company_to_another_time_zone_moves_the_cutoff(engine):
    # 2026-01-01 began at 08:00 UTC in Los Angeles, at 00:00 in UTC: a message of 03:00 UTC
    # was before the cutoff there, and is not here.
    repo.save(engine, full(timezone="America/Los_Angeles"))
    with engine.connect() as conn:
        sales = mailboxes.by_description(conn, "Sales").id
    with engine.begin() as conn:
        records.mark_skipped_many(conn, sales, [("evening", dt.datetime(2026, 1, 1, 3, tzinfo=dt.timezone.utc)),
                                                ("older", dt.datetime(2025, 12, 30, tzinfo=dt.timezone.utc))], NOW)
    repo.save(engine, full(timezone="Asia/Tokyo"))                       # earlier still: 15:00 UTC on 31 Dec
    with engine.connect() as conn:
        assert records.seen_uids(conn, sales) == {"older": "skipped"}
