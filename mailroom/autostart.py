"""Start at login: the per-user entry that starts Mailroom when the user logs in.

Linux: an XDG autostart `.desktop` file in $XDG_CONFIG_HOME/autostart (Desktop
Application Autostart Specification); Windows: a value under
HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run; macOS: a LaunchAgent plist in
~/Library/LaunchAgents. The entry runs the current program: the frozen executable, or
this Python with `-m mailroom`.

The writers and readers are pure functions of (paths, program) → contents, so the
Windows and macOS forms are tested on any machine; only `enable`/`disable`/`status`
touch the file system or the registry (winreg is imported on Windows only). This
module is the app layer: the command line, the page and the tray reach it through the
controller. It never starts or stops Mailroom itself.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from mailroom.errors import MailroomError

APP_NAME = "Mailroom"
DESKTOP_FILE = "mailroom.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "Mailroom"
AGENT_LABEL = "com.mailroom.agent"      # installer/README.md names this file; keep them equal
WINDOWLESS_EXE = "Mailroom.exe"         # the frozen Windows app without a console (installer/windows)

Program = tuple[str, ...]


@dataclass(frozen=True)
class AutostartStatus:
    """Whether Mailroom starts at login; `warning` when the entry runs another program."""

    on: bool
    where: str                   # the file or registry value that holds the entry
    program: Program | None      # what the entry runs, when there is one
    warning: str | None = None


def current_program(*, executable: str | None = None, frozen: bool | None = None,
                    platform: str | None = None) -> Program:
    """The command that starts this Mailroom: the frozen app, or `python -m mailroom`.

    On Windows the console-less program is preferred, so no console window opens at
    login: pythonw.exe next to python.exe, and the bundle's Mailroom.exe when the
    command was run by its console twin mailroom-cli.exe (the same value the
    installer's "start at login" page writes).
    """
    executable = executable or sys.executable
    frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    platform = platform or sys.platform
    if frozen:
        if platform == "win32" and PureWindowsPath(executable).name.lower() == "mailroom-cli.exe":
            executable = str(PureWindowsPath(executable).with_name(WINDOWLESS_EXE))
        return (executable,)
    if platform == "win32" and Path(executable).name.lower() == "python.exe":
        windowless = Path(executable).with_name("pythonw.exe")
        if windowless.exists():
            executable = str(windowless)
    return (executable, "-m", "mailroom")


# --- Linux: XDG autostart ------------------------------------------------------------

# Desktop Entry Specification, "The Exec key": arguments with reserved characters are
# quoted, and inside quotes ", `, $ and \ are escaped with a backslash; % is doubled.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _exec_quote(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if arg and not (set(arg) & _RESERVED):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


def desktop_exec(program: Program) -> str:
    """The Exec value for `program`, as stored in the file (string escapes applied)."""
    line = " ".join(_exec_quote(a) for a in program)
    return line.replace("\\", "\\\\")      # the file's string escape for a backslash


def parse_desktop_exec(value: str) -> Program:
    """The argument list of an Exec value as read from a .desktop file."""
    line = value.replace("\\\\", "\\")
    args, current, quoted, escaped, started = [], [], False, False, False
    for c in line:
        if escaped:
            current.append(c)
            escaped = False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted, started = not quoted, True
        elif c in " \t" and not quoted:
            if current or started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(c)
    if current or started:
        args.append("".join(current))
    return tuple(a.replace("%%", "%") for a in args)


def linux_path(config_home: Path) -> Path:
    return config_home / "autostart" / DESKTOP_FILE


def linux_entry(program: Program) -> str:
    """The .desktop file that starts `program` at login."""
    return ("[Desktop Entry]\n"
            "Type=Application\n"
            f"Name={APP_NAME}\n"
            "Comment=Files client email, opens tasks and sends auto-replies\n"
            f"Exec={desktop_exec(program)}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n")


def linux_read(text: str) -> Program | None:
    """The program a .desktop file starts; None when it is hidden or has no Exec."""
    values, in_entry = {}, False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            in_entry = line == "[Desktop Entry]"
        elif in_entry and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    if values.get("Hidden", "").lower() == "true" or values.get("X-GNOME-Autostart-enabled", "").lower() == "false":
        return None
    return parse_desktop_exec(values["Exec"]) if values.get("Exec") else None


def config_home(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    value = environ.get("XDG_CONFIG_HOME")
    # The spec: a relative (or empty) XDG_CONFIG_HOME is invalid and ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".config"


# --- Windows: the Run key ------------------------------------------------------------

def windows_value(program: Program) -> str:
    """The Run value's command line (Windows quoting rules)."""
    return subprocess.list2cmdline(list(program))


def windows_read(value: str) -> Program:
    """Split a Run value written by `windows_value` back into its arguments."""
    return parse_windows_cmdline(value)


def parse_windows_cmdline(line: str) -> Program:
    """Split a command line by the MS C runtime rules (the inverse of list2cmdline).

    2n backslashes before a quote are n backslashes and a quote that opens or closes;
    2n+1 are n backslashes and a literal quote; other backslashes are literal.
    """
    args, current, in_arg, quoted, backslashes = [], [], False, False, 0
    for c in line:
        if c == "\\":
            backslashes += 1
            in_arg = True
            continue
        if c == '"':
            current.append("\\" * (backslashes // 2))
            if backslashes % 2:
                current.append('"')
            else:
                quoted = not quoted
            backslashes, in_arg = 0, True
            continue
        current.append("\\" * backslashes)
        backslashes = 0
        if c in " \t" and not quoted:
            if in_arg:
                args.append("".join(current))
            current, in_arg = [], False
            continue
        current.append(c)
        in_arg = True
    current.append("\\" * backslashes)
    if in_arg:
        args.append("".join(current))
    return tuple(args)


# --- macOS: a LaunchAgent ------------------------------------------------------------

def macos_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"


def macos_plist(program: Program) -> bytes:
    """The LaunchAgent that runs `program` once at login, in a graphical session only (the app
    lives in the menu bar), and is not kept alive: Quit means quit until the next login."""
    return plistlib.dumps({"Label": AGENT_LABEL, "ProgramArguments": list(program), "RunAtLoad": True,
                           "KeepAlive": False, "LimitLoadToSessionType": "Aqua",
                           "ProcessType": "Interactive"})


def macos_read(data: bytes) -> Program | None:
    try:
        agent = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError):
        return None
    if agent.get("Disabled"):
        return None
    args = agent.get("ProgramArguments") or ([agent["Program"]] if agent.get("Program") else [])
    return tuple(str(a) for a in args) or None


# --- the entry of this machine ---------------------------------------------------------

def mismatch(found: Program, expected: Program) -> str | None:
    """A warning when the entry starts another program (or another Python) than this one."""
    if found == expected:
        return None
    return (f"the entry starts {' '.join(found)}, not this Mailroom ({' '.join(expected)}); "
            "turn it on again to point it here")


def status(program: Program | None = None) -> AutostartStatus:
    """Is an entry there, and does it start this program?"""
    program = program or current_program()
    if sys.platform == "win32":
        where = f"HKEY_CURRENT_USER\\{RUN_KEY}\\{RUN_VALUE}"
        value = _registry_get()
        found = windows_read(value) if value else None
    elif sys.platform == "darwin":
        path = macos_path(Path.home())
        where = str(path)
        found = macos_read(path.read_bytes()) if path.is_file() else None
    else:
        path = linux_path(config_home())
        where = str(path)
        found = linux_read(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else None
    if found is None:
        return AutostartStatus(on=False, where=where, program=None)
    return AutostartStatus(on=True, where=where, program=found, warning=mismatch(found, program))


def set_enabled(enabled: bool, program: Program | None = None) -> AutostartStatus:
    """Write (or remove) the entry; returns the new status. OS errors become MailroomError."""
    program = program or current_program()
    try:
        if sys.platform == "win32":
            _registry_set(windows_value(program) if enabled else None)
        elif sys.platform == "darwin":
            _write(macos_path(Path.home()), macos_plist(program) if enabled else None)
        else:
            _write(linux_path(config_home()), linux_entry(program).encode("utf-8") if enabled else None)
    except OSError as exc:
        raise MailroomError(f"Could not change the start-at-login entry: {exc.strerror or exc}.",
                            kind="autostart") from None
    return status(program)


def _write(path: Path, data: bytes | None) -> None:
    if data is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _registry_get() -> str | None:
    import winreg  # Windows only

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            value, _type = winreg.QueryValueEx(key, RUN_VALUE)
    except FileNotFoundError:
        return None
    return str(value)


def _registry_set(value: str | None) -> None:
    import winreg  # Windows only

    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
        if value is None:
            try:
                winreg.DeleteValue(key, RUN_VALUE)
            except FileNotFoundError:
                pass
        else:
            winreg.SetValueEx(key, RUN_VALUE, 0, winreg.REG_SZ, value)


# --- `mailroom autostart on|off|status` --------------------------------------------------

def cmd_autostart(args: argparse.Namespace) -> int:
    """on/off write or remove the entry; status prints "on" or "off" (and warns)."""
    result = status() if args.action == "status" else set_enabled(args.action == "on")
    print("on" if result.on else "off")
    if result.warning:
        print(f"warning: {result.warning}", file=sys.stderr)
    return 0


def add_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `autostart` on the `mailroom` command's subparsers."""
    p = subparsers.add_parser("autostart", help="start Mailroom when you log in: on, off, or status",
                              description="Turn starting at login on or off, or print whether it is "
                              "on. The entry runs this Mailroom; status warns when it runs another.")
    p.add_argument("action", choices=("on", "off", "status"),
                   help="on: start at login; off: do not; status: print on or off")
    p.set_defaults(func=cmd_autostart)
    return p

