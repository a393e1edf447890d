"""A desktop for the tray tests: Xvfb, trayer as the system tray, and a notification server.

- `start_xvfb()` lets Xvfb pick a free display (-displayfd: parallel runs and other
  users of the machine may hold :99).
- `start_trayer(display)` starts trayer, an XEmbed system tray, and waits until it owns
  _NET_SYSTEM_TRAY_S0; `tray_icons(display)` lists the windows embedded in it,
  `tray_icon(display, name)` finds one once the tray has sized it.
- `NotificationServer(bus_address)` is org.freedesktop.Notifications (the Desktop
  Notifications Specification 1.2) on a given D-Bus bus, served by dbus-fast on a
  thread of this process. It records every Notify (summary, body, replaces_id,
  actions) and CloseNotification, and `invoke(id, key)` emits ActionInvoked as a click.
- `start_dunst(display, folder)` is a notification daemon that draws (dunst), on a bus of
  its own, for a screenshot of a notification as a desktop shows it.

A component that cannot start raises with its log: nothing here skips.
"""

import asyncio
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field

import Xlib.X
import Xlib.display
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

from .dovecot import kill_process_group


def need(program: str, package: str) -> str:
    exe = shutil.which(program)
    if exe is None:
        raise RuntimeError(f"{program} is not on PATH (Debian/Ubuntu package {package}; tests/run.sh installs it)")
    return exe


