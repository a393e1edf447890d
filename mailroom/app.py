"""The app process: the worker, the local page (waitress on 127.0.0.1) and, when there is one, the tray.

`run(headless=..., port=...)` is what `mailroom`, `mailroom --headless` and
`mailroom run --headless` start. Order: take the one-instance lock, open the store,
bind the page's port (our own bind must succeed before any browser is pointed at
it), publish the runtime file, start the worker, then print the one-time login URL
(and open the browser), or hand the main thread to the tray (tray.app.run_tray) when
there is a desktop. A second `mailroom` asks this one to open its page and exits.
SIGTERM/SIGINT stop it cleanly, as the tray's Quit does: the icon goes, the page
closes, the worker stops between messages and its POP3 session QUITs.

Flask, waitress and pystray are imported inside functions only: mailroom/ must not
import them at module level (tests/test_security.py), and a headless run never
imports a GUI toolkit.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import os
import signal
import socket
import threading
import time
import webbrowser

from mailroom import __version__, instance, paths
from mailroom.errors import ConfigError, MailroomError

log = logging.getLogger("mailroom.app")

HOST = "127.0.0.1"
DEFAULT_PORT = 8765          # stable across launches, so a bookmark keeps working
PORT_TRIES = 10              # the default taken: try the next ones (never another program's page)
THREADS = 4                  # one user: a page, its status poll, a slow check, a spare
STARTUP_LOGIN_SECONDS = 300  # the URL printed at start-up; `mailroom open` mints 60-second ones

# Ports Chromium refuses to load (net/base/port_util.cc, "kRestrictedPorts"); Firefox's
# list is nearly the same. A page on one of them cannot be opened at all.
UNSAFE_PORTS = frozenset({
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
    103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
    512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
    995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
    6669, 6679, 6697, 10080,
})


def candidate_ports(port: int | None) -> list[int]:
    """The ports to try in order: the one asked for only, or the default and the next few safe ones."""
    if port is not None:
        if not 1 <= port <= 65535:
            raise ConfigError(f"--port {port}: must be 1-65535.", field="port")
        if port in UNSAFE_PORTS:
            raise ConfigError(f"--port {port}: browsers refuse to open pages on this port; choose another.",
                              field="port")
        return [port]
    return [p for p in range(DEFAULT_PORT, DEFAULT_PORT + PORT_TRIES) if p not in UNSAFE_PORTS]


def bind(port: int | None) -> socket.socket:
    """A listening-ready socket on 127.0.0.1: the port asked for, or the first free default."""
    tried = candidate_ports(port)
    for number in tried:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if os.name == "posix":
            # Lets a restart reuse the port while old connections linger in TIME_WAIT; on
            # POSIX it never lets two listeners share a port (on Windows it would).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, number))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, getattr(errno, "WSAEADDRINUSE", -1)):
                continue
            raise
        return sock
    if port is not None:
        raise ConfigError(f"Port {port} on {HOST} is in use by another program; choose another with --port.",
                          field="port")
    raise ConfigError(f"Ports {tried[0]}-{tried[-1]} on {HOST} are all in use; choose one with --port.",
                      field="port")


class PageServer:
    """The Flask page served by waitress on its own thread."""

    def __init__(self, controller, port: int | None = None, *, with_desktop: bool = False,
                 config: dict | None = None):
        from waitress.server import create_server

        from web import create_app, mint_login_url

        sock = bind(port)
        self.port = sock.getsockname()[1]
        self.key = instance.new_key()
        # With a desktop (the tray's), a second `mailroom` asks this process to open the page.
        opener = {"OPEN_PAGE": self.open} if with_desktop else {}
        self.app = create_app(controller, config={"PORT": self.port, "INSTANCE_KEY": self.key, **opener,
                                                  **(config or {})})
        self._mint = mint_login_url
        self.server = create_server(self.app, sockets=[sock], threads=THREADS, expose_tracebacks=False,
                                    ident="Mailroom", clear_untrusted_proxy_headers=True)
        if self.server.effective_host != HOST:   # SECURITY.md 1: never reachable from the network
            self.server.close()
            raise MailroomError(f"The page would listen on {self.server.effective_host}, not {HOST}.")
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mailroom-page", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> "PageServer":
        self._thread.start()
        return self

    def login_url(self, seconds: float = 60, path: str | None = None) -> str:
        """A fresh one-time login URL for this page, landing on `path` (None: the dashboard)."""
        return self._mint(self.app, seconds, path)

    def open(self, path: str | None = None) -> None:
        """Open the page at `path` in the browser: the tray's Open, its notifications, a hand-over."""
        open_in_browser(self.login_url(path=path))

    def _loop(self) -> None:
        # waitress's own run() loops until its map is empty; closing sockets from another
        # thread under its select() fails (EBADF), so this loop stops itself when told.
        from waitress import wasyncore

        adj = self.server.adj
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=adj.asyncore_loop_timeout, map=self.server._map,
                               use_poll=adj.asyncore_use_poll, count=1)
        finally:
            self.server.task_dispatcher.shutdown()   # requests in progress finish first
            wasyncore.close_all(self.server._map)    # the listener, open connections, the trigger

    def stop(self) -> None:
        self._stopping.set()
        self.server.trigger.pull_trigger()          # wakes the loop's select() at once
        self._thread.join(10)


