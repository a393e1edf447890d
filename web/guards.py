"""The guards every request passes, in order: Host → session → CSRF/Origin → view (SECURITY.md 1-9).

- Host allow-list `127.0.0.1:<port>` and `localhost:<port>`, on every route including
  static files: a DNS-rebinding page has another Host.
- Session: every page but the login, the instance channel and static files needs one.
  It is set only by a one-time login token (`LoginTokens`): single use, about 60 s,
  compared with `hmac.compare_digest`. The session holds no secret.
- Origin / Sec-Fetch-Site: a cross-site or same-site request (another port of
  localhost is the same site) or a foreign Origin is refused; then Flask-WTF checks the
  CSRF token of every POST.
- Every response gets the security headers; nothing sends CORS headers.

Must not: trust X-Forwarded-* (waitress drops them), render a traceback, or let GET change state.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time

from flask import Flask, g, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

MAX_TOKENS = 32   # outstanding login tokens; the oldest go first

# SECURITY.md 7: all from static/, nothing inline, no frames of us anywhere; the template
# preview's HTML goes in a sandboxed srcdoc frame, which inherits this policy.
CSP = ("default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
       "object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# Reached without a session: the login itself, the key-authenticated instance channel, and
# the stylesheet and script (nothing secret; the "please log in" page needs them).
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.instance_login_url", "auth.instance_open", "static"})


class LoginTokens:
    """One-time login tokens: minted for the tray, `mailroom open` or the start-up line."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}   # token → deadline

    def mint(self, seconds: float = 60) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = self._clock() + seconds
            while len(self._tokens) > MAX_TOKENS:
                del self._tokens[next(iter(self._tokens))]
        return token

    def redeem(self, offered: str) -> bool:
        """True once for a live token; it is burnt whether or not it had expired."""
        offered = offered or ""
        now = self._clock()
        with self._lock:
            for token in list(self._tokens):
                if hmac.compare_digest(token.encode(), offered.encode()):
                    return self._tokens.pop(token) >= now
            for token, deadline in list(self._tokens.items()):
                if deadline < now:
                    del self._tokens[token]
        return False


def forbidden(reason: str, status: int = 403):
    """A small page saying why, with the way in: the tray icon where there is one (the app
    process passes OPEN_PAGE only with a tray), `mailroom open` in every case."""
    from flask import current_app

    return render_template("forbidden.html", reason=reason,
                           tray=current_app.config.get("OPEN_PAGE") is not None), status


def install_guards(app: Flask) -> None:
    port = app.config["PORT"]
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    origins = {f"http://{h}" for h in hosts}

    @app.before_request
    def check_host():
        # The raw header, not request.host: that one is what werkzeug parsed and
        # trusted-host-checked differently; a missing Host is refused as well.
        if request.headers.get("Host", "") not in hosts:
            return "Forbidden: this page answers only to 127.0.0.1 and localhost.\n", 403, {
                "Content-Type": "text/plain; charset=utf-8"}
        return None

    @app.before_request
    def check_session():
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if not session.get("signed_in"):
            return forbidden("not_signed_in")
        return None

    @app.before_request
    def check_origin():
        # SECURITY.md 5: with SameSite=Strict no foreign site sends our cookie, and this
        # refuses the request before any view runs. Sec-Fetch-Site (which no page can set)
        # is "none" for the user (address bar, bookmark, the tray's Open) and "same-origin"
        # for our own page.
        site = request.headers.get("Sec-Fetch-Site", "").lower()
        if site in ("cross-site", "same-site"):
            return forbidden("cross_site")
        origin = request.headers.get("Origin")
        # Our own form POSTs carry "Origin: null" because of Referrer-Policy: no-referrer
        # (Fetch standard, "serializing a request origin"); Sec-Fetch-Site vouches for them.
        if origin is not None and origin not in origins and not (origin == "null" and site == "same-origin"):
            return forbidden("cross_site")
        return None

    csrf = CSRFProtect()
    csrf.init_app(app)   # registered after the three above, so it runs after them
    app.extensions["mailroom.csrf"] = csrf

    @app.errorhandler(CSRFError)
    def csrf_failed(exc):
        return forbidden("csrf", 400)

    @app.errorhandler(403)
    def refused(exc):
        return forbidden("refused")

    @app.errorhandler(404)
    def not_found(exc):
        return render_template("error.html", title="Not found",
                               message="There is no such page (or what it showed was removed)."), 404

    @app.errorhandler(405)
    def wrong_method(exc):
        return render_template("error.html", title="Not allowed",
                               message="This address does not take that kind of request."), 405

    @app.errorhandler(500)
    def failed(exc):
        # SECURITY.md 9: the traceback goes to the log (Flask logs it), never to the page.
        return render_template("error.html", title="Something went wrong",
                               message="Mailroom could not show this page. The details are in its log file."), 500

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        # A message's HTML (web.views.messages.frame) is a document of its own, framed by
        # our page only, under a policy stricter than the page's (web.mailhtml).
        frame_policy = g.get("frame_policy")
        if frame_policy:
            response.headers["Content-Security-Policy"] = frame_policy
            response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

