"""The one Mailbox type and its loader: the settings entry and the store's row agree."""

from __future__ import annotations

import dataclasses

import pytest

from mailroom.errors import ConfigError
from mailroom.model import Mailbox
from mailroom.settings import repo
from mailroom.settings.document import validate
from mailroom.settings.fields import SECTION
from mailroom.store import mailboxes, schema
from mailroom.store.db import open_store
from tests.helpers import mailbox, settings


@pytest.fixture
def engine(mailroom_home):
    return open_store()


def saved(engine, *boxes: dict) -> dict:
    doc, _warnings = validate(settings(mailboxes=list(boxes), departments=[{"name": "Front desk"}],
                                       task_types=[{"name": "Inquiry"}], task_statuses=[{"name": "New"}]))
    repo.save(engine, doc)
    return doc


def test_the_type_holds_every_setting_and_column():
    names = {f.name for f in dataclasses.fields(Mailbox)}
    settings_names = {f"{f.name}_id" if f.kind == "ref" else f.name for f in SECTION["mailboxes"].fields}
    assert names == settings_names | {"id"}
    assert names == set(schema.mailboxes.c.keys())


def test_the_row_and_the_entry_give_the_same_mailbox(engine):
    doc = saved(engine, mailbox("Sales", host="pop.x.example", port=995, user="s@x.example",
                                aliases=["Hello@X.example"], department="Front desk", create_tasks=True,
                                task_type="Inquiry"))
    with engine.connect() as conn:
        stored = mailboxes.by_description(conn, "Sales")
    entry = mailboxes.from_entry(doc["mailboxes"][0], stored.id)
    refs = {"department_id", "user_id", "task_type_id", "task_status_id", "autoreply_template_id"}
    assert dataclasses.replace(stored, **{r: None for r in refs}) == entry
    assert stored.department_id is not None and stored.task_status_id is not None
    assert stored.addresses == ("s@x.example", "hello@x.example")
    assert isinstance(stored.aliases, tuple)


def test_lookups_by_id_and_description_and_the_enabled_ones(engine):
    saved(engine, mailbox("Sales", host="pop.x.example", port=995, user="s@x.example"),
          mailbox("Old", host="pop.x.example", port=995, user="o@x.example", enabled=False))
    with engine.connect() as conn:
        every = mailboxes.every(conn)
        assert [b.description for b in every] == ["Sales", "Old"]
        assert [b.description for b in mailboxes.every(conn, enabled_only=True)] == ["Sales"]
        assert mailboxes.by_id(conn, every[1].id) == every[1]
        assert mailboxes.find_id(conn, "Old") == every[1].id and mailboxes.find_id(conn, "Nope") is None
        with pytest.raises(ConfigError) as caught:
            mailboxes.by_description(conn, "Nope")
        assert caught.value.message == 'No mailbox is called "Nope". Mailboxes: "Sales", "Old".'
        with pytest.raises(ConfigError) as caught:
            mailboxes.by_id(conn, 999)
        assert caught.value.field == "mailbox"
