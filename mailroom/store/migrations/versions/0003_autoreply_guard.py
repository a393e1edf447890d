"""Auto-reply guards: hourly cap, install-wide rate limit key, decision notes, settings.

company.autoreply_max_per_hour; mailboxes.tasks_for_automated_mail and authserv_id;
messages.task_note, autoreply_rule, autoreply_note (why no task, why a reply or not);
outbox.to_key (the address as the rate limit counts it, filled in for existing rows)
and an index on outbox.created_at for the hourly count.

Revision ID: 0003_autoreply_guard
Revises: 0001
Create Date: 2026-11-29 01:59:14.074539
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_autoreply_guard'
down_revision = '0001'
branch_labels = None
depends_on = None


def _to_key(address: str) -> str:
    # rules.match.sender_key as it is at this revision (a migration must not change
    # when the code does): lower case, "+detail" dropped from the local part.
    local, at, domain = address.strip().strip("<>").strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    return f"{local.split('+', 1)[0] or local}@{domain}"


def upgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('autoreply_max_per_hour', sa.Integer(), server_default='50', nullable=False))

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tasks_for_automated_mail', sa.Boolean(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('authserv_id', sa.String(length=255), server_default='', nullable=False))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('autoreply_rule', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('autoreply_note', sa.Text(), nullable=True))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('to_key', sa.String(length=320), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_outbox_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_to_key'), ['to_key'], unique=False)

    # Replies sent before this revision still count for the rate limit.
    outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('to_addr', sa.String),
                      sa.column('to_key', sa.String))
    conn = op.get_bind()
    keys = [{'row_id': row_id, 'key': _to_key(to_addr)}
            for row_id, to_addr in conn.execute(sa.select(outbox.c.id, outbox.c.to_addr))]
    if keys:
        conn.execute(outbox.update().where(outbox.c.id == sa.bindparam('row_id'))
                     .values(to_key=sa.bindparam('key')), keys)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_to_key'))
        batch_op.drop_index(batch_op.f('ix_outbox_created_at'))
        batch_op.drop_column('to_key')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('autoreply_note')
        batch_op.drop_column('autoreply_rule')
        batch_op.drop_column('task_note')

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('authserv_id')
        batch_op.drop_column('tasks_for_automated_mail')

    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_column('autoreply_max_per_hour')
