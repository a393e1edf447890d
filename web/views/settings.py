"""Company, and the lists: departments, users, task types, task statuses, templates.

One generic list + form per section, generated from the settings table. An entry is
addressed by its name in the query (`?key=`), so any name has a working address. Renames
follow everywhere (the controller's save_entry); deleting something other settings use
is refused with the list of what uses it, and one that tasks use says what happens to
them. After a save, the warnings `config import` would give are shown, each with a link. Templates get a preview rendered by the
sandboxed renderer on sample data, and cannot be saved while they do not compile.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from mailroom.errors import MailroomError
from web.forms import build_form, describe, flash_warnings, initial, show_error, values
from web.labels import SINGULAR, TITLES
from web.views import controller, entry_key, refs, section

bp = Blueprint("settings", __name__)

LISTS = ("departments", "users", "task_types", "task_statuses", "templates")


@bp.route("/company", methods=["GET", "POST"])
def company():
    """Your business: name, phone, time zone, hours, unknown senders, the auto-reply limit."""
    c = controller()
    spec = section("company")
    doc = c.settings()
    form = build_form(spec, data=initial(spec, doc["company"]))
    general: list[str] = []
    if form.validate_on_submit():
        try:
            warnings = c.save_section("company", values(form, spec))
            flash("Company saved.", "ok")
            flash_warnings(warnings, c.settings())
            return redirect(url_for("settings.company"))
        except MailroomError as exc:
            general = show_error(form, exc, "company", doc)
    return render_template("entry_form.html", form=form, spec=spec, general=general, title=TITLES["company"],
                           key=None, single=True)


def _list_section(name: str):
    if name not in LISTS:
        abort(404)
    return section(name)


@bp.get("/settings/<name>")
def entries(name: str):
    """The entries of one list section, with New."""
    spec = _list_section(name)
    return render_template("entries.html", spec=spec, entries=controller().settings()[name], title=TITLES[name],
                           singular=SINGULAR[name])


@bp.route("/settings/<name>/new", methods=["GET", "POST"])
def new(name: str):
    return _form(name, None)


# An entry is addressed by its name in the query (?key=Weddings): a path segment of "." or
# "..", or a leading "/", is rewritten by the browser before it asks (RFC 3986 section 5.2.4),
# while a query string is sent as it is. The old form with the name in the path still works.
@bp.route("/settings/<name>/edit", methods=["GET", "POST"])
def edit(name: str):
    """One entry's form, with Delete."""
    return _form(name, entry_key())


@bp.route("/settings/<name>/edit/<path:key>", methods=["GET", "POST"])
def edit_path(name: str, key: str):
    return _form(name, key)



def _named(key: str) -> str:
    return f'"{key}"' if key else "without a name"


def _form(name: str, key: str | None):
    c = controller()
    spec = _list_section(name)
    doc = c.settings()
    saved = None
    if key is not None:
        saved = next((e for e in doc[name] if e[spec.key] == key), None)
        if saved is None:
            abort(404)
    form = build_form(spec, refs=refs(doc), data=initial(spec, saved))
    general: list[str] = []
    preview = None
    if name == "templates" and request.method == "POST" and request.form.get("action") == "preview":
        form.validate()
        preview = c.preview_template(form.kind.data, form.subject.data or "", form.body.data or "")
    elif form.validate_on_submit():
        try:
            warnings = c.save_entry(name, values(form, spec), key)
            saved_name = (form[spec.key].data or "").strip()
            flash(f'{SINGULAR[name].capitalize()} "{saved_name}" saved.', "ok")
            flash_warnings(warnings, c.settings())
            return redirect(url_for("settings.entries", name=name))
        except MailroomError as exc:
            general = show_error(form, exc, name, doc)
    if name == "templates" and preview is None and form.body.data:
        preview = c.preview_template(form.kind.data, form.subject.data or "", form.body.data or "")
    return render_template("entry_form.html", form=form, spec=spec, general=general, key=key, single=False,
                           title=SINGULAR[name].capitalize() + (f" {_named(key)}" if key is not None else " (new)"),
                           preview=preview, merge_fields=c.merge_fields() if name == "templates" else ())


# What deleting an entry that tasks use does to them (the foreign keys set them to NULL).
AFTER_DELETE = {"users": "they become unassigned", "departments": "they will have no department",
                "task_types": "they will have no task type", "task_statuses": "they will have no status"}


@bp.route("/settings/<name>/delete", methods=["GET", "POST"])
def delete(name: str):
    """Ask first, saying what uses it: refused while settings refer to it; tasks that use it
    are named with what happens to them."""
    return _delete(name, entry_key())


@bp.route("/settings/<name>/delete/<path:key>", methods=["GET", "POST"])
def delete_path(name: str, key: str):
    return _delete(name, key)


def _delete(name: str, key: str):
    c = controller()
    spec = _list_section(name)
    doc = c.settings()
    if not any(e[spec.key] == key for e in doc[name]):
        abort(404)
    if request.method == "POST":
        try:
            warnings = c.delete_entry(name, key)
        except MailroomError as exc:
            after = dict(doc, **{name: [e for e in doc[name] if e[spec.key] != key]})   # where the paths count
            problems = getattr(exc, "problems", None)
            if problems:
                for problem in problems:
                    flash(describe(problem, after).as_flash(), "error")
            else:
                flash(exc.message, "error")
            return redirect(url_for("settings.delete", name=name, key=key))
        flash(f"{SINGULAR[name].capitalize()} {_named(key)} deleted.", "ok")
        flash_warnings(warnings or [], c.settings())
        return redirect(url_for("settings.entries", name=name))
    uses = c.recorded_uses(name, key)
    consequences = [f"It is {uses}; {AFTER_DELETE.get(name, 'they lose it')}. "
                    "They keep everything else."] if uses else []
    return render_template("confirm_delete.html", what=SINGULAR[name], key=key, usages=c.usages(name, key),
                           cancel=url_for("settings.edit", name=name, key=key), consequences=consequences)


@bp.post("/settings/templates/preview")
def template_preview():
    """The editor's live preview: JSON with the rendered sample, or the problems (line numbers)."""
    data = request.get_json(silent=True) or {}
    preview = controller().preview_template(str(data.get("kind", "")), str(data.get("subject", "")),
                                            str(data.get("body", "")))
    return jsonify(subject=preview.subject, text=preview.text, html=preview.html, problems=list(preview.problems))
