"""Getting in and out: the one-time login link, signing out, and the channel another process of
this user reaches us by."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for

from web.guards import forbidden
from web.views import controller

bp = Blueprint("auth", __name__)

# mailroom.instance is the client of these routes; a test holds the spellings equal.
LOGIN_URL_PATH = "/instance/login-url"
OPEN_PATH = "/instance/open"
KEY_HEADER = "X-Mailroom-Key"


def is_local_path(path: str) -> bool:
    """A path of this page to go to after login: "/mailboxes/3", never another site.

    Refused: anything not starting with one "/" ("//evil.example" is a network-path
    reference, RFC 3986 4.2), a backslash (browsers read "/\\evil" as "//evil"), a
    scheme or host, and control characters.
    """
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc


@bp.get("/login")
def login():
    """Redeem a one-time token: sign in, then redirect (to `next`, a local path) so the token
    leaves the address bar."""
    if not current_app.extensions["mailroom.login"].redeem(request.args.get("t", "")):
        return forbidden("bad_token")
    session.clear()
    session["signed_in"] = True
    controller().acknowledge_new_mail()   # the user opened the page: the tray's badge clears
    target = request.args.get("next", "")
    return redirect(target if is_local_path(target) else url_for("dashboard.index"))


@bp.post("/logout")
def logout():
    """Sign out: this browser's session ends; the page opens again only through a fresh login link."""
    session.clear()
    return forbidden("signed_out", 200)


def _key_matches() -> bool:
    key = current_app.config.get("INSTANCE_KEY") or ""
    offered = request.headers.get(KEY_HEADER, "")
    return bool(key) and hmac.compare_digest(key.encode(), offered.encode())


@bp.post(LOGIN_URL_PATH)
def instance_login_url():
    """A fresh login URL for the process that proved it can read this user's runtime file."""
    from web import mint_login_url

    if not _key_matches():
        return forbidden("refused")
    return jsonify(url=mint_login_url(current_app))


@bp.post(OPEN_PATH)
def instance_open():
    """A second `mailroom` hands over: the running one opens its page where it runs (the tray's
    desktop). Without a desktop (OPEN_PAGE unset: --headless) the caller gets a URL instead."""
    from web import mint_login_url

    if not _key_matches():
        return forbidden("refused")
    open_page = current_app.config.get("OPEN_PAGE")
    if open_page is None:
        return jsonify(opened=False, url=mint_login_url(current_app))
    open_page(None)
    return jsonify(opened=True)
