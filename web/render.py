"""What every page template can use: the navigation and the words of web.labels."""

from __future__ import annotations

from flask import Flask, request

from web.labels import SINGULAR, TITLES, choice_label, label, layout

NAV = (
    ("dashboard.index", "Dashboard", {}),
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
    return request.blueprint == endpoint.split(".")[0]


def install(app: Flask) -> None:
    app.jinja_env.globals.update(NAV=NAV, TITLES=TITLES, SINGULAR=SINGULAR, choice_label=choice_label,
                                 field_label=label, layout=layout, is_current=_current)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
