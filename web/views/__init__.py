"""One blueprint per page family; the helpers they share."""

from __future__ import annotations

from flask import abort, current_app, request
from wtforms import SelectChoice, SelectField

from mailroom.controller import Controller
from mailroom.model import SectionSpec


def controller() -> Controller:
    return current_app.extensions["mailroom"]


def entry_key() -> str:
    """The name of the entry a form edits, from the query (`?key=`): browsers never rewrite
    a query, so any name (even "..") has an address. A 404 without one."""
    key = request.args.get("key")
    if key is None:
        abort(404)
    return key


def section(name: str) -> SectionSpec:
    spec = next((s for s in controller().setting_sections() if s.name == name), None)
    if spec is None:
        abort(404)
    return spec


def refs(doc: dict) -> dict[str, list[SelectChoice]]:
    """The choices of every reference field: (name, label, attributes) per entry.

    Users carry their department and statuses their task type (`data-parent`), so the
    page's script can narrow the list to the department or type chosen.
    """
    parent = {"users": "department", "task_statuses": "task_type"}
    out: dict[str, list[SelectChoice]] = {}
    kind = section("templates").field("kind")
    for name in ("departments", "users", "task_types", "task_statuses", "templates"):
        choices = []
        for entry in doc.get(name, []):
            text = entry["name"]
            if name == "templates":
                text = f"{text} ({kind.choice_text(entry['kind'])})"
            attrs = {"data-parent": entry.get(parent[name]) or ""} if name in parent else {}
            choices.append(SelectChoice(entry["name"], text, attrs))
        out[name] = choices
    return out


def provider_field(which: str):
    """The "Provider" list: choosing one fills server, port and security (`which`: "pop3" or "smtp")."""
    from web.labels import PRESETS

    choices = []
    for preset in PRESETS:
        server = getattr(preset, which)
        attrs = {"data-host": server[0], "data-port": str(server[1]), "data-security": server[2]} if server else {}
        choices.append(SelectChoice(preset.key, preset.name, attrs))
    return SelectField("Provider", choices=choices, default="other", validate_choice=False,
                       description="Fills in the server, port and security for a well-known provider.")


def apply_preset(form, which: str) -> None:
    """Without JavaScript, the "Fill in" button does what choosing a provider does with it."""
    from web.labels import PRESET

    preset = PRESET.get(form.provider.data or "")
    server = getattr(preset, which) if preset else None
    if server:
        form.host.data, form.port.data, form.security.data = server
