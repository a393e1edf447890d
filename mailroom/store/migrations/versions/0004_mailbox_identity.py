"""Mailbox identity and the cutoff: remember the date of each UID skipped before it.

A UID skipped for `exclude_before` keeps the date its headers carried, so moving the
cutoff earlier makes exactly the UIDs it no longer excludes eligible again (see
mailroom/settings/repo.py). Rows written before this revision have no date.

Revision ID: 0004_mailbox_identity
Revises: 0003_autoreply_guard
"""
from alembic import op
import sqlalchemy as sa
import mailroom.store.schema


revision = '0004_mailbox_identity'
down_revision = '0003_autoreply_guard'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('seen_uids', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_date', mailroom.store.schema.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('seen_uids', schema=None) as batch_op:
        batch_op.drop_column('message_date')
