"""The `mailroom` command line.

Each subcommand is a thin wrapper: parse arguments, call the core, print one plain
sentence (or JSON with --json), exit non-zero on failure. A MailroomError becomes
its message on stderr and exit status 1; no traceback reaches a user.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from mailroom import __version__, logs, paths
from mailroom.errors import ConfigError, MailroomError


def _context(args):
    from mailroom.context import Context

    return Context.open(timeout=getattr(args, "timeout", None) or 30.0)


def cmd_config_import(args) -> int:
    from mailroom.settings import repo, tomlfile

    doc, warnings = tomlfile.read(Path(args.file))
    ctx = _context(args)
    repo.save(ctx.engine, doc)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    counts = ", ".join(f"{len(doc[k])} {k.replace('_', ' ')}" for k in ("mailboxes", "users", "templates"))
    print(f"Settings imported from {args.file} ({counts}).")
    return 0


def cmd_config_export(args) -> int:
    from mailroom.settings import tomlfile

    ctx = _context(args)
    text = tomlfile.dumps(ctx.settings())
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"Settings exported to {args.file} (passwords are not included).")
    return 0


def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Again, to confirm: ") != first:
            raise ConfigError("The two passwords differ; nothing was saved.", field="password")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_password_set(args) -> int:
    from mailroom.secrets import backend, mailbox_account, outgoing_account

    backend()  # fail before asking for a password that could not be stored
    ctx = _context(args)
    if args.account == "outgoing":
        account, what = outgoing_account(), "the outgoing account"
    else:
        if not args.description:
            raise ConfigError("Say which mailbox: mailroom password set mailbox DESCRIPTION")
        mailbox_id, _box = ctx.mailbox(args.description)
        account, what = mailbox_account(mailbox_id), f'mailbox "{args.description}"'
    password = _read_password(f"Password for {what}: ")
    if not password:
        raise ConfigError("The password is empty; nothing was saved.", field="password")
    ctx.secrets.set(account, password)
    print(f"Password saved in the system keyring for {what}.")
    return 0


def _report(args, run) -> int:
    try:
        result = run()
    except MailroomError as exc:
        if args.json:
            print(json.dumps(exc.as_dict()))
            return 1
        raise
    print(json.dumps(result.as_dict()) if args.json else result.message)
    return 0


def cmd_check(args) -> int:
    from mailroom.checks import check_mailbox

    return _report(args, lambda: check_mailbox(_context(args), args.description))


def cmd_test_email(args) -> int:
    from mailroom.checks import send_test_email

    return _report(args, lambda: send_test_email(_context(args), args.to))


def cmd_run(args) -> int:
    import signal
    import threading

    from mailroom.fetch import enabled_mailboxes
    from mailroom.worker import Worker

    ctx = _context(args)
    boxes = [b["description"] for b in enabled_mailboxes(ctx)]
    print(f"Mailroom {__version__}: data folder {paths.data_dir()}; "
          f"{len(boxes)} enabled mailbox{'es' if len(boxes) != 1 else ''}.", flush=True)
    if not boxes:
        print("Add mailboxes with `mailroom config import FILE`; see README.md, \"Settings file\".")
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    worker = Worker(ctx, after_runs=lambda: drain_outbox(ctx))
    worker.start()
    while not stopping.wait(0.5):
        continue  # a short wait keeps the main thread responsive to signals on every OS
    print("Stopping after the current message...", flush=True)
    worker.stop()
    return 0


def drain_outbox(ctx) -> tuple[int, int]:
    """Send pending auto-replies: (sent, failed)."""
    from mailroom.outbox import drain

    result = drain(ctx)
    return result.sent, result.failed


def cmd_fetch(args) -> int:
    from mailroom.fetch import enabled_mailboxes, load_mailbox_row
    from mailroom.worker import MailboxBusy, run_locked

    ctx = _context(args)
    boxes = [load_mailbox_row(ctx, args.mailbox)] if args.mailbox else enabled_mailboxes(ctx)
    reports = []
    for box in boxes:
        try:
            reports.append(run_locked(ctx, box).as_dict())
        except MailboxBusy:
            reports.append({"mailbox": box["description"], "error_kind": "busy",
                            "error": "Another Mailroom is checking this mailbox right now."})
    sent, failed = drain_outbox(ctx)
    failed_boxes = [r for r in reports if r.get("error")]
    if args.json:
        print(json.dumps({"mailboxes": reports, "sent": sent, "send_failed": failed}))
    else:
        for r in reports:
            if r.get("error"):
                print(f"{r['mailbox']}: {r['error']}")
            else:
                print(f"{r['mailbox']}: {r['imported']} imported, {r['duplicates']} duplicates, "
                      f"{r['skipped_before_cutoff']} skipped (before cutoff), {r['quarantined']} quarantined, "
                      f"{r['too_large']} too large (left on the server), "
                      f"{r['deleted']} deleted from the server ({r['listed']} listed, {r['new']} new).")
        print(f"Auto-replies: {sent} sent, {failed} failed.")
        from mailroom.store import records

        with ctx.engine.connect() as conn:
            outbox = records.stats(conn)["outbox"]
        if outbox["pending"] or outbox["uncertain"]:
            print(f"Outbox: {outbox['pending']} waiting to be sent, {outbox['uncertain']} uncertain "
                  "(interrupted while sending; not resent, check with the client).")
    return 1 if failed_boxes else 0


def cmd_stats(args) -> int:
    from mailroom.store import records

    ctx = _context(args)
    with ctx.engine.connect() as conn:
        stats = records.stats(conn)
    if args.json:
        print(json.dumps(stats))
    else:
        outbox = ", ".join(f"{v} {k}" for k, v in stats["outbox"].items())
        print(f"{stats['clients']} clients, {stats['messages_in']} messages in, {stats['messages_out']} out, "
              f"{stats['tasks']} tasks, {stats['quarantined']} quarantined; outbox: {outbox}.")
    return 0


def cmd_explain(args) -> int:
    from mailroom.importer import explain

    ctx = _context(args)
    result = explain(ctx, Path(args.file).read_bytes(), args.mailbox)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailroom", description="Files client email, opens tasks "
                                     "and sends auto-replies. Data folder: $MAILROOM_HOME, or the "
                                     "per-user data folder.")
    parser.add_argument("--version", action="version", version=f"mailroom {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run Mailroom (checks mailboxes on their schedule)")
    p.add_argument("--headless", action="store_true", help="no tray icon; log to the console")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("config", help="import or export the settings file (TOML)")
    config = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    q = config.add_parser("import", help="replace the settings with those in FILE (all or nothing)")
    q.add_argument("file", metavar="FILE")
    q.set_defaults(func=cmd_config_import)
    q = config.add_parser("export", help="write the settings to FILE ('-' for standard output); no passwords")
    q.add_argument("file", metavar="FILE")
    q.set_defaults(func=cmd_config_export)

    p = sub.add_parser("password", help="save a password in the system keyring")
    pw = p.add_subparsers(dest="password_command", metavar="ACTION", required=True)
    q = pw.add_parser("set", help="set the password of 'outgoing' or of 'mailbox DESCRIPTION' "
                      "(prompts, or reads one line from standard input)")
    q.add_argument("account", choices=("outgoing", "mailbox"))
    q.add_argument("description", nargs="?", metavar="DESCRIPTION")
    q.set_defaults(func=cmd_password_set)

    p = sub.add_parser("fetch", help="check mailboxes now and send pending auto-replies")
    p.add_argument("--once", action="store_true", required=True, help="run each mailbox once, then exit")
    p.add_argument("--mailbox", metavar="DESCRIPTION", help="only this mailbox (default: every enabled one)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("stats", help="count clients, messages, tasks and the outbox")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("explain", help="show what Mailroom would decide for one .eml file (stores nothing)")
    p.add_argument("file", metavar="FILE.eml")
    p.add_argument("--mailbox", metavar="DESCRIPTION", help="decide as this mailbox (default: the first)")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(func=cmd_explain)

    for name, func, help_ in (("check", cmd_check, "test a mailbox: connect, TLS, login, message count"),
                              ("test-email", cmd_test_email, "send a test email through the outgoing account")):
        p = sub.add_parser(name, help=help_)
        if name == "check":
            p.add_argument("description", metavar="DESCRIPTION", help="the mailbox's description")
        else:
            p.add_argument("--to", metavar="ADDRESS", help="recipient (default: the outgoing address)")
        p.add_argument("--json", action="store_true", help='print {"ok", "error_kind", "field", "message"}')
        p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="network timeout (default 30)")
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        logs.setup(paths.log_dir(), console=args.command == "run" and args.headless)
        return args.func(args)
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except MailroomError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
