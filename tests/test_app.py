"""The app process: a real waitress on 127.0.0.1, `mailroom --headless`, `mailroom open`, one
instance per user (a killed one's lock is taken over), the default port, and the faces' imports."""

from __future__ import annotations

import ast
import http.client
import os
import re
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mailroom import app as mailroom_app
from mailroom import instance
from mailroom.errors import ConfigError
from tests.conftest import REPO_ROOT
from tests.pipeline.conftest import ctx, in_process_keyring  # noqa: F401 - fixtures
from tests.servers.ports import free_port

URL = re.compile(r"(http://127\.0\.0\.1:(\d+)/login\?t=[A-Za-z0-9_-]+)")


def test_the_default_port_is_stable_and_browsers_open_it():
    assert mailroom_app.DEFAULT_PORT == 8765 and mailroom_app.DEFAULT_PORT not in mailroom_app.UNSAFE_PORTS
    assert mailroom_app.candidate_ports(None)[0] == 8765
    assert all(p not in mailroom_app.UNSAFE_PORTS for p in mailroom_app.candidate_ports(None))
    with pytest.raises(ConfigError, match="browsers refuse"):
        mailroom_app.candidate_ports(6000)


def test_a_taken_port_is_an_error_or_the_next_free_one():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=f"Port {taken} .* in use"):
            mailroom_app.bind(taken)
    start = mailroom_app.DEFAULT_PORT
    holders = []
    try:
        for port in (start, start + 1):
            s = socket.socket()
            # as Mailroom binds: a closed connection's TIME_WAIT on the port must not stop us
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                s.listen()
            except OSError:
                s.close()           # another program listens there: also a taken port
                continue
            holders.append(s)
        sock = mailroom_app.bind(None)
        chosen = sock.getsockname()[1]
        sock.close()
        assert chosen in mailroom_app.candidate_ports(None)[2:]       # the next free one, never a taken one
    finally:
        for s in holders:
            s.close()


def test_a_real_waitress_serves_the_page_on_127_0_0_1_only(ctx):
    from mailroom.controller import Controller

    controller = Controller(ctx)
    page = mailroom_app.PageServer(controller, free_port()).start()
    try:
        assert page.server.effective_host == "127.0.0.1"
        assert page.server.adj.threads == mailroom_app.THREADS and not page.server.adj.expose_tracebacks
        conn = http.client.HTTPConnection("127.0.0.1", page.port, timeout=10)
        conn.request("GET", "/", headers={"Host": "rebound.example"})
        refused = conn.getresponse()
        assert refused.status == 403 and refused.getheader("Server") == "Mailroom"
        refused.read()
        url = page.login_url()
        conn.request("GET", url.removeprefix(f"http://127.0.0.1:{page.port}"))
        login = conn.getresponse()
        login.read()
        assert login.status == 302 and login.getheader("Location") == "/"
        cookie = login.getheader("Set-Cookie").split(";")[0]
        conn.request("GET", "/", headers={"Cookie": cookie})
        dashboard = conn.getresponse()
        assert dashboard.status == 200 and b"Dashboard" in dashboard.read()
        conn.close()
    finally:
        page.stop()
        controller.shutdown()


