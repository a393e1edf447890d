"""A real Secret Service for the tests: a private D-Bus session bus plus gnome-keyring.

`start_secret_service(home)` starts `dbus-daemon --session` and, on that bus,
`gnome-keyring-daemon --foreground --unlock --components=secrets`, which creates an
unlocked "login" collection under the temporary home. Its `env` runs child processes
(`mailroom`, `python -c "import keyring"`) against that keyring only; this process's own
environment is left alone.

The keyring is unlocked up front on purpose: without --unlock, the first use would have
gnome-keyring prompt for a new keyring password - which fails at once without a display,
and hangs forever with one. So the env never carries DISPLAY or WAYLAND_DISPLAY.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import subprocess
import time
from pathlib import Path

from .dovecot import kill_process_group

SECRETS_BUS_NAME = "org.freedesktop.secrets"
# environment that would point a child at the developer's own desktop session or keyring
_FOREIGN = (
    "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND",
    "GNOME_KEYRING_CONTROL", "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP",
)  # fmt: skip


def _need(program: str, package: str) -> str:
    exe = shutil.which(program)
    if exe is None:
        raise RuntimeError(f"{program} is not on PATH (Debian/Ubuntu package {package}; tests/run.sh installs it)")
    return exe


@dataclasses.dataclass
class SecretService:
    env: dict[str, str]  # os.environ + the private bus and home; for subprocesses
    home: Path
    bus_address: str
    startup_seconds: float
    _procs: list[subprocess.Popen[bytes]] = dataclasses.field(repr=False)

    def stop(self) -> None:
        """Kill the keyring daemon, then the bus (each is its own process group)."""
        while self._procs:
            kill_process_group(self._procs.pop())


def _name_has_owner(dbus_send: str, env: dict[str, str], name: str) -> bool:
    r = subprocess.run(
        [dbus_send, "--session", "--print-reply=literal", "--dest=org.freedesktop.DBus",
         "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
        env=env, capture_output=True, text=True, timeout=5,
    )  # fmt: skip
    return r.returncode == 0 and r.stdout.strip().endswith("true")


def start_secret_service(
    home: str | os.PathLike[str], *, password: str = "mailroom-test-keyring", timeout: float = 10.0
) -> SecretService:
    """Start the bus and the unlocked keyring with `home` as HOME; raise RuntimeError if not ready."""
    dbus_daemon = _need("dbus-daemon", "dbus-daemon")
    dbus_send = _need("dbus-send", "dbus-bin")
    gnome_keyring = _need("gnome-keyring-daemon", "gnome-keyring")
    home = Path(home)
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(home / "run"),
        NO_AT_BRIDGE="1",
    )
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        Path(env[var]).mkdir(parents=True, exist_ok=True)
    Path(env["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
    Path(env["XDG_RUNTIME_DIR"]).chmod(0o700)  # gnome-keyring refuses a shared runtime dir

    # The bus socket lives in the private runtime dir (the default would leave one in /tmp
    # after a kill), unless that path is too long for a Unix socket.
    socket_path = Path(env["XDG_RUNTIME_DIR"]) / "bus"
    address_arg = [f"--address=unix:path={socket_path}"] if len(str(socket_path)) < 100 else []

    t0 = time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    service = None
    try:
        with open(home / "dbus-daemon.log", "wb") as log:  # as root it complains about fd limits
            bus = subprocess.Popen(
                [dbus_daemon, "--session", "--nofork", "--nopidfile", "--print-address=1", *address_arg],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            )  # fmt: skip
        procs.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()  # printed once the bus accepts connections
        bus.stdout.close()
        if not address:
            raise RuntimeError(f"dbus-daemon exited at start-up: {(home / 'dbus-daemon.log').read_text()}")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        with open(home / "gnome-keyring.log", "wb") as log:
            keyring = subprocess.Popen(
                [gnome_keyring, "--foreground", "--unlock", "--components=secrets"],
                env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        procs.append(keyring)
        assert keyring.stdin is not None
        keyring.stdin.write(password.encode())  # --unlock reads the login keyring's password
        keyring.stdin.close()
        deadline = t0 + timeout
        while not _name_has_owner(dbus_send, env, SECRETS_BUS_NAME):
            if keyring.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"gnome-keyring-daemon did not own {SECRETS_BUS_NAME} "
                    f"(exit code {keyring.poll()}): {(home / 'gnome-keyring.log').read_text()}"
                )
            time.sleep(0.01)
        service = SecretService(env, home, address, time.monotonic() - t0, procs)
        atexit.register(service.stop)  # idempotent; the fixture stops it first
        return service
    finally:
        if service is None:
            SecretService(env, home, "", 0.0, procs).stop()
