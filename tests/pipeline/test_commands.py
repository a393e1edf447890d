"""`mailroom fetch --once`, `stats`, `explain` and `run --headless` as a user runs them."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

from mailroom.worker import mailbox_lock
from tests.conftest import REPO_ROOT
from tests.mailgen import make_message

FETCH_KEYS = {"mailbox", "listed", "new", "imported", "duplicates", "skipped_before_cutoff", "quarantined",
              "too_large", "deleted", "error", "error_kind"}


def test_fetch_once_reports_json_and_stats_count_it(configure, mailbox_user, run_cli, mailroom_home):
    configure(create_tasks=True, task_type="Inquiry")
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(3))
    result = run_cli("fetch", "--once", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"mailboxes", "sent", "send_failed"}
    [box] = report["mailboxes"]
    assert set(box) == FETCH_KEYS
    assert (box["mailbox"], box["listed"], box["new"], box["imported"], box["error"]) == ("Studio", 3, 3, 3, None)

    with sqlite3.connect(mailroom_home / "mailroom.db") as conn:      # the activity log
        run = conn.execute("SELECT imported, new, error, started_at <= ended_at FROM runs").fetchall()
    assert run == [(3, 3, None, 1)]
    stats = json.loads(run_cli("stats", "--json").stdout)
    assert stats == {"clients": 3, "messages_in": 3, "messages_out": 0, "tasks": 3, "quarantined": 0,
                     "outbox": {"pending": 0, "sending": 0, "sent": 0, "failed": 0, "uncertain": 0}}
    text = run_cli("fetch", "--once")
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
    eml.write_bytes(make_message(7, sender="Jane Doe <jane@example.com>"))
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
    with mailbox_lock(box["id"]):
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
