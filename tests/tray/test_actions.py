"""The menu's items carried out through the app layer: menu spec → Actions → a real Controller."""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from mailroom.controller import Controller
from tests.conftest import REPO_ROOT
from tests.mailgen import make_message
from tests.helpers import wait_until
from tray.app import Actions
from tray.menu import build_menu


def item(items, text):
    for i in items:
        if i.text.startswith(text):
            return i
        found = [s for s in i.submenu if s.text.startswith(text)]
        if found:
            return found[0]
    raise AssertionError(f"no menu item {text!r} in {[i.text for i in items]}")


def test_every_menu_item_reaches_the_controller(ctx, configure, mailbox_user, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    box = configure(poll_minutes=60)
    controller = Controller(ctx)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1, what="the first run")
    calls: list = []
    actions = Actions(controller, open_page=lambda path: calls.append(("page", path)), data_dir=tmp_path,
                      quit=lambda: calls.append(("quit",)), open_folder=lambda p: calls.append(("folder", p)))

    def menu():
        return build_menu(controller.status(), dt.datetime.now(dt.timezone.utc),
                          autostart_on=controller.autostart_status().on)

    try:
        before = dt.datetime.now(dt.timezone.utc)
        actions.perform(item(menu(), "1 hour").action)
        status = controller.status()
        assert status.paused and dt.timedelta(minutes=59) < status.paused_until - before < dt.timedelta(minutes=61)
        actions.perform(item(menu(), "Resume").action)
        assert not controller.status().paused
        actions.perform(item(menu(), "Until resumed").action)
        assert controller.status().paused and controller.status().paused_until is None
        actions.perform(item(menu(), "Resume").action)
        mailbox_user.deliver(make_message(1, to=mailbox_user.address))
        actions.perform(item(menu(), "Check now").action)
        wait_until(lambda: controller.status().mailbox(box.id).run_seq == 2, what="the checked run")
        assert controller.status().unread == 1
        assert item(menu(), "Start at login").checked is False
        actions.perform(item(menu(), "Start at login").action)
        assert item(menu(), "Start at login").checked is True
        assert (tmp_path / "config" / "autostart" / "mailroom.desktop").is_file()
        actions.perform(item(menu(), "Start at login").action)
        assert controller.autostart_status().on is False
        actions.perform(item(menu(), "Open Mailroom (1 new)").action)
        assert controller.status().unread == 0      # opening the page clears the badge
        actions.perform(item(menu(), "Open data folder").action)
        actions.perform(item(menu(), "Quit").action)
        assert calls == [("page", None), ("folder", tmp_path), ("quit",)]
    finally:
        controller.shutdown()


def test_a_mailbox_in_trouble_leads_to_its_settings(ctx, configure, tmp_path):
    box = configure(password="wrong", poll_minutes=60)
    controller = Controller(ctx)
    controller.start()
    try:
        wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1, what="the failed run")
        opened: list = []
        actions = Actions(controller, open_page=opened.append, data_dir=tmp_path, quit=lambda: None)
        line = item(build_menu(controller.status(), dt.datetime.now(dt.timezone.utc), autostart_on=False),
                    "Studio — login rejected")
        actions.perform(line.action)
        assert opened == [f"/mailboxes/{box.id}"]
    finally:
        controller.shutdown()


def test_tray_imports_only_the_controller_errors_and_model_from_mailroom():
    for path in (REPO_ROOT / "tray").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                if name.split(".")[0] == "mailroom":
                    assert name in ("mailroom.controller", "mailroom.errors", "mailroom.model"), f"{path.name}: {name}"


@pytest.mark.parametrize("module", ["tray.app", "tray.icons", "tray.menu", "tray.notify", "tray.sender"])
def test_importing_the_tray_needs_no_display_and_loads_no_pystray(module):
    code = f"import sys, {module}; print([m for m in sys.modules if m.split('.')[0] in ('pystray', 'desktop_notifier')])"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}          # no DISPLAY, no D-Bus
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
