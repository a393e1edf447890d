"""One message: headers, text, the HTML in a sandboxed frame (web.mailhtml), its
attachments, and its source. What comes from the mail is never used as a path or a
header of ours without being made safe, and is never rendered by the browser as ours."""

from __future__ import annotations

import io
import unicodedata

from flask import Blueprint, g, make_response, render_template, request, send_file

from web.views import controller

bp = Blueprint("messages", __name__)


def records():
    return controller().records


@bp.get("/messages/<int:pk>")
def show(pk: int):
    """The message; remote images in its HTML stay blocked unless ?images=1 (a choice for this message only)."""
    from web import mailhtml     # the sanitizer is loaded when a message is first shown, not at start

    message = records().message(pk)
    show_images = request.args.get("images") == "1"
    blocked = mailhtml.sanitize(message.html)[1] if message.html else 0
    return render_template("message.html", message=message, show_images=show_images, blocked=blocked)


@bp.get("/messages/<int:pk>/frame")
def frame(pk: int):
    """The message's HTML, sanitized, as a document of its own with its own strict policy."""
    from web import mailhtml

    r = records()
    message = r.message(pk)
    show_images = request.args.get("images") == "1"
    images = r.inline_images(pk, mailhtml.content_ids(message.html)) if message.html else {}
    clean, _blocked = mailhtml.sanitize(message.html or "", images=images, show_remote=show_images)
    response = make_response(mailhtml.frame_document(clean))
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    g.frame_policy = mailhtml.frame_policy(show_images)   # web.guards puts it in place of the page's
    return response


def download_name(filename: str, fallback: str) -> str:
    """A file name for Content-Disposition: the parser's safe name, without control or
    path characters again, never empty."""
    name = "".join(ch for ch in unicodedata.normalize("NFC", filename or "")
                   if unicodedata.category(ch)[0] != "C" and ch not in '/\\:*?"<>|').strip(" .")
    return name[:150] or fallback


@bp.get("/messages/<int:pk>/attachments/<int:number>")
def attachment(pk: int, number: int):
    """Attachment `number`, read from the stored raw message, always as a download."""
    found = records().attachment(pk, number)
    # application/octet-stream whatever the mail claims: the browser saves it, never renders it here.
    return send_file(io.BytesIO(found.data), mimetype="application/octet-stream", as_attachment=True,
                     download_name=download_name(found.filename, f"attachment-{pk}-{number}"))


@bp.get("/messages/<int:pk>/source")
def source(pk: int):
    """The raw message as text (View source)."""
    raw = records().message_source(pk)
    response = make_response(raw.decode("utf-8", errors="replace"))
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response
