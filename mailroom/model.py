"""Plain data shared by the parser, the rules and the store.

Frozen dataclasses only; no I/O and no behaviour beyond small lookups, so every
module can import this one without pulling in anything else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Address:
    """One mailbox from an address header: display name and lower-cased address."""

    name: str
    email: str


@dataclass(frozen=True)
class Attachment:
    """An attachment as listed on a message; `filename` is display text, never a path."""

    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ParsedMessage:
    """What the parser extracts from one raw RFC 5322 message.

    Message-IDs are stored without angle brackets. `date` is timezone-aware UTC or
    None; `date_source` says where it came from ("date", "received" or None).
    `return_path` is None when the header is missing and "" for the null sender `<>`.
    `headers` keeps every header as (lower-cased name, decoded value) in order, so the
    rules can look at markers such as Auto-Submitted or List-Id.
    """

    message_id: str
    message_id_generated: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_addr: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    resent_to: tuple[Address, ...]
    resent_cc: tuple[Address, ...]
    return_path: str | None
    subject: str
    date: dt.datetime | None
    date_source: str | None
    content_type: str
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]
    raw_sha256: str
    size: int
    defects: tuple[str, ...] = field(default=())

    def header(self, name: str) -> list[str]:
        """All values of header `name` (case-insensitive), in order."""
        key = name.lower()
        return [value for hname, value in self.headers if hname == key]

    def has_header(self, name: str) -> bool:
        key = name.lower()
        return any(hname == key for hname, _ in self.headers)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect to one mail server; the password travels separately.

    `security` is "ssl" (implicit TLS), "starttls" (STLS/STARTTLS required) or "none".
    """

    protocol: str          # "pop3" | "smtp"
    host: str
    port: int
    security: str
    username: str = ""
    domain: str = ""
    ca_file: str | None = None
    timeout: float = 30.0

    @property
    def login(self) -> str:
        """The login name: DOMAIN\\username for Exchange-style servers."""
        return f"{self.domain}\\{self.username}" if self.domain else self.username

    @property
    def is_gmail(self) -> bool:
        host = self.host.lower().rstrip(".")
        return host.endswith((".gmail.com", ".googlemail.com")) or host in ("gmail.com", "googlemail.com")


@dataclass(frozen=True)
class Mailbox:
    """One incoming mailbox, as saved (or about to be saved) in the settings.

    One type for the settings entry and the store's row (mailroom/store/mailboxes.py
    builds it from either): the settings table's fields by name, references to other
    entries by their store ids (`department_id`, ...; None in an entry not saved yet),
    and `id`, the key of everything recorded for the mailbox (None: not saved yet).
    """

    id: int | None
    description: str
    protocol: str
    host: str
    port: int
    security: str
    email: str
    aliases: tuple[str, ...]
    domain: str
    username: str
    leave_on_server: bool
    exclude_before: dt.date | None
    max_message_mb: int
    department_id: int | None
    user_id: int | None
    create_tasks: bool
    tasks_for_automated_mail: bool
    task_type_id: int | None
    task_status_id: int | None
    autoreply: bool
    autoreply_template_id: int | None
    autoreply_when: str
    autoreply_outside_hours_only: bool
    authserv_id: str
    poll_minutes: int
    enabled: bool
    ca_file: str | None

    @property
    def addresses(self) -> tuple[str, ...]:
        """The mailbox's own address and its aliases, lower-cased."""
        return tuple(a.lower() for a in (self.email, *self.aliases))


@dataclass(frozen=True)
class CertificateFacts:
    """What a server's certificate says of itself, to name it in an error message."""

    subject: str
    issuer: str
    not_after: str


# --- what the controller tells every face (tray, page, command line) -----------------


