"""Show the notices tray/notify.py decided on: desktop-notifier, or pystray's balloon.

- Linux (D-Bus org.freedesktop.Notifications) and macOS: desktop-notifier, on a thread
  of its own running an asyncio loop (its D-Bus backend needs one to hear clicks).
  A notice replaces the one shown under its key: the old one is closed, then the new
  one sent (the library's public API; works alike on D-Bus and macOS).
- Windows: pystray's `notify` (a balloon of the tray icon; one at a time, no clicks).

`show` never blocks and never raises: a missing notification service is logged once.
Clicks come back through `on_click(notice)` on the sender's thread; the tray posts
them to its own queue. No pystray import here; no decisions either.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from tray.notify import Notice

log = logging.getLogger("mailroom.tray")


class DesktopSender:
    """desktop-notifier on its own asyncio thread."""

    def __init__(self, *, app_name: str, icon_path: Path | None, on_click: Callable[[Notice], None]):
        self._on_click = on_click
        self._failed = False                       # told the log once that notifications fail
        self._shown: dict[str, str] = {}          # notice key → desktop-notifier identifier
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mailroom-notify", daemon=True)
        self._thread.start()
        self._notifier = asyncio.run_coroutine_threadsafe(self._make(app_name, icon_path), self._loop).result(10)

    @staticmethod
    async def _make(app_name: str, icon_path: Path | None):
        from desktop_notifier import DesktopNotifier, Icon

        return DesktopNotifier(app_name=app_name, app_icon=Icon(path=icon_path) if icon_path else None)

    def show(self, notice: Notice) -> None:
        asyncio.run_coroutine_threadsafe(self._show(notice), self._loop)

    async def _show(self, notice: Notice) -> None:
        from desktop_notifier import Urgency

        previous = self._shown.pop(notice.key, None)
        if previous is not None:
            await self._clear(previous)
        if not await self._service_answers():
            log.info("notification not shown: %s", notice.title)
            return
        try:
            self._shown[notice.key] = await self._notifier.send(
                title=notice.title, message=notice.body, urgency=Urgency.Normal,
                on_clicked=lambda: self._clicked(notice))
        except Exception:  # noqa: BLE001 - a notification is never worth stopping the tray for
            log.warning("notification not shown: %s", notice.title, exc_info=True)

    async def _service_answers(self) -> bool:
        """Is there a notification service? desktop-notifier itself would log a warning with a
        traceback for every notice sent to none; this asks it once for its capabilities (it
        keeps them once it has them) and tells the log once, until the service appears."""
        try:
            await self._notifier.get_capabilities()
        except Exception as exc:  # noqa: BLE001 - no session bus, no service, a broken one
            if not self._failed:
                log.warning("Desktop notifications cannot be shown (%s: %s); the tray icon and the page "
                            "still tell everything.", type(exc).__name__, exc)
            self._failed = True
            return False
        self._failed = False
        return True

    def _clicked(self, notice: Notice) -> None:
        self._shown.pop(notice.key, None)
        self._on_click(notice)

    async def _clear(self, identifier: str) -> None:
        try:
            await self._notifier.clear(identifier)
        except KeyError:
            pass                                   # already closed by the user or the server
        except Exception:  # noqa: BLE001
            log.debug("could not close a notification", exc_info=True)

    def shown(self) -> dict[str, str]:
        return dict(self._shown)

    def close(self, timeout: float = 5.0) -> None:
        """Close what is still shown (its clicks would lead nowhere once we are gone)."""
        async def clear_all():
            for identifier in list(self._shown.values()):
                await self._clear(identifier)
            self._shown.clear()
            # desktop-notifier 6 has no close(); its D-Bus backend keeps its connection as `bus`.
            bus = getattr(getattr(self._notifier, "_backend", None), "bus", None)
            if bus is not None:
                bus.disconnect()
                await bus.wait_for_disconnect()

        try:
            asyncio.run_coroutine_threadsafe(clear_all(), self._loop).result(timeout)
        except Exception:  # noqa: BLE001
            log.debug("notifications not closed", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()


class IconSender:
    """pystray's own notification (Windows): `icon` is the running pystray Icon."""

    def __init__(self, icon):
        self._icon = icon

    def show(self, notice: Notice) -> None:
        try:
            self._icon.remove_notification()
            self._icon.notify(notice.body, notice.title)
        except Exception:  # noqa: BLE001
            log.warning("notification not shown: %s", notice.title, exc_info=True)

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._icon.remove_notification()
        except Exception:  # noqa: BLE001
            pass
