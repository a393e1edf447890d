"""`mailroom fetch`, `check`, `stats`, `explain`, `mailbox reset` and `run --headless` as a user
runs them, and every command they suggest, run as printed."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from mailroom.worker import mailbox_lock
from tests.conftest import REPO_ROOT
from tests.helpers import mailbox, outgoing, settings, write_toml
from tests.mailgen import make_message

FETCH_KEYS = {"mailbox", "listed", "new", "imported", "duplicates", "skipped_before_cutoff", "quarantined",
              "too_large", "deleted", "error", "error_kind"}


def test_fetch_once_reports_json_and_stats_count_it(configure, mailbox_user, run_cli, mailroom_home):
    configure(create_tasks=True, task_type="Inquiry")
    fresh = dt.datetime.now(dt.timezone.utc)            # older mail than a week is backlog: no task
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, date=fresh) for i in range(3))
    result = run_cli("fetch", "--once", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"mailboxes", "sent", "send_failed", "send_waiting", "send_error", "interrupted"}
    [box] = report["mailboxes"]
    assert set(box) == FETCH_KEYS
    assert (box["mailbox"], box["listed"], box["new"], box["imported"], box["error"]) == ("Studio", 3, 3, 3, None)

    with sqlite3.connect(mailroom_home / "mailroom.db") as conn:      # the activity log
        run = conn.execute("SELECT imported, new, error, started_at <= ended_at FROM runs").fetchall()
    assert run == [(3, 3, None, 1)]
    stats = json.loads(run_cli("stats", "--json").stdout)
    assert stats == {"clients": 3, "messages_in": 3, "messages_out": 0, "tasks": 3, "quarantined": 0,
                     "outbox": {"pending": 0, "sending": 0, "sent": 0, "failed": 0, "uncertain": 0}}
    text = run_cli("fetch")                                           # --once is the default
    assert text.returncode == 0 and "Studio: 0 imported" in text.stdout


def test_fetch_once_exits_non_zero_when_a_mailbox_fails(configure, run_cli):
    configure(password="wrong")
    result = run_cli("fetch", "--once", "--json")
    assert result.returncode == 1
    [box] = json.loads(result.stdout)["mailboxes"]
    assert box["error_kind"] == "auth" and "rejected" in box["error"]


def test_explain_decides_without_storing(configure, run_cli, tmp_path):
    configure(create_tasks=True, task_type="Inquiry")
    eml = tmp_path / "inquiry.eml"
    eml.write_bytes(make_message(7, sender="Jane Doe <jane@example.com>", date=dt.datetime.now(dt.timezone.utc)))
    result = run_cli("explain", str(eml), "--json")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["client"] == {"match": "new", "name": "Jane Doe", "email": "jane@example.com"}
    assert decision["conversation"]["is_reply"] is False
    assert decision["task"]["action"] == "create"
    assert decision["autoreply"]["send"] is False
    assert json.loads(run_cli("stats", "--json").stdout)["messages_in"] == 0


def test_a_mailbox_held_by_another_process_is_reported_busy(ctx, configure, run_cli):
    box = configure()
    with mailbox_lock(box.id):
        result = run_cli("fetch", "--once", "--json")
    [report] = json.loads(result.stdout)["mailboxes"]
    assert report["error_kind"] == "busy"
    assert result.returncode == 1


def test_run_headless_imports_and_stops_on_sigterm(configure, mailbox_user, mailroom_home, real_keyring):
    configure()
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(4))
    env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home)}
    proc = subprocess.Popen([sys.executable, "-m", "mailroom", "run", "--headless"], env=env, cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while stored(mailroom_home) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "1 enabled mailbox" in out and "Stopping" in out
    assert stored(mailroom_home) == 4


def stored(home) -> int:
    with sqlite3.connect(home / "mailroom.db") as conn:
        return conn.execute("SELECT count(*) FROM messages").fetchone()[0]


# --- suggested commands -----------------------------------------------------------------

SUGGESTED = re.compile(r"(?:^\s*|: |`)(mailroom [^`\n]*)", re.MULTILINE)


def suggested(result) -> list[list[str]]:
    """Every command an output suggests, split as a POSIX shell would split it."""
    return [shlex.split(line) for line in SUGGESTED.findall(result.stdout + result.stderr)]


def run_as_printed(run_cli, argv: list[str], input: str | None = None):
    assert argv[0] == "mailroom"
    result = run_cli(*argv[1:], input=input)
    assert result.returncode == 0, (argv, result.stdout, result.stderr)
    return result


def test_every_suggested_command_works_as_printed(mailbox_user, smtp, certs, run_cli, tmp_path):
    name = "Ann's desk"                                            # a space and a quote to survive the shell
    doc = settings(mailboxes=[mailbox(name, port=mailbox_user.dovecot.pop3s_port, user=mailbox_user.name,
                                      email=mailbox_user.address, ca_file=certs.ca_crt)],
                   outgoing=outgoing(smtp, ca_file=certs.ca_crt))
    path = write_toml(tmp_path / "settings.toml", doc)
    set_box = ["mailroom", "password", "set", "mailbox", name]

    imported = run_cli("config", "import", str(path))
    assert suggested(imported) == [set_box, ["mailroom", "password", "set", "outgoing"]]
    assert suggested(run_cli("fetch")) == [set_box]                 # "No password is saved ... Save it with:"
    assert suggested(run_cli("password", "set", "mailbox")) == [set_box]       # "Say which mailbox:"
    run_as_printed(run_cli, set_box, input="not-the-password\n")
    rejected = run_cli("check", name)
    assert rejected.returncode == 1 and suggested(rejected) == [set_box]       # "Save the right password with:"
    run_as_printed(run_cli, set_box, input=mailbox_user.password + "\n")
    run_as_printed(run_cli, suggested(imported)[1], input="studiopw\n")
    assert run_cli("check").returncode == 0 and run_cli("test-email").returncode == 0

    for refused in (run_cli("mailbox", "reset", name),
                    run_cli("config", "export", str(path)),
                    run_cli("config", "import", str(write_toml(tmp_path / "empty.toml", {})))):
        assert refused.returncode == 1
        [argv] = suggested(refused)
        run_as_printed(run_cli, argv)
    nothing_left = run_cli("fetch")                                  # the prune removed the mailbox
    [argv] = suggested(nothing_left)
    assert "usage: mailroom config import" in run_as_printed(run_cli, argv).stdout


# --- fetch and check ------------------------------------------------------------------------

def test_smtp_down_says_what_waits_and_why_and_exits_1(configure, mailbox_user, smtp, run_cli):
    configure(templates=[{"name": "Thanks", "kind": "form_letter", "subject": "Thanks", "body": "Thanks."}],
              autoreply=True, autoreply_template="Thanks")
    now = dt.datetime.now(dt.timezone.utc)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, date=now,
                                           extra_headers=[("Return-Path", f"<c{i}@example.com>")]) for i in range(2))
    with smtp.temporarily_down():
        down = run_cli("fetch")
        as_json = json.loads(run_cli("fetch", "--json").stdout)
    assert down.returncode == 1
    lines = down.stdout.splitlines()
    assert "Auto-replies: 0 sent, 0 failed, 2 waiting." in lines
    [why] = [line for line in lines if line.startswith("Auto-replies could not be sent: ")]
    assert "127.0.0.1" in why and "refused" in why
    assert (as_json["send_waiting"], as_json["send_error"] is not None) == (2, True)
    up = run_cli("fetch")
    assert up.returncode == 0 and "Auto-replies: 2 sent, 0 failed." in up.stdout


def test_check_without_a_name_checks_every_mailbox(configure, run_cli):
    configure()
    result = run_cli("check")
    assert result.returncode == 0 and result.stdout.startswith('Mailbox "Studio" works: 0 messages')
    report = json.loads(run_cli("check", "--json").stdout)
    assert report["ok"] is True and [m["mailbox"] for m in report["mailboxes"]] == ["Studio"]
    configure(password="wrong")
    failed = run_cli("check")
    assert failed.returncode == 1 and failed.stdout.startswith('Mailbox "Studio": ')


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_fetch_stops_cleanly_and_reports_the_import(signum, status, configure, mailbox_user,
                                                                      mailroom_home, real_keyring):
    configure(create_tasks=True, task_type="Inquiry")
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(600))  # a parser helper too
    env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home)}
    # its own process group, signalled as a whole, as Ctrl-C in a terminal signals the parser helper too
    proc = subprocess.Popen([sys.executable, "-m", "mailroom", "fetch"], env=env, cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while stored_safely(mailroom_home) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, out + err
    assert "Traceback" not in err and "leaked" not in err, err
    imported = stored(mailroom_home)
    assert 0 < imported < 600
    assert f"Studio: {imported} imported" in out and "Interrupted" in out
    assert mailbox_user.dovecot.wait_pop3_logouts(mailbox_user.name, 1)   # the session ended with QUIT
    again = subprocess.run([sys.executable, "-m", "mailroom", "fetch", "--json"], env=env, cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=120)
    assert json.loads(again.stdout)["mailboxes"][0]["imported"] == 600 - imported
    assert stored(mailroom_home) == 600


def stored_safely(home) -> int:
    try:
        return stored(home)
    except sqlite3.OperationalError:
        return 0                                                     # not created yet, or locked


def test_a_second_run_refuses_to_start_and_a_killed_one_blocks_nothing(configure, mailroom_home, real_keyring):
    configure()
    env = {**real_keyring, "MAILROOM_HOME": str(mailroom_home)}
    command = [sys.executable, "-m", "mailroom", "run", "--headless"]

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        assert "enabled mailbox" in proc.stdout.readline()          # printed once it holds the lock
        return proc

    first = start()
    try:
        second = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert second.stderr.strip() == (f"Mailroom is already running on the data folder {mailroom_home}. "
                                         "`mailroom open --print` prints a login address for its page; stop it "
                                         "before starting another (or set MAILROOM_HOME to use another data folder).")
    finally:
        first.kill()                                                 # SIGKILL: no chance to clean up
        first.communicate(timeout=30)
    third = start()
    third.send_signal(signal.SIGTERM)
    _out, err = third.communicate(timeout=30)
    assert third.returncode == 0, err


def test_mailbox_reset_forgets_seen_uids_and_files_nothing_twice(configure, mailbox_user, smtp, run_cli):
    configure(templates=[{"name": "Thanks", "kind": "form_letter", "subject": "Thanks", "body": "Thanks."}],
              autoreply=True, autoreply_template="Thanks", create_tasks=True, task_type="Inquiry")
    now = dt.datetime.now(dt.timezone.utc)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address, date=now,
                                           extra_headers=[("Return-Path", f"<c{i}@example.com>")]) for i in range(3))
    assert "Studio: 3 imported" in run_cli("fetch").stdout
    assert len(smtp.capture.wait_for(3)) == 3
    unconfirmed = run_cli("mailbox", "reset", "Studio")
    assert unconfirmed.returncode == 1 and "(3 listed, 0 new)" in run_cli("fetch").stdout
    reset = run_cli("mailbox", "reset", "--yes", "Studio")
    assert reset.returncode == 0 and 'Mailbox "Studio": forgot 3 seen messages.' in reset.stdout
    again = run_cli("fetch")
    assert "Studio: 0 imported, 3 duplicates" in again.stdout and "Auto-replies: 0 sent" in again.stdout
    stats = json.loads(run_cli("stats", "--json").stdout)
    assert (stats["messages_in"], stats["tasks"], stats["outbox"]["sent"]) == (3, 3, 3)
    assert len(smtp.capture) == 3


# --- explain --------------------------------------------------------------------------------

def test_explain_speaks_in_sentences_and_lists_every_blocking_rule(configure, run_cli, tmp_path):
    configure(templates=[{"name": "Thanks", "kind": "form_letter", "subject": "Thanks", "body": "Thanks."}],
              autoreply=True, autoreply_template="Thanks", create_tasks=True, task_type="Inquiry")
    eml = tmp_path / "list.eml"
    two_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)    # too old to answer, not backlog
    eml.write_bytes(make_message(3, sender="News <news@lists.example.com>", subject="June news", date=two_days_ago,
                                 extra_headers=[("List-Id", "<news.lists.example.com>"), ("Precedence", "bulk"),
                                                ("Auto-Submitted", "auto-generated")]))
    result = run_cli("explain", str(eml))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith('As mailbox "Studio", for the email from news@lists.example.com with subject '
                               '"June news"')
    assert ("Client: none. The message is marked Auto-Submitted: auto-generated. Automated mail from "
            "news@lists.example.com does not create a client.") in lines
    assert any(line.startswith("Task: none. ") and "tasks_for_automated_mail is off" in line for line in lines)
    assert "Auto-reply: none, because:" in lines
    reasons = [line for line in lines if line.startswith("  - ")]
    assert len(reasons) >= 4                      # no Return-Path, Auto-Submitted, Precedence, List-Id, old, ...
    assert not any(("{" in line or "': " in line) for line in lines)          # no Python reprs
    decision = json.loads(run_cli("explain", "--json", str(eml)).stdout)
    rules = [b["rule"] for b in decision["autoreply"]["blocked_by"]]
    assert rules[0] == decision["autoreply"]["rule"]
    assert {"null-sender", "auto-submitted", "precedence", "list-header", "too-old"} <= set(rules)
    assert len(reasons) == len(rules)


def test_explain_applies_the_cutoff_and_knows_what_is_stored(configure, mailbox_user, run_cli, tmp_path):
    configure(exclude_before="2026-02-01")
    old, new = (make_message(i, to=mailbox_user.address, date=dt.datetime(2026, m, 10, tzinfo=dt.timezone.utc))
                for i, m in ((1, 1), (2, 3)))
    (tmp_path / "old.eml").write_bytes(old)
    (tmp_path / "new.eml").write_bytes(new)
    skipped = run_cli("explain", str(tmp_path / "old.eml")).stdout
    assert ("It would be skipped and never downloaded: it is dated 2026-01-10, before the mailbox's "
            "exclude_before (2026-02-01).") in skipped
    decision = json.loads(run_cli("explain", "--json", str(tmp_path / "old.eml")).stdout)
    assert decision["cutoff"] == {"exclude_before": "2026-02-01", "date": "2026-01-10T00:00:00+00:00",
                                  "skipped": True}
    assert "does not skip it" in run_cli("explain", str(tmp_path / "new.eml")).stdout
    mailbox_user.deliver(new)
    assert "Studio: 1 imported" in run_cli("fetch").stdout
    stored_now = run_cli("explain", str(tmp_path / "new.eml")).stdout
    assert "It is already stored (message 1): a fetch would count it as a duplicate" in stored_now
    assert json.loads(run_cli("explain", "--json", str(tmp_path / "new.eml")).stdout)["already_stored"] == {
        "message_pk": 1}


@pytest.mark.parametrize("content", [b"Dear Ann,\nsee you on Friday.\n", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"])
def test_explain_says_when_a_file_is_not_an_email(configure, run_cli, tmp_path, content):
    configure()
    path = tmp_path / "note.eml"
    path.write_bytes(content)
    result = run_cli("explain", str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("This does not look like an email") and len(result.stderr.splitlines()) == 1
    assert json.loads(run_cli("explain", "--json", str(path)).stdout)["error_kind"] == "not_email"
