"""Forms generated from the settings table (the controller's `setting_sections()`).

Each field of a section becomes a WTForms field of its kind, with the table's page
label, page help and choice labels (mailroom/settings/fields.py), so a setting added to
mailroom/settings/fields.py appears on the page without touching this file. WTForms
parses the submitted text into values; the controller validates them and its
`Problem`s are put back next to the field they name.

Passwords are not settings: a section that has one gets a write-only PasswordField
(rendered empty, never filled in from anything).
"""

from __future__ import annotations

from typing import Any

from flask import flash, url_for
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, Field, IntegerField, PasswordField, SelectChoice, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import Optional

from mailroom.errors import ConfigError, MailroomError, Problem
from mailroom.model import FieldSpec, SectionSpec
from web.labels import SINGULAR, label

PASSWORD_HELP = {
    "outgoing": "The password of the SMTP account (for Gmail, an app password). It is kept in the "
                "system keyring; leave empty to keep the saved one.",
    "mailboxes": "The password of this email box (for Gmail, an app password). It is kept in the system "
                 "keyring; leave empty to keep the saved one.",
}


def _unbound(section: str, f: FieldSpec, refs: dict[str, list[SelectChoice]]):
    text, help_ = f.label or label(section, f.name), f.page_help or f.help
    if f.kind == "ref":
        return SelectField(text, choices=[SelectChoice("", "(none)")] + refs.get(f.ref or "", []), description=help_,
                           validate_choice=False)
    if f.choices:
        return SelectField(text, choices=[SelectChoice(c, f.choice_text(c)) for c in f.choices], description=help_,
                           validate_choice=False)
    if f.kind == "int":
        return IntegerField(text, validators=[Optional()], description=help_)
    if f.kind == "bool":
        return BooleanField(text, description=help_)
    if f.kind == "date":
        return DateField(text, validators=[Optional()], description=help_)
    if f.name == "body":
        return TextAreaField(text, description=help_, render_kw={"rows": 14, "spellcheck": "true"})
    return StringField(text, description=help_)


def build_form(spec: SectionSpec, *, refs: dict[str, list[SelectChoice]] | None = None,
               data: dict[str, Any] | None = None, password: bool = False, extra: dict[str, Any] | None = None):
    """A FlaskForm for one entry of `spec`; on a POST it reads the submitted form."""

    class SettingsForm(FlaskForm):
        pass

    for f in spec.fields:
        if hasattr(FlaskForm, f.name):
            raise ValueError(f"setting {spec.name}.{f.name} clashes with a form attribute")
        setattr(SettingsForm, f.name, _unbound(spec.name, f, refs or {}))
    if password:
        SettingsForm.password = PasswordField(label(spec.name, "password"), description=PASSWORD_HELP[spec.name],
                                              render_kw={"autocomplete": "new-password"})
    for name, unbound in (extra or {}).items():
        setattr(SettingsForm, name, unbound)
    return SettingsForm(data=data)


def initial(spec: SectionSpec, entry: dict[str, Any] | None) -> dict[str, Any]:
    """Form data for an entry (or the defaults of a new one)."""
    data = {}
    for f in spec.fields:
        value = entry.get(f.name) if entry is not None else f.default
        if f.kind == "list":
            value = ", ".join(value or ())
        elif value is None and f.kind in ("str", "ref"):
            value = ""
        data[f.name] = value
    return data


def values(form, spec: SectionSpec) -> dict[str, Any]:
    """The submitted entry as the controller takes it ("" and None mean: the default)."""
    out = {}
    for f in spec.fields:
        value = form[f.name].data
        if f.kind == "ref" and value == "":
            value = None
        out[f.name] = value
    return out


def add_error(field: Field, message: str) -> None:
    field.errors = [*field.errors, message]


class Notice(str):
    """A problem or warning in words, naming its entry, with `href`: the form that fixes it."""

    href: str | None
    link: str

    def __new__(cls, text: str, href: str | None = None, link: str = "") -> "Notice":
        self = super().__new__(cls, text)
        self.href, self.link = href, link
        return self

    def as_flash(self) -> dict[str, Any]:
        return {"text": str(self), "href": self.href, "link": self.link}


