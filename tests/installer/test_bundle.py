"""What PyInstaller put in the bundle: every data file of our packages and static/ at the
place the frozen app looks for it (the contract in installer/README.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.installer.conftest import Installers

PACKAGES = ("mailroom", "web", "tray")


def source_data_files() -> list[Path]:
    """Relative paths of the files the app reads at run time: every non-Python file of our
    packages, the migration scripts (Alembic loads them from files), and static/."""
    files = []
    for package in PACKAGES:
        if not (REPO_ROOT / package / "__init__.py").exists():
            continue
        for path in (REPO_ROOT / package).rglob("*"):
            rel = path.relative_to(REPO_ROOT)
            if not path.is_file() or "__pycache__" in rel.parts:
                continue
            if path.suffix != ".py" or rel.parts[:3] == ("mailroom", "store", "migrations"):
                files.append(rel)
    files += [p.relative_to(REPO_ROOT) for p in (REPO_ROOT / "static").rglob("*") if p.is_file()]
    return files


def test_every_data_file_is_where_the_frozen_app_looks(installers: Installers):
    internal = installers.bundle / "_internal"  # sys._MEIPASS of the one-folder bundle
    files = source_data_files()
    assert Path("mailroom/store/migrations/env.py") in files
    wrong = [str(rel) for rel in files
             if not (internal / rel).is_file() or (internal / rel).read_bytes() != (REPO_ROOT / rel).read_bytes()]
    assert wrong == []


def test_keyring_backends_are_found_by_their_entry_points(installers: Installers):
    [metadata] = (installers.bundle / "_internal").glob("keyring-*.dist-info")
    assert "SecretService = keyring.backends.SecretService" in (metadata / "entry_points.txt").read_text()


def test_no_runpath_points_into_the_build_machine(installers: Installers):
    for lib in (installers.bundle / "_internal").rglob("*.so*"):
        runpath = subprocess.run(["patchelf", "--print-rpath", str(lib)], capture_output=True, text=True).stdout
        assert all(entry.startswith("$ORIGIN") for entry in runpath.split(":") if entry.strip()), (lib, runpath)