def _tray_module():
    """`tray.app` when the tray is installed and there is a desktop to show it on, else None.

    Decided before pystray is imported: without a display that import raises."""
    try:
        if importlib.util.find_spec("tray.app") is None:
            return None
    except ImportError:
        return None
    module = importlib.import_module("tray.app")
    return module if module.has_display() else None


def open_in_browser(url: str) -> None:
    """Open `url` without waiting: a browser named in $BROWSER may run until it is closed."""
    threading.Thread(target=webbrowser.open, args=(url,), name="mailroom-browser", daemon=True).start()


def run(*, headless: bool, port: int | None = None, out=print) -> int:
    """Run Mailroom until SIGTERM/SIGINT (or the tray's Quit); the process's exit status."""
    from mailroom.controller import Controller

    folder = paths.data_dir()
    lock = instance.InstanceLock(folder)
    if not lock.acquire():
        if headless:
            raise MailroomError(f"Mailroom is already running on the data folder {folder}. `mailroom open "
                                "--print` prints a login address for its page; stop it before starting another "
                                "(or set MAILROOM_HOME to use another data folder).", kind="already_running")
        return _hand_over(folder, out)
    tray = None if headless else _tray_module()
    # A signal handler must take no lock: one that called Event.set() while the main thread
    # sat in Event.wait() (holding the event's lock) would deadlock. Appending to a list does
    # not lock, and the main thread polls it; the tray's stop_tray() only puts on a
    # SimpleQueue, whose put is reentrant. Installed before the first line is printed, so
    # a stop asked for at any moment from then on is a clean stop.
    stop_requests: list[int] = []

    def on_signal(number, _frame) -> None:
        stop_requests.append(number)
        if tray is not None:
            tray.stop_tray()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    try:
        controller = Controller.open()
        boxes = [b for b in controller.status().mailboxes if b.enabled]
        out(f"Mailroom {__version__}: data folder {folder}; "
            f"{len(boxes)} enabled mailbox{'es' if len(boxes) != 1 else ''}.", flush=True)
        page = PageServer(controller, port, with_desktop=tray is not None).start()
        instance.write_runtime(instance.Runtime(os.getpid(), page.port, page.key), folder)
        try:
            controller.start()
            if tray is not None:
                out("Mailroom's icon is in the system tray; `mailroom open` opens its page from here.", flush=True)
                tray.run_tray(controller, open_page=page.open, data_dir=folder,
                              on_quit=lambda: stop_requests.append(0), stop_requested=lambda: bool(stop_requests))
                return 0
            return _serve(page, stop_requests, headless=headless, out=out)
        finally:
            out("Stopping after the current message...", flush=True)
            instance.remove_runtime(folder)
            page.stop()
            controller.shutdown()
    finally:
        lock.release()


def _hand_over(folder, out) -> int:
    """A second `mailroom`: the running one opens its page (or gives us the address to open)."""
    url, opened = instance.hand_over(folder)
    if opened:
        out("Mailroom is already running; it opened its page.")
    elif webbrowser.open(url):
        out("Mailroom is already running; its page was opened.")
    else:
        out(f"Mailroom is already running; open its page: {url}")
    return 0


def _serve(page: PageServer, stop_requests: list[int], *, headless: bool, out) -> int:
    url = page.login_url(STARTUP_LOGIN_SECONDS)
    if not headless:
        out("No desktop to show a tray icon on: Mailroom runs as with --headless, and opens its page now.",
            flush=True)
    out(f"Open the page: {url} (a one-time login, valid {STARTUP_LOGIN_SECONDS // 60} minutes; "
        "`mailroom open` opens a new one)", flush=True)
    if not headless:
        open_in_browser(url)   # only now: our own bind succeeded (SECURITY.md 1)
    while not stop_requests:
        time.sleep(0.25)   # short, so a signal is acted on promptly on every OS
    return 0


def open_running(*, print_only: bool, out=print) -> int:
    """`mailroom open [--print]`: a fresh login URL of the running instance, opened or printed."""
    if print_only:
        out(instance.request_login_url())
        return 0
    url, opened = instance.open_page()
    out("The page was opened in your browser." if opened else f"Open the page: {url}")
    return 0


