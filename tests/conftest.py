"""Fixtures that start REAL servers: Dovecot, aiosmtpd, a Secret Service keyring, a desktop.

A server that cannot start fails the test run with its log; nothing here ever skips. With
CI=true, a test that skipped anyway (e.g. an importorskip) turns the run into a failure.

Session-scoped servers are shared; isolation comes from `mailbox_user` (a fresh Dovecot
user per test) and `smtp` (its capture is emptied before each test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers.certs import CertPaths, make_ca_and_server_cert
from tests.servers.dovecot import Dovecot, MailUser, kill_process_group, make_root_dir
from tests.servers.keyring import start_secret_service
from tests.servers.smtp import SmtpServers, start_smtp

REPO_ROOT = Path(__file__).resolve().parent.parent

DOVECOT_USERS = {
    "studio": "studiopw",
    "sales": "salespw",
    # Gmail-style: the login is the whole address
    "gmailtest@example.com": "gmailtestpw",
    # Exchange-style: DOMAIN\user
    "CORP\\frontdesk": "frontdeskpw",
}
SMTP_USERS = {
    "studio@localhost": "studiopw",
    "sales@localhost": "salespw",
}

STARTUP_SECONDS: dict[str, float] = {}


def _timed(name: str, seconds: float) -> None:
    STARTUP_SECONDS[name] = seconds


# ------------------------------------------------------------------ certificates


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    """The test CA, a server certificate it signed, and the self-signed untrusted one."""
    t0 = time.monotonic()
    paths = make_ca_and_server_cert(tmp_path_factory.mktemp("certs"))
    _timed("certs", time.monotonic() - t0)
    return paths


# ------------------------------------------------------------------ Dovecot


def _dovecot(certs: CertPaths, label: str, **variant: bool) -> Iterator[Dovecot]:
    # not tmp_path: as root Dovecot's own users cannot enter /tmp/pytest-of-root (0700)
    dc = Dovecot(make_root_dir(f"mailroom-{label}-"), certs, DOVECOT_USERS, **variant)
    try:
        _timed(label, dc.start())
        yield dc
    finally:
        dc.close()


@pytest.fixture(scope="session")
def dovecot(certs: CertPaths) -> Iterator[Dovecot]:
    """Dovecot with POP3 (+STLS), POP3S and IMAPS; certificate signed by the test CA."""
    yield from _dovecot(certs, "dovecot")


@pytest.fixture(scope="session")
def dovecot_no_stls(certs: CertPaths) -> Iterator[Dovecot]:
    """Dovecot with TLS off: plain POP3 only, STLS not offered (pop3s_port is None)."""
    yield from _dovecot(certs, "dovecot_no_stls", tls=False)


@pytest.fixture(scope="session")
def dovecot_untrusted(certs: CertPaths) -> Iterator[Dovecot]:
    """Dovecot serving the self-signed "Untrusted Test CA" certificate."""
    yield from _dovecot(certs, "dovecot_untrusted", untrusted=True)


@pytest.fixture
def mailbox_user(dovecot: Dovecot, request: pytest.FixtureRequest) -> MailUser:
    """A Dovecot user of its own for this test: an empty mailbox no other test sees."""
    return dovecot.new_user(request.node.name.removeprefix("test_"))


# ------------------------------------------------------------------ SMTP


@pytest.fixture(scope="session")
def smtp_servers(certs: CertPaths) -> Iterator[SmtpServers]:
    t0 = time.monotonic()
    servers = start_smtp(certs, dict(SMTP_USERS))
    _timed("smtp", time.monotonic() - t0)
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def smtp(smtp_servers: SmtpServers) -> SmtpServers:
    """The aiosmtpd listeners, up, with an empty capture."""
    if not smtp_servers.is_up():
        smtp_servers.up()
    smtp_servers.capture.clear()
    return smtp_servers


# ------------------------------------------------------------------ keyring and the CLI


@pytest.fixture(scope="session")
def real_keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment for child processes that use a real, unlocked Secret Service."""
    service = start_secret_service(tmp_path_factory.mktemp("keyring-home"))
    _timed("keyring", service.startup_seconds)
    service.env.pop("MAILROOM_HOME", None)  # each test brings its own (mailroom_home)
    try:
        yield service.env
    finally:
        service.stop()


@pytest.fixture
def mailroom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder, exported as MAILROOM_HOME."""
    home = tmp_path / "mailroom-home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("MAILROOM_HOME", str(home))
    return home


# ------------------------------------------------------------------ a desktop


@pytest.fixture(scope="session")
def desktop() -> Iterator[str]:
    """An X display (Xvfb) with a system tray (trayer), shared by the tray and installer tests;
    yields the DISPLAY value."""
    from tests.servers.desktop import start_trayer, start_xvfb

    t0 = time.monotonic()
    xvfb, display = start_xvfb()
    try:
        trayer = start_trayer(display)
        _timed("desktop", time.monotonic() - t0)
        try:
            yield display
        finally:
            kill_process_group(trayer)
    finally:
        kill_process_group(xvfb)


RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_cli(real_keyring: dict[str, str], mailroom_home: Path) -> RunCli:
    """run_cli(*args, input=None, env=None, timeout=60) -> CompletedProcess (text).

    Runs `python -m mailroom *args` from the repository root with the real keyring's
    environment, MAILROOM_HOME set, and `env` merged on top. It does not check the exit code.
    """

    def run(
        *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "mailroom", *args],
            input=input, env=full_env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    return run


# ------------------------------------------------------------------ reporting


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        if reporter:
            reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; in CI a skip is a failure.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if STARTUP_SECONDS and config.get_verbosity() > 0:
        terminalreporter.write_line(
            "server start-up: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in STARTUP_SECONDS.items())
        )