def entry_name(section: str, entry: dict[str, Any]) -> str:
    """An entry as a person calls it: 'department "Weddings"' (one saved without a name says so)."""
    key = "description" if section == "mailboxes" else "name"
    return f'{SINGULAR.get(section, section)} "{entry[key]}"' if entry.get(key) else \
        f"{SINGULAR.get(section, section)} without a name"


def edit_url(section: str, entry: dict[str, Any]) -> str | None:
    """The page that edits `entry`."""
    if section in ("company", "outgoing"):
        return url_for("settings.company") if section == "company" else url_for("outgoing.edit")
    if section == "mailboxes":
        key = entry.get("description") or ""
        return url_for("mailboxes.edit", key=key)
    return url_for("settings.edit", name=section, key=entry.get("name") or "")


def field_label(section: str, name: str) -> str:
    """A field's label on the page: the settings table's (FieldSpec.label), else the page's own."""
    from web.views import controller

    spec = next((s for s in controller().setting_sections() if s.name == section), None)
    field = spec.field(name) if spec is not None else None
    return field.label if field is not None and field.label else label(section, name)


def describe(problem: str, doc: dict[str, Any]) -> Notice:
    """`departments[9].name: is required` as 'Department without a name: Name is required', with
    a link to its form; `doc` is the settings the path counts in."""
    p = problem if isinstance(problem, Problem) else Problem(problem)
    section, _, index = p.path.partition("[")
    if section in ("company", "outgoing"):
        entry: dict[str, Any] | None = doc.get(section) or {}
        what = "Company" if section == "company" else "Outgoing email"
    else:
        entries = doc.get(section) or []
        n = int(index.rstrip("]")) if index.rstrip("]").isdigit() else 0
        entry = entries[n - 1] if 0 < n <= len(entries) else None
        what = entry_name(section, entry) if entry is not None else p.path
        what = what[:1].upper() + what[1:]
    if entry is None:
        return Notice(str(p))
    if not p.field:
        text = f"{what}: {p.message}"
    elif p.message.startswith(("is ", "must ")):     # "Name is required"
        text = f"{what}: {field_label(section, p.field)} {p.message}"
    else:
        text = f"{what}, {field_label(section, p.field)}: {p.message}"
    if not text.endswith((".", "?", "!")):
        text += "."
    href = edit_url(section, entry)
    return Notice(text, href, f"Fix the {entry_name(section, entry)}" if section not in ("company", "outgoing")
                  else f"Open {what}")


def flash_warnings(warnings: list[str], doc: dict[str, Any]) -> None:
    """After a save: what the settings file's import would warn about, each with its entry's link."""
    for warning in warnings:
        flash(describe(warning, doc).as_flash(), "warning")


def show_error(form, exc: MailroomError, section: str, doc: dict[str, Any] | None = None) -> list[str]:
    """Put each problem of `exc` next to its field; return the ones no field owns (about
    another entry: named, with a link to it, when `doc` is the settings the paths count in)."""
    general: list[str] = []
    if isinstance(exc, ConfigError) and exc.problems:
        mine = exc.entry_path or section
        for problem in exc.problems:
            if problem.path != mine:
                general.append(describe(problem, doc) if doc is not None else str(problem))
                continue
            name = problem.field or _template_part(problem.message)
            if name and name in form:
                add_error(form[name], problem.message)
            else:
                general.append(problem.message)
        return general
    if exc.field and exc.field in form:
        add_error(form[exc.field], exc.message)
        return general
    return [exc.message]


def _template_part(message: str) -> str:
    """The template field an entry-level problem is about ("Body, line 3: ..." → body)."""
    lowered = message.lower()
    for part in ("subject", "body"):
        if lowered.startswith((part, f"the {part}")):
            return part
    return ""


def has_errors(form) -> bool:
    return any(field.errors for field in form)
