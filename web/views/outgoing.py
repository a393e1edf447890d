"""Outgoing email: the SMTP account, its password, and Send Test Email.

As the email box form's OK: Save tests first (connect, secure, log in) and saves only
when that works; Send Test Email sends the test with the settings as typed and saves
them when it went out; after a failed test nothing is saved (the saved password stays
in the keyring) and "Save anyway" is the explicit second choice. A field the settings
refuse is marked and nothing is tried.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from wtforms import StringField

from mailroom.errors import ConfigError, MailroomError
from web import held
from web.forms import build_form, flash_warnings, initial, show_error, values
from web.labels import preset_for_host
from web.views import apply_preset, controller, provider_field, section

bp = Blueprint("outgoing", __name__)

HOLD_AS = "outgoing"


@bp.route("/outgoing", methods=["GET", "POST"])
def edit():
    """Save (tested first), Send Test Email (saves when it went out), or Save anyway."""
    c = controller()
    spec = section("outgoing")
    saved = c.settings()["outgoing"]
    data = initial(spec, saved)
    data["provider"] = preset_for_host(saved.get("host"))
    form = build_form(spec, data=data, password=True, extra={
        "provider": provider_field("smtp"),
        "test_to": StringField("Send the test to", description="Leave empty to send it to the Email Address above."),
    })
    keyring_problem = c.keyring_problem()
    general: list[str] = []
    failed = None
    action = request.form.get("action", "save")
    if request.method == "GET":
        held.drop(HOLD_AS)
    if request.method == "POST" and action == "clear_password":
        held.drop(HOLD_AS)
        c.clear_password("outgoing")
        flash("The saved Logon Password was removed from the keyring.", "ok")
        return redirect(url_for("outgoing.edit"))
    if request.method == "POST" and action == "forget_password":
        held.drop(HOLD_AS)
    elif request.method == "POST" and action == "preset":
        apply_preset(form, "smtp")
    elif form.validate_on_submit():
        out = values(form, spec)
        password = form.password.data or held.held(HOLD_AS) or None
        try:
            c.check_outgoing(out)
            if password and keyring_problem:
                raise ConfigError(keyring_problem, field="password")
            result = None
            if action != "save_anyway":
                try:
                    result = c.test_outgoing(out, password, send=action == "test",
                                             to=(form.test_to.data or "").strip() or None)
                except MailroomError as exc:
                    if exc.field == "to":            # the controller's name for the test's recipient
                        exc.field = "test_to"
                    failed = exc
                    raise
            warnings = c.save_outgoing(out, password)   # then the waiting auto-replies go out at once
            held.drop(HOLD_AS)
            flash((f"{result.message} " if result else "") + "Outgoing email saved.", "ok")
            flash_warnings(warnings, c.settings())
            return redirect(url_for("outgoing.edit"))
        except MailroomError as exc:
            general = show_error(form, exc, "outgoing")
            if failed is not None and failed.field in form:
                general = []                          # the result above says it, next to the field too
            if password and not keyring_problem:
                held.hold(HOLD_AS, password)          # for the next try or Save anyway; never shown back
    elif request.method == "POST" and form.password.data and not keyring_problem:
        held.hold(HOLD_AS, form.password.data)
    return render_template("outgoing.html", form=form, general=general, failed=failed, action=action,
                           keyring_problem=keyring_problem,
                           has_password=not keyring_problem and c.has_password("outgoing"),
                           held=not keyring_problem and held.held(HOLD_AS) is not None)
