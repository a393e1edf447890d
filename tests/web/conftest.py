"""The page in process: a fresh Flask app per test on a real temporary store, the real
keyring, and (through tests.pipeline's fixtures) real Dovecot and SMTP servers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from mailroom.controller import Controller
from tests.pipeline.conftest import configure, ctx, in_process_keyring  # noqa: F401 - fixtures
from tests.helpers import wait_until
from web import create_app, mint_login_url

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
INSTANCE_KEY = "test-instance-key-0123456789abcdefghijklmnop"


class PageClient(FlaskClient):
    """A test client that talks to the page as the browser does: Host 127.0.0.1:<port>."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", BASE)
        return super().open(*args, **kwargs)

    def csrf(self, path: str = "/") -> str:
        page = self.get(path).text
        return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)

    def submit(self, path: str, data: dict | None = None, **kwargs):
        """POST a form the way the page does (with its CSRF token)."""
        return self.post(path, data={**(data or {}), "csrf_token": self.csrf()}, **kwargs)


@pytest.fixture
def controller(ctx):  # noqa: F811
    c = Controller(ctx)
    yield c
    c.shutdown()


@pytest.fixture
def app(controller):
    app = create_app(controller, config={"PORT": PORT, "INSTANCE_KEY": INSTANCE_KEY})
    app.test_client_class = PageClient
    return app


@pytest.fixture
def client(app) -> PageClient:
    return app.test_client()


def log_in(app, client) -> None:
    response = client.get(mint_login_url(app).removeprefix(BASE))
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.fixture
def page(app, client) -> PageClient:
    """A client with a session (logged in through a one-time token)."""
    log_in(app, client)
    return client


@pytest.fixture(scope="session")
def shots(tmp_path_factory, request) -> Path:
    """The folder the browser tests save their screenshots in (printed once)."""
    folder = Path(os.environ.get("MAILROOM_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"screenshots of the page: {folder}")
    return folder


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium (tests.web.chromium), with a home folder of its own."""
    from tests.web.chromium import CHROMIUM, FLAGS, require

    playwright = require()
    home = tmp_path / "chromium-home"
    home.mkdir()
    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS,
                                      env={"HOME": str(home), "PATH": os.environ.get("PATH", "")})
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def served(ctx, request):
    """The controller and its page on a real waitress (the worker is started by the test);
    a module's CONTROLLER_OPTIONS (e.g. a shorter test_timeout) go to the controller."""
    from mailroom.app import PageServer
    from tests.servers.ports import free_port

    controller = Controller(ctx, **getattr(request.module, "CONTROLLER_OPTIONS", {}))
    page_server = PageServer(controller, free_port()).start()
    yield controller, page_server
    controller.shutdown()
    page_server.stop()
