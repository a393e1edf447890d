"""The definition of every setting: name, type, default, help text and validation.

One table per section (datasette's habit): the settings file's keys, the checks
that report `mailboxes[2].port: must be 1-65535`, the export and the page's forms
(with each field's page label, page help and choice labels) are all derived from
`SECTIONS`, so they cannot drift apart; other modules
should take choices (a field's `choices`) and defaults (`defaults()`) from here
rather than repeat them. Pure: no I/O except that `ca_file` must name an existing file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REQUIRED = object()

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+$")

SECURITY_CHOICES = ("ssl", "starttls", "none")


def check_host(value: str) -> str | None:
    if not _HOST.match(value):
        return "must be a server name such as pop.gmail.com (letters, digits, dots and dashes)"
    return None


def check_email(value: str) -> str | None:
    return None if _EMAIL.match(value) else "must be an email address such as studio@example.com"


def check_port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "must be 1-65535"


def check_timezone(value: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 'must be a time zone name such as "Europe/London"'
    return None


def check_business_hours(value: str) -> str | None:
    if not value:
        return None
    from mailroom.rules.hours import parse_business_hours

    try:
        parse_business_hours(value)
    except ValueError as exc:
        return str(exc)
    return None


def expand_path(value: str | None) -> str | None:
    """`~` expanded and made absolute, so the file is found whatever the working folder."""
    return os.path.abspath(os.path.expanduser(value)) if value else value


def check_ca_file(value: str) -> str | None:
    return None if Path(value).is_file() else f"no such file: {value}"


# C0 controls, DEL and C1 controls. In a setting they are never wanted and can be
# harmful: a CR LF in a user name would end the POP3 USER command and start another
# (RFC 1939 section 3: commands end with CRLF).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MULTILINE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_no_controls(value: str, multiline: bool = False) -> str | None:
    """A message when `value` holds a control character; tab and line breaks only if `multiline`."""
    found = (_MULTILINE_CONTROL if multiline else _CONTROL).search(value)
    if not found:
        return None
    where = f"U+{ord(found.group()):04X} at character {found.start() + 1}"
    if multiline:
        return f"must not contain control characters other than line breaks and tabs (found {where})"
    return f"must be one line of text without control characters such as line breaks or tabs (found {where})"


def is_loopback_host(host: str) -> bool:
    """`host` names this computer: localhost (RFC 6761 section 6.3) or a loopback address.

    Decided from the text alone, without a DNS lookup, so validation stays pure.
    """
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def plain_text_warning(host: str | None, security: str | None) -> str | None:
    """The warning for a login sent without TLS to another computer; None when there is none."""
    if security != "none" or not host or is_loopback_host(host):
        return None
    return (f'security = "none" sends the password to {host} unencrypted, so anyone on the network '
            'in between can read it; use "ssl" or "starttls" if the server offers them')


def check_positive(value: int) -> str | None:
    return None if value >= 1 else "must be 1 or more"


def check_poll_minutes(value: int) -> str | None:
    # More than a day between checks is a typing slip ("in 166666 h"), not a schedule.
    return None if 1 <= value <= 1440 else "must be 1-1440 minutes (1440 is once a day)"


@dataclass(frozen=True)
class Field:
    """One setting. `kind` is str, int, bool, date, list (of str), or ref (a name in `ref`)."""

    name: str
    kind: str
    help: str
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()
    ref: str | None = None
    check: Callable[[Any], str | None] | None = None
    clean: Callable[[Any], Any] | None = None   # canonical form, applied before `check`
    multiline: bool = False                     # text kept as written: line breaks and tabs allowed
    # The page's words (its form is generated from this table): the label, help where
    # `help` speaks of the settings file's values, and a label per choice, in order.
    label: str = ""
    page_help: str = ""
    choice_labels: tuple[str, ...] = ()

    def __post_init__(self):
        if self.choice_labels and len(self.choice_labels) != len(self.choices):
            raise ValueError(f"{self.name}: one label per choice")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Section:
    """A settings section: `single` (one table) or a list of entries keyed by `key`.

    `noun` is one entry in words ("task status"); the plural is the section's name in words.
    """

    name: str
    help: str
    fields: tuple[Field, ...]
    single: bool = False
    key: str = "name"
    table: str = ""
    noun: str = ""
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    @property
    def nouns(self) -> str:
        return self.name.replace("_", " ")

    def count(self, n: int) -> str:
        """ "1 mailbox", "2 mailboxes"."""
        return f"{n} {self.noun if n == 1 else self.nouns}"


SECURITY_LABELS = ("SSL/TLS", "STARTTLS", "None (not encrypted)")


def _security(help_: str, default: str, page_help: str) -> Field:
    return Field("security", "str", help_, default, choices=SECURITY_CHOICES, label="Security",
                 page_help=page_help, choice_labels=SECURITY_LABELS)


def _ca_file() -> Field:
    return Field("ca_file", "str", "Optional: a CA certificate file to trust for this server "
                 "(~ is your home folder; stored as an absolute path).", None,
                 check=check_ca_file, clean=expand_path, label="CA certificate file",
                 page_help="Only for a server with a certificate of its own (not Gmail or another "
                 "provider): the file of the certificate authority to trust, e.g. ~/studio-ca.pem.")


SECTIONS: tuple[Section, ...] = (
    Section("company", "Your business, as merged into auto-replies.", single=True, table="company", fields=(
        Field("name", "str", "Company name.", "", label="Company Name"),
        Field("phone", "str", "Phone number shown in auto-replies.", "", label="Phone"),
        Field("timezone", "str", 'Time zone of your business hours, e.g. "Europe/London".', "UTC",
              check=check_timezone, label="Time Zone"),
        Field("business_hours", "str", 'Opening hours, e.g. "Mon-Fri 09:00-17:00".', "",
              check=check_business_hours, label="Business Hours"),
        Field("unknown_sender", "str", "Email from an unknown address: create a client for it, "
              "or leave it unmatched.", "create", choices=("create", "leave_unmatched"),
              label="Email from an unknown sender", choice_labels=("Create a client for it", "Leave it unmatched")),
        Field("autoreply_rate_limit_days", "int", "Auto-reply to the same sender at most once "
              "in this many days, across all mailboxes (ann+tag@ counts as ann@).", 7, check=check_positive,
              label="Auto-reply rate limit (days)"),
        Field("autoreply_max_per_hour", "int", "Send at most this many auto-replies per hour in all; "
              "the rest are skipped, with the reason recorded.", 50, check=check_positive,
              label="Most auto-replies per hour"),
        Field("notify_new_mail", "bool", "Show a desktop notification when new mail arrives "
              "(notifications of problems are always shown).", True,
              label="Announce new mail on the desktop"),
    )),
    Section("outgoing", "The SMTP account that sends test emails and auto-replies.", single=True,
            table="outgoing", fields=(
        Field("host", "str", "SMTP server name, e.g. smtp.gmail.com.", "", check=check_host,
              label="SMTP Server Name"),
        Field("port", "int", "SMTP port: 587 for STARTTLS, 465 for SSL.", None, check=check_port, label="SMTP Port",
              page_help="587 for STARTTLS, 465 for SSL/TLS."),
        _security('"starttls" (port 587), "ssl" (port 465) or "none" (plain text, not advised).',
                  "starttls", "STARTTLS (port 587) or SSL/TLS (port 465). None sends everything unencrypted: "
                  "only for a server on this computer."),
        Field("display_name", "str", "Name shown as the sender of auto-replies.", "", label="Display Name"),
        Field("email", "str", "Sender address of test emails.", "", check=check_email, label="Email Address"),
        Field("username", "str", "Login name for the SMTP server (often the email address).", "",
              label="Logon Name", page_help="The user name for the SMTP server (often the whole email address)."),
        _ca_file(),
    )),
    Section("departments", "Departments tasks can be assigned to.", table="departments", noun="department", fields=(
        Field("name", "str", "Department name.", label="Name"),
    )),
    Section("users", "People tasks can be assigned to.", table="users", noun="user", fields=(
        Field("name", "str", "Full name.", label="Name"),
        Field("email", "str", "Email address.", "", check=check_email, label="Email Address"),
        Field("department", "ref", "Department this person belongs to (optional).", None,
              ref="departments", label="Department"),
    )),
    Section("task_types", "Kinds of task, e.g. Inquiry.", table="task_types", noun="task type", fields=(
        Field("name", "str", "Task type name.", label="Name"),
    )),
    Section("task_statuses", "Statuses a task can have, e.g. Open, Done.", table="task_statuses",
            noun="task status", fields=(
        Field("name", "str", "Status name.", label="Name"),
        Field("task_type", "ref", "Task type this status belongs to (optional: all types).", None,
              ref="task_types", label="Task Type"),
        Field("final", "bool", "A task in this status is finished.", False, label="Final (the task is done)"),
    )),
    Section("templates", "Auto-reply templates.", table="templates", noun="template", fields=(
        Field("name", "str", "Template name.", label="Name"),
        Field("kind", "str", '"form_letter" (plain text) or "html_email".', choices=("form_letter", "html_email"),
              label="Type", page_help="Form Letter: plain text. HTML Email: formatted, written in HTML.",
              choice_labels=("Form Letter", "HTML Email")),
        Field("subject", "str", "Subject line; merge fields such as {{ client.first_name }} allowed.", "",
              label="Subject"),
        Field("body", "str", "The message; merge fields allowed.", "", multiline=True, label="Body"),
    )),
    Section("mailboxes", "Incoming mailboxes Mailroom checks.", key="description", table="mailboxes",
            noun="mailbox", fields=(
        Field("description", "str", "A name for this mailbox, e.g. Sales (must be unique).", label="Description",
              page_help="A name for this email box, e.g. Sales (each box needs its own)."),
        Field("protocol", "str", "Mail protocol.", "pop3", choices=("pop3",), label="Connector",
              page_help="How Mailroom reads the mail.", choice_labels=("POP3",)),
        Field("host", "str", "POP3 server name, e.g. pop.gmail.com.", check=check_host, label="Mail Server"),
        Field("port", "int", "POP3 port: 995 with SSL, 110 without.", None, check=check_port, label="Port Number",
              page_help="995 for SSL/TLS; 110 for STARTTLS or None."),
        _security('"ssl" (port 995), "starttls" (STLS on port 110) or "none".', "ssl",
                  "SSL/TLS (port 995) or STARTTLS (port 110). None sends everything unencrypted: "
                  "only for a server on this computer."),
        Field("email", "str", "The mailbox's email address.", check=check_email, label="Email Address",
              page_help="The email address of this box."),
        Field("aliases", "list", "Other addresses that arrive in this mailbox.", [], check=None,
              label="Other addresses (aliases)", page_help="Other addresses whose mail arrives in this box, "
              "separated by commas."),
        Field("domain", "str", "Windows domain for Exchange-style logins (DOMAIN\\user); blank for Gmail.", "",
              label="Domain", page_help="Only for a company server that wants DOMAIN\\user logins; "
              "leave empty for Gmail and most providers."),
        Field("username", "str", "Login name (for Gmail, the full email address).", None, label="User Name",
              page_help="The user name for the mail server (for Gmail, the whole email address); "
              "empty: the Email Address."),
        Field("leave_on_server", "bool", "Keep messages on the server after importing them.", True,
              label="Leave email on server",
              page_help="Keep each message on the server after importing it (unticked: Mailroom deletes it "
              "there)."),
        Field("exclude_before", "date", "Ignore messages dated before this day (optional).", None,
              label="Exclude Emails Before", page_help="Mail dated before this day is not imported (optional)."),
        Field("max_message_mb", "int", "Largest message to download, in MB; a larger one stays on the "
              "server, only its headers are kept, and it is listed as too large.", 50, check=check_positive,
              label="Largest message (MB)", page_help="A larger message is not downloaded: it stays on the "
              "server and is listed as too large."),
        Field("department", "ref", "Department new tasks are assigned to (optional).", None, ref="departments",
              label="Assigned to Department"),
        Field("user", "ref", "Person new tasks are assigned to (optional).", None, ref="users",
              label="Assigned to User"),
        Field("create_tasks", "bool", "Create a task for each new conversation.", False,
              label="Auto-create a task for each new conversation",
              page_help="A task opens when an email starts a new conversation; a reply joins its "
              "conversation and opens none."),
        Field("tasks_for_automated_mail", "bool", "Also create tasks for mailing-list, auto-submitted "
              "(out-of-office), bounce and no-reply mail.", False, label="Tasks for automated mail too",
              page_help="Also create tasks for mailing lists, out-of-office replies, bounces and no-reply senders."),
        Field("task_type", "ref", "Type of the tasks created.", None, ref="task_types", label="Task Type"),
        Field("task_status", "ref", "Status of the tasks created.", None, ref="task_statuses", label="Task Status"),
        Field("autoreply", "bool", "Send an auto-reply.", False, label="Send auto-reply email",
              page_help="Answer with an auto-reply (sent through Outgoing email)."),
        Field("autoreply_template", "ref", "Template of the auto-reply.", None, ref="templates",
              label="Auto-reply template (Form Letter / HTML Email)"),
        Field("autoreply_when", "str", "When to auto-reply: new_conversation, new_client or every_email.",
              "new_conversation", choices=("new_conversation", "new_client", "every_email"),
              label="When to send the auto-reply", page_help="Which emails get the auto-reply.",
              choice_labels=("For each new conversation", "For a new client's first email", "For every email")),
        Field("autoreply_outside_hours_only", "bool", "Auto-reply only outside business hours.", False,
              label="Only outside business hours",
              page_help="Auto-reply only outside the Business Hours set under Company."),
        Field("authserv_id", "str", "The authserv-id in your provider's Authentication-Results header "
              "(RFC 8601), e.g. mx.google.com: no auto-reply when its SPF and DMARC checks both fail. "
              "Blank: known for Gmail hosts.", "", check=check_host, label="Provider's sender check (server name)",
              page_help="The server your provider names when it checks who really sent an email, e.g. "
              "mx.google.com: an email that fails both of its checks gets no auto-reply. Leave empty for Gmail."),
        Field("poll_minutes", "int", "Check for new mail every this many minutes (1-1440).", 5,
              check=check_poll_minutes, label="Check every (minutes)",
              page_help="How often to look for new mail in this box: 1 to 1440 minutes (once a day)."),
        Field("enabled", "bool", "Check this mailbox.", True, label="Enabled", page_help="Check this email box."),
        _ca_file(),
    )),
)

SECTION = {s.name: s for s in SECTIONS}


def defaults(section: str) -> dict[str, Any]:
    """A section's settings as they are when nothing is set (required ones None)."""
    return {f.name: (None if f.required else f.default) for f in SECTION[section].fields}


