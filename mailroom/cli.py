"""The `mailroom` command line.

Each subcommand is a thin wrapper: parse arguments, call the core, print plain
sentences (or JSON with --json), exit non-zero on failure. A MailroomError becomes
its message on stderr (with where to fix it, `fix_words`) and exit status 1; no traceback
reaches a user. Every command it suggests is printed quoted for a POSIX shell (shlex), so
it can be pasted as is.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import shlex
import sys
from pathlib import Path

from mailroom import __version__, logs, paths
from mailroom.errors import ConfigError, MailroomError


def open_controller(args):
    """The install's Controller (the command line is its first client); the worker is not started."""
    from mailroom.controller import Controller

    return Controller.open(timeout=getattr(args, "timeout", None) or 30.0)


def command(*words: str) -> str:
    """A mailroom command line, quoted to paste into a shell as printed."""
    return shlex.join(["mailroom", *words])


def fix_words(fix) -> str:
    """Where to fix a problem (an errors.Fix) as the command line says it: the command to
    paste; "" without one. The page says the same as a link to its form."""
    if fix is None:
        return ""
    from mailroom.secrets import password_command

    if fix.field == "password":
        return f"Save it with: {password_command(fix.entry if fix.section == 'mailboxes' else None)}"
    see = f"see: {command('config', 'import', '--help')}"
    if fix.section == "outgoing" and fix.field in (None, "host"):
        return f"Add an [outgoing] section to a settings file and import it; {see}"
    if fix.section == "mailboxes" and fix.entry is None:
        return f"Add one to a settings file and import it; {see}"
    return f"Set {fix.field or 'it'} in the [{fix.section}] section of a settings file and import it; {see}"


def with_fix(message: str, fix) -> str:
    """`message`, then where to fix it in the command line's words (once)."""
    words = fix_words(fix)
    return f"{message} {words}" if words and words not in message else message


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def _lazy(module: str, name: str):
    """A command defined in another module of the command line, imported when run."""
    def run(args) -> int:
        return getattr(importlib.import_module(module), name)(args)
    return run


def read_input(path: str) -> bytes:
    """The bytes of a file the user named; a one-line MailroomError when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise MailroomError(f"There is no file {path}.", kind="file", field="file") from None
    except IsADirectoryError:
        raise MailroomError(f"{path} is a folder; name a file.", kind="file", field="file") from None
    except OSError as exc:
        raise MailroomError(f"{path} could not be read: {exc.strerror}.", kind="file", field="file") from None


# --- passwords and mailboxes ----------------------------------------------------------

def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Again, to confirm: ") != first:
            raise ConfigError("The two passwords differ; nothing was saved.", field="password")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_password_set(args) -> int:
    from mailroom.secrets import password_command

    ctl = open_controller(args)
    problem = ctl.keyring_problem()   # fail before asking for a password that could not be stored
    if problem:
        raise MailroomError(problem, kind="keyring")
    if args.account == "outgoing":
        account, what = "outgoing", "the outgoing account"
    else:
        if not args.description:
            names = [b.description for b in ctl.mailboxes()]
            if not names:
                raise ConfigError("No mailbox is set up yet. Add one to a settings file and import it; "
                                  f"see: {command('config', 'import', '--help')}", field="description")
            raise ConfigError("Say which mailbox:", field="description",
                              problems=[password_command(name) for name in names])
        account, what = ctl.mailbox(args.description).id, f'mailbox "{args.description}"'
    ctl.set_password(account, _read_password(f"Password for {what}: "))
    print(f"Password saved in the system keyring for {what}.")
    return 0


def cmd_mailbox_reset(args) -> int:
    ctl = open_controller(args)
    mailbox_id = ctl.mailbox(args.description).id
    if not args.yes:
        raise ConfigError(f'This forgets which messages on the server mailbox "{args.description}" has '
                          "already seen, so the next fetch looks at every one again (messages already "
                          "stored are recognised and not filed or answered twice). Nothing was changed. "
                          f"To do it: {command('mailbox', 'reset', '--yes', args.description)}",
                          field="yes")
    count = ctl.forget_seen(mailbox_id)
    print(f'Mailbox "{args.description}": forgot {plural(count, "seen message")}. The next fetch looks at '
          "every message on the server again; those already stored count as duplicates.")
    return 0


# --- checks ---------------------------------------------------------------------------

def with_password_hint(exc: MailroomError, description: str | None) -> str:
    """The error's message; for a rejected login, plus the command that saves the password."""
    from mailroom.secrets import password_command

    if exc.fix is not None and exc.fix.field == "password":
        return with_fix(exc.message, exc.fix)
    if exc.kind == "auth" and exc.field == "password" and "mailroom password set" not in exc.message:
        return f"{exc.message} Save the right password with: {password_command(description)}"
    return exc.message


