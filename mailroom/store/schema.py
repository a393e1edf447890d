"""The store's tables, as SQLAlchemy Core metadata.

The Alembic migrations in `migrations/versions/` are the truth for what a database
holds; this module is what the code queries against and what autogenerate compares
with. Settings tables reference each other by id; the settings file references them
by name (see mailroom/settings/).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

# The full-text index of messages (mailroom/store/search.py) is an FTS5 virtual table
# and its shadow tables, made in SQL by migration 0006_search on SQLite only; SQLAlchemy
# cannot describe them, so Alembic's comparisons leave them out (`include_name`).
SEARCH_TABLE = "message_search"


def include_name(name, type_, _parent_names) -> bool:
    """Alembic's filter: every table but the full-text index's."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLE))


# Stable constraint names, so Alembic batch migrations on SQLite can find them.
metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True)


def _fk(name: str, target: str, *, ondelete: str = "SET NULL", nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer, sa.ForeignKey(f"{target}.id", ondelete=ondelete),
                     nullable=nullable, index=True)


# --- key/value facts about this install (e.g. the secret that signs our Message-IDs)
meta = sa.Table("meta", metadata,
                sa.Column("key", sa.String(64), primary_key=True),
                sa.Column("value", sa.Text, nullable=False))

# --- settings -------------------------------------------------------------------
company = sa.Table(
    "company", metadata, _id(),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("phone", sa.String(100), nullable=False, server_default=""),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("business_hours", sa.String(200), nullable=False, server_default=""),
    sa.Column("unknown_sender", sa.String(20), nullable=False, server_default="create"),
    sa.Column("autoreply_rate_limit_days", sa.Integer, nullable=False, server_default="7"),
    sa.Column("autoreply_max_per_hour", sa.Integer, nullable=False, server_default="50"),
    sa.Column("notify_new_mail", sa.Boolean, nullable=False, server_default=sa.true()),
)

outgoing = sa.Table(
    "outgoing", metadata, _id(),
    sa.Column("host", sa.String(255), nullable=False, server_default=""),
    sa.Column("port", sa.Integer, nullable=False, server_default="587"),
    sa.Column("security", sa.String(10), nullable=False, server_default="starttls"),
    sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("email", sa.String(320), nullable=False, server_default=""),
    sa.Column("username", sa.String(320), nullable=False, server_default=""),
    sa.Column("ca_file", sa.String(1024)),
)

departments = sa.Table("departments", metadata, _id(),
                       sa.Column("name", sa.String(200), nullable=False, unique=True))

users = sa.Table("users", metadata, _id(),
                 sa.Column("name", sa.String(200), nullable=False, unique=True),
                 sa.Column("email", sa.String(320), nullable=False, server_default=""),
                 _fk("department_id", "departments"))

task_types = sa.Table("task_types", metadata, _id(),
                      sa.Column("name", sa.String(200), nullable=False, unique=True))

task_statuses = sa.Table("task_statuses", metadata, _id(),
                         sa.Column("name", sa.String(200), nullable=False, unique=True),
                         _fk("task_type_id", "task_types"),
                         sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()))

templates = sa.Table("templates", metadata, _id(),
                     sa.Column("name", sa.String(200), nullable=False, unique=True),
                     sa.Column("kind", sa.String(20), nullable=False),
                     sa.Column("subject", sa.Text, nullable=False, server_default=""),
                     sa.Column("body", sa.Text, nullable=False, server_default=""))