def start_xvfb(size: str = "640x480x24") -> tuple[subprocess.Popen, str]:
    """Xvfb on a display of its choosing; returns (process, ":N") once it accepts clients."""
    read, write = os.pipe()
    proc = subprocess.Popen([need("Xvfb", "xvfb"), "-displayfd", str(write), "-screen", "0", size,
                             "-nolisten", "tcp", "-noreset"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()             # written once the server accepts clients
    if not number:
        raise RuntimeError(f"Xvfb failed to start (exit code {proc.wait()})")
    return proc, f":{number}"


def tray_owner(display: str) -> int:
    d = Xlib.display.Display(display)
    try:
        owner = d.get_selection_owner(d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}"))
        return getattr(owner, "id", 0) or 0
    finally:
        d.close()


def start_trayer(display: str, timeout: float = 10.0) -> subprocess.Popen:
    """trayer across the top right, 32 px high; returns once it owns the tray selection."""
    proc = subprocess.Popen([need("trayer", "trayer"), "--edge", "top", "--align", "right", "--widthtype",
                             "request", "--height", "32", "--transparent", "false", "--tint", "0xc0c0c0",
                             "--SetDockType", "true", "--SetPartialStrut", "true"],
                            env={**os.environ, "DISPLAY": display}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not tray_owner(display):
        if proc.poll() is not None:
            raise RuntimeError(f"trayer exited at start-up (exit code {proc.returncode})")
        if time.monotonic() > deadline:
            kill_process_group(proc)
            raise TimeoutError("trayer did not take the system tray selection")
        time.sleep(0.02)
    return proc


@dataclass(frozen=True)
class TrayIcon:
    window: int
    name: str | None
    wm_class: tuple[str, str] | None
    width: int
    height: int


def tray_icons(display: str) -> list[TrayIcon]:
    """The windows embedded in trayer: root → "panel" (class trayer) → socket → icon."""
    d = Xlib.display.Display(display)
    try:
        found = []
        for panel in d.screen().root.query_tree().children:
            try:
                if panel.get_wm_class() != ("panel", "trayer"):
                    continue
            except Exception:  # noqa: BLE001 - a window that went away meanwhile
                continue
            for socket in panel.query_tree().children:
                try:
                    for icon in socket.query_tree().children:
                        g = icon.get_geometry()
                        found.append(TrayIcon(icon.id, icon.get_wm_name(), icon.get_wm_class(), g.width, g.height))
                except Exception:  # noqa: BLE001 - trayer removed the socket meanwhile
                    continue
        return found
    finally:
        d.close()


def tray_icon(display: str, name: str) -> TrayIcon | None:
    """The icon named `name` once embedded and sized by the tray (trayer reparents the 1x1
    window first and gives it its size a moment later)."""
    return next((i for i in tray_icons(display) if i.name == name and min(i.width, i.height) >= 16), None)


def no_tray_icon(display: str, name: str) -> bool:
    """No window named `name` is in the tray, whatever its size."""
    return not any(i.name == name for i in tray_icons(display))


def window_origin(display: str, window: int) -> tuple[int, int]:
    """Where a window is on the screen (root coordinates of its top left corner)."""
    d = Xlib.display.Display(display)
    try:
        w = d.create_resource_object("window", window)
        pos = w.translate_coords(d.screen().root, 0, 0)
        return -pos.x, -pos.y
    finally:
        d.close()


def click(display: str, window: int) -> None:
    """A real left click (XTEST, as a person's) in the middle of `window`.

    Not `mousemove --sync`: it waits for the pointer to move and hangs when the pointer
    is there already (a test before clicked the same spot). The X server handles the
    fake motion and the click in order, so the click lands where the pointer went.
    """
    d = Xlib.display.Display(display)
    try:
        g = d.create_resource_object("window", window).get_geometry()
    finally:
        d.close()
    x, y = window_origin(display, window)
    subprocess.run([need("xdotool", "xdotool"), "mousemove", str(x + g.width // 2), str(y + g.height // 2),
                    "click", "1"], env={**os.environ, "DISPLAY": display}, check=True, timeout=10)


# ------------------------------------------------------------------ notifications


@dataclass
class Shown:
    id: int
    app_name: str
    replaces_id: int
    summary: str
    body: str
    actions: list[str]
    closed: bool = False


class _Notifications(ServiceInterface):
    def __init__(self, server: "NotificationServer"):
        super().__init__("org.freedesktop.Notifications")
        self.server = server

    @method()
    def GetCapabilities(self) -> "as":
        return ["actions", "body", "persistence"]

    @method()
    def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s", summary: "s", body: "s",
               actions: "as", hints: "a{sv}", expire_timeout: "i") -> "u":
        return self.server._notify(app_name, replaces_id, summary, body, list(actions))

    @method()
    def CloseNotification(self, id: "u"):
        if self.server._close(id):
            self.NotificationClosed(id, 3)

    @method()
    def GetServerInformation(self) -> "ssss":
        return ["mailroom-tests", "mailroom", "1", "1.2"]

    @signal()
    def NotificationClosed(self, id: "u", reason: "u") -> "uu":
        return [id, reason]

    @signal()
    def ActionInvoked(self, id: "u", action_key: "s") -> "us":
        return [id, action_key]


@dataclass
class NotificationServer:
    """org.freedesktop.Notifications on `bus_address`, recording what it is asked to show."""

    bus_address: str
    shown: list[Shown] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._next = 1
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-notifications", daemon=True)
        self._thread.start()
        self._iface = _Notifications(self)
        self._bus = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> MessageBus:
        bus = await MessageBus(bus_address=self.bus_address).connect()
        bus.export("/org/freedesktop/Notifications", self._iface)
        await bus.request_name("org.freedesktop.Notifications")
        return bus

    def _notify(self, app_name, replaces_id, summary, body, actions) -> int:
        with self._lock:
            if replaces_id and any(s.id == replaces_id and not s.closed for s in self.shown):
                number = replaces_id
            else:
                number, self._next = self._next, self._next + 1
            self.shown.append(Shown(number, app_name, replaces_id, summary, body, actions))
            return number

    def _close(self, number: int) -> bool:
        with self._lock:
            hit = [s for s in self.shown if s.id == number and not s.closed]
            for s in hit:
                s.closed = True
            return bool(hit)

    def clear(self) -> None:
        with self._lock:
            self.shown.clear()

    def snapshot(self) -> list[Shown]:
        with self._lock:
            return list(self.shown)

    def open(self) -> list[Shown]:
        """What a user would see now: shown, not closed, not replaced since."""
        with self._lock:
            latest = {}
            for s in self.shown:
                latest[s.id] = s
            return [s for s in latest.values() if not s.closed]

    def invoke(self, number: int, key: str = "default") -> None:
        """The user clicks notification `number` (the "default" action is its body)."""
        def click():
            self._iface.ActionInvoked(number, key)
            if self._close(number):
                self._iface.NotificationClosed(number, 2)
        self._loop.call_soon_threadsafe(click)

    def stop(self) -> None:
        async def disconnect():
            self._bus.disconnect()
            await self._bus.wait_for_disconnect()

        asyncio.run_coroutine_threadsafe(disconnect(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


# ------------------------------------------------------------------ a notification daemon that draws

DUNSTRC = """\
[global]
    monitor = 0
    follow = none
    width = 360
    origin = top-right
    offset = 10x40
    font = DejaVu Sans 10
    format = "<b>%s</b>\\n%b"
    show_indicators = no
    icon_position = left
    min_icon_size = 32
    max_icon_size = 32
    padding = 10
    horizontal_padding = 10
    frame_width = 1
    frame_color = "#5f6b73"
    corner_radius = 6
[urgency_normal]
    background = "#263238"
    foreground = "#eceff1"
    timeout = 0
"""


def start_dunst(display: str, folder, timeout: float = 10.0) -> tuple[str, list[subprocess.Popen]]:
    """A bus of its own with dunst, which draws notifications on `display`; (bus address, processes).

    Not the tests' shared bus: there the recording NotificationServer owns the name."""
    bus = subprocess.Popen([need("dbus-daemon", "dbus-daemon"), "--session", "--nofork", "--nopidfile",
                            "--print-address=1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           start_new_session=True)
    address = bus.stdout.readline().strip()             # printed once the bus is ready
    bus.stdout.close()
    rc = os.path.join(folder, "dunstrc")
    with open(rc, "w") as f:
        f.write(DUNSTRC)
    env = {**os.environ, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": address}
    dunst = subprocess.Popen([need("dunst", "dunst"), "-config", rc], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while subprocess.run([need("dunstctl", "dunst"), "count", "displayed"], env=env,
                         capture_output=True).returncode != 0:
        if dunst.poll() is not None or time.monotonic() > deadline:
            kill_process_group(dunst)
            kill_process_group(bus)
            raise RuntimeError(f"dunst did not start (exit code {dunst.poll()})")
        time.sleep(0.02)
    return address, [dunst, bus]


def window_of_class(display: str, wm_class: str) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of a mapped top-level window of class `wm_class`."""
    d = Xlib.display.Display(display)
    try:
        for w in d.screen().root.query_tree().children:
            try:
                if wm_class in (w.get_wm_class() or ()) and w.get_attributes().map_state == Xlib.X.IsViewable:
                    g = w.get_geometry()
                    return g.x, g.y, g.width, g.height
            except Exception:  # noqa: BLE001 - a window that went away meanwhile
                continue
        return None
    finally:
        d.close()
