"""Company, and the lists: departments, users, task types, task statuses, templates.

One generic list + form per section, generated from the settings table. Renames
follow everywhere (the controller's save_entry); deleting something still in use is
refused with the list of what uses it. Templates get a preview rendered by the
sandboxed renderer on sample data, and cannot be saved while they do not compile.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from mailroom.errors import MailroomError
from web.forms import build_form, initial, show_error, values
from web.labels import SINGULAR, TITLES
from web.views import controller, refs, section

bp = Blueprint("settings", __name__)

LISTS = ("departments", "users", "task_types", "task_statuses", "templates")


@bp.route("/company", methods=["GET", "POST"])
def company():
    """Your business: name, phone, time zone, hours, unknown senders, the auto-reply limit."""
    c = controller()
    spec = section("company")
    form = build_form(spec, data=initial(spec, c.settings()["company"]))
    general: list[str] = []
    if form.validate_on_submit():
        try:
            c.save_section("company", values(form, spec))
            flash("Company saved.", "ok")
            return redirect(url_for("settings.company"))
        except MailroomError as exc:
            general = show_error(form, exc, "company")
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


@bp.route("/settings/<name>/edit/<path:key>", methods=["GET", "POST"])
def edit(name: str, key: str):
    return _form(name, key)


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
            c.save_entry(name, values(form, spec), key)
            flash(f'{SINGULAR[name].capitalize()} "{form[spec.key].data}" saved.', "ok")
            return redirect(url_for("settings.entries", name=name))
        except MailroomError as exc:
            general = show_error(form, exc, name)
    if name == "templates" and preview is None and form.body.data:
        preview = c.preview_template(form.kind.data, form.subject.data or "", form.body.data or "")
    return render_template("entry_form.html", form=form, spec=spec, general=general, key=key, single=False,
                           title=f"{SINGULAR[name].capitalize()}" + (f' "{key}"' if key else " (new)"),
                           preview=preview, merge_fields=c.merge_fields() if name == "templates" else ())


@bp.route("/settings/<name>/delete/<path:key>", methods=["GET", "POST"])
def delete(name: str, key: str):
    """Ask first; refused, naming what uses it, while anything refers to it."""
    c = controller()
    spec = _list_section(name)
    if not any(e[spec.key] == key for e in c.settings()[name]):
        abort(404)
    if request.method == "POST":
        try:
            c.delete_entry(name, key)
        except MailroomError as exc:
            flash(exc.message, "error")
            return redirect(url_for("settings.delete", name=name, key=key))
        flash(f'{SINGULAR[name].capitalize()} "{key}" deleted.', "ok")
        return redirect(url_for("settings.entries", name=name))
    return render_template("confirm_delete.html", what=SINGULAR[name], key=key, usages=c.usages(name, key),
                           cancel=url_for("settings.edit", name=name, key=key), consequences=[])


@bp.post("/settings/templates/preview")
def template_preview():
    """The editor's live preview: JSON with the rendered sample, or the problems (line numbers)."""
    data = request.get_json(silent=True) or {}
    preview = controller().preview_template(str(data.get("kind", "")), str(data.get("subject", "")),
                                            str(data.get("body", "")))
    return jsonify(subject=preview.subject, text=preview.text, html=preview.html, problems=list(preview.problems))
