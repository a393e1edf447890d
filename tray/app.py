"""The running tray: pystray's loop on the main thread, everything else on the tray's thread.

`run_tray(controller, open_page=, data_dir=, on_quit=)` blocks until Quit (or
`stop_tray()`, e.g. from a SIGTERM handler): the icon is removed, `on_quit()` is
called once on the calling thread, and it returns.

Threads: the caller's (main) thread runs pystray's loop (macOS requires it). The
controller's subscribers, pystray's menu callbacks and notification clicks only post
to the tray's queue; the tray's own thread ("mailroom-tray") takes each post, calls the
controller, redraws the icon, refreshes tooltip and menu, and hands notices to the
sender. The menu is built on demand from the latest snapshot (tray/menu.py).

`stop_tray()` only puts Quit on that queue, a `queue.SimpleQueue`, whose put is
reentrant: so a signal handler may call it even when it interrupts a post on the main
thread (a Lock-based queue could deadlock there). A stop asked for before the tray
existed is seen through `stop_requested()` when its thread starts.

This is the only module that imports pystray, and only inside `run_tray`: importing it
without a display raises Xlib's DisplayNameError, not an ImportError. On Linux the
backend is AppIndicator/GTK when PyGObject is importable, else xorg, corrected by
tray/xorg.py (clicks reach it, it docks once, and only its loop thread uses its X
connection). Where no tray host exists (no _NET_SYSTEM_TRAY owner on X11), it says so
in the log and opens the page instead of sitting invisible.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from mailroom.controller import Controller
from mailroom.errors import MailroomError
from mailroom.model import Status
from tray import icons, menu, notify
from tray.menu import Action

log = logging.getLogger("mailroom.tray")

NAME = "Mailroom"
REFRESH_SECONDS = 30.0                    # "checked 3 min ago" stays true
HOST_WAIT_SECONDS = 10.0                  # at login the panel may start after us
_current: "Tray | None" = None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def run_tray(controller: Controller, *, open_page: Callable[[str | None], None], data_dir: Path,
             on_quit: Callable[[], None], stop_requested: Callable[[], bool] = lambda: False,
             quiet_seconds: float = notify.QUIET.total_seconds(),
             host_wait_seconds: float = HOST_WAIT_SECONDS) -> None:
    """Show the tray icon and notifications until Quit; then call `on_quit()` and return.

    `open_page(path)` opens the local page at `path` (None: the dashboard).
    """
    global _current
    tray = Tray(controller, open_page=open_page, data_dir=data_dir,
                quiet=dt.timedelta(seconds=quiet_seconds), host_wait=host_wait_seconds)
    _current = tray
    if stop_requested():                # asked before _current was set: stop_tray() missed it
        tray.post(Action("quit"))
    try:
        tray.run()
    finally:
        _current = None
        on_quit()


def stop_tray() -> None:
    """End `run_tray` as Quit does (safe from any thread and from a signal handler)."""
    tray = _current
    if tray is not None:
        tray.post(Action("quit"))


def running_tray() -> "Tray | None":
    return _current


def has_display() -> bool:
    """Is there a desktop to show an icon on? Decided before pystray is imported."""
    return choose_backend() is not None


def open_folder(path: Path) -> None:
    """Show a folder in the desktop's file manager."""
    if sys.platform == "win32":
        os.startfile(path)  # noqa: S606 - a folder of our own
    else:
        subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", str(path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


