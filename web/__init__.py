"""The local settings and status page: a Flask app factory (Flask's tutorial habit).

`create_app(controller, config=...)` gets its collaborators passed in, so each test
builds a fresh app on a real temporary store. The page talks to Mailroom only through
the controller (with mailroom.errors and mailroom.model for what it returns); a test
holds that no other `mailroom` module is imported here. The guards every request
passes, in order Host → session → CSRF/Origin → view, are in `web.guards`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask

from web.guards import LoginTokens, install_guards


def static_dir() -> Path:
    """The CSS/JS folder: inside a PyInstaller bundle, an installed wheel, or the source tree."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "static"
    installed = Path(__file__).resolve().parent / "static"   # the wheel maps static/ to web/static
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "static"


def create_app(controller, *, config: dict | None = None) -> Flask:
    """The page for `controller`. `config` must give PORT (the Host allow-list needs it); the app
    process adds INSTANCE_KEY (its runtime file's key) and, with a tray, OPEN_PAGE."""
    import secrets
    from datetime import timedelta

    config = dict(config or {})
    if "PORT" not in config:
        raise ValueError("create_app needs config['PORT'], the port the page is served on")
    app = Flask(__name__, static_folder=str(static_dir()), static_url_path="/static")
    app.config.update(
        # New at every start: a session (and its CSRF token) does not outlive this process, so
        # a cookie copied while Mailroom ran is worthless after a restart, and signing out of
        # one start leaves nothing behind for the next.
        SECRET_KEY=secrets.token_bytes(32),
        # Cookies are shared across every port of localhost: a name of this install's own.
        SESSION_COOKIE_NAME=f"mailroom-{controller.install_id}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(days=7),   # the longest a signed session is accepted
        WTF_CSRF_TIME_LIMIT=None,        # a form left open for hours still saves (the token is per session)
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        INSTANCE_KEY=None,
        OPEN_PAGE=None,                  # open_page(path) of the app process when it has a desktop
        LOGIN_SECONDS=60,
    )
    app.config.update(config)
    app.extensions["mailroom"] = controller
    app.extensions["mailroom.login"] = LoginTokens()
    install_guards(app)

    from web.views import activity, auth, clients, dashboard, mailboxes, messages, outgoing, search, settings, tasks

    for module in (auth, dashboard, outgoing, mailboxes, settings, clients, messages, tasks, search, activity):
        app.register_blueprint(module.bp)
    install_record_errors(app)
    # Not a browser's request: authenticated by the runtime file's key, which no page can read.
    app.extensions["mailroom.csrf"].exempt(auth.instance_login_url)
    app.extensions["mailroom.csrf"].exempt(auth.instance_open)
    from web import render

    render.install(app)
    return app


# A ConfigError naming one of these fields means: no such record (a 404, with its sentence).
MISSING = frozenset({"client", "message", "task", "attachment", "outbox", "quarantine"})


def install_record_errors(app: Flask) -> None:
    """A MailroomError a record page did not handle: its sentence on the error page, never a traceback."""
    from flask import render_template

    from mailroom.errors import ConfigError, MailroomError, StorageError

    @app.errorhandler(MailroomError)
    def record_error(exc: MailroomError):
        if isinstance(exc, StorageError):
            return render_template("error.html", title="Mailroom cannot read its data", message=exc.message), 503
        missing = isinstance(exc, ConfigError) and exc.field in MISSING
        return render_template("error.html", title="Not found" if missing else "Not possible",
                               message=exc.message), 404 if missing else 400


def mint_login_url(app: Flask, seconds: float | None = None, next_path: str | None = None) -> str:
    """A one-time login URL for `app` (single use, valid `seconds`, 60 by default) that lands
    on `next_path` (a path of this page, e.g. "/mailboxes/3"; the dashboard when None)."""
    from urllib.parse import quote

    from web.views.auth import is_local_path

    if next_path is not None and not is_local_path(next_path):
        raise ValueError(f"not a path of this page: {next_path!r}")
    token = app.extensions["mailroom.login"].mint(seconds if seconds is not None else app.config["LOGIN_SECONDS"])
    url = f"http://127.0.0.1:{app.config['PORT']}/login?t={token}"
    return url + f"&next={quote(next_path, safe='/')}" if next_path else url
