"""For the tray tests: a notification server on the keyring's private bus, and `tray_process`,
which runs the real tray in a child (tests/tray/harness.py). The desktop (Xvfb + trayer) is
tests/conftest.py's, shared with the installer tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.helpers import wait_until
from tests.servers.desktop import NotificationServer, no_tray_icon, tray_icon
from tests.servers.dovecot import kill_process_group
from tests.pipeline.conftest import configure, ctx, in_process_keyring  # noqa: F401 - fixtures used here too


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory, request) -> Path:
    """Where the icon screenshots go (MAILROOM_TRAY_SHOTS, or the run's temporary folder); printed."""
    folder = Path(os.environ.get("MAILROOM_TRAY_SHOTS") or tmp_path_factory.mktemp("tray-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"tray screenshots: {folder}")
    return folder


@pytest.fixture(scope="session")
def notification_server(real_keyring) -> Iterator[NotificationServer]:
    server = NotificationServer(real_keyring["DBUS_SESSION_BUS_ADDRESS"])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def notifications(notification_server) -> NotificationServer:
    notification_server.clear()
    return notification_server


class TrayProcess:
    def __init__(self, proc: subprocess.Popen, record: Path, log: Path):
        self.proc, self.record, self.log = proc, record, log

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        wait_until(lambda: {"event": "done", "command": command} in self.events(), what=f"'{command}' to be done")

    def events(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.endswith("}")]

    def opened(self) -> list:
        return [e["path"] for e in self.events() if e["event"] == "open_page"]

    def icon(self, display: str):
        return tray_icon(display, "Mailroom")

    def gone(self, display: str) -> bool:
        return no_tray_icon(display, "Mailroom")


@pytest.fixture
def tray_process(desktop, real_keyring, mailroom_home, tmp_path) -> Iterator:
    """tray_process(*args) starts the harness on the desktop; it is ended after the test."""
    started: list[TrayProcess] = []

    def start(*args: str) -> TrayProcess:
        record, log = tmp_path / f"tray-{len(started)}.jsonl", tmp_path / f"tray-{len(started)}.log"
        env = {**real_keyring, "DISPLAY": desktop, "MAILROOM_HOME": str(mailroom_home), "NO_AT_BRIDGE": "1",
               "TMPDIR": str(tmp_path)}
        env.pop("PYSTRAY_BACKEND", None)
        with open(log, "w") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "tests.tray.harness", "--record", str(record), *args],
                                    cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=stderr, text=True, start_new_session=True)
        started.append(TrayProcess(proc, record, log))
        return started[-1]

    yield start
    for tray in started:
        if tray.proc.poll() is None:
            kill_process_group(tray.proc)
        tray.proc.stdin.close()
    # The next test must not find this icon still in the tray (trayer removes it a moment later).
    wait_until(lambda: no_tray_icon(desktop, "Mailroom"), what="the icon to go")
