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

from mailroom import secrets
from mailroom.errors import CredentialError
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


def test_the_core_imports_neither_flask_nor_pystray():
    code = ("import sys, pkgutil, importlib, mailroom\n"
            "for m in pkgutil.walk_packages(mailroom.__path__, 'mailroom.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "bad = [n for n in sys.modules if n.split('.')[0] in ('flask', 'pystray', 'werkzeug', 'PIL')]\n"
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
