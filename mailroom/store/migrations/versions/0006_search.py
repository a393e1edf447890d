"""Search and the quarantine's kinds: the full-text index of messages, and which held
messages kept only their headers.

On SQLite, an FTS5 table `message_search` indexes the subject, sender and body of every
message (mailroom/store/search.py); it is built here for the mail imported before,
and from now on written in the same transaction as each import. Other stores (and a
SQLite without FTS5) get no index: search falls back to LIKE there.

`quarantine.headers_only` marks a message left on the server with only its headers
kept; for the rows written before, the seen UID's state ("too_large") or the reason's
words ("its headers are kept") say which they are.

Revision ID: 0006_search
Revises: 0002_fetch_limits
"""
from alembic import op
import sqlalchemy as sa

# As mailroom/store/search.py has them at this revision (a migration keeps its own copy).
TABLE = "message_search"
CREATE = (f"CREATE VIRTUAL TABLE {TABLE} USING fts5(subject, from_name, from_addr, text, "
          "content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
REBUILD = f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')"


revision = '0006_search'
down_revision = '0002_fetch_limits'
branch_labels = None
depends_on = None


def _has_fts5(bind) -> bool:
    options = [row[0] for row in bind.exec_driver_sql("PRAGMA compile_options")]
    return "ENABLE_FTS5" in options


def upgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('headers_only', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(
        "UPDATE quarantine SET headers_only = TRUE WHERE reason LIKE '%its headers are kept%' OR EXISTS ("
        "SELECT 1 FROM seen_uids WHERE seen_uids.mailbox_id = quarantine.mailbox_id "
        "AND seen_uids.uid = quarantine.uid AND seen_uids.state = 'too_large')")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and _has_fts5(bind):
        op.execute(CREATE)
        op.execute(REBUILD)     # the mail imported before this revision


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(f"DROP TABLE IF EXISTS {TABLE}")
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_column('headers_only')
