"""Secrets stay in the keyring; files are private; the core imports no GUI or web code."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
import subprocess
import sys

import keyring
import keyring.backend
import pytest
from keyring.backends.chainer import ChainerBackend

from mailroom import paths, secrets
from mailroom.errors import CredentialError, StorageError
from tests.conftest import REPO_ROOT
from tests.helpers import mailbox, outgoing, settings, write_toml
from tests.mailgen import make_message

CANARY = "Canary-7f3a9c-Pa55w0rd!"


def every_file(folder):
    for root, _dirs, files in os.walk(folder):
        for name in files:
            yield os.path.join(root, name)


def test_a_canary_password_appears_nowhere_but_the_keyring(run_cli, mailroom_home, tmp_path, dovecot, smtp,
                                                           certs, real_keyring):
    smtp.users["canary@localhost"] = CANARY
    dovecot.add_user("canary-box", CANARY)
    box = mailbox("Canary", port=dovecot.pop3s_port, user="canary-box", email="canary-box@localhost",
                  ca_file=certs.ca_crt, autoreply=True, autoreply_template="Thanks")
    doc = settings(mailboxes=[box], outgoing=outgoing(smtp, user="canary@localhost", ca_file=certs.ca_crt),
                   templates=[{"name": "Thanks", "kind": "form_letter", "subject": "Thanks",
                               "body": "Thank you, {{ client.first_name }}."}])
    assert run_cli("config", "import", str(write_toml(tmp_path / "in.toml", doc))).returncode == 0
    assert run_cli("password", "set", "mailbox", "Canary", input=CANARY + "\n").returncode == 0
    assert run_cli("password", "set", "outgoing", input=CANARY + "\n").returncode == 0
    dovecot.deliver("canary-box", make_message(1, to="canary-box@localhost", sender="Ann <ann@example.com>",
                                               date=dt.datetime.now(dt.timezone.utc),
                                               extra_headers=[("Return-Path", "<ann@example.com>")]))
    outputs = [run_cli("check", "Canary"), run_cli("test-email", "--json"),
               run_cli("fetch", "--once", "--json"), run_cli("stats", "--json"),
               run_cli("config", "export", str(tmp_path / "out.toml")),
               run_cli("check", "Canary", "--json")]
    assert json.loads(outputs[2].stdout)["sent"] == 1, outputs[2]
    # wrong password paths print server replies: they must not echo what was sent either
    smtp.users["canary@localhost"] = "changed"
    outputs.append(run_cli("test-email", "--json"))
    for result in outputs:
        assert CANARY not in result.stdout and CANARY not in result.stderr
    files = list(every_file(mailroom_home)) + [str(tmp_path / "out.toml")]
    assert any(f.endswith("mailroom.db-wal") or f.endswith("mailroom.db") for f in files)
    assert any(f.endswith(".log") for f in files)
    for path in files:
        with open(path, "rb") as fh:
            assert CANARY.encode() not in fh.read(), f"the password leaked into {path}"
    assert "password" not in (tmp_path / "out.toml").read_text().replace("Passwords are not", "")


@pytest.mark.parametrize("env", [
    {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"},
])
def test_without_a_keyring_nothing_is_stored_and_the_user_is_told_what_to_install(run_cli, tmp_path, env,
                                                                                  mailroom_home):
    write_toml(tmp_path / "s.toml", settings(mailboxes=[mailbox("Box", port=995, user="u", host="pop.example.com")]))
    assert run_cli("config", "import", str(tmp_path / "s.toml")).returncode == 0
    result = run_cli("password", "set", "mailbox", "Box", input=CANARY + "\n", env=env)
    assert result.returncode == 1
    assert "nothing was saved" in result.stderr and "gnome-keyring" in result.stderr
    assert "Traceback" not in result.stderr
    for path in every_file(mailroom_home):
        with open(path, "rb") as fh:
            assert CANARY.encode() not in fh.read()


class _PlainFileKeyring(keyring.backend.KeyringBackend):
    """Stands in for keyrings.alt's plain-text file backends (priority below 1)."""

    priority = 0.5

    def get_password(self, service, username):
        return None

    def set_password(self, service, username, password):
        raise AssertionError("must not be called")

    def delete_password(self, service, username):
        return None


