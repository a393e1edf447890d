"""What every page template can use: the navigation, the words of web.labels, where a fix
is made (`fix_url`), and the
filters that word dates, sizes and durations (web.display)."""

from __future__ import annotations

import datetime as dt

from flask import Flask, request

from web.display import OUTBOX_WORDS, STATE_WORDS, date_text, duration_text, full_date, size_text
from web.labels import PRESET, PRESETS, SINGULAR, TITLES, layout

# The records a user works with, then (a second, quieter row) the settings.
NAV = (
    ("dashboard.index", "Dashboard", {}),
    ("clients.index", "Clients", {}),
    ("tasks.index", "Tasks", {}),
    ("activity.index", "Activity", {}),
)
SETTINGS_NAV = (
    ("mailboxes.index", "Email boxes", {}),
    ("outgoing.edit", "Outgoing email", {}),
    ("settings.entries", "Templates", {"name": "templates"}),
    ("settings.entries", "Users", {"name": "users"}),
    ("settings.entries", "Departments", {"name": "departments"}),
    ("settings.entries", "Task types", {"name": "task_types"}),
    ("settings.entries", "Task statuses", {"name": "task_statuses"}),
    ("settings.company", "Company", {}),
)


def _current(endpoint: str, args: dict) -> bool:
    """Is this navigation entry the page being shown (or one of its forms)?"""
    if endpoint == "settings.entries":
        return request.blueprint == "settings" and (request.view_args or {}).get("name") == args["name"]
    if endpoint == "settings.company":
        return request.endpoint == "settings.company"
    if endpoint == "clients.index":
        return request.blueprint in ("clients", "messages")
    return request.blueprint == endpoint.split(".")[0]


def fix_url(fix) -> str:
    """The page's own form where a problem is fixed (an errors.Fix), at the field's place."""
    from flask import url_for

    if fix is None:
        return ""
    anchor = f"#{fix.field}-field" if fix.field else ""
    if fix.section == "outgoing":
        return url_for("outgoing.edit") + anchor
    if fix.section == "mailboxes":
        return (url_for("mailboxes.edit", key=fix.entry) if fix.entry else url_for("mailboxes.new")) + anchor
    if fix.section == "company":
        return url_for("settings.company") + anchor
    if fix.entry:
        return url_for("settings.edit", name=fix.section, key=fix.entry) + anchor
    return url_for("settings.entries", name=fix.section)


def fix_text(fix) -> str:
    """The words of the link to `fix_url(fix)`."""
    if fix is None:
        return ""
    if fix.field == "password":
        return "Save the password"
    if fix.section == "outgoing":
        return "Set up outgoing email" if fix.field in (None, "host") else "Open Outgoing email"
    if fix.section == "mailboxes":
        return f'Open the email box "{fix.entry}"' if fix.entry else "Add an email box"
    return f"Open {TITLES.get(fix.section, fix.section)}"


def outgoing_missing() -> bool:
    """No outgoing (SMTP) server is set up: auto-replies cannot be sent."""
    from web.views import controller

    return not controller().settings()["outgoing"].get("host")


def _when(value: dt.datetime | None) -> str:
    return date_text(value, dt.datetime.now(dt.timezone.utc))


def install(app: Flask) -> None:
    app.jinja_env.globals.update(NAV=NAV, SETTINGS_NAV=SETTINGS_NAV, TITLES=TITLES, SINGULAR=SINGULAR,
                                 layout=layout, fix_url=fix_url, fix_text=fix_text,
                                 outgoing_missing=outgoing_missing, STATE_WORDS=STATE_WORDS, PRESETS=PRESETS, PRESET=PRESET, is_current=_current,
                                 OUTBOX_WORDS=OUTBOX_WORDS)
    app.jinja_env.filters.update(when=_when, full_date=full_date, size=size_text, duration=duration_text)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
