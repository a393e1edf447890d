"""Outgoing email: the SMTP account, its password, and Send Test Email with the result inline."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from wtforms import StringField

from mailroom.errors import MailroomError
from web.forms import build_form, flash_warnings, initial, show_error, values
from web.labels import preset_for_host
from web.views import apply_preset, controller, provider_field, section

bp = Blueprint("outgoing", __name__)


@bp.route("/outgoing", methods=["GET", "POST"])
def edit():
    """Save the account; Send Test Email saves it, then sends through it and says how that went."""
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
    result = None
    action = request.form.get("action", "save")
    if request.method == "POST" and action == "clear_password":
        c.clear_password("outgoing")
        flash("The saved Logon Password was removed from the keyring.", "ok")
        return redirect(url_for("outgoing.edit"))
    if request.method == "POST" and action == "preset":
        apply_preset(form, "smtp")
    elif form.validate_on_submit():
        try:
            warnings = c.save_section("outgoing", values(form, spec))
            if form.password.data:
                c.set_password("outgoing", form.password.data)
            flash_warnings(warnings, c.settings())
            if action != "test":
                flash("Outgoing email saved.", "ok")
                return redirect(url_for("outgoing.edit"))
            result = c.send_test_email((form.test_to.data or "").strip() or None)
        except MailroomError as exc:
            general = show_error(form, exc, "outgoing") if action != "test" or exc.field else []
            result = exc
    return render_template("outgoing.html", form=form, general=general, result=result,
                           keyring_problem=keyring_problem,
                           has_password=not keyring_problem and c.has_password("outgoing"))
