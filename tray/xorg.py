"""pystray's xorg backend made dependable: clicks, one dock request, one X connection per thread.

pystray 0.19.5's xorg `Icon` runs its loop on the thread that called `run()` and hands
every change asked for on another thread (`icon.icon = ...`, `visible`, `stop()`) to
that loop: it sends a ClientMessage to its own window and waits for the loop's answer.
`fix_icon(icon, on_resize=)` corrects three things before the loop starts, and tells
`on_resize()` when the tray gives the icon's window its size (so the tray thread can
draw for it then, not at its next timed refresh):

1. Clicks: its window selects only Exposure|StructureNotify, so no click reaches it
   (pystray#151). ButtonPress is added, so the default action (Open) runs.
2. Docking: it sends SYSTEM_TRAY_REQUEST_DOCK again on every change (and twice when
   shown); trayer, handed a second request while embedding the first, can end with the
   icon embedded nowhere. It docks only while not docked; it still docks again when the
   tray host goes away and comes back.
3. Threads: pystray sends that ClientMessage, and flushes it, on the icon's own X
   connection while the loop thread blocks in `next_event()` on the same connection.
   python-xlib's threaded I/O (Xlib/protocol/display.py, `send_and_recv`) can then
   leave a request queued and unsent: a thread that flushes while another is sending
   returns at once, and the loop thread, which read the sender as active, waits in
   select() for data without a write set. Seen as Quit hanging: the loop ran `_stop`,
   whose DestroyWindow was never sent, so no DestroyNotify ever ended the loop. Here
   the loop thread is the only user of the icon's connection; another thread sends the
   ClientMessage on a connection of the callers' own, one call at a time (pystray's
   answer queue is shared by all calls), and stops waiting once the loop has ended.

Imports Xlib, never pystray (tray/app.py is the one module that imports pystray), and
reaches into pystray's private attributes of that one version (pinned in pyproject.toml).
`tray_host` and `xembed_canvas` read the desktop on connections of their own.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import Xlib.X
import Xlib.display
import Xlib.error
import Xlib.protocol.event

# The methods pystray's xorg Icon runs on its loop thread (_xorg.Icon.__init__), each
# asked for with a ClientMessage of type _PYSTRAY_<NAME>.
LOOP_METHODS = ("_show", "_hide", "_update_icon", "_update_title", "_stop")
ANSWER_POLL = 0.1          # how often a waiting caller checks that the loop still runs


def fix_icon(icon, on_resize: Callable[[], None] | None = None) -> None:
    """Apply the three corrections to a pystray xorg Icon; call on the thread that runs it.

    `on_resize()` is called on the loop thread when the window's size changes: it must
    only post (the tray thread reads the new size on its own connection).
    """
    icon._window.change_attributes(event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask
                                   | Xlib.X.ButtonPressMask)
    icon._display.flush()
    if on_resize is not None:
        _tell_resizes(icon, on_resize)

    def assert_docked() -> None:
        if not icon._systray_manager:
            icon._dock_window()
        assert icon._systray_manager

    icon._assert_docked = assert_docked
    _calls_from_other_threads(icon)


def _tell_resizes(icon, on_resize: Callable[[], None]) -> None:
    redraw = icon._message_handlers[Xlib.X.ConfigureNotify]     # pystray's: draws at the new size
    size = [None]

    def configured(event) -> None:
        redraw(event)
        if event.window.id == icon._window.id and (event.width, event.height) != size[0]:
            size[0] = (event.width, event.height)
            on_resize()

    icon._message_handlers[Xlib.X.ConfigureNotify] = configured


def _calls_from_other_threads(icon) -> None:
    loop_thread = threading.current_thread()   # the caller runs icon.run() next, on this thread
    icon._thread = loop_thread                 # pystray sets the same in _run; its dispatcher reads it
    ended = threading.Event()
    one_call = threading.Lock()
    own: dict = {}
    atoms = {name: icon._display.intern_atom(f"_PYSTRAY_{name.upper()}") for name in LOOP_METHODS}
    display_name = icon._display.get_display_name()
    window_id = icon._window.id

    run = icon._run

    def run_then_end() -> None:
        try:
            run()
        finally:
            ended.set()
            with one_call:
                if "display" in own:
                    own.pop("display").close()

    icon._run = run_then_end

    def connection():
        if "display" not in own:
            display = Xlib.display.Display(display_name)
            # A message sent just after the loop destroyed the window gets BadWindow: harmless.
            display.set_error_handler(lambda *args: None)
            own["display"], own["window"] = display, display.create_resource_object("window", window_id)
        return own["display"], own["window"]

    def on_loop(name: str) -> Callable[[], None]:
        dispatch = getattr(icon, name)         # pystray's: runs the method itself on the loop thread

        def call() -> None:
            if threading.current_thread() is loop_thread:
                dispatch()
                return
            with one_call:
                if ended.is_set():
                    return                     # the icon is gone: nothing left to change
                display, window = connection()
                window.send_event(Xlib.protocol.event.ClientMessage(
                    window=window_id, client_type=atoms[name], data=(32, (Xlib.X.CurrentTime, 0, 0, 0, 0))),
                    event_mask=Xlib.X.NoEventMask)
                display.flush()
                while True:
                    try:
                        answer = icon._queue.get(timeout=ANSWER_POLL)
                        break
                    except queue.Empty:
                        if ended.is_set():
                            return
            if answer is not True:
                raise answer[1].with_traceback(answer[2])

        call.__name__ = name
        return call

    for name in LOOP_METHODS:
        setattr(icon, name, on_loop(name))


def tray_host(display: str | None) -> bool:
    """Does an X11 system tray (a _NET_SYSTEM_TRAY_S<screen> selection owner) exist?"""
    try:
        d = Xlib.display.Display(display)
    except (Xlib.error.DisplayError, OSError):
        return False
    try:
        atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
        owner = d.get_selection_owner(atom)
        return bool(owner) and getattr(owner, "id", 0) != 0
    finally:
        d.close()


def xembed_canvas(window_id: int) -> Callable[[], tuple[int, int, tuple[int, int, int]] | None]:
    """(width, height, panel colour) of the embedded icon window, read on a connection of
    the calling thread's own. XEmbed icons have no alpha: pystray pastes ours on black, so
    the tray thread flattens it on the panel's colour (sampled beside the icon) instead."""
    display = Xlib.display.Display()
    window = display.create_resource_object("window", window_id)
    root = display.screen().root

    def canvas():
        try:
            geometry = window.get_geometry()
            if min(geometry.width, geometry.height) < 16:
                return None
            top = window
            while True:
                parent = top.query_tree().parent
                if parent.id == root.id:
                    break
                top = parent
            panel = top.get_geometry()
            pixel = root.get_image(panel.x, panel.y, 1, 1, Xlib.X.ZPixmap, 0xFFFFFFFF).data
            colour = (pixel[2], pixel[1], pixel[0]) if len(pixel) >= 3 else (192, 192, 192)
            return geometry.width, geometry.height, colour
        except Exception:  # noqa: BLE001 - not mapped yet, or gone
            return None

    return canvas