def cmd_check(args) -> int:
    ctl = open_controller(args)
    names = [args.description] if args.description else [b.description for b in ctl.mailboxes()]
    if not names:
        raise ConfigError("No mailbox is set up yet. Add one to a settings file and import it; see: "
                          f"{command('config', 'import', '--help')}", field="description")
    results = []
    for name in names:
        try:
            result = ctl.check_mailbox(ctl.mailbox(name).id).as_dict()
        except MailroomError as exc:
            exc.message = with_password_hint(exc, name)
            if args.description and not args.json:
                raise
            result = exc.as_dict()
        results.append({"mailbox": name, **result})
    if args.json:
        print(json.dumps({k: v for k, v in results[0].items() if k != "mailbox"} if args.description
                         else {"ok": all(r["ok"] for r in results), "mailboxes": results}))
    else:
        for r in results:
            print(r["message"] if r["ok"] else f'Mailbox "{r["mailbox"]}": {r["message"]}')
    return 0 if all(r["ok"] for r in results) else 1


def cmd_test_email(args) -> int:
    try:
        result = open_controller(args).send_test_email(args.to)
    except MailroomError as exc:
        exc.message = with_password_hint(exc, None)
        if not args.json:
            raise
        print(json.dumps(exc.as_dict()))
        return 1
    print(json.dumps(result.as_dict()) if args.json else result.message)
    return 0


def cmd_app(args) -> int:
    """`mailroom`, `mailroom --headless [--port N]` and its alias `mailroom run --headless`."""
    from mailroom import app

    return app.run(headless=args.headless, port=args.port)


def cmd_open(args) -> int:
    from mailroom import app

    return app.open_running(print_only=args.print)


def cmd_stats(args) -> int:
    stats = open_controller(args).stats().as_dict()
    if args.json:
        print(json.dumps(stats))
    else:
        outbox = ", ".join(f"{v} {k}" for k, v in stats["outbox"].items())
        print(f"{stats['clients']} clients, {stats['messages_in']} messages in, {stats['messages_out']} out, "
              f"{stats['tasks']} tasks, {stats['quarantined']} held back (unreadable or too large); "
              f"outbox: {outbox}.")
    return 0


def cmd_explain(args) -> int:
    from mailroom.cli_explain import sentences

    try:
        result = open_controller(args).explain(read_input(args.file), args.mailbox)
    except MailroomError as exc:
        if args.json:
            print(json.dumps(exc.as_dict()))
            return 1
        raise
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(sentences(result)))
    return 0


# --- the parser ---------------------------------------------------------------------------

def _import_help() -> str:
    from mailroom.settings.fields import SECTIONS

    names = [s.name for s in SECTIONS]
    return (f"Replace the settings ({', '.join(names[:-1])} and {names[-1]}) with those in FILE, all or "
            "nothing: every bad field is listed and nothing changes. A mailbox is recognised by its "
            "account (protocol, server and login), so renaming it keeps its mail, its seen messages and "
            "its password. Entries the file lacks are removed, except mailboxes and entries that tasks "
            "use: those only with --prune. Passwords are not part of the file; they stay in the keyring.")


