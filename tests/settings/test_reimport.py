"""Re-importing settings as a user does, against real Dovecot, SMTP and keyring: a rename, an
empty file, --prune and a corrected cutoff never import a message twice or answer it twice."""

from __future__ import annotations

import copy
import datetime as dt
import sqlite3
import subprocess
import sys

import pytest

from tests.helpers import mailbox, outgoing, settings, write_toml
from tests.mailgen import make_message

THANKS = {"name": "Thanks", "kind": "form_letter", "subject": "Thank you", "body": "We got your email.\n"}


def inquiry(i: int, user) -> bytes:
    """A new client's email from five minutes ago: one that gets an auto-reply."""
    address = f"client{i}@example.com"
    return make_message(i, to=user.address, sender=f"Client Number{i} <{address}>",
                        date=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5),
                        extra_headers=[("Return-Path", f"<{address}>")])


@pytest.fixture
def studio(mailbox_user, smtp, certs, run_cli, tmp_path):
    """A settings document with mailbox "Sales" on the test's Dovecot user (auto-replies on) and
    the outgoing account on the test SMTP server, imported, with both passwords saved."""
    doc = settings(mailboxes=[mailbox("Sales", port=mailbox_user.dovecot.pop3s_port, user=mailbox_user.name,
                                      email=mailbox_user.address, ca_file=certs.ca_crt, autoreply=True,
                                      autoreply_template="Thanks", create_tasks=True, task_type="Inquiry")],
                   outgoing=outgoing(smtp, ca_file=certs.ca_crt), templates=[THANKS],
                   task_types=[{"name": "Inquiry"}], task_statuses=[{"name": "New"}])
    imported = run_cli("config", "import", str(write_toml(tmp_path / "settings.toml", doc)))
    assert imported.returncode == 0, imported.stderr
    assert run_cli("password", "set", "mailbox", "Sales", input=mailbox_user.password + "\n").returncode == 0
    assert run_cli("password", "set", "outgoing", input="studiopw\n").returncode == 0
    return doc


def fetch(run_cli) -> str:
    result = run_cli("fetch")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def rows(home, sql: str) -> list[tuple]:
    with sqlite3.connect(home / "mailroom.db") as conn:
        return conn.execute(sql).fetchall()


def test_renaming_a_mailbox_imports_nothing_again_and_answers_nobody_twice(studio, mailbox_user, smtp, run_cli,
                                                                           tmp_path, mailroom_home):
    mailbox_user.deliver_many(inquiry(i, mailbox_user) for i in range(25))
    assert "Sales: 25 imported" in fetch(run_cli)
    assert len(smtp.capture.wait_for(25)) == 25

    renamed = copy.deepcopy(studio)
    renamed["mailboxes"][0]["description"] = "Sales inbox"
    result = run_cli("config", "import", str(write_toml(tmp_path / "renamed.toml", renamed)))
    assert result.returncode == 0, result.stderr
    assert '  mailboxes: "Sales" renamed to "Sales inbox"' in result.stdout.splitlines()
    assert "Passwords still to set" not in result.stdout           # the password came along

    out = fetch(run_cli)
    assert "Sales inbox: 0 imported, 0 duplicates" in out and "(25 listed, 0 new)" in out
    assert "Auto-replies: 0 sent, 0 failed." in out
    assert len(smtp.capture) == 25
    assert rows(mailroom_home, "SELECT count(*) FROM messages WHERE direction = 'in'") == [(25,)]
    check = run_cli("check", "Sales inbox")
    assert check.returncode == 0 and 'Mailbox "Sales inbox" works: 25 messages' in check.stdout

    mailbox_user.deliver(inquiry(25, mailbox_user))                 # and it goes on working
    assert "Sales inbox: 1 imported" in fetch(run_cli)
    assert len(smtp.capture.wait_for(26)) == 26


