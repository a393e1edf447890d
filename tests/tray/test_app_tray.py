"""`python -m mailroom` as a user starts it on a desktop: Xvfb with trayer, a private D-Bus
session bus with the real gnome-keyring and a notification server, the test Dovecot, and
$BROWSER set to a script that records each address the app opens (Python's webbrowser
honours $BROWSER). Everything is checked from outside: the X tray, the page over HTTP,
the notifications on the bus, the store and the POP3 server."""

from __future__ import annotations

import http.client
import json
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from PIL import Image, ImageGrab

from mailroom import instance
from mailroom.secrets import mailbox_account
from mailroom.store import schema as s
from mailroom.worker import run_locked
from tests.conftest import REPO_ROOT
from tests.mailgen import make_message
from tests.pipeline.test_kill import server_ids, stored_ids
from tests.servers.desktop import click, no_tray_icon, tray_icon, window_origin
from tests.servers.dovecot import kill_process_group
from tests.servers.ports import free_port
from tests.helpers import wait_until

SENDERS = ("Lena Fischer <lena@example.com>", "Tom Baker <tom@example.net>", "Ann Archer <ann@example.org>")
BADGE_RED = (229, 57, 53)          # tray/icons.py COLOURS["new"]


class Page:
    """The app's page over HTTP as a browser uses it: one session cookie, the CSRF token."""

    def __init__(self, port: int):
        self.port, self.cookie = port, None

    def request(self, method: str, path: str, body: str | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.text = response.read().decode("utf-8", "replace")
        conn.close()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        return response

    def log_in(self, url: str) -> str:
        """Follow a one-time login URL; where it redirected to."""
        parts = urlsplit(url)
        assert (parts.hostname, parts.port) == ("127.0.0.1", self.port), url
        response = self.request("GET", f"{parts.path}?{parts.query}")
        assert response.status == 302, (url, response.status, response.text[:200])
        return response.getheader("Location")

    def check_now(self) -> None:
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', self.request("GET", "/").text).group(1)
        assert self.request("POST", "/check", body=f"csrf_token={token}").status == 302


class App:
    def __init__(self, proc: subprocess.Popen, port: int, opened: Path, display: str):
        self.proc, self.port, self.opened_file, self.display = proc, port, opened, display
        self.page = Page(port)

    def opened(self) -> list[str]:
        """The addresses the app (or a second mailroom) opened in "the browser"."""
        return self.opened_file.read_text().split() if self.opened_file.exists() else []

    def icon(self):
        return tray_icon(self.display, "Mailroom")

    def gone(self) -> bool:
        return no_tray_icon(self.display, "Mailroom")

    def wait_icon(self):
        return wait_until(lambda: self.icon() or self._ended(), what="the icon in the tray")

    def _ended(self):
        assert self.proc.poll() is None, f"mailroom exited ({self.proc.returncode}): {self.output()}"

    def click(self) -> None:
        click(self.display, self.wait_icon().window)

    def picture(self) -> Image.Image:
        icon = self.wait_icon()
        x, y = window_origin(self.display, icon.window)
        return ImageGrab.grab(bbox=(x, y, x + icon.width, y + icon.height), xdisplay=self.display).convert("RGB")

    def badge(self) -> bool:
        """The icon shows the red new-mail badge."""
        colours = self.picture().getcolors(maxcolors=1 << 16)
        return any(sum(abs(a - b) for a, b in zip(colour, BADGE_RED)) < 40 for _count, colour in colours)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=60)

    def output(self) -> str:
        return self.proc.stdout.read() if self.proc.poll() is not None else ""


@pytest.fixture
def app_env(desktop, real_keyring, mailroom_home, tmp_path) -> dict:
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> "{tmp_path / "opened.txt"}"\n')
    browser.chmod(0o755)
    env = {**real_keyring, "DISPLAY": desktop, "MAILROOM_HOME": str(mailroom_home), "BROWSER": str(browser),
           "NO_AT_BRIDGE": "1", "TMPDIR": str(tmp_path)}
    env.pop("PYSTRAY_BACKEND", None)
    return env


@pytest.fixture
def mailroom(app_env, desktop, tmp_path):
    """mailroom() starts `python -m mailroom --port N` on the desktop; ended after the test."""
    started: list[App] = []

    def start() -> App:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "mailroom", "--port", str(port)], env=app_env,
                                cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        started.append(App(proc, port, tmp_path / "opened.txt", desktop))
        return started[-1]

    yield start
    for app in started:
        if app.proc.poll() is None:
            kill_process_group(app.proc)
        app.proc.stdout.close()
    wait_until(lambda: no_tray_icon(desktop, "Mailroom"), what="the icon to go")


