"""Tell a store that cannot write from a statement that one message made fail.

When a message's import fails, the run must know whose fault it is: the store's (disk
full, database locked, an I/O error: every later message would fail too, so the run
stops and says so) or the message's (it made a statement the database refused: it is
quarantined and the run goes on). The DBAPI exception class does not tell: SQLite
raises OperationalError both for "database or disk is full" and for "too many SQL
variables". Its error code does, and PostgreSQL's SQLSTATE does.

Pure: looks at an exception, returns words; no I/O.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa

# SQLite primary result codes (https://www.sqlite.org/rescode.html) that mean the
# store itself cannot go on, whatever the message.
_SQLITE = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_IOERR: "io",
    sqlite3.SQLITE_READONLY: "io",
    sqlite3.SQLITE_CANTOPEN: "io",
    sqlite3.SQLITE_NOMEM: "io",
    sqlite3.SQLITE_CORRUPT: "io",
    sqlite3.SQLITE_NOTADB: "io",
    sqlite3.SQLITE_PROTOCOL: "io",
}
# PostgreSQL SQLSTATE classes and codes of the same meaning (Appendix A of its manual):
# 08 connection, 53 insufficient resources (53100 disk full), 57 operator intervention,
# 58 system error, 40 transaction rollback (deadlock, serialization), 55P03 lock not available.
_SQLSTATE_CLASSES = {"08": "io", "53": "io", "57": "io", "58": "io", "40": "locked", "XX": "io"}
_SQLSTATE = {"53100": "full", "55P03": "locked"}


def storage_failure(exc: BaseException) -> str | None:
    """"full", "locked" or "io" when `exc` means the store cannot write; None when the
    statement itself failed (the message's fault)."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return "io"
        exc = exc.orig
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return _SQLITE.get(code & 0xFF)    # extended codes keep the primary one in the low byte
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(state, str) and len(state) == 5:
        return _SQLSTATE.get(state) or _SQLSTATE_CLASSES.get(state[:2])
    if isinstance(exc, sqlite3.OperationalError) or type(exc).__name__ == "OperationalError":
        # A driver that gives no code: its OperationalError is, by the DBAPI's
        # definition (PEP 249), about the database's operation, not the statement.
        return "io"
    return None


def describe(kind: str, exc: BaseException) -> str:
    """The StorageError sentence for a storage failure of `kind`."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    if kind == "full":
        return ("Mailroom could not write to its database: the disk is full. Free disk space; "
                "nothing was lost, the run goes on when there is room.")
    if kind == "locked":
        return (f"Mailroom could not write to its database: it is locked ({orig}). Close other programs "
                "using it; nothing was lost.")
    return f"Mailroom could not write to its database ({orig}). Nothing was lost; it will try again."


def reason(exc: BaseException) -> str:
    """A short reason for a quarantine record: the driver's words, not the SQL and its parameters."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    return f"{type(orig).__name__}: {orig}"