@dataclass(frozen=True)
class RunCounts:
    """What one mailbox run did."""

    listed: int = 0
    new: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped_before_cutoff: int = 0
    quarantined: int = 0
    too_large: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class NewMessage:
    """One message a run imported, as a notification or a dashboard names it."""

    message_pk: int
    client_id: int | None
    sender: str            # the display name, or the address when there is none
    subject: str


@dataclass(frozen=True)
class MailboxState:
    """One mailbox as the faces show it.

    `state` is "waiting", "checking", "paused", "error", "busy" (another process is
    checking it) or "disabled". `run_seq` grows by one with every run this process
    finished, so a notifier can announce each run once; `new_messages` are the first
    few messages the last run imported (`counts.imported` says how many in all).
    """

    id: int
    description: str
    enabled: bool
    state: str
    last_run_at: dt.datetime | None = None
    next_run_at: dt.datetime | None = None
    counts: RunCounts | None = None
    error: str | None = None
    error_kind: str | None = None
    error_field: str | None = None
    failures: int = 0
    run_seq: int = 0
    new_messages: tuple[NewMessage, ...] = ()


@dataclass(frozen=True)
class OutboxCounts:
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    uncertain: int = 0

    @property
    def problems(self) -> int:
        """Replies a person should look at: refused for good, or maybe sent twice."""
        return self.failed + self.uncertain


@dataclass(frozen=True)
class Stats:
    """What the store holds, counted (`mailroom stats`)."""

    clients: int
    messages_in: int
    messages_out: int
    tasks: int
    quarantined: int
    outbox: OutboxCounts

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Status:
    """A snapshot of the whole app, safe to hand to any thread.

    `unread` counts messages imported since the page was last opened (the tray's
    badge); `outbox_error` says why auto-replies wait, when they do.
    """

    paused: bool
    paused_until: dt.datetime | None
    mailboxes: tuple[MailboxState, ...]
    outbox: OutboxCounts
    quarantined: int
    unread: int = 0
    outbox_error: str | None = None
    seq: int = 0

    @property
    def overall(self) -> str:
        """One word for the tray icon: "error", "checking", "paused" or "idle"."""
        boxes = [b for b in self.mailboxes if b.enabled]
        if any(b.state == "error" for b in boxes) or self.outbox_error:
            return "error"
        if any(b.state == "checking" for b in boxes):
            return "checking"
        if self.paused:
            return "paused"
        return "idle"

    def mailbox(self, mailbox_id: int) -> MailboxState | None:
        return next((b for b in self.mailboxes if b.id == mailbox_id), None)


@dataclass(frozen=True)
class RunRecord:
    """One entry of the activity log: a finished (or still running) mailbox run."""

    id: int
    mailbox_id: int | None
    mailbox: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    counts: RunCounts
    error_kind: str | None
    error: str | None


@dataclass(frozen=True)
class CheckResult:
    """The answer of a connection check or a test email that worked."""

    ok: bool
    message: str
    count: int | None = None
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"ok": self.ok, "error_kind": None, "field": None, "message": self.message,
                "count": self.count, "warnings": list(self.warnings)}


# --- what the settings page is generated from ----------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One setting as a form shows it (from the settings table, mailroom/settings/fields.py).

    `kind` is "str", "int", "bool", "date", "list" (of addresses) or "ref" (the name
    of an entry of section `ref`). `default` is None for a required field.
    """

    name: str
    kind: str
    help: str
    required: bool
    default: object = None
    choices: tuple[str, ...] = ()
    ref: str | None = None


@dataclass(frozen=True)
class SectionSpec:
    """A settings section: one table (`single`) or a list of entries named by `key`."""

    name: str
    help: str
    single: bool
    key: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class MergeFieldHelp:
    """A merge field a template may use, with its help line and the preview's sample value."""

    name: str
    help: str
    sample: str


@dataclass(frozen=True)
class TemplatePreview:
    """A template rendered on sample data, or the problems that stop it from rendering."""

    subject: str
    text: str
    html: str | None
    problems: tuple[str, ...] = ()
