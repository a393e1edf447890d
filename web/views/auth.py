"""Getting in: the one-time login link, and the channel a second process uses to mint one."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for

from web.guards import forbidden
from web.views import controller

bp = Blueprint("auth", __name__)

# mailroom.instance is the client of this route; a test holds the two spellings equal.
LOGIN_URL_PATH = "/instance/login-url"
KEY_HEADER = "X-Mailroom-Key"


@bp.get("/login")
def login():
    """Redeem a one-time token: sign in, then redirect so the token leaves the address bar."""
    if not current_app.extensions["mailroom.login"].redeem(request.args.get("t", "")):
        return forbidden("bad_token")
    session.clear()
    session["signed_in"] = True
    controller().acknowledge_new_mail()   # the user opened the page: the tray's badge clears
    return redirect(url_for("dashboard.index"))


@bp.post(LOGIN_URL_PATH)
def instance_login_url():
    """A fresh login URL for the process that proved it can read this user's runtime file."""
    from web import mint_login_url

    key = current_app.config.get("INSTANCE_KEY") or ""
    offered = request.headers.get(KEY_HEADER, "")
    if not key or not hmac.compare_digest(key.encode(), offered.encode()):
        return forbidden("refused")
    return jsonify(url=mint_login_url(current_app))
