"""The page's words beyond the settings table: field order, provider presets, titles.

A setting's label, help and choice labels live in the settings table
(mailroom/settings/fields.py: `label`, `page_help`, `choice_labels`), in the words of
the studio CRM's own screens: a user following a Gmail set-up guide written for that
CRM looks for "SMTP Server Name" or "Leave email on server". A field the table gains
later still appears, in the last group of its form.
"""

from __future__ import annotations

from dataclasses import dataclass

# The words of what is not a setting; a setting's label, help and choice labels come
# from the settings table (mailroom/settings/fields.py, through the controller's FieldSpec).
LABELS: dict[str, dict[str, str]] = {
    "outgoing": {"password": "Logon Password"},
    "mailboxes": {"password": "Password"},
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
    """The label of a form field that is not a setting (a setting's is FieldSpec.label)."""
    return LABELS.get(section, {}).get(name) or name.replace("_", " ").capitalize()


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
    """A provider's servers. `pop3`/`smtp` is None where Mailroom cannot use that service of
    the provider: it offers none (iCloud has no POP3), or it accepts no password login there
    (Microsoft's OAuth-only sign-in). `blocked` says the latter: its note is a warning."""

    key: str
    name: str
    pop3: tuple[str, int, str] | None
    smtp: tuple[str, int, str] | None
    note: str = ""
    blocked: bool = False


# Microsoft turned off password ("basic") sign-in for POP and SMTP on Outlook.com and
# Exchange Online: only its OAuth sign-in works there, which Mailroom does not do yet.
MICROSOFT = ("{name} accepts no password for POP or SMTP any more: Microsoft allows only its own sign-in "
             "(OAuth), which Mailroom cannot do yet, so Mailroom cannot read or send {name} mail directly. "
             "You can forward the mail to a mailbox Mailroom can read (such as Gmail), and send through "
             "that provider.")

PRESETS: tuple[Preset, ...] = (
    Preset("gmail", "Gmail", ("pop.gmail.com", 995, "ssl"), ("smtp.gmail.com", 587, "starttls")),
    Preset("outlook", "Outlook.com", None, None, MICROSOFT.format(name="Outlook.com"), blocked=True),
    Preset("microsoft365", "Microsoft 365", None, None, MICROSOFT.format(name="Microsoft 365"), blocked=True),
    Preset("yahoo", "Yahoo", ("pop.mail.yahoo.com", 995, "ssl"), ("smtp.mail.yahoo.com", 465, "ssl"),
           "Yahoo needs an app password, not your normal one: Yahoo Account security, Generate app password; "
           "enter it as the password here."),
    Preset("icloud", "iCloud", None, ("smtp.mail.me.com", 587, "starttls"),
           "iCloud Mail offers IMAP only, not POP3, so Mailroom cannot read it yet. "
           "Its SMTP server works for outgoing email, with an app-specific password."),
    Preset("other", "Other", None, None, "Your provider's help pages name the server, port and security."),
)
PRESET = {p.key: p for p in PRESETS}


# Servers of providers whose preset fills nothing in (see MICROSOFT): a saved one still
# shows its provider's note.
KNOWN_HOSTS = {"outlook.office365.com": "microsoft365", "smtp.office365.com": "microsoft365",
               "smtp-mail.outlook.com": "outlook", "pop-mail.outlook.com": "outlook"}


def preset_for_host(host: str | None) -> str:
    """The preset a saved server belongs to ("other" when none)."""
    host = (host or "").lower().rstrip(".")
    if host in KNOWN_HOSTS:
        return KNOWN_HOSTS[host]
    for preset in PRESETS:
        for server in (preset.pop3, preset.smtp):
            if server and server[0] == host:
                return preset.key
    return "other"
