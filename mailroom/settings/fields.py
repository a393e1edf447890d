"""The definition of every setting: name, type, default, help text and validation.

One table per section (datasette's habit): the settings file's keys, the checks
that report `mailboxes[2].port: must be 1-65535`, the export and later the web
form are all derived from `SECTIONS`, so they cannot drift apart; other modules
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


def _security(help_: str, default: str) -> Field:
    return Field("security", "str", help_, default, choices=SECURITY_CHOICES)


def _ca_file() -> Field:
    return Field("ca_file", "str", "Optional: a CA certificate file to trust for this server "
                 "(~ is your home folder; stored as an absolute path).", None,
                 check=check_ca_file, clean=expand_path)


SECTIONS: tuple[Section, ...] = (
    Section("company", "Your business, as merged into auto-replies.", single=True, table="company", fields=(
        Field("name", "str", "Company name.", ""),
        Field("phone", "str", "Phone number shown in auto-replies.", ""),
        Field("timezone", "str", 'Time zone of your business hours, e.g. "Europe/London".', "UTC",
              check=check_timezone),
        Field("business_hours", "str", 'Opening hours, e.g. "Mon-Fri 09:00-17:00".', "",
              check=check_business_hours),
        Field("unknown_sender", "str", "Email from an unknown address: create a client for it, "
              "or leave it unmatched.", "create", choices=("create", "leave_unmatched")),
        Field("autoreply_rate_limit_days", "int", "Auto-reply to the same sender at most once "
              "in this many days, across all mailboxes (ann+tag@ counts as ann@).", 7, check=check_positive),
        Field("autoreply_max_per_hour", "int", "Send at most this many auto-replies per hour in all; "
              "the rest are skipped, with the reason recorded.", 50, check=check_positive),
        Field("notify_new_mail", "bool", "Show a desktop notification when new mail arrives "
              "(notifications of problems are always shown).", True),
    )),
    Section("outgoing", "The SMTP account that sends test emails and auto-replies.", single=True,
            table="outgoing", fields=(
        Field("host", "str", "SMTP server name, e.g. smtp.gmail.com.", "", check=check_host),
        Field("port", "int", "SMTP port: 587 for STARTTLS, 465 for SSL.", None, check=check_port),
        _security('"starttls" (port 587), "ssl" (port 465) or "none" (plain text, not advised).',
                  "starttls"),
        Field("display_name", "str", "Name shown as the sender of auto-replies.", ""),
        Field("email", "str", "Sender address of test emails.", "", check=check_email),
        Field("username", "str", "Login name for the SMTP server (often the email address).", ""),
        _ca_file(),
    )),
    Section("departments", "Departments tasks can be assigned to.", table="departments", noun="department", fields=(
        Field("name", "str", "Department name."),
    )),
    Section("users", "People tasks can be assigned to.", table="users", noun="user", fields=(
        Field("name", "str", "Full name."),
        Field("email", "str", "Email address.", "", check=check_email),
        Field("department", "ref", "Department this person belongs to (optional).", None,
              ref="departments"),
    )),
    Section("task_types", "Kinds of task, e.g. Inquiry.", table="task_types", noun="task type", fields=(
        Field("name", "str", "Task type name."),
    )),
    Section("task_statuses", "Statuses a task can have, e.g. Open, Done.", table="task_statuses",
            noun="task status", fields=(
        Field("name", "str", "Status name."),
        Field("task_type", "ref", "Task type this status belongs to (optional: all types).", None,
              ref="task_types"),
        Field("final", "bool", "A task in this status is finished.", False),
    )),
    Section("templates", "Auto-reply templates.", table="templates", noun="template", fields=(
        Field("name", "str", "Template name."),
        Field("kind", "str", '"form_letter" (plain text) or "html_email".', choices=("form_letter", "html_email")),
        Field("subject", "str", "Subject line; merge fields such as {{ client.first_name }} allowed.", ""),
        Field("body", "str", "The message; merge fields allowed.", "", multiline=True),
    )),
    Section("mailboxes", "Incoming mailboxes Mailroom checks.", key="description", table="mailboxes",
            noun="mailbox", fields=(
        Field("description", "str", "A name for this mailbox, e.g. Sales (must be unique)."),
        Field("protocol", "str", "Mail protocol.", "pop3", choices=("pop3",)),
        Field("host", "str", "POP3 server name, e.g. pop.gmail.com.", check=check_host),
        Field("port", "int", "POP3 port: 995 with SSL, 110 without.", None, check=check_port),
        _security('"ssl" (port 995), "starttls" (STLS on port 110) or "none".', "ssl"),
        Field("email", "str", "The mailbox's email address.", check=check_email),
        Field("aliases", "list", "Other addresses that arrive in this mailbox.", [], check=None),
        Field("domain", "str", "Windows domain for Exchange-style logins (DOMAIN\\user); blank for Gmail.", ""),
        Field("username", "str", "Login name (for Gmail, the full email address).", None),
        Field("leave_on_server", "bool", "Keep messages on the server after importing them.", True),
        Field("exclude_before", "date", "Ignore messages dated before this day (optional).", None),
        Field("max_message_mb", "int", "Largest message to download, in MB; a larger one stays on the "
              "server, only its headers are kept, and it is listed as too large.", 50, check=check_positive),
        Field("department", "ref", "Department new tasks are assigned to (optional).", None, ref="departments"),
        Field("user", "ref", "Person new tasks are assigned to (optional).", None, ref="users"),
        Field("create_tasks", "bool", "Create a task for each new conversation.", False),
        Field("tasks_for_automated_mail", "bool", "Also create tasks for mailing-list, auto-submitted "
              "(out-of-office), bounce and no-reply mail.", False),
        Field("task_type", "ref", "Type of the tasks created.", None, ref="task_types"),
        Field("task_status", "ref", "Status of the tasks created.", None, ref="task_statuses"),
        Field("autoreply", "bool", "Send an auto-reply.", False),
        Field("autoreply_template", "ref", "Template of the auto-reply.", None, ref="templates"),
        Field("autoreply_when", "str", "When to auto-reply: new_conversation, new_client or every_email.",
              "new_conversation", choices=("new_conversation", "new_client", "every_email")),
        Field("autoreply_outside_hours_only", "bool", "Auto-reply only outside business hours.", False),
        Field("authserv_id", "str", "The authserv-id in your provider's Authentication-Results header "
              "(RFC 8601), e.g. mx.google.com: no auto-reply when its SPF and DMARC checks both fail. "
              "Blank: known for Gmail hosts.", "", check=check_host),
        Field("poll_minutes", "int", "Check for new mail every this many minutes (1-1440).", 5,
              check=check_poll_minutes),
        Field("enabled", "bool", "Check this mailbox.", True),
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