def test_the_instance_lock_dies_with_its_process(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from mailroom.instance import InstanceLock; "
                               "lock = InstanceLock(Path(sys.argv[1])); assert lock.acquire(); print('held', flush=True); "
                               "time.sleep(60)", str(tmp_path)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert instance.is_running(tmp_path)
        assert not instance.InstanceLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.communicate()
    lock = instance.InstanceLock(tmp_path)
    assert lock.acquire()                                # the killed instance's lock is taken over
    lock.release()


class Headless:
    """`python -m mailroom --headless --port N` as a user starts it."""

    def __init__(self, env: dict, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "mailroom", "--headless", *args], env=env, cwd=REPO_ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        while True:
            line = self.proc.stdout.readline()
            assert line, f"mailroom --headless ended: {self.proc.stderr.read()}"
            self.lines.append(line)
            if URL.search(line):
                break
        self.url, port = URL.search(self.lines[-1]).groups()
        self.port = int(port)

    def stop(self, signum=signal.SIGTERM) -> tuple[str, str]:
        self.proc.send_signal(signum)
        try:
            out, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        return "".join(self.lines) + out, err


def get(url: str, cookie: str | None = None) -> http.client.HTTPResponse:
    host, _, path = url.removeprefix("http://").partition("/")
    conn = http.client.HTTPConnection(*host.split(":"), timeout=10)
    conn.request("GET", "/" + path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.fixture
def app_env(real_keyring, mailroom_home) -> dict:
    return {**real_keyring, "MAILROOM_HOME": str(mailroom_home), "BROWSER": "true"}


def test_headless_prints_a_one_time_url_and_open_mints_fresh_ones(app_env, run_cli, mailroom_home):
    port = free_port()
    app = Headless(app_env, "--port", str(port))
    try:
        assert app.port == port and len(app.lines) == 2 and "0 enabled mailboxes" in app.lines[0]
        runtime = mailroom_home / instance.RUNTIME_FILE
        assert stat.S_IMODE(os.stat(runtime).st_mode) == 0o600
        assert get(app.url).status == 302 and get(app.url).status == 403            # one time only
        printed = run_cli("open", "--print", env={"BROWSER": "true"})
        assert printed.returncode == 0, printed.stderr
        fresh = printed.stdout.strip()
        assert URL.fullmatch(fresh) and fresh != app.url
        login = get(fresh)
        assert login.status == 302
        assert get(f"http://127.0.0.1:{port}/", login.getheader("Set-Cookie").split(";")[0]).status == 200
        opened = run_cli("open", env={"BROWSER": "true"})
        assert opened.returncode == 0 and "opened" in opened.stdout
        second = run_cli("--headless", "--port", str(free_port()))
        assert second.returncode == 1 and "already running" in second.stderr
        again = run_cli(env={"BROWSER": "true"})                                     # plain `mailroom`
        assert again.returncode == 0 and "already running" in again.stdout
    finally:
        out, err = app.stop()
    assert app.proc.returncode == 0, err
    assert "Stopping" in out and "Traceback" not in err
    assert not (mailroom_home / instance.RUNTIME_FILE).exists()
    gone = run_cli("open", "--print")
    assert gone.returncode == 1 and "not running" in gone.stderr


def test_a_killed_instance_is_replaced_and_sigint_stops_cleanly(app_env, mailroom_home):
    first = Headless(app_env, "--port", str(free_port()))
    first.proc.kill()
    first.proc.communicate(timeout=30)
    assert (mailroom_home / instance.RUNTIME_FILE).exists()                        # stale, left behind
    second = Headless(app_env, "--port", str(free_port()))
    try:
        assert instance.read_runtime(Path(mailroom_home)).port == second.port
        assert get(second.url).status == 302
    finally:
        out, err = second.stop(signal.SIGINT)
    assert second.proc.returncode == 0 and "Stopping" in out, err


def test_without_a_tray_plain_mailroom_runs_like_headless_and_says_so(app_env):
    proc = subprocess.Popen([sys.executable, "-m", "mailroom", "--port", str(free_port())], env=app_env,
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline() + proc.stdout.readline() + proc.stdout.readline()
        assert "No desktop to show a tray icon on" in first and URL.search(first)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err


def test_headless_imports_no_gui_toolkit(app_env):
    # Stops itself (SIGTERM) as soon as it has printed its login line, then lists what it imported.
    code = ("import os, signal, sys\n"
            "from mailroom import app\n"
            "def out(text, **kw):\n"
            "    print(text, **kw)\n"
            "    if 'Open the page' in text: os.kill(os.getpid(), signal.SIGTERM)\n"
            "app.run(headless=True, port=int(sys.argv[1]), out=out)\n"
            "print('GUI:', sorted(m for m in sys.modules if m.split('.')[0] in ('pystray', 'PIL', 'tray', 'gi', "
            "'Xlib')))\n")
    result = subprocess.run([sys.executable, "-c", code, str(free_port())], env=app_env, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "GUI: []" in result.stdout, result.stdout


def _imports(folder: Path):
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "mailroom":
                    for alias in node.names:
                        yield path, f"mailroom.{alias.name}"
                else:
                    yield path, node.module


def test_the_faces_import_only_the_controller_errors_and_model():
    allowed = {"mailroom.controller", "mailroom.errors", "mailroom.model"}
    found = [(p, name) for face in ("web", "tray") for p, name in _imports(REPO_ROOT / face)]
    assert any(p.parts[-2:] == ("web", "forms.py") for p, _ in found)      # the scan sees the page's code
    bad = [(str(p.relative_to(REPO_ROOT)), name) for p, name in found
           if (name == "mailroom" or name.startswith("mailroom.")) and name not in allowed]
    assert bad == []
