"""The wheel holds every module and the page's static files (as web/static); web.static_dir()
finds them in a PyInstaller bundle, an installed wheel and the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import web
from tests.conftest import REPO_ROOT


def test_the_wheel_ships_every_module_template_and_static_file(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
                             str(REPO_ROOT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("mailroom-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(p.relative_to(REPO_ROOT)) for top in ("mailroom", "web", "tray")
                for p in (REPO_ROOT / top).rglob("*") if p.suffix in (".py", ".html") and "__pycache__" not in p.parts}
    expected |= {f"web/static/{p.name}" for p in (REPO_ROOT / "static").iterdir() if p.suffix != ".md"}
    assert "web/static/style.css" in expected and "web/templates/base.html" in expected
    assert expected - names == set()


def test_static_dir_in_a_bundle_a_wheel_and_the_source_tree(tmp_path, monkeypatch):
    assert web.static_dir() == REPO_ROOT / "static"
    assert (web.static_dir() / "style.css").is_file()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert web.static_dir() == tmp_path / "static"