def test_an_empty_file_is_refused_and_the_real_one_again_changes_nothing(studio, mailbox_user, smtp, run_cli,
                                                                         tmp_path):
    mailbox_user.deliver_many(inquiry(i, mailbox_user) for i in range(5))
    fetch(run_cli)
    assert len(smtp.capture.wait_for(5)) == 5
    exported = run_cli("config", "export", "-").stdout
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    result = run_cli("config", "import", str(empty))
    assert result.returncode == 1
    assert '  mailboxes: "Sales" (5 messages imported)' in result.stderr.splitlines()
    assert '  templates: "Thanks" (used by 1 removed mailbox)' in result.stderr.splitlines()
    assert run_cli("config", "export", "-").stdout == exported

    again = run_cli("config", "import", str(tmp_path / "settings.toml"))
    assert again.returncode == 0 and "renamed" not in again.stdout and "added" not in again.stdout
    assert "Sales: 0 imported" in fetch(run_cli)
    assert len(smtp.capture) == 5


def saved_password(real_keyring, home, account: str) -> str | None:
    [(install_id,)] = rows(home, "SELECT value FROM meta WHERE key = 'install_id'")
    code = f"import keyring; print(keyring.get_password('mailroom', '{install_id}:{account}'))"
    result = subprocess.run([sys.executable, "-c", code], env=real_keyring, capture_output=True, text=True,
                            check=True, timeout=30)
    value = result.stdout.strip()
    return None if value == "None" else value


def test_prune_removes_the_mailbox_and_its_password_and_keeps_its_mail(studio, mailbox_user, smtp, run_cli,
                                                                       tmp_path, mailroom_home, real_keyring):
    mailbox_user.deliver_many(inquiry(i, mailbox_user) for i in range(3))
    fetch(run_cli)
    [(sales_id,)] = rows(mailroom_home, "SELECT id FROM mailboxes")
    assert saved_password(real_keyring, mailroom_home, f"mailbox:{sales_id}") == mailbox_user.password

    lacking = copy.deepcopy(studio)
    del lacking["mailboxes"]
    path = write_toml(tmp_path / "no-mailboxes.toml", lacking)
    assert run_cli("config", "import", str(path)).returncode == 1
    result = run_cli("config", "import", "--prune", str(path))
    assert result.returncode == 0, result.stderr
    assert '  mailboxes: "Sales" removed (3 messages imported)' in result.stdout.splitlines()
    assert rows(mailroom_home, "SELECT count(*) FROM mailboxes") == [(0,)]
    assert rows(mailroom_home, "SELECT count(*), count(mailbox_id), count(client_id) FROM messages "
                               "WHERE direction = 'in'") == [(3, 0, 3)]
    assert saved_password(real_keyring, mailroom_home, f"mailbox:{sales_id}") is None


def test_a_corrected_cutoff_brings_back_what_it_skipped(studio, mailbox_user, run_cli, tmp_path):
    old = [make_message(i, to=mailbox_user.address, date=dt.datetime(2026, 3, i, 12, tzinfo=dt.timezone.utc))
           for i in range(1, 4)]
    mailbox_user.deliver_many(old)
    too_late = copy.deepcopy(studio)
    too_late["mailboxes"][0]["exclude_before"] = dt.date(2026, 6, 1)
    assert run_cli("config", "import", str(write_toml(tmp_path / "late.toml", too_late))).returncode == 0
    assert "Sales: 0 imported, 0 duplicates, 3 skipped (before cutoff)" in fetch(run_cli)

    corrected = copy.deepcopy(studio)
    corrected["mailboxes"][0]["exclude_before"] = dt.date(2026, 3, 2)
    assert run_cli("config", "import", str(write_toml(tmp_path / "fixed.toml", corrected))).returncode == 0
    out = fetch(run_cli)      # the two after the new cutoff come back; the one before stays skipped
    assert "Sales: 2 imported, 0 duplicates, 0 skipped (before cutoff)" in out and "(3 listed, 2 new)" in out
    assert "(3 listed, 0 new)" in fetch(run_cli)
