"""`mailroom config import` and `config export`: the settings file in and out.

Part of the command line (mailroom/cli.py has the parser): it prints what an import
adds, changes, renames and removes, refuses to remove data without --prune, removes a
pruned mailbox's password from the keyring, and ends by naming the passwords still to
set, each as a command that can be pasted as printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mailroom.cli import command, open_controller, plural
from mailroom.errors import CredentialError, MailroomError


def cmd_config_import(args) -> int:
    from mailroom.controller import Controller

    doc, warnings = Controller.read_settings_file(Path(args.file))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    ctl = open_controller(args)
    plan = ctl.plan_settings(doc)
    refused = bool(plan.needs_prune) and not args.prune
    if args.dry_run:
        print(f"Importing {args.file} would change:" if plan.changes else f"Importing {args.file} would change nothing.")
        _print_changes(plan)
        print("Nothing was changed (dry run).")
    if refused:
        error = plan.refusal()
        print(error.message, file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        print(f"To remove them: {command('config', 'import', '--prune', args.file)}", file=sys.stderr)
        return 1
    if args.dry_run:
        return 0
    plan, problems = ctl.replace_settings(doc, prune=args.prune)
    counts = ", ".join(plural(len(doc[k]), noun, k) for k, noun in
                       (("mailboxes", "mailbox"), ("users", "user"), ("templates", "template")))
    print(f"Settings imported from {args.file} ({counts}).")
    _print_changes(plan)
    for problem in problems:       # a removed mailbox's password that stayed in the keyring
        print(f"warning: {problem}", file=sys.stderr)
    _print_missing_passwords(ctl)
    return 0


def _print_changes(plan) -> None:
    for change in plan.changes:
        print(f"  {change.section}: {change.sentence()}")
    if any(c.section == "mailboxes" and c.action == "removed" for c in plan.changes):
        print("  (mail imported by a removed mailbox stays, filed under its clients, without a mailbox)")


def _print_missing_passwords(ctl) -> None:
    """Name the passwords still to set, each as the command that sets it."""
    from mailroom.secrets import password_command

    try:
        missing = [password_command(name) for name in ctl.missing_passwords()]
    except CredentialError as exc:
        print(f"Passwords cannot be saved yet: {exc.message}")
        return
    if missing:
        print("Passwords still to set:")
        for line in missing:
            print(f"  {line}")


def cmd_config_export(args) -> int:
    text = open_controller(args).export_settings()
    if args.file == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.file)
    if path.is_dir():
        raise MailroomError(f"{args.file} is a folder; name a file to write.", kind="file", field="file")
    if path.exists() and not args.force:
        raise MailroomError(f"{args.file} exists already; nothing was written. To replace it: "
                            f"{command('config', 'export', '--force', args.file)}", kind="file", field="file")
    try:
        path.write_text(text, encoding="utf-8")
    except FileNotFoundError:
        raise MailroomError(f"The folder {path.parent} does not exist; nothing was written.",
                            kind="file", field="file") from None
    except OSError as exc:
        raise MailroomError(f"{args.file} could not be written: {exc.strerror}.", kind="file", field="file") from None
    print(f"Settings exported to {args.file} (passwords are not included).")
    return 0