def second_mailroom(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mailroom"], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=30)


def test_the_icon_opens_the_page_clears_the_badge_and_a_second_mailroom_hands_over(
        configure, mailbox_user, mailroom, app_env):
    configure(poll_minutes=60)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(2))
    app = mailroom()
    app.wait_icon()                                                  # embedded, its X window named Mailroom
    wait_until(app.badge, what="the new-mail badge after the first check")

    app.click()                                                      # a real pointer click (XTEST)
    [url] = wait_until(app.opened, what="the browser to be opened")
    assert app.page.log_in(url) == "/"                               # the dashboard, signed in
    assert json.loads(app.page.request("GET", "/status.json").text)["unread"] == 0
    wait_until(lambda: not app.badge(), what="the badge to clear")

    second = second_mailroom(app_env)                                # hands over, and is done
    assert second.returncode == 0 and "it opened its page" in second.stdout, second.stdout + second.stderr
    first, handed = wait_until(lambda: len(app.opened()) == 2 and app.opened(), what="the hand-over")
    assert Page(app.port).log_in(handed) == "/"                      # opened by the running one, for its page

    assert app.stop() == 0
    assert app.gone()
    assert not (Path(app_env["MAILROOM_HOME"]) / instance.RUNTIME_FILE).exists()


def test_notifications_of_a_wrong_password_its_repair_and_new_mail(
        ctx, configure, mailbox_user, mailroom, notifications):
    box = configure(poll_minutes=60)
    mailbox_user.deliver(make_message(0, to=mailbox_user.address, sender="Old Client <old@example.com>"))
    assert run_locked(ctx, box).imported == 1                        # imported before Mailroom started
    ctx.secrets.set(mailbox_account(box.id), "wrong")
    app = mailroom()

    # Told once Mailroom's quiet first seconds are over, and once only.
    error = wait_until(notifications.snapshot, timeout=40, what="the error notification")[0]
    assert error.app_name == "Mailroom" and error.summary == "Studio: login rejected"
    notifications.invoke(error.id)                                   # a click leads to the mailbox's settings
    [url] = wait_until(app.opened, what="the page to open")
    assert app.page.log_in(url) == f"/mailboxes/{box.id}"
    assert app.page.request("GET", f"/mailboxes/{box.id}").getheader("Location") == "/mailboxes/edit?key=Studio"

    runs = finished_runs(ctx, box.id)
    app.page.check_now()                                             # fails again: nothing new to say
    wait_until(lambda: finished_runs(ctx, box.id) == runs + 1, what="the second failing run")

    ctx.secrets.set(mailbox_account(box.id), mailbox_user.password)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, sender=sender, subject=f"Subject {i}")
                              for i, sender in enumerate(SENDERS, 1))
    app.page.check_now()
    shown = wait_until(lambda: len(n := notifications.snapshot()) >= 3 and n, what="working again and new mail")
    wait_until(lambda: finished_runs(ctx, box.id) == runs + 2, what="the repaired run")
    shown = notifications.snapshot()
    assert sorted(n.summary for n in shown) == ["3 new emails", "Studio: login rejected", "Studio: working again"]
    summary = next(n for n in shown if n.summary == "3 new emails")
    for i, name in enumerate(("Lena Fischer", "Tom Baker", "Ann Archer"), 1):
        assert f"{name}: Subject {i}" in summary.body
    assert "Old Client" not in summary.body                          # imported earlier: never announced
    notifications.invoke(summary.id)
    second_url = wait_until(lambda: len(app.opened()) == 2 and app.opened()[1], what="the page to open")
    assert Page(app.port).log_in(second_url) == "/"
    assert app.stop(signal.SIGINT) == 0


def finished_runs(ctx, mailbox_id: int) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(s.runs).where(
            s.runs.c.mailbox_id == mailbox_id, s.runs.c.ended_at.is_not(None))).scalar()


def imported(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=0.2) as conn:
            return conn.execute("SELECT count(*) FROM seen_uids").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigterm_during_an_import_leaves_nothing_half_imported_and_removes_the_icon(
        configure, mailbox_user, mailroom, mailroom_home):
    total = 600
    configure(poll_minutes=60, leave_on_server=False)
    everything = {f"t{i}@term.test" for i in range(total)}
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, message_id=f"<t{i}@term.test>")
                              for i in range(total))
    db = mailroom_home / "mailroom.db"
    app = mailroom()
    wait_until(lambda: imported(db) > 0, what="the first committed message")
    assert app.stop() == 0                                           # the worker stops between messages
    assert app.gone()
    stored = stored_ids(db)
    on_server = server_ids(mailbox_user)
    assert 0 < len(stored) < total, "the stop did not land inside the import"
    assert len(stored) == len(set(stored)) == imported(db)          # each one with its seen UID
    assert set(stored) | on_server == everything                    # nothing lost
    assert not set(stored) & on_server                               # committed ones deleted at QUIT, no others


def test_a_stale_lock_from_a_killed_instance_is_taken_over(configure, mailroom, app_env, mailroom_home):
    configure(poll_minutes=60)
    killed = mailroom()
    killed.wait_icon()
    killed.proc.kill()
    killed.proc.wait(timeout=30)
    assert (mailroom_home / instance.RUNTIME_FILE).exists()          # stale, left behind
    wait_until(killed.gone, what="the killed instance's icon to go")
    app = mailroom()
    app.wait_icon()
    assert instance.read_runtime(mailroom_home).pid == app.proc.pid
    second = second_mailroom(app_env)
    assert second.returncode == 0 and "it opened its page" in second.stdout, second.stdout + second.stderr
    [url] = wait_until(app.opened, what="the hand-over")
    assert app.page.log_in(url) == "/"
    assert app.stop() == 0
