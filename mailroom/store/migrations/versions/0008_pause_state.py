"""The pause of scheduled checks survives a restart: one row while paused.

Revision ID: 0008_pause_state
Revises: 0007_notify_setting
"""
from alembic import op
import sqlalchemy as sa
import mailroom.store.schema


revision = '0008_pause_state'
down_revision = '0007_notify_setting'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('paused_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.Column('paused_until', mailroom.store.schema.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pause'))
    )


def downgrade() -> None:
    op.drop_table('pause')
