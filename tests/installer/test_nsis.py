"""The Windows installer, compiled by build.sh with Debian's makensis (-WX: a warning is an
error) against a stand-in folder laid out like PyInstaller's Windows output."""

from __future__ import annotations

import subprocess

from mailroom import __version__
from tests.installer.conftest import Installers


def test_the_setup_program_holds_the_app_at_the_install_root(installers: Installers):
    exe = installers.setup_exe
    assert exe.name == f"Mailroom-Setup-{__version__}.exe"
    assert exe.read_bytes()[:2] == b"MZ"
    listing = subprocess.run(["7z", "l", "-slt", str(exe)], capture_output=True, text=True, check=True).stdout
    paths = {line.removeprefix("Path = ") for line in listing.splitlines() if line.startswith("Path = ")}
    assert {"Mailroom.exe", "mailroom-cli.exe", "Uninstall.exe",
            "_internal/mailroom/store/migrations/env.py"} <= paths
    assert "SubType = NSIS-3 Unicode" in listing
