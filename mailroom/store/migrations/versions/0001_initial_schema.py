"""Initial schema: settings, clients, messages, tasks, outbox, runs.

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 17:23:58.010220
"""
from alembic import op
import sqlalchemy as sa
import mailroom.store.schema


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('created_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients'))
    )
    op.create_table('company',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('phone', sa.String(length=100), server_default='', nullable=False),
    sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('business_hours', sa.String(length=200), server_default='', nullable=False),
    sa.Column('unknown_sender', sa.String(length=20), server_default='create', nullable=False),
    sa.Column('autoreply_rate_limit_days', sa.Integer(), server_default='7', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('name', name=op.f('uq_departments_name'))
    )
    op.create_table('meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_meta'))
    )
    op.create_table('outgoing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), server_default='', nullable=False),
    sa.Column('port', sa.Integer(), server_default='587', nullable=False),
    sa.Column('security', sa.String(length=10), server_default='starttls', nullable=False),
    sa.Column('display_name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('email', sa.String(length=320), server_default='', nullable=False),
    sa.Column('username', sa.String(length=320), server_default='', nullable=False),
    sa.Column('ca_file', sa.String(length=1024), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing'))
    )
    op.create_table('task_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_types')),
    sa.UniqueConstraint('name', name=op.f('uq_task_types_name'))
    )
    op.create_table('templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.Text(), server_default='', nullable=False),
    sa.Column('body', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_templates_name'))
    )
    op.create_table('client_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_emails_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_emails')),
    sa.UniqueConstraint('client_id', 'email', name='uq_client_emails_client_email')
    )
    with op.batch_alter_table('client_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_emails_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_emails_email'), ['email'], unique=False)

    op.create_table('task_statuses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('task_type_id', sa.Integer(), nullable=True),
    sa.Column('final', sa.Boolean(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['task_type_id'], ['task_types.id'], name=op.f('fk_task_statuses_task_type_id_task_types'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_statuses')),
    sa.UniqueConstraint('name', name=op.f('uq_task_statuses_name'))
    )
    with op.batch_alter_table('task_statuses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_statuses_task_type_id'), ['task_type_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), server_default='', nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_users_department_id_departments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_department_id'), ['department_id'], unique=False)

    op.create_table('mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('protocol', sa.String(length=10), server_default='pop3', nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('security', sa.String(length=10), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('domain', sa.String(length=255), server_default='', nullable=False),
    sa.Column('username', sa.String(length=320), nullable=False),
    sa.Column('leave_on_server', sa.Boolean(), server_default=sa.text('1'), nullable=False),
    sa.Column('exclude_before', sa.Date(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('create_tasks', sa.Boolean(), server_default=sa.text('0'), nullable=False),
    sa.Column('task_type_id', sa.Integer(), nullable=True),
    sa.Column('task_status_id', sa.Integer(), nullable=True),
    sa.Column('autoreply', sa.Boolean(), server_default=sa.text('0'), nullable=False),
    sa.Column('autoreply_template_id', sa.Integer(), nullable=True),
    sa.Column('autoreply_when', sa.String(length=20), server_default='new_conversation', nullable=False),
    sa.Column('autoreply_outside_hours_only', sa.Boolean(), server_default=sa.text('0'), nullable=False),
    sa.Column('poll_minutes', sa.Integer(), server_default='5', nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('1'), nullable=False),
    sa.Column('ca_file', sa.String(length=1024), nullable=True),
    sa.ForeignKeyConstraint(['autoreply_template_id'], ['templates.id'], name=op.f('fk_mailboxes_autoreply_template_id_templates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_mailboxes_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_status_id'], ['task_statuses.id'], name=op.f('fk_mailboxes_task_status_id_task_statuses'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_type_id'], ['task_types.id'], name=op.f('fk_mailboxes_task_type_id_task_types'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mailboxes_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailboxes')),
    sa.UniqueConstraint('description', name=op.f('uq_mailboxes_description'))
    )
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailboxes_autoreply_template_id'), ['autoreply_template_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mailboxes_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mailboxes_task_status_id'), ['task_status_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mailboxes_task_type_id'), ['task_type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mailboxes_user_id'), ['user_id'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_conversations_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_conversations_mailbox_id_mailboxes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversations_mailbox_id'), ['mailbox_id'], unique=False)

    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('uid', sa.String(length=70), nullable=False),
    sa.Column('raw_sha256', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_quarantine_mailbox_id_mailboxes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_mailbox_id'), ['mailbox_id'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('started_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.Column('ended_at', mailroom.store.schema.UTCDateTime(), nullable=True),
    sa.Column('listed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('new', sa.Integer(), server_default='0', nullable=False),
    sa.Column('imported', sa.Integer(), server_default='0', nullable=False),
    sa.Column('duplicates', sa.Integer(), server_default='0', nullable=False),
    sa.Column('skipped_before_cutoff', sa.Integer(), server_default='0', nullable=False),
    sa.Column('quarantined', sa.Integer(), server_default='0', nullable=False),
    sa.Column('deleted', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error_kind', sa.String(length=20), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_runs_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_mailbox_id'), ['mailbox_id'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.String(length=998), nullable=False),
    sa.Column('in_reply_to', sa.Text(), server_default='', nullable=False),
    sa.Column('references', sa.Text(), server_default='', nullable=False),
    sa.Column('subject', sa.Text(), server_default='', nullable=False),
    sa.Column('from_addr', sa.String(length=320), server_default='', nullable=False),
    sa.Column('from_name', sa.String(length=300), server_default='', nullable=False),
    sa.Column('to_addrs', sa.Text(), server_default='', nullable=False),
    sa.Column('cc_addrs', sa.Text(), server_default='', nullable=False),
    sa.Column('date', mailroom.store.schema.UTCDateTime(), nullable=True),
    sa.Column('text', sa.Text(), server_default='', nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_reply', sa.Boolean(), server_default=sa.text('0'), nullable=False),
    sa.Column('client_ambiguous', sa.Boolean(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_messages_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_messages_conversation_id_conversations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_messages_mailbox_id_mailboxes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_mailbox_id'), ['mailbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_raw_sha256'), ['raw_sha256'], unique=False)

    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_attachments_message_pk_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments'))
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_message_pk'), ['message_pk'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('reply_to_message_pk', sa.Integer(), nullable=True),
    sa.Column('to_addr', sa.String(length=320), nullable=False),
    sa.Column('from_addr', sa.String(length=320), nullable=False),
    sa.Column('message_id', sa.String(length=998), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', mailroom.store.schema.UTCDateTime(), nullable=True),
    sa.Column('created_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.Column('sent_at', mailroom.store.schema.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_outbox_mailbox_id_mailboxes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reply_to_message_pk'], ['messages.id'], name=op.f('fk_outbox_reply_to_message_pk_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('reply_to_message_pk', name=op.f('uq_outbox_reply_to_message_pk'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_mailbox_id'), ['mailbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_to_addr'), ['to_addr'], unique=False)

    op.create_table('seen_uids',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=70), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=True),
    sa.Column('seen_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_seen_uids_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_seen_uids_message_pk_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('mailbox_id', 'uid', name=op.f('pk_seen_uids'))
    )
    with op.batch_alter_table('seen_uids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_uids_message_pk'), ['message_pk'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('task_type_id', sa.Integer(), nullable=True),
    sa.Column('task_status_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('source_message_pk', sa.Integer(), nullable=True),
    sa.Column('created_at', mailroom.store.schema.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_tasks_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_tasks_conversation_id_conversations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_tasks_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_message_pk'], ['messages.id'], name=op.f('fk_tasks_source_message_pk_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_status_id'], ['task_statuses.id'], name=op.f('fk_tasks_task_status_id_task_statuses'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_type_id'], ['task_types.id'], name=op.f('fk_tasks_task_type_id_task_types'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tasks_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_source_message_pk'), ['source_message_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_task_status_id'), ['task_status_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_task_type_id'), ['task_type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_user_id'))
        batch_op.drop_index(batch_op.f('ix_tasks_task_type_id'))
        batch_op.drop_index(batch_op.f('ix_tasks_task_status_id'))
        batch_op.drop_index(batch_op.f('ix_tasks_source_message_pk'))
        batch_op.drop_index(batch_op.f('ix_tasks_department_id'))
        batch_op.drop_index(batch_op.f('ix_tasks_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_tasks_client_id'))

    op.drop_table('tasks')
    with op.batch_alter_table('seen_uids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_uids_message_pk'))

    op.drop_table('seen_uids')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_to_addr'))
        batch_op.drop_index(batch_op.f('ix_outbox_state'))
        batch_op.drop_index(batch_op.f('ix_outbox_mailbox_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_message_pk'))

    op.drop_table('attachments')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_raw_sha256'))
        batch_op.drop_index(batch_op.f('ix_messages_message_id'))
        batch_op.drop_index(batch_op.f('ix_messages_mailbox_id'))
        batch_op.drop_index(batch_op.f('ix_messages_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_messages_client_id'))

    op.drop_table('messages')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_mailbox_id'))

    op.drop_table('runs')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_mailbox_id'))

    op.drop_table('quarantine')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_mailbox_id'))
        batch_op.drop_index(batch_op.f('ix_conversations_client_id'))

    op.drop_table('conversations')
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailboxes_user_id'))
        batch_op.drop_index(batch_op.f('ix_mailboxes_task_type_id'))
        batch_op.drop_index(batch_op.f('ix_mailboxes_task_status_id'))
        batch_op.drop_index(batch_op.f('ix_mailboxes_department_id'))
        batch_op.drop_index(batch_op.f('ix_mailboxes_autoreply_template_id'))

    op.drop_table('mailboxes')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_department_id'))

    op.drop_table('users')
    with op.batch_alter_table('task_statuses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_statuses_task_type_id'))

    op.drop_table('task_statuses')
    with op.batch_alter_table('client_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_emails_email'))
        batch_op.drop_index(batch_op.f('ix_client_emails_client_id'))

    op.drop_table('client_emails')
    op.drop_table('templates')
    op.drop_table('task_types')
    op.drop_table('outgoing')
    op.drop_table('meta')
    op.drop_table('departments')
    op.drop_table('company')
    op.drop_table('clients')
