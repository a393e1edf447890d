"""Start at login: the Linux entry for real under a temporary XDG_CONFIG_HOME, the Windows
and macOS entries as pure functions of their paths and contents."""

from __future__ import annotations

import argparse
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailroom import autostart

ME = autostart.current_program()


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def mailroom_command(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mailroom")
    autostart.add_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_on_status_off_on_linux(xdg, capsys):
    assert autostart.cmd_autostart(mailroom_command(["autostart", "status"])) == 0
    assert capsys.readouterr().out == "off\n"
    assert autostart.cmd_autostart(mailroom_command(["autostart", "on"])) == 0
    assert capsys.readouterr().out == "on\n"
    entry = xdg / "autostart" / "mailroom.desktop"
    text = entry.read_text()
    assert f"Exec={sys.executable} -m mailroom\n" in text and "Type=Application\n" in text
    validate = shutil.which("desktop-file-validate")
    assert validate, "desktop-file-validate is missing (Debian package desktop-file-utils; tests/run.sh installs it)"
    result = subprocess.run([validate, str(entry)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stdout
    autostart.cmd_autostart(mailroom_command(["autostart", "status"]))
    out = capsys.readouterr()
    assert out.out == "on\n" and out.err == ""
    autostart.cmd_autostart(mailroom_command(["autostart", "off"]))
    assert capsys.readouterr().out == "off\n" and not entry.exists()


def test_status_warns_when_the_entry_starts_another_python(xdg, capsys):
    entry = xdg / "autostart" / "mailroom.desktop"
    entry.parent.mkdir(parents=True)
    entry.write_text(autostart.linux_entry(("/usr/bin/python3", "-m", "mailroom")))
    autostart.cmd_autostart(mailroom_command(["autostart", "status"]))
    out = capsys.readouterr()
    assert out.out == "on\n"
    assert "warning: the entry starts /usr/bin/python3 -m mailroom, not this Mailroom" in out.err
    entry.write_text(entry.read_text() + "Hidden=true\n")         # the desktop's own "off" switch
    assert autostart.status().on is False


def test_a_relative_xdg_config_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert autostart.config_home() == tmp_path / ".config"


def test_a_frozen_app_runs_itself_and_windows_prefers_pythonw(tmp_path):
    assert autostart.current_program(executable="/Applications/Mailroom.app/Contents/MacOS/Mailroom",
                                     frozen=True) == ("/Applications/Mailroom.app/Contents/MacOS/Mailroom",)
    python = tmp_path / "python.exe"
    python.touch()
    assert autostart.current_program(executable=str(python), frozen=False, platform="win32")[0] == str(python)
    (tmp_path / "pythonw.exe").touch()
    assert autostart.current_program(executable=str(python), frozen=False, platform="win32") == (
        str(tmp_path / "pythonw.exe"), "-m", "mailroom")
    # `mailroom-cli autostart on` on Windows: the Run value starts the console-less app
    cli = r"C:\Users\ann\AppData\Local\Programs\Mailroom\mailroom-cli.exe"
    assert autostart.current_program(executable=cli, frozen=True, platform="win32") == (
        r"C:\Users\ann\AppData\Local\Programs\Mailroom\Mailroom.exe",)


def test_the_windows_run_value():
    program = (r"C:\Program Files\Mailroom\Mailroom.exe",)
    assert autostart.windows_value(program) == r'"C:\Program Files\Mailroom\Mailroom.exe"'
    assert autostart.windows_read(autostart.windows_value(program)) == program
    assert autostart.RUN_KEY == r"Software\Microsoft\Windows\CurrentVersion\Run"
    other = autostart.windows_read(r'"C:\Python312\pythonw.exe" -m mailroom')
    assert "not this Mailroom" in autostart.mismatch(other, program)


def test_the_macos_launch_agent():
    program = ("/Users/ann/.venv/bin/python", "-m", "mailroom")
    path = autostart.macos_path(Path("/Users/ann"))
    assert path == Path("/Users/ann/Library/LaunchAgents/com.mailroom.agent.plist")
    agent = plistlib.loads(autostart.macos_plist(program))
    assert agent["Label"] == path.stem                            # launchctl finds the agent by its label
    assert agent["ProgramArguments"] == list(program)
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] is False   # Quit stays quit until the next login
    assert agent["LimitLoadToSessionType"] == "Aqua"             # a GUI login, not ssh or a background session
    assert autostart.macos_read(autostart.macos_plist(program)) == program
    assert autostart.macos_read(plistlib.dumps({**agent, "Disabled": True})) is None
    assert autostart.macos_read(b"not a plist") is None


ARG = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@given(st.lists(ARG, min_size=1, max_size=4))
def test_windows_command_lines_round_trip(args):
    assert autostart.parse_windows_cmdline(subprocess.list2cmdline(args)) == tuple(args)


@given(st.lists(ARG.filter(bool), min_size=1, max_size=4))
def test_desktop_exec_lines_round_trip(args):
    assert autostart.parse_desktop_exec(autostart.desktop_exec(tuple(args))) == tuple(args)
