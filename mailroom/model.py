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
    label: str = ""                       # the page's words for the field, its help and its choices
    page_help: str = ""
    choice_labels: tuple[str, ...] = ()

    def choice_text(self, value: object) -> str:
        """The page's words for one of the `choices` (the value itself when it has none)."""
        labels = dict(zip(self.choices, self.choice_labels))
        return labels.get(value, "" if value is None else str(value))


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


# --- clients, their mail and tasks, search, activity (mailroom.views) ----------------


@dataclass(frozen=True)
class Page:
    """One page of a list, newest (or first) first. `next` is the opaque cursor of the
    page after it (keyset paging: it names the last row shown, never a row count), or
    None when this is the last page."""

    items: tuple
    next: str | None = None


@dataclass(frozen=True)
class ClientSummary:
    """A client as the list shows it: their addresses and what they have with us."""

    id: int
    name: str
    emails: tuple[str, ...]
    messages: int
    open_tasks: int
    last_contact: dt.datetime | None


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a client's timeline: a message ("in" or "out") or a task ("task").

    For an incoming message, `state` is its auto-reply's outbox state ("pending",
    "sending", "sent", "failed", "uncertain"; "" when none was queued) and `note` why a
    reply was or was not sent (or the server's reply to a failed one). For a task,
    `state` is its status and `closed` says whether that status is final.
    """

    kind: str
    id: int
    at: dt.datetime | None
    title: str
    who: str
    state: str = ""
    note: str = ""
    closed: bool = False
    attachments: int = 0
    message_pk: int | None = None      # a task's source message


@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment of a stored message; `number` counts from 1 in the message's order."""

    number: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class FileData:
    """Bytes to hand to the user: an attachment, an inline image, a held message.
    `filename` is display text made safe by the parser, never a path."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingMail:
    """One auto-reply in the outbox, whatever became of it; `last_error` is the server's reply."""

    id: int
    mailbox: str
    to_addr: str
    state: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    reply_to_message_pk: int | None
    subject: str
    client_id: int | None


@dataclass(frozen=True)
class TaskRecord:
    """A task as the task list shows it; names rather than ids ("" when not set)."""

    id: int
    title: str
    created_at: dt.datetime
    client_id: int | None
    client_name: str
    message_pk: int | None
    task_type: str
    status: str
    closed: bool
    department: str
    user: str


@dataclass(frozen=True)
class TaskFilter:
    """What the task list shows: names of settings entries (None: any) and open/closed/all."""

    department: str | None = None
    user: str | None = None
    status: str | None = None
    task_type: str | None = None
    state: str = "open"
    client_id: int | None = None


@dataclass(frozen=True)
class MessageDetail:
    """One stored message with what Mailroom did with it.

    `html` is the message's HTML part as received: attacker-written, to be sanitized
    before any browser sees it. `tasks` are (id, title) of the tasks it opened.
    """

    pk: int
    direction: str
    mailbox: str
    client_id: int | None
    client_name: str
    client_ambiguous: bool
    from_name: str
    from_addr: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: dt.datetime | None
    subject: str
    text: str
    html: str | None
    attachments: tuple[AttachmentInfo, ...]
    size: int
    is_reply: bool
    tasks: tuple[tuple[int, str], ...]
    autoreply: OutgoingMail | None
    autoreply_note: str
    task_note: str


@dataclass(frozen=True)
class UnfiledMessage:
    """A message filed under no client (unknown sender, `leave_unmatched`) or under one of
    several clients that share its sender's address; `candidates` are (id, name) of those."""

    pk: int
    at: dt.datetime | None
    subject: str
    from_name: str
    from_addr: str
    mailbox: str
    ambiguous: bool
    candidates: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class SearchHit:
    """One search result. `title` and `snippet` (the matching text around the words found)
    come in pieces, (text, is_match), so a page can escape each piece and mark the words."""

    kind: str            # "client" | "message" | "task"
    id: int
    title: tuple[tuple[str, bool], ...]
    detail: str
    at: dt.datetime | None
    snippet: tuple[tuple[str, bool], ...] = ()
    client_id: int | None = None
    message_pk: int | None = None


@dataclass(frozen=True)
class SearchResults:
    """The header box's answer. `full_text` is False when the store has no full-text
    index (PostgreSQL, or SQLite without FTS5): messages were then matched word by word
    with LIKE and listed newest first instead of by rank. `newest_only`: so many messages
    matched that only the newest of them were ranked (mailroom.store.search.RANKED)."""

    query: str
    clients: tuple[SearchHit, ...]
    messages: tuple[SearchHit, ...]
    tasks: tuple[SearchHit, ...]
    full_text: bool
    more_messages: str | None = None
    newest_only: bool = False


@dataclass(frozen=True)
class DailyImports:
    """Messages imported per day by one mailbox, oldest day first (the activity chart)."""

    mailbox_id: int
    mailbox: str
    days: tuple[tuple[dt.date, int], ...]


@dataclass(frozen=True)
class HeldMessage:
    """A quarantined message. `headers_only`: it was left on the server (too large, or its
    download broke a bound) and only its headers are kept, so it can only be fetched again;
    otherwise the whole message is kept and can be parsed again."""

    id: int
    mailbox_id: int | None
    mailbox: str
    uid: str
    reason: str
    created_at: dt.datetime
    raw_sha256: str | None
    headers_only: bool
    size: int | None
