"""Company setting: desktop notifications of new mail (on by default).

Revision ID: 0007_notify_setting
Revises: 0006_search
Create Date: 2026-11-29 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_notify_setting'
down_revision = '0006_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_new_mail', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_column('notify_new_mail')