class Actions:
    """A menu `Action` carried out through the controller (no pystray: tested on its own)."""

    def __init__(self, controller: Controller, *, open_page: Callable[[str | None], None], data_dir: Path,
                 quit: Callable[[], None], open_folder: Callable[[Path], None] = open_folder,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.controller, self.open_page, self.data_dir = controller, open_page, data_dir
        self.quit, self.open_folder, self.clock = quit, open_folder, clock

    def perform(self, action: Action) -> None:
        c = self.controller
        try:
            if action.name == "open":
                c.acknowledge_new_mail()          # the badge clears when the page opens
                self.open_page(action.arg)
            elif action.name == "check":
                c.check_now()
            elif action.name == "pause":
                until = self.clock() + dt.timedelta(minutes=action.arg) if action.arg else None
                c.set_paused(True, until=until)
            elif action.name == "resume":
                c.set_paused(False)
            elif action.name == "autostart":
                c.set_autostart(not c.autostart_status().on)
            elif action.name == "folder":
                self.open_folder(self.data_dir)
            elif action.name == "quit":
                self.quit()
            else:
                raise ValueError(f"unknown tray action {action.name!r}")
        except MailroomError as exc:
            log.warning("tray: %s failed: %s", action.name, exc.message)


class Tray:
    def __init__(self, controller: Controller, *, open_page: Callable[[str | None], None], data_dir: Path,
                 quiet: dt.timedelta, host_wait: float, clock: Callable[[], dt.datetime] = utcnow):
        self.controller, self.data_dir, self.clock = controller, Path(data_dir), clock
        self.quiet, self.host_wait = quiet, host_wait
        self.actions = Actions(controller, open_page=open_page, data_dir=self.data_dir, quit=self._quit, clock=clock)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()   # reentrant put: see the module docstring
        self._stopping = threading.Event()
        self._icon = None
        self._backend = ""
        self._status: Status = controller.status()
        self._autostart_on = False
        self._memory = notify.start(self._status, clock())
        self._sender = None
        self._shown_state: tuple | None = None
        self._xcanvas: Callable[[], tuple | None] = lambda: None

    # --- any thread ---------------------------------------------------------------------
    def post(self, item: Action | Status | notify.Notice | str) -> None:
        self._queue.put(item)

    # --- the calling (main) thread --------------------------------------------------------
    def run(self) -> None:
        unsubscribe = self.controller.subscribe(self.post)
        thread = threading.Thread(target=self._loop, name="mailroom-tray", daemon=True)
        self._sender = self._make_sender()
        thread.start()
        try:
            self._run_icon()
        finally:
            unsubscribe()
            self._stopping.set()
            self._queue.put(None)
            thread.join(10)
            if self._sender is not None:
                self._sender.close()

    def _run_icon(self) -> None:
        backend = choose_backend()
        if backend is None:
            log.warning("No display to show a tray icon on; opening Mailroom's page instead.")
            self.post(Action("open"))
            self._stopping.wait()
            return
        if backend == "xorg" and not self._wait_for_host():
            from tray import xorg

            if self._stopping.is_set():
                return                             # Quit (a signal) came while waiting for a tray
            log.warning("No system tray on this desktop (nothing owns _NET_SYSTEM_TRAY_S0): Mailroom runs "
                        "without an icon until one appears; opening its page instead.")
            self.post(Action("open"))
            while not self._stopping.wait(2.0):
                if xorg.tray_host(os.environ.get("DISPLAY")):
                    log.info("A system tray appeared: showing the icon.")
                    break
            else:
                return
        import pystray  # lazily: without a display this import raises (not an ImportError)

        self._backend = pystray.Icon.__module__.rsplit("._", 1)[-1]
        icon = pystray.Icon(NAME, icons.image_for(self._status, _platform_size()), NAME,
                            menu=pystray.Menu(lambda: self._pystray_items(pystray)))
        if self._backend == "xorg":
            from tray import xorg  # Xlib: Linux only

            xorg.fix_icon(icon, on_resize=lambda: self.post("refresh"))   # draw for the size trayer gives
            self._xcanvas = xorg.xembed_canvas(icon._window.id)
        log.info("tray icon: pystray backend %s (menu %s, default action %s, notifications %s)", self._backend,
                 icon.HAS_MENU, icon.HAS_DEFAULT_ACTION, icon.HAS_NOTIFICATION)
        if not icon.HAS_MENU:
            log.info("This tray shows no menu: a click opens Mailroom's page, where everything else is.")
        self._icon = icon
        if self._stopping.is_set():
            return
        icon.run(setup=self._shown)

    def _shown(self, icon) -> None:
        if self._stopping.is_set():                # Quit came while the loop was starting:
            icon.stop()                            # its icon.stop() found nothing running yet
            return
        icon.visible = True
        self.post("refresh")                       # redraw for the size and panel the tray gave us

    def _wait_for_host(self) -> bool:
        deadline = self.clock() + dt.timedelta(seconds=self.host_wait)
        from tray import xorg

        display = os.environ.get("DISPLAY")
        while not xorg.tray_host(display):
            if self.clock() >= deadline or self._stopping.wait(0.25):
                return False
        return True

    def _make_sender(self):
        if sys.platform == "win32":
            return None                            # pystray's own, once the icon exists
        from tray.sender import DesktopSender

        icon_path = self.data_dir / "mailroom-notification.png"
        try:
            icons.draw(icons.IconState("idle"), 64).save(icon_path)
        except OSError:
            icon_path = None
        return DesktopSender(app_name=NAME, icon_path=icon_path, on_click=self.post)

    # --- the tray's thread ------------------------------------------------------------------
    def _loop(self) -> None:
        self._refresh()
        while True:
            try:
                item = self._queue.get(timeout=self._next_timeout())
            except queue.Empty:
                item = "tick"
            if item is None:
                return
            try:
                self._handle(item)
            except Exception:  # noqa: BLE001 - the tray must outlive one bad update; logged
                log.exception("tray update failed")

    def _handle(self, item) -> None:
        if isinstance(item, Status):
            # Coalesce a burst of snapshots: only the newest matters.
            if item.seq >= self._status.seq:
                self._status = item
            self._refresh()
        elif isinstance(item, Action):
            self.actions.perform(item)
            if item.name != "quit":
                self._refresh()
        elif isinstance(item, notify.Notice):     # a notification was clicked
            self.actions.perform(Action("open", item.path))
        else:
            self._refresh()

    def _next_timeout(self) -> float:
        left = (self._memory.started + self.quiet - self.clock()).total_seconds()
        return min(REFRESH_SECONDS, left + 0.05) if left > 0 else REFRESH_SECONDS

    def _refresh(self) -> None:
        now = self.clock()
        status = self._status
        self._autostart_on = _autostart_on(self.controller)
        icon = self._icon
        if icon is not None:
            shown = (icons.icon_state(status), self._xcanvas() or _platform_size())
            # Until `visible` is True pystray stores a new picture without drawing it, and the
            # setup thread's own draw may be done already: wait for _shown's refresh instead.
            if shown != self._shown_state and icon.visible:
                icon.icon = _image(*shown)
                self._shown_state = shown
            if self._backend != "xorg":           # xorg's title is its X window name: keep "Mailroom"
                icon.title = menu.tooltip(status, now, limit=127 if sys.platform == "win32" else None)
            icon.update_menu()
        self._notify(status, now)

    def _notify(self, status: Status, now: dt.datetime) -> None:
        fresh = any(b.run_seq > self._memory.runs.get(b.id, 0) for b in status.mailboxes)
        wanted = self.controller.notify_new_mail() if fresh else True
        self._memory, notices = notify.decide(self._memory, status, now, notify_new_mail=wanted, quiet=self.quiet)
        sender = self._sender
        if sender is None and self._icon is not None and getattr(self._icon, "HAS_NOTIFICATION", False):
            from tray.sender import IconSender

            sender = self._sender = IconSender(self._icon)
        for notice in notices:
            log.info("notify: %s — %s", notice.title, notice.body.replace("\n", "; "))
            if sender is not None:
                sender.show(notice)

    def _quit(self) -> None:
        self._stopping.set()
        icon = self._icon
        if icon is not None:
            icon.stop()                            # destroys the icon's window: it leaves the tray

    def _pystray_items(self, pystray) -> list:
        spec = menu.build_menu(self._status, self.clock(), autostart_on=self._autostart_on,
                               tz=dt.datetime.now().astimezone().tzinfo)
        return [self._pystray_item(pystray, item) for item in spec]

    def _pystray_item(self, pystray, item: menu.MenuItem):
        if item.separator:
            return pystray.Menu.SEPARATOR
        if item.submenu:
            return pystray.MenuItem(item.text, pystray.Menu(*(self._pystray_item(pystray, i) for i in item.submenu)))
        action = item.action
        checked = (lambda _item: self._autostart_on) if item.checked is not None else None
        return pystray.MenuItem(item.text, (lambda: self.post(action)) if action else None, checked=checked,
                                enabled=item.enabled, default=item.default)


def choose_backend() -> str | None:
    """The pystray backend to use here, set in PYSTRAY_BACKEND before pystray is imported."""
    chosen = os.environ.get("PYSTRAY_BACKEND")
    if chosen or sys.platform in ("win32", "darwin"):
        return chosen or sys.platform
    if importlib.util.find_spec("gi") is not None and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "gtk-or-appindicator"               # pystray tries AppIndicator first, then GTK
    if not os.environ.get("DISPLAY"):
        return None
    os.environ["PYSTRAY_BACKEND"] = "xorg"
    return "xorg"


def _image(state: icons.IconState, canvas):
    """The icon at the platform's size, or centred on an XEmbed window's panel colour."""
    from PIL import Image

    if isinstance(canvas, int):
        return icons.draw(state, canvas)
    width, height, colour = canvas
    side = min(width, height)
    flat = Image.new("RGB", (width, height), colour)
    picture = icons.draw(state, side)
    flat.paste(picture, ((width - side) // 2, (height - side) // 2), picture)
    return flat


def _platform_size() -> int:
    # What each tray shows at 1x: Windows' small icon (ICO scaled by pystray from 64),
    # the macOS menu bar at 2x, GTK/AppIndicator panels (22-24, up to 48 at 2x).
    return {"win32": 64, "darwin": 44}.get(sys.platform, 32)


def _autostart_on(controller: Controller) -> bool:
    try:
        return controller.autostart_status().on
    except (MailroomError, OSError):
        return False
