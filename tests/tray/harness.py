"""A child process that runs the real tray for the tests, the way the app will.

    python -m tests.tray.harness --record FILE [--quiet S] [--no-worker]

A real Controller on the data folder in MAILROOM_HOME (started unless --no-worker),
then `tray.app.run_tray` on the main thread. `open_page` and `on_quit` append JSON lines
to FILE. Commands on standard input, one per line:

    check                 controller.check_now()
    password ID SECRET    controller.set_password(ID, SECRET)
    show STATE            post a made-up Status for icon STATE (idle, checking, new, error, paused)
    menu TEXT             run the pystray menu item whose text starts with TEXT
    stop                  tray.app.stop_tray(), as a SIGTERM handler would
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading

from mailroom import paths
from mailroom.controller import Controller
from mailroom.model import MailboxState, OutboxCounts, Status
from tray import app

_lock = threading.Lock()


def made_up(state: str, seq: int) -> Status:
    box = MailboxState(id=1, description="Sales", enabled=True, state={"new": "waiting"}.get(state, state),
                       error_kind="auth" if state == "error" else None)
    return Status(paused=state == "paused", paused_until=None, mailboxes=(box,), outbox=OutboxCounts(),
                  quarantined=0, unread=3 if state == "new" else 0, seq=seq)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--record", required=True)
    parser.add_argument("--quiet", type=float, default=0.0)
    parser.add_argument("--no-worker", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(threadName)s %(name)s: %(message)s")

    def record(event: str, **fields) -> None:
        with _lock, open(args.record, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, **fields}) + "\n")

    controller = Controller.open(timeout=10)
    if not args.no_worker:
        controller.start()

    def on_quit() -> None:
        controller.shutdown()
        record("quit")

    def commands() -> None:
        seq = 10**9
        for line in sys.stdin:
            word, _, rest = line.strip().partition(" ")
            tray = app.running_tray()
            if word == "check":
                controller.check_now()
            elif word == "password":
                mailbox_id, _, secret = rest.partition(" ")
                controller.set_password(int(mailbox_id), secret)
            elif word == "show" and tray is not None:
                seq += 1
                tray.post(made_up(rest, seq))
            elif word == "menu" and tray is not None and tray._icon is not None:
                item = next(i for i in tray._icon.menu.items if str(i.text).startswith(rest))
                item(tray._icon)
            elif word == "stop":
                app.stop_tray()
            record("done", command=line.strip())

    threading.Thread(target=commands, name="harness-commands", daemon=True).start()
    record("started")
    app.run_tray(controller, open_page=lambda path: record("open_page", path=path), data_dir=paths.data_dir(),
                 on_quit=on_quit, quiet_seconds=args.quiet, host_wait_seconds=5.0)
    record("returned")


if __name__ == "__main__":
    main()
