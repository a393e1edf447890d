"""The running Mailroom of this OS user, and the private channel another process uses to reach it.

- One instance per data folder: `InstanceLock` is an OS-level lock (flock on POSIX, a
  locked byte on Windows, through filelock) on `<data>/instance.lock`. The OS drops it
  when the process dies, so the lock of a killed instance is simply taken over.
- The runtime file `<data>/instance.json` (0600, in the 0700 data folder) holds the
  page's port and a random key of this launch. It is written once the page's own bind
  succeeded and removed on a clean stop. Only this OS user can read it, so only this
  user can ask the instance for anything.
- `request_login_url()` is the client side of `mailroom open`: it POSTs to the
  instance's page on 127.0.0.1 with the key in a header, and gets a fresh one-time
  login URL back. `hand_over()` is a second `mailroom`'s: the running instance opens
  its own page when it has a desktop (the tray's), else it answers with a URL. The server side is a route of web/ that compares the key
  with `hmac.compare_digest` (it is handed the key by mailroom.app). Proxies are
  bypassed, so the key never leaves the loopback interface.

Must not import Flask or waitress (mailroom/ never does; tests/test_security.py).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
import webbrowser
from dataclasses import dataclass
from pathlib import Path

import filelock

from mailroom import paths
from mailroom.errors import MailroomError

RUNTIME_FILE = "instance.json"
LOCK_FILE = "instance.lock"
LOGIN_URL_PATH = "/instance/login-url"
OPEN_PATH = "/instance/open"
KEY_HEADER = "X-Mailroom-Key"


class NotRunningError(MailroomError):
    """No Mailroom is running for this data folder (or it cannot be reached)."""

    kind = "not_running"


@dataclass(frozen=True)
class Runtime:
    """What a running instance publishes about itself."""

    pid: int
    port: int
    key: str


def new_key() -> str:
    return secrets.token_urlsafe(32)


class InstanceLock:
    """Held by the one running instance of a data folder for its whole life."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder or paths.data_dir()
        self._lock = filelock.FileLock(self.folder / LOCK_FILE)

    def acquire(self) -> bool:
        """Take the lock; False when another process holds it (a dead one's lock is free)."""
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()


def is_running(folder: Path | None = None) -> bool:
    """Another live process holds the instance lock of `folder`."""
    probe = InstanceLock(folder)
    if probe.acquire():
        probe.release()
        return False
    return True


def write_runtime(runtime: Runtime, folder: Path | None = None) -> Path:
    """Publish `runtime` atomically, readable by this OS user only."""
    folder = folder or paths.data_dir()
    path = folder / RUNTIME_FILE
    temp = folder / f".{RUNTIME_FILE}.{os.getpid()}"
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"pid": runtime.pid, "port": runtime.port, "key": runtime.key}, fh)
    os.replace(temp, path)
    return path


def remove_runtime(folder: Path | None = None) -> None:
    ((folder or paths.data_dir()) / RUNTIME_FILE).unlink(missing_ok=True)


def read_runtime(folder: Path | None = None) -> Runtime | None:
    """The running instance's runtime, or None when none is running (a stale file is ignored)."""
    folder = folder or paths.data_dir()
    if not is_running(folder):
        return None
    try:
        data = json.loads((folder / RUNTIME_FILE).read_text(encoding="utf-8"))
        return Runtime(pid=int(data["pid"]), port=int(data["port"]), key=str(data["key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None   # starting up: the page is not bound yet


def _ask(path: str, folder: Path | None, timeout: float) -> tuple[Runtime, dict]:
    """POST to the running instance's `path` with this launch's key; its JSON answer."""
    runtime = read_runtime(folder)
    if runtime is None:
        raise NotRunningError("Mailroom is not running for this user. Start it with `mailroom` "
                              "(or `mailroom --headless`).")
    request = urllib.request.Request(f"http://127.0.0.1:{runtime.port}{path}", data=b"",
                                     method="POST", headers={KEY_HEADER: runtime.key})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never through a proxy
    try:
        with opener.open(request, timeout=timeout) as response:
            answer = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise NotRunningError(f"The running Mailroom (process {runtime.pid}, port {runtime.port}) did not "
                              f"answer: {reason}.") from None
    if not isinstance(answer, dict):
        raise NotRunningError("The running Mailroom gave an unexpected answer.")
    return runtime, answer


def _checked_url(runtime: Runtime, url) -> str:
    if not isinstance(url, str) or not url.startswith(f"http://127.0.0.1:{runtime.port}/"):
        raise NotRunningError("The running Mailroom gave an unexpected answer.")
    return url


def request_login_url(folder: Path | None = None, *, timeout: float = 10.0) -> str:
    """Ask the running instance for a fresh one-time login URL of its page."""
    runtime, answer = _ask(LOGIN_URL_PATH, folder, timeout)
    return _checked_url(runtime, answer.get("url"))


def hand_over(folder: Path | None = None, *, timeout: float = 10.0) -> tuple[str | None, bool]:
    """A second `mailroom` asks the running one to open its page: (None, True) when it did
    (it has a desktop: the tray's), else (a login URL for the caller to open, False)."""
    runtime, answer = _ask(OPEN_PATH, folder, timeout)
    if answer.get("opened") is True:
        return None, True
    return _checked_url(runtime, answer.get("url")), False


def open_page(folder: Path | None = None) -> tuple[str, bool]:
    """Open the running instance's page in the browser: (the login URL, whether a browser opened)."""
    url = request_login_url(folder)
    return url, webbrowser.open(url)
