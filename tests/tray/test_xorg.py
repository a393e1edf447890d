"""tray/xorg.py against a real X server and tray: changes asked for from another thread never
strand a request of pystray's loop (the Quit hang: its DestroyWindow queued, never sent)."""

from __future__ import annotations

import gc
import threading

import pytest
from PIL import Image

from tests.helpers import wait_until

CYCLES = 20          # stock pystray stuck within the first 8 cycles in each of 3 tries
REDRAWS = 10


@pytest.fixture
def pystray_xorg(desktop, monkeypatch):
    monkeypatch.setenv("DISPLAY", desktop)
    monkeypatch.setenv("PYSTRAY_BACKEND", "xorg")
    import pystray  # needs the display at import time

    return pystray


def picture(n: int) -> Image.Image:
    return Image.new("RGBA", (32, 32), (n * 20 % 256, 90, 160, 255))


def test_redraws_from_another_thread_and_quit_always_end_the_loop(pystray_xorg):
    from tray import xorg

    for cycle in range(CYCLES):
        shown, made, steps = threading.Event(), {}, []

        def loop():                        # the main thread's part in the app
            icon = pystray_xorg.Icon("xorg-test", picture(0), "xorg-test")
            xorg.fix_icon(icon)
            made["icon"] = icon

            def setup(icon):
                icon.visible = True        # docks in trayer
                shown.set()

            icon.run(setup=setup)
            steps.append("loop ended")

        def tray_thread():                 # the tray thread's part: redraws, then Quit
            icon = made["icon"]
            for n in range(1, REDRAWS + 1):
                icon.icon = picture(n)     # drawn by the loop thread, asked from this one
            icon.stop()                    # likewise: the loop destroys its window and ends
            steps.append("stopped")
            icon.icon = picture(0)         # the loop is gone: nothing to wait for
            steps.append("done")

        looping = threading.Thread(target=loop, name=f"xorg-loop-{cycle}", daemon=True)
        looping.start()
        assert shown.wait(10), f"cycle {cycle}: the icon was not shown"
        calling = threading.Thread(target=tray_thread, name=f"xorg-tray-{cycle}", daemon=True)
        calling.start()
        calling.join(10)
        looping.join(10)
        assert sorted(steps) == ["done", "loop ended", "stopped"], f"cycle {cycle}: stuck after {steps}"
        made.clear()
        gc.collect()                       # pystray closes its connection while the display is up


def test_the_size_the_tray_gives_is_told(pystray_xorg, desktop):
    """The tray thread redraws for the embedded size when told, not at its next timed refresh."""
    from tests.servers.desktop import tray_icons
    from tray import xorg

    shown, resized, made = threading.Event(), threading.Event(), {}

    def loop():
        icon = pystray_xorg.Icon("xorg-size", picture(0), "xorg-size")
        xorg.fix_icon(icon, on_resize=resized.set)
        made["icon"] = icon
        icon.run(setup=lambda icon: (setattr(icon, "visible", True), shown.set()))

    looping = threading.Thread(target=loop, name="xorg-size-loop", daemon=True)
    looping.start()
    try:
        assert shown.wait(10) and resized.wait(10), "no size was told"
        embedded = wait_until(lambda: next((i for i in tray_icons(desktop) if i.name == "xorg-size"), None),
                              what="the icon in the tray")
        assert min(embedded.width, embedded.height) >= 16
    finally:
        made["icon"].stop()
        looping.join(10)
        made.clear()
        gc.collect()
