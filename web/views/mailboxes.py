"""Email boxes: the list with New, the form (OK tests the connection first), presets, delete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from mailroom.errors import ConfigError, MailroomError
from web import held
from web.forms import build_form, flash_warnings, initial, show_error, values
from web.labels import PRESET, PRESETS, preset_for_host
from web.views import apply_preset, controller, entry_key, provider_field, refs, section

bp = Blueprint("mailboxes", __name__)


@bp.get("/mailboxes")
def index():
    """Every email box with its address, server and state."""
    c = controller()
    states = {b.description: b for b in c.status().mailboxes}
    return render_template("mailboxes.html", boxes=c.settings()["mailboxes"], states=states)


def _saved(key: str | None) -> dict | None:
    if key is None:
        return None
    entry = next((b for b in controller().settings()["mailboxes"] if b["description"] == key), None)
    if entry is None:
        abort(404)
    return entry


@bp.route("/mailboxes/new", methods=["GET", "POST"])
def new():
    """A new email box (the seed's first step)."""
    return _form(None)


@bp.get("/mailboxes/<int:mailbox_id>")
def by_id(mailbox_id: int):
    """An email box by its number (where the tray's menu and notifications lead): its form."""
    box = controller().status().mailbox(mailbox_id)
    if box is None:
        abort(404)
    return redirect(url_for("mailboxes.edit", key=box.description))


@bp.route("/mailboxes/edit", methods=["GET", "POST"])
def edit():
    """One email box's form; its name travels in the query (`?key=`), which browsers never
    rewrite, so any description (even "..") has a working address."""
    return _form(entry_key())


@bp.route("/mailboxes/edit/<path:key>", methods=["GET", "POST"])
def edit_path(key: str):
    """The older address of the form (bookmarks), for names a browser leaves alone."""
    return _form(key)



def _form(key: str | None):
    c = controller()
    spec = section("mailboxes")
    doc = c.settings()
    saved = _saved(key)
    data = initial(spec, saved)
    data["provider"] = preset_for_host(saved["host"]) if saved else "other"
    form = build_form(spec, refs=refs(doc), data=data, password=True, extra={"provider": provider_field("pop3")})
    keyring_problem = c.keyring_problem()
    mailbox_id = c.mailbox_id(key) if key is not None else None
    general: list[str] = []
    failed_check = None
    hold_as = f"mailbox:{key}" if key is not None else "mailbox:new"
    action = request.form.get("action", "ok")
    if request.method == "GET":
        held.drop(hold_as)                 # a form opened afresh starts without a password held
    if request.method == "POST" and action == "clear_password" and mailbox_id is not None:
        held.drop(hold_as)
        c.clear_password(mailbox_id)
        flash("The saved password was removed from the keyring.", "ok")
        return redirect(url_for("mailboxes.edit", key=key))
    if request.method == "POST" and action == "forget_password":
        held.drop(hold_as)
    elif request.method == "POST" and action == "preset":
        apply_preset(form, "pop3")
    elif form.validate_on_submit():
        entry = values(form, spec)
        password = form.password.data or held.held(hold_as) or None
        try:
            c.check_entry("mailboxes", entry, key)
            if password and keyring_problem:
                raise ConfigError(keyring_problem, field="password")
            result = None
            if action != "save_anyway":
                try:
                    result = c.test_mailbox(entry, password, key=key)   # the seed's step 18: OK tests first
                except MailroomError as exc:
                    failed_check = exc
                    raise
            warnings = c.save_mailbox(entry, key, password)   # the password is stored with it; checked at once
            held.drop(hold_as)
            flash(f'Email box "{entry["description"]}" saved.' + (f" {result.message}" if result else ""), "ok")
            flash_warnings(warnings, c.settings())
            return redirect(url_for("mailboxes.index"))
        except MailroomError as exc:
            general = show_error(form, exc, "mailboxes")
            if password and not keyring_problem:
                held.hold(hold_as, password)        # for OK again or Save anyway; never shown back
    elif request.method == "POST" and form.password.data and not keyring_problem:
        held.hold(hold_as, form.password.data)     # a field the form itself refused: kept as well
    provider = form.provider.data or "other"
    return render_template("mailbox_form.html", form=form, key=key, general=general, failed_check=failed_check,
                           keyring_problem=keyring_problem, presets=PRESETS, preset=PRESET.get(provider),
                           gmail=provider == "gmail" or (form.host.data or "").lower().endswith("gmail.com"),
                           has_password=mailbox_id is not None and not keyring_problem and c.has_password(mailbox_id),
                           held=not keyring_problem and held.held(hold_as) is not None)


@bp.route("/mailboxes/delete", methods=["GET", "POST"])
def delete():
    """Ask first; imported mail is kept, the password leaves the keyring."""
    return _delete(entry_key())


@bp.route("/mailboxes/delete/<path:key>", methods=["GET", "POST"])
def delete_path(key: str):
    return _delete(key)


def _delete(key: str):
    c = controller()
    _saved(key)
    if request.method == "POST":
        try:
            c.delete_entry("mailboxes", key)
        except MailroomError as exc:
            flash(exc.message, "error")
            return redirect(url_for("mailboxes.edit", key=key))
        flash(f'Email box "{key}" deleted. Its imported mail is kept.', "ok")
        return redirect(url_for("mailboxes.index"))
    return render_template("confirm_delete.html", what="email box", key=key, usages=c.usages("mailboxes", key),
                           cancel=url_for("mailboxes.edit", key=key),
                           consequences=["The email already imported from it is kept, with its clients and tasks.",
                                         "Its password is removed from the system keyring.",
                                         "Mail still on the server stays there."])
