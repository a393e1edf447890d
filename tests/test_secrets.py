"""The keyring backend keyring found is remembered, and never opens a way to a plain file.

Searching makes keyring import every backend it knows (the macOS one too, on Linux) and
read the entry points of every installed package; the backend found is remembered in
the data folder and loaded directly by the next process. Only keyring's own backends
are loaded from that file; a name that is anything else, or a backend that no longer
loads, makes keyring search again, and the usual checks (SECURITY.md #12) decide.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mailroom.secrets import REMEMBERED_FILE
from tests.conftest import REPO_ROOT

CANARY = "Canary-5d1e-Pa55w0rd!"
SECRET_SERVICE = "keyring.backends.SecretService.Keyring"

# A fresh process: which backend does Mailroom use, did keyring search (the search loads
# every backend module keyring knows, the macOS one among them), and is the password there?
_PROBE = """
import sys
from mailroom import secrets
from mailroom.context import Context
store = secrets.backend()
print(type(store).__module__ + "." + type(store).__name__)
print("searched" if "keyring.backends.macOS" in sys.modules else "not searched")
print(Context.open().secrets.get("outgoing") == sys.argv[1])
"""


def probe(env: dict[str, str]) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _PROBE, CANARY], env=env, cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_keyring_found_is_remembered_and_the_next_process_does_not_search(run_cli, real_keyring,
                                                                              mailroom_home):
    result = run_cli("password", "set", "outgoing", input=CANARY + "\n")
    assert result.returncode == 0, result.stderr
    assert (mailroom_home / REMEMBERED_FILE).read_text().strip() == SECRET_SERVICE
    env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home)}
    assert probe(env) == [SECRET_SERVICE, "not", "searched", "True"]


@pytest.mark.parametrize("remembered", [
    "keyrings.alt.file.PlaintextKeyring",          # a plain file: never loaded from the memory
    "keyring.backends.fail.Keyring",
    "keyring.backends.null.Keyring",
    "keyring.backends.chainer.ChainerBackend",
    "tests.test_secrets.NotAKeyring",
    "keyring.backends.SecretService.KeyringBackend",   # keyring's own, but no backend
    "keyring.backends.SecretServic.Keyring",       # gone (say, after an upgrade)
    "",
])
def test_a_remembered_name_that_is_not_a_usable_keyring_of_keyrings_own_makes_keyring_search(
        run_cli, real_keyring, mailroom_home, remembered):
    (mailroom_home / REMEMBERED_FILE).write_text(remembered + "\n")
    result = run_cli("password", "set", "outgoing", input=CANARY + "\n")
    assert result.returncode == 0, result.stderr
    assert "the system keyring" in result.stdout
    assert (mailroom_home / REMEMBERED_FILE).read_text().strip() == SECRET_SERVICE
    env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home)}
    assert probe(env) == [SECRET_SERVICE, "not", "searched", "True"]


def test_a_remembered_keyring_that_cannot_be_reached_is_no_fallback_to_anything(run_cli, mailroom_home):
    (mailroom_home / REMEMBERED_FILE).write_text(SECRET_SERVICE + "\n")
    result = run_cli("password", "set", "outgoing", input=CANARY + "\n",
                     env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "nothing was saved" in result.stderr and "gnome-keyring" in result.stderr


def test_an_explicit_choice_is_neither_remembered_nor_overridden(run_cli, mailroom_home):
    (mailroom_home / REMEMBERED_FILE).write_text(SECRET_SERVICE + "\n")
    result = run_cli("password", "set", "outgoing", input=CANARY + "\n",
                     env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == 1 and "nothing was saved" in result.stderr, result.stderr
    assert (mailroom_home / REMEMBERED_FILE).read_text().strip() == SECRET_SERVICE
