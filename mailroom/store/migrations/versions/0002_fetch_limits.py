"""Fetch limits: a mailbox's largest message, and the too-large count of a run.

Revision ID: 0002_fetch_limits
Revises: 0004_mailbox_identity
Create Date: 2026-11-29 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_fetch_limits'
down_revision = '0004_mailbox_identity'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_message_mb', sa.Integer(), server_default='50', nullable=False))

    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('too_large', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_column('too_large')

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('max_message_mb')
