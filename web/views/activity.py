"""What Mailroom did: every mailbox check (with a chart of the imports per day), every
outgoing mail, the outbox's problems ("send again" after a confirmation) and the
quarantine ("try again", "dismiss", the raw message as text or a download)."""

from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for

from mailroom.errors import MailroomError
from web.display import chart
from web.views import controller

bp = Blueprint("activity", __name__)

RAW_SHOWN = 256 * 1024     # bytes of a held message shown on its page; the download has all


def records():
    return controller().records


def _mailbox_filter():
    """The mailbox chosen in the filter (an id), and every mailbox for the list."""
    boxes = [(b.id, b.description) for b in controller().status().mailboxes]
    chosen = request.args.get("mailbox", type=int)
    return (chosen if chosen in {i for i, _ in boxes} else None), boxes


@bp.get("/activity")
def index():
    """Every mailbox check, newest first, with its counts and error; imports per day per mailbox."""
    mailbox_id, boxes = _mailbox_filter()
    before = request.args.get("after", type=int)
    runs = controller().activity(limit=51, mailbox_id=mailbox_id, before=before)
    more = runs[49].id if len(runs) > 50 else None
    charts = [(d.mailbox, chart(d.days)) for d in records().daily_imports(mailbox_id)]
    return render_template("activity.html", runs=runs[:50], more=more, boxes=boxes, mailbox_id=mailbox_id,
                           charts=charts, tab="checks")


@bp.get("/activity/sent")
def sent():
    """Every auto-reply, newest first, whatever became of it."""
    mailbox_id, boxes = _mailbox_filter()
    page = records().outgoing(mailbox_id=mailbox_id, after=request.args.get("after"))
    return render_template("sent.html", page=page, boxes=boxes, mailbox_id=mailbox_id, tab="sent",
                           problems_only=False)


@bp.get("/outbox")
def outbox():
    """Auto-replies that could not be sent, or may have been: with the server's reply."""
    page = records().outgoing(problems_only=True, after=request.args.get("after"))
    return render_template("sent.html", page=page, boxes=[], mailbox_id=None, tab="outbox", problems_only=True)


@bp.route("/outbox/<int:outbox_id>/send-again", methods=["GET", "POST"])
def send_again(outbox_id: int):
    """Send a failed or uncertain reply again, only after saying it may arrive twice."""
    r = records()
    mail = r.outgoing_mail(outbox_id)
    if request.method == "POST":
        try:
            r.send_again(outbox_id)
            flash(f"The reply to {mail.to_addr} is being sent again.", "ok")
        except MailroomError as exc:
            flash(exc.message, "error")
        return redirect(url_for("activity.outbox"))
    return render_template("send_again.html", mail=mail)


@bp.get("/quarantine")
def quarantine():
    """Messages held back: why, from which mailbox, and what can be done."""
    return render_template("quarantine.html", page=records().quarantine(after=request.args.get("after")),
                           tab="quarantine")


@bp.get("/quarantine/<int:held_id>")
def held(held_id: int):
    """One held message: the reason and the kept message as text."""
    r = records()
    found = r.held(held_id)
    raw = r.held_raw(held_id).data if found.raw_sha256 else b""
    return render_template("held.html", held=found, text=raw[:RAW_SHOWN].decode("utf-8", errors="replace"),
                           cut=len(raw) > RAW_SHOWN, tab="quarantine")


@bp.get("/quarantine/<int:held_id>/download")
def download(held_id: int):
    found = records().held_raw(held_id)
    return send_file(io.BytesIO(found.data), mimetype="application/octet-stream", as_attachment=True,
                     download_name=found.filename)


@bp.post("/quarantine/<int:held_id>/retry")
def retry(held_id: int):
    """Parse it again with the code running now and import it (once), or fetch it again."""
    try:
        outcome, pk = records().try_again(held_id)
    except MailroomError as exc:
        flash(exc.message, "error")
        return redirect(url_for("activity.held", held_id=held_id))
    if outcome == "fetch_again":
        flash("It will be downloaded again at the next check of its email box.", "ok")
        return redirect(url_for("activity.quarantine"))
    flash("Imported." if outcome == "imported" else "It was imported already; nothing was added twice.", "ok")
    return redirect(url_for("messages.show", pk=pk))


@bp.post("/quarantine/<int:held_id>/dismiss")
def dismiss(held_id: int):
    """Forget it: it stays seen, so it is never downloaded again."""
    try:
        records().dismiss(held_id)
        flash("Dismissed. It will not be downloaded again.", "ok")
    except MailroomError as exc:
        flash(exc.message, "error")
    return redirect(url_for("activity.quarantine"))