def default_port(protocol: str, security: str) -> int:
    if protocol == "smtp":
        return {"ssl": 465, "starttls": 587}.get(security, 25)
    return 995 if security == "ssl" else 110


def convert(f: Field, value: Any) -> tuple[Any, str | None]:
    """Convert a raw value (from TOML or a form) to the field's type: (value, error)."""
    if f.kind == "str":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return None, "must be text"
        # Browsers send a textarea's lines with CR LF (HTML's form submission rules); kept
        # as LF, what the page saves equals what a settings file with the same text imports.
        value = value.replace("\r\n", "\n").replace("\r", "\n") if f.multiline else value.strip()
        error = check_no_controls(value, f.multiline)
        if error:
            return None, error
    elif f.kind == "int":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be a whole number"
    elif f.kind == "bool":
        # TOML booleans only: "no", "0" or 0 would each be read differently by someone.
        if not isinstance(value, bool):
            return None, "must be true or false (without quotes)"
    elif f.kind == "date":
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                return None, "must be a date such as 2026-01-31"
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            return None, "must be a date such as 2026-01-31"
    elif f.kind == "list":
        if isinstance(value, str):
            value = [v for v in re.split(r"[,\s]+", value) if v]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, "must be a list of addresses"
        for item in value:
            error = check_no_controls(item.strip())
            if error:
                return None, error
        value = [v.strip().lower() for v in value]
        bad = [v for v in value if check_email(v)]
        if bad:
            return None, f"not an email address: {bad[0]}"
    elif f.kind == "ref":
        if not isinstance(value, str):
            return None, "must be a name"
        value = value.strip()
        error = check_no_controls(value)
        if error:
            return None, error
    if f.clean:
        value = f.clean(value)
    if f.choices and value not in f.choices:
        return None, "must be one of: " + ", ".join(f.choices)
    if f.check and value not in (None, ""):
        error = f.check(value)
        if error:
            return None, error
    return value, None
