"""A new-mail notification as a desktop draws it: the tray's sender (desktop-notifier over
D-Bus) to dunst on the test display. The screenshot is the README's docs/notification.png."""

from __future__ import annotations

import os
import subprocess

import pytest
from PIL import ImageGrab

from mailroom.model import MailboxState, NewMessage, RunCounts
from tests.servers.desktop import start_dunst, window_of_class
from tests.servers.dovecot import kill_process_group
from tests.helpers import wait_until
from tray import icons, notify
from tray.sender import DesktopSender


@pytest.fixture
def dunst(desktop, tmp_path, monkeypatch):
    address, processes = start_dunst(desktop, tmp_path)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    yield {**os.environ, "DISPLAY": desktop}
    for proc in processes:
        kill_process_group(proc)


def test_a_new_mail_summary_as_dunst_draws_it(desktop, dunst, tmp_path, screenshots):
    box = MailboxState(id=1, description="Sales", enabled=True, state="waiting", run_seq=2,
                       counts=RunCounts(imported=3), new_messages=(
                           NewMessage(1, 1, "Lena Fischer", "Wedding in June"),
                           NewMessage(2, 2, "Tom Baker", "Prints for the album"),
                           NewMessage(3, 3, "Ann Archer", "Quote for a portrait session")))
    notice = notify.new_mail_notice([box], unread=3)
    icon = tmp_path / "icon.png"
    icons.draw(icons.IconState("idle"), 64).save(icon)
    sender = DesktopSender(app_name="Mailroom", icon_path=icon, on_click=lambda _notice: None)
    try:
        sender.show(notice)
        x, y, width, height = wait_until(lambda: window_of_class(desktop, "Dunst"), what="dunst's window")
        displayed = subprocess.run(["dunstctl", "count", "displayed"], env=dunst, capture_output=True, text=True)
        assert displayed.stdout.strip() == "1"
        shot = ImageGrab.grab(bbox=(x, y, x + width, y + height), xdisplay=desktop)
        assert len(shot.getcolors(maxcolors=1 << 16) or ()) > 2, "dunst drew nothing"
        shot.save(screenshots / "notification.png")
    finally:
        sender.close()


def test_without_a_notification_service_the_log_says_so_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus-here'}")
    sender = DesktopSender(app_name="Mailroom", icon_path=None, on_click=lambda _notice: None)
    for n in range(3):
        sender.show(notify.Notice("new-mail", f"{n + 1} new emails", "Lena Fischer: Wedding in June"))
    sender.close()                                   # after the three shows: one loop, in order
    warnings = [r for r in caplog.records if r.name == "mailroom.tray" and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "cannot be shown" in warnings[0].getMessage()
    assert sender.shown() == {}
