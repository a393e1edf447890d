"""Fixtures for the installer tests: the bundle, .deb and Windows installer, built ONCE.

`installers` runs `bash installer/build.sh all` a single time per pytest run (about
two minutes: PyInstaller, dpkg-deb, lintian, makensis) and every test shares the result.
`installed_deb` makes sure that .deb is installed in this machine (`dpkg -i`), and the
run ends by purging it. Both need root, as CI runs the tests.

With CI=true a missing build tool fails the run; elsewhere build.sh installs what it
lacks on Debian/Ubuntu. The build time and sizes are printed in the summary.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailroom import __version__
from tests.conftest import REPO_ROOT

# program -> Debian package: what build.sh and these tests run
TOOLS = {
    "objdump": "binutils", "patchelf": "patchelf", "dpkg-deb": "dpkg", "dpkg-shlibdeps": "dpkg-dev",
    "lintian": "lintian", "desktop-file-validate": "desktop-file-utils", "help2man": "help2man",
    "makensis": "nsis", "7z": "p7zip-full",
}  # fmt: skip
BUILD_SUMMARY: list[str] = []


@dataclasses.dataclass(frozen=True)
class Installers:
    bundle: Path        # installer/build/dist/mailroom (PyInstaller one-folder output)
    deb: Path
    setup_exe: Path
    build_seconds: float
    log: str            # build.sh's output, lintian's included


def _apt_install(*packages: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                   env=env, check=True, capture_output=True)  # fmt: skip


def _require_tools() -> None:
    missing = {prog: pkg for prog, pkg in TOOLS.items() if shutil.which(prog) is None}
    if not missing:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"installer tests: missing {', '.join(missing)} (Debian packages "
                    f"{' '.join(sorted(set(missing.values())))}; tests/run.sh installs them)")
    # build.sh installs its own tools; only what the tests alone use is installed here
    if "7z" in missing:
        _apt_install("p7zip-full")


def _size(path: Path) -> str:
    total = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return f"{total / 2**20:.1f} MiB"


@pytest.fixture(scope="session")
def installers() -> Installers:
    if os.geteuid() != 0:
        pytest.skip("the installer tests install a .deb into this machine: run them as root (CI does)")
    _require_tools()
    t0 = time.monotonic()
    result = subprocess.run(["bash", "installer/build.sh", "all"], cwd=REPO_ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    assert result.returncode == 0, f"installer/build.sh all failed:\n{result.stdout}\n{result.stderr}"
    dist = REPO_ROOT / "installer" / "dist"
    built = Installers(
        bundle=REPO_ROOT / "installer" / "build" / "dist" / "mailroom",
        deb=next(dist.glob(f"mailroom_{__version__}_*.deb")),
        setup_exe=dist / f"Mailroom-Setup-{__version__}.exe",
        build_seconds=seconds,
        log=result.stdout + result.stderr,
    )
    BUILD_SUMMARY.append(
        f"installer build: {seconds:.0f} s (bundle, .deb, lintian, NSIS); bundle {_size(built.bundle)}, "
        f"{built.deb.name} {_size(built.deb)}, {built.setup_exe.name} {_size(built.setup_exe)} (stand-in contents)"
    )
    return built


def dpkg_status(package: str = "mailroom") -> str:
    """"installed", "config-files", or "" when dpkg does not know the package."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", package], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def dpkg(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(["dpkg", *args], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, f"dpkg {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def _purge_at_the_end(installers: Installers) -> Iterator[None]:
    yield
    if dpkg_status():
        dpkg("--purge", "mailroom")


@pytest.fixture
def installed_deb(installers: Installers, _purge_at_the_end: None) -> Path:
    """The built .deb, installed in this machine (installed again if a test removed it)."""
    if dpkg_status() != "installed":
        dpkg("-i", str(installers.deb))
    return installers.deb


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    for line in BUILD_SUMMARY:
        terminalreporter.write_line(line)
