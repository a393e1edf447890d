"""Open the database and bring its schema up to date.

SQLite gets WAL mode, foreign keys and a busy timeout on every connection, and its
file is created 0600 (SECURITY.md #18). Alembic migrations run at every start, so a
new version of Mailroom upgrades an old database before anything else touches it; an
older version refuses a database that a newer one has migrated, rather than guess.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mailroom import __version__, paths
from mailroom.errors import ConfigError, StorageError

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """`MAILROOM_DATABASE_URL` if set (e.g. PostgreSQL), else SQLite in the data folder."""
    return os.environ.get("MAILROOM_DATABASE_URL") or f"sqlite:///{paths.database_path()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL + NORMAL is durable against a killed process; only power loss can drop the
    # last transactions, and the server copy is never deleted before a commit is durable
    # in that sense either way (DELE happens after commit, applied only at QUIT).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    url = url or default_url()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
        elif os.name == "posix":
            os.chmod(path, 0o600)
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(f"The database URL is not usable: {exc}", field="database_url") from None


_REVISION = re.compile(r"""^(down_)?revision\s*=\s*['"]?([^'"\s]+)""", re.M)


def _script_revisions() -> tuple[set[str], str | None]:
    """Every revision the migration scripts know, and their one head (None when unsure);
    read from the scripts' text, without loading Alembic."""
    revisions, parents = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            (parents if down else revisions).add(value)
    heads = revisions - parents
    return revisions, heads.pop() if len(heads) == 1 else None


def _database_revisions(engine: Engine) -> list[str]:
    """The revisions recorded in the database; [] for a new one (no version table yet)."""
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
    except sa.exc.DBAPIError:
        return []


def migrate(engine: Engine) -> None:
    """Apply every pending Alembic migration.

    A database stamped with a revision these scripts do not know was written by a newer
    Mailroom (a downgrade, or an older copy sharing the database): it is refused before
    anything touches it, since this version cannot know what that schema means.

    Alembic (and what it imports) takes ~0.15 s to load, a third of a `mailroom fetch
    --once` that finds nothing new; so a database already at the head is left alone
    without loading it.
    """
    known, head = _script_revisions()
    found = _database_revisions(engine)
    unknown = [rev for rev in found if rev not in known]
    if unknown:
        where = engine.url.render_as_string(hide_password=True)
        raise StorageError(
            f"This database was written by a newer version of Mailroom: its schema is {', '.join(unknown)}, "
            f"and Mailroom {__version__} knows only up to {head or 'an unknown revision'}. It was left "
            f"unchanged ({where}). Install that newer version of Mailroom again to use it.",
            kind="newer_database", field="database_url",
        )
    if head is not None and found == [head]:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def open_store(url: str | None = None) -> Engine:
    """An engine on an up-to-date database."""
    engine = make_engine(url)
    migrate(engine)
    return engine
