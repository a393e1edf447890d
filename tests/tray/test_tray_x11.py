"""The tray icon under a real X server with a real system tray (Xvfb + trayer), xorg backend:
it embeds as "Mailroom", a real click opens the page, each state looks different, Quit removes it."""

from __future__ import annotations

import itertools

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageGrab

from tests.servers.desktop import click, window_origin
from tests.helpers import wait_until

STATES = ("idle", "checking", "new", "error", "paused")


def grab(display: str, tray) -> Image.Image:
    icon = tray.icon(display)                     # where and how big it is now
    x, y = window_origin(display, icon.window)
    return ImageGrab.grab(bbox=(x, y, x + icon.width, y + icon.height), xdisplay=display).convert("RGB")


def shown(desktop: str, tray):
    """The icon, once embedded and drawn for the size and panel colour its tray gave it (not
    on pystray's black). A status that arrives as the icon is being shown (the worker's
    first check does) must not leave the first picture undrawn: it did, one start in a few."""
    icon = wait_until(lambda: tray.icon(desktop), what="the icon in the tray")
    tray.send("show idle")
    wait_until(lambda: grab(desktop, tray).getpixel((0, 0)) != (0, 0, 0), what="its picture drawn for the tray")
    return icon


def test_the_icon_embeds_and_a_click_opens_the_page(desktop, tray_process):
    tray = tray_process("--no-worker")
    icon = shown(desktop, tray)
    assert icon.wm_class == ("MailroomSystemTrayIcon", "Mailroom") and icon.width >= 16
    click(desktop, icon.window)                   # a real pointer click (XTEST), as a person's
    wait_until(lambda: tray.opened() == [None], what="open_page(None)")


def test_each_state_has_its_own_picture(desktop, tray_process, screenshots):
    tray = tray_process("--no-worker", "--quiet", "600")
    shown(desktop, tray)
    pictures = {}
    for state in STATES:
        tray.send(f"show {state}")
        before = pictures[STATES[STATES.index(state) - 1]] if pictures else None

        def redrawn():
            # the tray thread redraws after the post, flattened on the panel's colour
            picture = grab(desktop, tray)
            if picture.getpixel((0, 0)) == (0, 0, 0):
                return None
            return picture if before is None or ImageChops.difference(picture, before).getbbox() else None

        pictures[state] = wait_until(redrawn, what=f"the {state} picture")
        pictures[state].save(screenshots / f"tray-{state}.png")
        width, height = pictures[state].size
        pictures[state].resize((width * 8, height * 8), Image.NEAREST).save(
            screenshots / f"tray-{state}-zoom.png")
    for a, b in itertools.combinations(STATES, 2):
        box = ImageChops.difference(pictures[a], pictures[b]).getbbox()
        assert box is not None, f"{a} and {b} look the same"
    side_by_side(pictures).save(screenshots / "tray-states.png")     # the README's docs/tray-states.png


def side_by_side(pictures: dict[str, Image.Image], zoom: int = 4) -> Image.Image:
    """The states in a row, each zoomed (as a person leans in) and named underneath."""
    width, height = next(iter(pictures.values())).size
    cell, label = width * zoom + 24, 30
    sheet = Image.new("RGB", (cell * len(pictures), height * zoom + label), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for i, (state, picture) in enumerate(pictures.items()):
        sheet.paste(picture.resize((width * zoom, height * zoom), Image.NEAREST), (i * cell + 12, 0))
        draw.text((i * cell + cell // 2, height * zoom + label // 2), "3 new" if state == "new" else state,
                  fill="black", font=font, anchor="mm")
    return sheet


def test_quit_calls_on_quit_and_removes_the_icon(desktop, tray_process):
    tray = tray_process("--no-worker")
    shown(desktop, tray)
    tray.proc.stdin.write("menu Quit\n")
    tray.proc.stdin.flush()
    assert tray.proc.wait(timeout=20) == 0
    events = [e["event"] for e in tray.events()]
    assert events.count("quit") == 1 and events[-2:] == ["quit", "returned"]
    assert tray.gone(desktop)


def test_stop_tray_ends_it_the_same_way(desktop, tray_process):
    tray = tray_process()
    shown(desktop, tray)
    tray.proc.stdin.write("stop\n")
    tray.proc.stdin.flush()
    assert tray.proc.wait(timeout=20) == 0
    assert [e["event"] for e in tray.events()][-2:] == ["quit", "returned"]
    assert tray.gone(desktop)