mailboxes = sa.Table(
    "mailboxes", metadata, _id(),
    sa.Column("description", sa.String(200), nullable=False, unique=True),
    sa.Column("protocol", sa.String(10), nullable=False, server_default="pop3"),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("security", sa.String(10), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("aliases", sa.JSON, nullable=False, default=list),
    sa.Column("domain", sa.String(255), nullable=False, server_default=""),
    sa.Column("username", sa.String(320), nullable=False),
    sa.Column("leave_on_server", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("exclude_before", sa.Date),
    _fk("department_id", "departments"),
    _fk("user_id", "users"),
    sa.Column("create_tasks", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("tasks_for_automated_mail", sa.Boolean, nullable=False, server_default=sa.false()),
    _fk("task_type_id", "task_types"),
    _fk("task_status_id", "task_statuses"),
    sa.Column("autoreply", sa.Boolean, nullable=False, server_default=sa.false()),
    _fk("autoreply_template_id", "templates"),
    sa.Column("autoreply_when", sa.String(20), nullable=False, server_default="new_conversation"),
    sa.Column("autoreply_outside_hours_only", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("poll_minutes", sa.Integer, nullable=False, server_default="5"),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("ca_file", sa.String(1024)),
    sa.Column("authserv_id", sa.String(255), nullable=False, server_default=""),
    sa.Column("max_message_mb", sa.Integer, nullable=False, server_default="50"),
)

# --- the install's state: scheduled checks paused (one row, id 1, while paused) -------
# paused_until: when the pause ends by itself; None: until the user resumes. Kept here,
# not in memory, so a restart does not silently resume the checks.
pause = sa.Table("pause", metadata,
                 sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("paused_at", UTCDateTime, nullable=False),
                 sa.Column("paused_until", UTCDateTime))

# --- what the pipeline records --------------------------------------------------
clients = sa.Table("clients", metadata, _id(),
                   sa.Column("name", sa.String(300), nullable=False),
                   sa.Column("created_at", UTCDateTime, nullable=False))

client_emails = sa.Table("client_emails", metadata, _id(),
                         _fk("client_id", "clients", ondelete="CASCADE", nullable=False),
                         sa.Column("email", sa.String(320), nullable=False, index=True),
                         sa.UniqueConstraint("client_id", "email", name="uq_client_emails_client_email"))

conversations = sa.Table("conversations", metadata, _id(),
                         _fk("client_id", "clients"),
                         _fk("mailbox_id", "mailboxes"),
                         sa.Column("subject", sa.Text, nullable=False, server_default=""),
                         sa.Column("created_at", UTCDateTime, nullable=False))

messages = sa.Table(
    "messages", metadata, _id(),
    sa.Column("direction", sa.String(3), nullable=False),          # "in" | "out"
    _fk("mailbox_id", "mailboxes"),
    _fk("client_id", "clients"),
    _fk("conversation_id", "conversations"),
    sa.Column("message_id", sa.String(998), nullable=False, index=True),
    sa.Column("in_reply_to", sa.Text, nullable=False, server_default=""),
    sa.Column("references", sa.Text, nullable=False, server_default=""),
    sa.Column("subject", sa.Text, nullable=False, server_default=""),
    sa.Column("from_addr", sa.String(320), nullable=False, server_default=""),
    sa.Column("from_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("to_addrs", sa.Text, nullable=False, server_default=""),
    sa.Column("cc_addrs", sa.Text, nullable=False, server_default=""),
    sa.Column("date", UTCDateTime),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("html", sa.Text),
    sa.Column("raw_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.Integer, nullable=False, server_default="0"),
    sa.Column("is_reply", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("client_ambiguous", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Why the decision was what it was, for the activity log: no task (NoTask's reason,
    # after the note of a reply that did not join another client's conversation), and
    # the auto-reply's reason, with the rule id when it was skipped.
    sa.Column("task_note", sa.Text),
    sa.Column("autoreply_rule", sa.String(40)),
    sa.Column("autoreply_note", sa.Text),
)

attachments = sa.Table("attachments", metadata, _id(),
                       _fk("message_pk", "messages", ondelete="CASCADE", nullable=False),
                       sa.Column("filename", sa.String(500), nullable=False),
                       sa.Column("content_type", sa.String(200), nullable=False),
                       sa.Column("size", sa.Integer, nullable=False),
                       sa.Column("sha256", sa.String(64), nullable=False))

# state: imported | duplicate | skipped | quarantined | too_large (left on the server);
# message_date: the header date of a UID skipped before the cutoff, so an earlier cutoff
# can make it eligible again
seen_uids = sa.Table("seen_uids", metadata,
                     sa.Column("mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"),
                               primary_key=True),
                     sa.Column("uid", sa.String(70), primary_key=True),
                     sa.Column("state", sa.String(12), nullable=False),
                     _fk("message_pk", "messages"),
                     sa.Column("seen_at", UTCDateTime, nullable=False),
                     sa.Column("message_date", UTCDateTime))

quarantine = sa.Table("quarantine", metadata, _id(),
                      _fk("mailbox_id", "mailboxes"),
                      sa.Column("uid", sa.String(70), nullable=False),
                      sa.Column("raw_sha256", sa.String(64)),
                      sa.Column("reason", sa.Text, nullable=False),
                      sa.Column("created_at", UTCDateTime, nullable=False),
                      # left on the server with only its headers kept (too large, or its
                      # download broke a bound): it can be fetched again, not parsed again
                      sa.Column("headers_only", sa.Boolean, nullable=False, server_default=sa.false()))

tasks = sa.Table("tasks", metadata, _id(),
                 _fk("client_id", "clients"),
                 _fk("conversation_id", "conversations"),
                 sa.Column("title", sa.Text, nullable=False),
                 _fk("task_type_id", "task_types"),
                 _fk("task_status_id", "task_statuses"),
                 _fk("department_id", "departments"),
                 _fk("user_id", "users"),
                 _fk("source_message_pk", "messages"),
                 sa.Column("created_at", UTCDateTime, nullable=False))

# state: pending | sending | sent | failed | uncertain
outbox = sa.Table("outbox", metadata, _id(),
                  _fk("mailbox_id", "mailboxes"),
                  # at most one auto-reply per incoming message, enforced by the database
                  sa.Column("reply_to_message_pk", sa.Integer,
                            sa.ForeignKey("messages.id", ondelete="SET NULL"), unique=True),
                  sa.Column("to_addr", sa.String(320), nullable=False, index=True),
                  # to_addr as the rate limit counts it (rules.match.sender_key)
                  sa.Column("to_key", sa.String(320), nullable=False, server_default="", index=True),
                  sa.Column("from_addr", sa.String(320), nullable=False),
                  sa.Column("message_id", sa.String(998), nullable=False),
                  sa.Column("raw", sa.LargeBinary, nullable=False),
                  sa.Column("state", sa.String(10), nullable=False, index=True),
                  sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
                  sa.Column("last_error", sa.Text),
                  sa.Column("next_attempt_at", UTCDateTime),
                  sa.Column("created_at", UTCDateTime, nullable=False, index=True),
                  sa.Column("sent_at", UTCDateTime))

runs = sa.Table("runs", metadata, _id(),
                _fk("mailbox_id", "mailboxes", ondelete="CASCADE"),
                sa.Column("started_at", UTCDateTime, nullable=False),
                sa.Column("ended_at", UTCDateTime),
                sa.Column("listed", sa.Integer, nullable=False, server_default="0"),
                sa.Column("new", sa.Integer, nullable=False, server_default="0"),
                sa.Column("imported", sa.Integer, nullable=False, server_default="0"),
                sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
                sa.Column("skipped_before_cutoff", sa.Integer, nullable=False, server_default="0"),
                sa.Column("quarantined", sa.Integer, nullable=False, server_default="0"),
                sa.Column("deleted", sa.Integer, nullable=False, server_default="0"),
                sa.Column("too_large", sa.Integer, nullable=False, server_default="0"),
                sa.Column("error_kind", sa.String(20)),
                sa.Column("error", sa.Text))