def _app_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument("--headless", action="store_true",
                        help=prefix + "no tray icon and no browser: print the page's one-time login address, "
                        "log to the console")
    parser.add_argument("--port", type=int, metavar="N",
                        help=prefix + "the page's port on 127.0.0.1 (default 8765, or the next free one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailroom", description="Files client email, opens tasks "
                                     "and sends auto-replies. Data folder: $MAILROOM_HOME, or the "
                                     "per-user data folder.")
    parser.add_argument("--version", action="version", version=f"mailroom {__version__}")
    _app_options(parser, "without a COMMAND: ")
    parser.set_defaults(func=cmd_app)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run Mailroom: check mailboxes on their schedule and serve the page "
                       "(the same as `mailroom` with no COMMAND)")
    _app_options(p)
    p.set_defaults(func=cmd_app)

    p = sub.add_parser("open", help="open the running Mailroom's page in the browser (a fresh one-time login)")
    p.add_argument("--print", action="store_true", help="print the login address instead (e.g. for an SSH tunnel)")
    p.set_defaults(func=cmd_open)

    from mailroom.autostart import add_command as add_autostart

    add_autostart(sub)

    p = sub.add_parser("config", help="import or export the settings file (TOML)")
    config = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    q = config.add_parser("import", help="replace the settings with those in FILE (all or nothing)",
                          description=_import_help())
    q.add_argument("file", metavar="FILE", help="the settings file (TOML; README.md, \"Settings file\")")
    q.add_argument("--dry-run", action="store_true",
                   help="print what would be added, changed, renamed and removed; change nothing")
    q.add_argument("--prune", action="store_true",
                   help="also remove the mailboxes and the entries in use that FILE lacks (their "
                        "imported mail stays; a removed mailbox's password leaves the keyring)")
    q.set_defaults(func=_lazy("mailroom.cli_config", "cmd_config_import"))
    q = config.add_parser("export", help="write the settings to FILE ('-' for standard output); no passwords")
    q.add_argument("file", metavar="FILE", help="where to write; '-' for standard output")
    q.add_argument("--force", action="store_true", help="replace FILE if it exists")
    q.set_defaults(func=_lazy("mailroom.cli_config", "cmd_config_export"))

    p = sub.add_parser("password", help="save a password in the system keyring")
    pw = p.add_subparsers(dest="password_command", metavar="ACTION", required=True)
    q = pw.add_parser("set", help="set the password of 'outgoing' or of 'mailbox DESCRIPTION' "
                      "(prompts, or reads one line from standard input)")
    q.add_argument("account", choices=("outgoing", "mailbox"),
                   help="'outgoing' (the SMTP account) or 'mailbox' (then name it)")
    q.add_argument("description", nargs="?", metavar="DESCRIPTION", help="the mailbox's description")
    q.set_defaults(func=cmd_password_set)

    p = sub.add_parser("mailbox", help="manage one mailbox's state")
    mb = p.add_subparsers(dest="mailbox_command", metavar="ACTION", required=True)
    reset_help = ("forget which messages the mailbox has seen, so the next fetch looks at all of them "
                  "again (stored ones are recognised by Message-ID and content: not filed or answered twice)")
    q = mb.add_parser("reset", help=reset_help, description=reset_help[0].upper() + reset_help[1:] + ".")
    q.add_argument("description", metavar="DESCRIPTION", help="the mailbox's description")
    q.add_argument("--yes", action="store_true", help="do it (without it, only say what it would do)")
    q.set_defaults(func=cmd_mailbox_reset)

    p = sub.add_parser("fetch", help="check mailboxes now, once, and send pending auto-replies",
                       description="Check mailboxes once and send pending auto-replies. Exit status 1 "
                       "when a mailbox failed or an auto-reply could not be sent; 130 (Ctrl-C) or 143 "
                       "(SIGTERM) when stopped, after reporting what was imported.")
    p.add_argument("--once", action="store_true", help="run each mailbox once, then exit (the default)")
    p.add_argument("--mailbox", metavar="DESCRIPTION", help="only this mailbox (default: every enabled one)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=_lazy("mailroom.cli_fetch", "cmd_fetch"))

    p = sub.add_parser("stats", help="count clients, messages, tasks and the outbox")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("explain", help="show what Mailroom would decide for one .eml file (stores nothing)")
    p.add_argument("file", metavar="FILE.eml", help="one email, as saved by a mail program (.eml)")
    p.add_argument("--mailbox", metavar="DESCRIPTION", help="decide as this mailbox (default: the first)")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(func=cmd_explain)

    for name, func, help_ in (("check", cmd_check, "test a mailbox (or every one): connect, TLS, login, "
                                                   "message count"),
                              ("test-email", cmd_test_email, "send a test email through the outgoing account")):
        p = sub.add_parser(name, help=help_)
        if name == "check":
            p.add_argument("description", nargs="?", metavar="DESCRIPTION",
                           help="the mailbox's description (default: every mailbox)")
        else:
            p.add_argument("--to", metavar="ADDRESS", help="recipient (default: the outgoing address)")
        p.add_argument("--json", action="store_true", help='print {"ok", "error_kind", "field", "message"}'
                       + (' (without DESCRIPTION: {"ok", "mailboxes": [...]})' if name == "check" else ""))
        p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="network timeout (default 30)")
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        logs.setup(paths.log_dir(), console=args.command in (None, "run") and args.headless)
        return args.func(args)
    except ConfigError as exc:
        print(with_fix(exc.message, exc.fix), file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except MailroomError as exc:
        print(with_fix(exc.message, exc.fix), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
