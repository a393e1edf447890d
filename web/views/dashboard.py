"""The dashboard: every email box's state, Check now, Pause/Resume, and the live status feed."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField

from mailroom.errors import MailroomError
from web.display import status_view
from web.views import controller

bp = Blueprint("dashboard", __name__)

PAUSE_CHOICES = {"30": "for 30 minutes", "60": "for 1 hour", "240": "for 4 hours", "": "until you resume"}


class PauseForm(FlaskForm):
    minutes = SelectField("Pause checking", choices=[SelectChoice(k, v) for k, v in PAUSE_CHOICES.items()],
                          default="60")


def _now() -> dt.datetime:
    return controller().clock()     # the app's one clock (tests may pass their own)


@bp.get("/")
def index():
    """The dashboard; the first start (nothing set up) shows the welcome steps."""
    c = controller()
    doc = c.settings()
    steps = {"outgoing": bool(doc["outgoing"].get("host")), "mailbox": bool(doc["mailboxes"])}
    replying = [b["description"] for b in doc["mailboxes"] if b["autoreply"] and b["enabled"]]
    return render_template("dashboard.html", view=status_view(c.status(), _now()), steps=steps,
                           welcome=not all(steps.values()), running=c.running, pause_form=PauseForm(),
                           replying=replying)


@bp.get("/status.json")
def status():
    """What the dashboard shows, for its script's live refresh (read-only)."""
    return jsonify(status_view(controller().status(), _now()))


def _act(action, done: str):
    try:
        action()
        flash(done, "ok")
    except MailroomError as exc:
        flash(exc.message, "error")
    return redirect(url_for("dashboard.index"))


@bp.post("/check")
def check_all():
    """Check every enabled email box now."""
    return _act(lambda: controller().check_now(), "Checking every email box now.")


@bp.post("/check/<int:mailbox_id>")
def check_one(mailbox_id: int):
    """Check one email box now (also while paused)."""
    return _act(lambda: controller().check_now(mailbox_id), "Checking now.")


@bp.post("/pause")
def pause():
    """Pause the scheduled checks, for a while or until resumed."""
    form = PauseForm()
    if not form.validate():
        flash("Choose how long to pause.", "error")
        return redirect(url_for("dashboard.index"))
    minutes = form.minutes.data
    until = _now() + dt.timedelta(minutes=int(minutes)) if minutes else None
    label = PAUSE_CHOICES[minutes]
    return _act(lambda: controller().set_paused(True, until=until), f"Checks paused {label}.")


@bp.post("/resume")
def resume():
    return _act(lambda: controller().set_paused(False), "Checks resumed.")


@bp.post("/acknowledge")
def acknowledge():
    """The dashboard is in view: new mail counts as seen (the tray's badge clears)."""
    controller().acknowledge_new_mail()
    return "", 204
