"""The .deb as a user gets it: installed with dpkg, run from /usr/bin with the source tree
nowhere in sight, checked against the real Dovecot and the real Secret Service, its tray
icon in a real X tray, then removed and purged without touching the user's data."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailroom import __version__
from tests.conftest import REPO_ROOT
from tests.helpers import mailbox, settings, write_toml
from tests.installer.conftest import Installers, dpkg, dpkg_status
from tests.mailgen import make_message
from tests.servers.desktop import no_tray_icon, tray_icon
from tests.servers.dovecot import kill_process_group
from tests.servers.ports import free_port

INSTALLED = Path("/usr/bin/mailroom")
OPT = Path("/opt/mailroom")


def run_installed(*args: str, env: dict[str, str], cwd: Path, input: str | None = None,
                  timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INSTALLED), *args], env=env, cwd=cwd, input=input, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `folder`: its mode and contents."""
    return {str(p.relative_to(folder)): (p.stat().st_mode, p.read_bytes()) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_the_package_is_named_versioned_and_declares_what_it_needs(installers: Installers):
    deb = installers.deb
    assert (field(deb, "Package"), field(deb, "Version")) == ("mailroom", __version__)
    assert deb.name == f"mailroom_{__version__}_{field(deb, 'Architecture')}.deb"
    depends = field(deb, "Depends")
    assert "libc6" in depends
    # the bundle carries its own Python and OpenSSL: no dependency on the system's
    assert "python3" not in depends and "libssl" not in depends
    assert "gnome-keyring" in field(deb, "Recommends")


def test_the_build_ran_lintian_and_it_passed(installers: Installers):
    """build.sh runs lintian with --fail-on error,warning; what is left is overridden
    with a reason (installer/linux/lintian-overrides)."""
    assert "lintian: done" in installers.log
    assert "\nE: " not in installers.log and "\nW: " not in installers.log


def test_installs_the_command_menu_entry_and_icons(installed_deb, tmp_path):
    assert INSTALLED.is_symlink() and INSTALLED.resolve() == OPT / "mailroom"
    desktop = Path("/usr/share/applications/mailroom.desktop")
    subprocess.run(["desktop-file-validate", str(desktop)], check=True, capture_output=True)
    entry = desktop.read_text()
    assert "Exec=mailroom\n" in entry and "Icon=mailroom\n" in entry
    for size in (16, 22, 24, 32, 48, 64, 128, 256, 512):
        icon = Path(f"/usr/share/icons/hicolor/{size}x{size}/apps/mailroom.png")
        assert icon.read_bytes().startswith(b"\x89PNG"), icon
    assert not any(Path("/etc/xdg/autostart").glob("*mailroom*"))   # nothing starts at login by itself
    assert Path("/usr/share/man/man1/mailroom.1.gz").exists()


def test_start_at_login_from_the_installed_copy(installed_deb, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    entry = tmp_path / "config" / "autostart" / "mailroom.desktop"
    assert run_installed("autostart", "status", env=env, cwd=tmp_path).stdout == "off\n"
    turned_on = run_installed("autostart", "on", env=env, cwd=tmp_path)
    assert turned_on.returncode == 0 and turned_on.stdout == "on\n", turned_on.stderr
    assert f"Exec={OPT / 'mailroom'}\n" in entry.read_text()            # the installed app, no arguments
    subprocess.run(["desktop-file-validate", str(entry)], check=True, capture_output=True)
    status = run_installed("autostart", "status", env=env, cwd=tmp_path)
    assert (status.stdout, status.stderr) == ("on\n", "")              # no warning: it starts this program
    assert run_installed("autostart", "off", env=env, cwd=tmp_path).stdout == "off\n" and not entry.exists()


def test_the_installed_mailroom_shows_its_tray_icon(installed_deb, desktop, real_keyring, mailroom_home, tmp_path):
    """The bundle has no PyGObject: pystray's xorg backend, python-xlib and desktop-notifier
    must all be in it for `mailroom` with no arguments to show its icon."""
    env = {**real_keyring, "DISPLAY": desktop, "MAILROOM_HOME": str(mailroom_home), "BROWSER": "true",
           "NO_AT_BRIDGE": "1", "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([str(INSTALLED), "--port", str(free_port())], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_until(lambda: tray_icon(desktop, "Mailroom"), proc, what="the tray icon")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        kill_process_group(proc)
    assert proc.returncode == 0 and "icon is in the system tray" in out, out
    log = (mailroom_home / "logs" / "mailroom.log").read_text()
    assert "pystray backend xorg" in log and "Traceback" not in log + out
    assert no_tray_icon(desktop, "Mailroom")


def test_the_installed_command_runs_outside_the_source_tree(installed_deb, tmp_path, mailroom_home):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MAILROOM_HOME": str(mailroom_home)}
    result = run_installed("--version", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"mailroom {__version__}"
    assert not str(tmp_path).startswith(str(REPO_ROOT))


def test_headless_import_from_the_installed_copy(installed_deb, dovecot, mailbox_user, certs, real_keyring,
                                                 mailroom_home, tmp_path):
    env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home)}
    box = mailbox("Studio", port=dovecot.pop3s_port, user=mailbox_user.name, email=mailbox_user.address,
                  ca_file=certs.ca_crt)
    doc = write_toml(tmp_path / "settings.toml", settings(mailboxes=[box]))
    imported = run_installed("config", "import", str(doc), env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr

    # the frozen keyring finds its Secret Service backend through entry points
    saved = run_installed("password", "set", "mailbox", "Studio", input=mailbox_user.password + "\n",
                          env=env, cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert secret_service_has(real_keyring, mailbox_user.password)

    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(3))
    fetched = run_installed("fetch", "--once", "--json", env=env, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    [report] = json.loads(fetched.stdout)["mailboxes"]
    assert (report["listed"], report["imported"], report["error"]) == (3, 3, None)

    # `run --headless` keeps checking on its schedule and stops cleanly on SIGTERM
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(3, 5))
    proc = subprocess.Popen([str(INSTALLED), "run", "--headless"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: stored(mailroom_home) == 5, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"Mailroom {__version__}: data folder {mailroom_home}" in out and "Stopping" in out


def test_keeps_its_data_where_the_pip_installed_mailroom_does(installed_deb, tmp_path, real_keyring):
    """No MAILROOM_HOME: the per-user data folder of platformdirs, shared with a pip install."""
    home = tmp_path / "home"
    env = {k: v for k, v in real_keyring.items() if k != "MAILROOM_HOME"}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"))
    doc = write_toml(tmp_path / "settings.toml", settings())
    assert run_installed("config", "import", str(doc), env=env, cwd=tmp_path).returncode == 0
    assert (home / ".local" / "share" / "Mailroom" / "mailroom.db").is_file()
    from_source = subprocess.run([sys.executable, "-m", "mailroom", "config", "export", "-"], env=env,
                                 cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert from_source.returncode == 0, from_source.stderr
    assert 'name = "Lumen Photography"' in from_source.stdout


def test_the_installed_copy_refuses_a_database_from_a_newer_version(installed_deb, tmp_path, mailroom_home):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MAILROOM_HOME": str(mailroom_home)}
    assert run_installed("stats", env=env, cwd=tmp_path).returncode == 0  # migrations found and run
    with sqlite3.connect(mailroom_home / "mailroom.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_newer'")
    result = run_installed("stats", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("This database was written by a newer version of Mailroom")


def test_remove_and_purge_leave_the_users_data_alone(installed_deb, tmp_path):
    home = tmp_path / "home"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share")}
    doc = write_toml(tmp_path / "settings.toml", settings())
    assert run_installed("config", "import", str(doc), env=env, cwd=tmp_path).returncode == 0
    data = home / ".local" / "share" / "Mailroom"
    before = snapshot(data)
    assert "mailroom.db" in before

    dpkg("--remove", "mailroom")
    assert dpkg_status() in ("config-files", "")
    assert not INSTALLED.exists() and not OPT.exists()
    assert not Path("/usr/share/applications/mailroom.desktop").exists()
    assert snapshot(data) == before

    dpkg("-i", str(installed_deb))
    purged = dpkg("--purge", "mailroom")
    assert dpkg_status() == ""
    assert not OPT.exists()
    assert snapshot(data) == before
    assert "Traceback" not in purged.stdout + purged.stderr


def secret_service_has(keyring_env: dict[str, str], password: str) -> bool:
    """The real Secret Service holds an item of service "mailroom" with this password."""
    script = (
        "import sys, secretstorage\n"
        "conn = secretstorage.dbus_init()\n"
        "items = secretstorage.get_default_collection(conn).search_items({'service': 'mailroom'})\n"
        "sys.exit(0 if any(i.get_secret().decode() == sys.argv[1] for i in items) else 1)\n"
    )
    return subprocess.run([sys.executable, "-c", script, password], env=keyring_env, timeout=30).returncode == 0


def stored(home: Path) -> int:
    try:
        with sqlite3.connect(home / "mailroom.db") as conn:
            return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    except sqlite3.OperationalError:  # the app has not created its tables yet
        return 0


def wait_until(condition, proc: subprocess.Popen, timeout: float = 30,
               what: str = "the messages to be imported") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"mailroom exited early ({proc.returncode}): {proc.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"mailroom: timed out waiting for {what}")
        time.sleep(0.05)
