"""What every page template can use: the navigation, the words of web.labels, and the
filters that word dates, sizes and durations (web.display)."""

from __future__ import annotations

import datetime as dt

from flask import Flask, request

from web.display import OUTBOX_WORDS, date_text, duration_text, full_date, size_text
from web.labels import SINGULAR, TITLES, choice_label, label, layout

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


def _when(value: dt.datetime | None) -> str:
    return date_text(value, dt.datetime.now(dt.timezone.utc))


def install(app: Flask) -> None:
    app.jinja_env.globals.update(NAV=NAV, SETTINGS_NAV=SETTINGS_NAV, TITLES=TITLES, SINGULAR=SINGULAR,
                                 choice_label=choice_label, field_label=label, layout=layout, is_current=_current,
                                 OUTBOX_WORDS=OUTBOX_WORDS)
    app.jinja_env.filters.update(when=_when, full_date=full_date, size=size_text, duration=duration_text)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