def test_a_plain_text_keyring_is_refused_unless_chosen(monkeypatch):
    previous = keyring.get_keyring()
    keyring.set_keyring(_PlainFileKeyring())
    try:
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
        monkeypatch.setattr(keyring.core, "load_config", lambda: None)
        with pytest.raises(CredentialError, match="plain file"):
            secrets.Secrets("install").set("outgoing", CANARY)
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.test_security._PlainFileKeyring")
        assert secrets.backend() is keyring.get_keyring()       # an explicit choice is respected
    finally:
        keyring.set_keyring(previous)


def test_secrets_never_show_in_repr_or_logs(caplog):
    from mailroom import logs

    value = secrets.Secret(CANARY)
    assert CANARY not in repr(value)
    logs.redact(CANARY)
    record = logging.LogRecord("mailroom", logging.INFO, __file__, 1, "login with %s then PASS %s",
                               (CANARY, "other"), None)
    logs.RedactingFilter().filter(record)
    assert CANARY not in record.getMessage() and "other" not in record.getMessage()


def test_the_data_folder_is_private(run_cli, mailroom_home):
    assert run_cli("stats").returncode == 0
    assert stat.S_IMODE(os.stat(mailroom_home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(mailroom_home / "mailroom.db").st_mode) == 0o600


def test_a_folder_mailroom_creates_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILROOM_HOME", str(tmp_path / "new" / "home"))
    home = paths.data_dir()
    assert home == tmp_path / "new" / "home"
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(paths.log_dir()).st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o700])
def test_an_existing_data_folder_keeps_its_permissions(tmp_path, monkeypatch, mode):
    home = tmp_path / "mine"
    home.mkdir()
    os.chmod(home, mode)
    monkeypatch.setenv("MAILROOM_HOME", str(home))
    assert paths.data_dir() == home
    assert stat.S_IMODE(os.stat(home).st_mode) == mode


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o757])
def test_a_data_folder_everyone_may_write_to_is_refused_and_left_alone(run_cli, tmp_path, monkeypatch, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    result = run_cli("stats", env={"MAILROOM_HOME": str(shared)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"The data folder {shared} can be changed by every user of this computer" in result.stderr
    assert "MAILROOM_HOME" in result.stderr
    assert stat.S_IMODE(os.stat(shared).st_mode) == mode           # never chmod-ed
    assert list(shared.iterdir()) == []                            # and nothing written into it
    monkeypatch.setenv("MAILROOM_HOME", str(shared))
    with pytest.raises(StorageError) as refused:
        paths.data_dir()
    # chmod is advised for the user's own folder, never for a shared sticky one like /tmp
    assert ("chmod 700" in refused.value.message) == (mode != 0o1777)


def test_the_advice_for_a_shared_system_folder_is_never_to_chmod_it(monkeypatch):
    assert os.stat("/tmp").st_mode & stat.S_ISVTX and os.stat("/tmp").st_mode & stat.S_IWOTH
    monkeypatch.setenv("MAILROOM_HOME", "/tmp")
    with pytest.raises(StorageError, match="every user of this computer") as refused:
        paths.data_dir()
    assert "chmod" not in refused.value.message and "MAILROOM_HOME" in refused.value.message


@pytest.mark.parametrize("exists", [True, False])
def test_a_data_folder_inside_a_folder_everyone_may_write_to_is_refused(run_cli, tmp_path, monkeypatch, exists):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    home = shared / "me" / "mailroom"
    if exists:
        home.mkdir(parents=True, mode=0o700)
    result = run_cli("stats", env={"MAILROOM_HOME": str(home)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"The data folder {home} is inside {shared}, which every user of this computer can change" \
        in " ".join(result.stderr.split())
    assert "chmod" not in result.stderr
    assert home.exists() == exists and (not exists or list(home.iterdir()) == [])    # nothing made or written
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o777


def test_a_data_folder_inside_a_sticky_shared_folder_is_fine(tmp_path, monkeypatch):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)                      # like /tmp: only an entry's owner may move it
    monkeypatch.setenv("MAILROOM_HOME", str(sticky / "mailroom"))
    assert paths.data_dir() == sticky / "mailroom"
    assert stat.S_IMODE(os.stat(sticky / "mailroom").st_mode) == 0o700


# keyrings.alt made unimportable, as on a machine where it was never installed
_WITHOUT_KEYRINGS_ALT = ("import sys, runpy; sys.modules['keyrings'] = None; "
                         "runpy.run_module('mailroom', run_name='__main__')")


@pytest.mark.parametrize("args", [("password", "set", "outgoing"), ("check", "Box"), ("test-email",)])
def test_a_chosen_keyring_that_cannot_load_is_explained_not_a_traceback(args, run_cli, tmp_path, real_keyring,
                                                                       mailroom_home):
    write_toml(tmp_path / "s.toml", settings(mailboxes=[mailbox("Box", port=995, user="u", host="pop.example.com")],
                                             outgoing={"host": "smtp.example.com", "username": "u@example.com",
                                                       "email": "u@example.com"}))
    assert run_cli("config", "import", str(tmp_path / "s.toml")).returncode == 0
    env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home),
           "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    result = subprocess.run([sys.executable, "-c", _WITHOUT_KEYRINGS_ALT, *args], input=CANARY + "\n", env=env,
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert ("The password store chosen with PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring "
            "could not be loaded") in result.stderr + result.stdout
    assert "pip install 'mailroom[plaintext-keyring]'" in result.stderr + result.stdout


def test_a_misspelt_keyring_choice_is_explained(run_cli):
    result = run_cli("password", "set", "outgoing", input=CANARY + "\n",
                     env={"PYTHON_KEYRING_BACKEND": "keyring.backends.SecretServic.Keyring"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "PYTHON_KEYRING_BACKEND=keyring.backends.SecretServic.Keyring could not be loaded" in result.stderr
    assert "Check the name, or unset it" in result.stderr


def test_the_advice_says_how_to_install_the_plain_text_keyring():
    if sys.platform.startswith("linux"):
        assert "pip install 'mailroom[plaintext-keyring]'" in secrets._how_to_fix()


class _TextFileKeyring(keyring.backend.KeyringBackend):
    """Stands in for keyrings.alt.file.PlaintextKeyring (an optional extra, not installed for
    the tests: installed, it changes which backend keyring picks for everything else). It
    has the same `file_path` and `scheme` attributes and writes a real file."""

    scheme = "no encyption"      # sic, as keyrings.alt spells it
    file_path = ""
    priority = 0.5
    viable = False               # used only when set explicitly, never auto-detected

    def get_password(self, service, username):
        return None

    def set_password(self, service, username, password):
        with open(self.file_path, "a", encoding="utf-8") as fh:
            fh.write(f"{service} {username} {password}\n")

    def delete_password(self, service, username):
        return None


def test_a_chosen_plain_text_keyring_says_where_the_file_is(tmp_path, monkeypatch):
    chosen = _TextFileKeyring()
    chosen.file_path = str(tmp_path / "keyring_pass.cfg")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    previous = keyring.get_keyring()
    keyring.set_keyring(chosen)
    try:
        stored = secrets.Secrets("install").set("outgoing", CANARY)
    finally:
        keyring.set_keyring(previous)
    assert stored.file == chosen.file_path and stored.plain_text
    assert stored.description.startswith(f"a plain-text file, {chosen.file_path} (not encrypted")
    assert CANARY in (tmp_path / "keyring_pass.cfg").read_text()


class _GoodKeyring(_PlainFileKeyring):
    priority = 5
    viable = False


def test_a_chain_of_backends_never_falls_back_to_a_plain_file(monkeypatch):
    """keyring chains every installed backend; a plain file among them must not be used unasked."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "load_config", lambda: None)
    good, plain = _GoodKeyring(), _PlainFileKeyring()

    class Chain(ChainerBackend):
        backends = [good, plain]     # these members instead of every installed backend
        viable = False

    class PlainOnlyChain(Chain):
        backends = [plain]

    previous = keyring.get_keyring()
    try:
        keyring.set_keyring(Chain())
        assert secrets.backend() is good
        keyring.set_keyring(PlainOnlyChain())
        with pytest.raises(CredentialError, match="plain file"):
            secrets.backend()
    finally:
        keyring.set_keyring(previous)


def test_the_system_keyring_is_described_as_such(real_keyring, monkeypatch):
    for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "HOME"):
        if name in real_keyring:
            monkeypatch.setenv(name, real_keyring[name])
    from keyring.backends.SecretService import Keyring as SecretService

    previous = keyring.get_keyring()
    keyring.set_keyring(SecretService())
    try:
        stored = secrets.Secrets("install-described").set("outgoing", CANARY)
    finally:
        keyring.set_keyring(previous)
    assert (stored.file, stored.description) == (None, "the system keyring")


def test_the_core_imports_neither_flask_nor_pystray():
    code = ("import sys, pkgutil, importlib, mailroom\n"
            "for m in pkgutil.walk_packages(mailroom.__path__, 'mailroom.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "bad = [n for n in sys.modules if n.split('.')[0] in ('flask', 'pystray', 'werkzeug', 'PIL')]\n"
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
