"""An older Mailroom (after a downgrade, or an old copy on a shared database) refuses a
database that a newer one has migrated: a clear message, and the database left as it was."""

from __future__ import annotations

import sqlite3

import pytest

from mailroom.errors import StorageError
from mailroom.store.db import open_store

FUTURE = "9999_from_a_newer_mailroom"


def dump(path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return [*conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"),
                *conn.execute("SELECT version_num FROM alembic_version")]


@pytest.fixture
def newer_database(mailroom_home):
    """A database at today's head, then stamped with a revision no script here knows."""
    open_store().dispose()
    path = mailroom_home / "mailroom.db"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (FUTURE,))
    return path


def test_open_store_refuses_a_database_from_a_newer_version(newer_database):
    before = dump(newer_database)
    with pytest.raises(StorageError) as caught:
        open_store()
    message = caught.value.message
    assert message.startswith("This database was written by a newer version of Mailroom")
    assert FUTURE in message and str(newer_database) in message
    assert caught.value.kind == "newer_database"
    assert dump(newer_database) == before


def test_the_command_says_so_without_a_traceback(newer_database, run_cli):
    result = run_cli("stats")
    assert result.returncode == 1
    assert result.stderr.startswith("This database was written by a newer version of Mailroom")
    assert "Traceback" not in result.stderr
