"""The page's words: labels from the studio CRM's own screens, field order, provider presets.

A user following a Gmail set-up guide written for that CRM looks for "SMTP Server
Name" or "Leave email on server", so those are the labels. A field the settings
table gains later and that is not named here still appears: with a label made from
its name, in the last group of its form, with its help text.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS: dict[str, dict[str, str]] = {
    "outgoing": {
        "host": "SMTP Server Name", "display_name": "Display Name", "email": "Email Address",
        "username": "Logon Name", "password": "Logon Password", "security": "Security", "port": "SMTP Port",
        "ca_file": "CA certificate file",
    },
    "mailboxes": {
        "description": "Description", "leave_on_server": "Leave email on server",
        "department": "Assigned to Department", "user": "Assigned to User",
        "create_tasks": "Auto-create a task for each email", "task_type": "Task Type", "task_status": "Task Status",
        "autoreply": "Send auto-reply email", "autoreply_template": "Auto-reply template (Form Letter / HTML Email)",
        "autoreply_when": "When to send the auto-reply", "autoreply_outside_hours_only": "Only outside business hours",
        "exclude_before": "Exclude Emails Before", "protocol": "Connector", "host": "Mail Server",
        "email": "Email Address", "domain": "Domain", "username": "User Name", "password": "Password",
        "security": "Security", "port": "Port Number", "aliases": "Other addresses (aliases)",
        "poll_minutes": "Check every (minutes)", "enabled": "Enabled", "ca_file": "CA certificate file",
    },
    "company": {
        "name": "Company Name", "phone": "Phone", "timezone": "Time Zone", "business_hours": "Business Hours",
        "unknown_sender": "Email from an unknown sender", "autoreply_rate_limit_days": "Auto-reply rate limit (days)",
    },
    "users": {"name": "Name", "email": "Email Address", "department": "Department"},
    "task_statuses": {"name": "Name", "task_type": "Task Type", "final": "Final (the task is done)"},
    "templates": {"name": "Name", "kind": "Type", "subject": "Subject", "body": "Body"},
}

CHOICE_LABELS: dict[str, str] = {
    "ssl": "SSL/TLS", "starttls": "STARTTLS", "none": "None (not encrypted)", "pop3": "POP3",
    "form_letter": "Form Letter", "html_email": "HTML Email",
    "new_conversation": "For each new conversation", "new_client": "For a new client's first email",
    "every_email": "For every email",
    "create": "Create a client for it", "leave_unmatched": "Leave it unmatched",
}

# Groups of a form, in order; None collects every field not named (fields added later).
LAYOUTS: dict[str, tuple[tuple[str, tuple[str, ...] | None], ...]] = {
    "outgoing": (("Outgoing email", ("provider", "host", "display_name", "email", "username", "password",
                                     "security", "port")),
                 ("More", None)),
    "mailboxes": (("Email box", ("description", "leave_on_server", "department", "user", "create_tasks",
                                 "task_type", "task_status", "autoreply", "autoreply_template",
                                 "autoreply_when", "autoreply_outside_hours_only", "exclude_before")),
                  ("Connection", ("protocol", "provider", "host", "email", "domain", "username", "password",
                                  "security", "port")),
                  ("More", None)),
}

TITLES = {
    "company": "Company", "outgoing": "Outgoing email", "mailboxes": "Email boxes", "departments": "Departments",
    "users": "Users", "task_types": "Task types", "task_statuses": "Task statuses", "templates": "Templates",
}
SINGULAR = {
    "mailboxes": "email box", "departments": "department", "users": "user", "task_types": "task type",
    "task_statuses": "task status", "templates": "template",
}


def label(section: str, name: str) -> str:
    return LABELS.get(section, {}).get(name) or name.replace("_", " ").capitalize()


def choice_label(value: str) -> str:
    return CHOICE_LABELS.get(value, value)


def layout(section: str, names: list[str]) -> list[tuple[str, list[str]]]:
    """The form's groups with their field names; every name lands in exactly one group."""
    groups = LAYOUTS.get(section, (("", None),))
    named = {n for _title, members in groups if members for n in members}
    out = []
    for title, members in groups:
        chosen = [n for n in members if n in names] if members else [n for n in names if n not in named]
        if chosen:
            out.append((title, chosen))
    return out


@dataclass(frozen=True)
class Preset:
    """A provider's servers. `pop3` is None where the provider offers no POP3 (iCloud)."""

    key: str
    name: str
    pop3: tuple[str, int, str] | None
    smtp: tuple[str, int, str] | None
    note: str = ""


PRESETS: tuple[Preset, ...] = (
    Preset("gmail", "Gmail", ("pop.gmail.com", 995, "ssl"), ("smtp.gmail.com", 587, "starttls")),
    Preset("outlook", "Outlook.com", ("outlook.office365.com", 995, "ssl"), ("smtp-mail.outlook.com", 587, "starttls"),
           "Turn on POP in Outlook.com's settings (Mail, Forwarding and IMAP)."),
    Preset("microsoft365", "Microsoft 365", ("outlook.office365.com", 995, "ssl"), ("smtp.office365.com", 587, "starttls"),
           "Your administrator must allow POP and SMTP sign-in for this mailbox."),
    Preset("yahoo", "Yahoo", ("pop.mail.yahoo.com", 995, "ssl"), ("smtp.mail.yahoo.com", 465, "ssl"),
           "Yahoo needs an app password: Account security, Generate app password."),
    Preset("icloud", "iCloud", None, ("smtp.mail.me.com", 587, "starttls"),
           "iCloud Mail offers IMAP only, not POP3, so Mailroom cannot read it yet. "
           "Its SMTP server works for outgoing email, with an app-specific password."),
    Preset("other", "Other", None, None, "Your provider's help pages name the server, port and security."),
)
PRESET = {p.key: p for p in PRESETS}


def preset_for_host(host: str | None) -> str:
    """The preset a saved server belongs to ("other" when none)."""
    host = (host or "").lower().rstrip(".")
    for preset in PRESETS:
        for server in (preset.pop3, preset.smtp):
            if server and server[0] == host:
                return preset.key
    return "other"
