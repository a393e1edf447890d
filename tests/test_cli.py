"""The command line as documented: --version, --help, the README's settings file, config round trip."""

from __future__ import annotations

import argparse
import re
import tomllib

import pytest

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailroom import __version__
from mailroom.cli import build_parser
from mailroom.store.db import open_store
from mailroom.store.schema import include_name, metadata
from tests.conftest import REPO_ROOT
from tests.helpers import mailbox, settings, write_toml

README = (REPO_ROOT / "README.md").read_text()


def test_version_and_help(run_cli):
    assert run_cli("--version").stdout.strip() == f"mailroom {__version__}"
    help_text = run_cli("--help").stdout
    for command in ("run", "config", "password", "check", "test-email", "fetch", "stats", "explain"):
        assert re.search(rf"^\s+{command}\s+\S", help_text, re.MULTILINE) or f"{command}\n" in help_text, command
    for command in ("run", "config", "password", "check", "test-email", "fetch", "stats", "explain"):
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "usage: mailroom" in result.stdout


def test_every_readme_command_exists():
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    for line in re.findall(r"^    mailroom ([a-z-]+)", README, re.MULTILINE):
        assert line in commands, line


def test_the_readme_settings_file_imports_and_round_trips(run_cli, tmp_path):
    block = re.search(r"```toml\n(.*?)```", README, re.DOTALL).group(1)
    tomllib.loads(block)
    path = tmp_path / "readme.toml"
    path.write_text(block)
    result = run_cli("config", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""                                # no unknown keys in the documented file
    first = run_cli("config", "export", "-").stdout
    (tmp_path / "export.toml").write_text(first)
    assert run_cli("config", "import", str(tmp_path / "export.toml")).returncode == 0
    assert run_cli("config", "export", "-").stdout == first
    exported = tomllib.loads(first)
    assert set(exported) == {"company", "outgoing", "departments", "users", "task_types", "task_statuses",
                             "templates", "mailboxes"}
    assert exported["mailboxes"][0]["exclude_before"].isoformat() == "2026-01-01"


def test_a_bad_import_changes_nothing_and_lists_every_problem(run_cli, tmp_path):
    good = write_toml(tmp_path / "good.toml", settings(mailboxes=[mailbox("Sales", port=995, user="s@x.example",
                                                                             host="pop.x.example")]))
    assert run_cli("config", "import", str(good)).returncode == 0
    before = run_cli("config", "export", "-").stdout
    bad = settings(mailboxes=[mailbox("Sales", port=70000, user="s@x.example", host="pop x"),
                              mailbox("Other", port=995, user="o@x.example", host="pop.x.example",
                                      task_type="Nope", create_tasks=True)])
    result = run_cli("config", "import", str(write_toml(tmp_path / "bad.toml", bad)))
    assert result.returncode == 1
    assert "mailboxes[1].port: must be 1-65535" in result.stderr
    assert "mailboxes[1].host: must be a server name" in result.stderr
    assert "mailboxes[2].task_type: no task type named 'Nope'" in result.stderr
    assert run_cli("config", "export", "-").stdout == before
    broken = tmp_path / "broken.toml"
    broken.write_text("[company\nname = 1")
    result = run_cli("config", "import", str(broken))
    assert result.returncode == 1 and "is not valid TOML" in result.stderr


def test_unknown_mailbox_names_the_ones_that_exist(run_cli, tmp_path):
    write_toml(tmp_path / "s.toml", settings(mailboxes=[mailbox("Sales", port=995, user="u", host="pop.x.example")]))
    run_cli("config", "import", str(tmp_path / "s.toml"))
    result = run_cli("check", "Sale")
    assert result.returncode == 1 and 'No mailbox is called "Sale". Mailboxes: "Sales".' in result.stderr


def test_the_migrations_build_exactly_the_schema(mailroom_home):
    engine = open_store()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), metadata)
        fts = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'message_search'").scalar()
    assert diff == []
    assert fts.startswith("CREATE VIRTUAL TABLE message_search USING fts5(")   # made in SQL, not in schema.py


def _actions(parser, path=("mailroom",)):
    """(command path, action) for every argument of every (sub)command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), argparse.Action([name], name, help=helped.get(name))
                yield from _actions(sub, (*path, name))
        else:
            yield path, action


def test_help_describes_every_argument():
    missing = [f"{' '.join(path)} {action.dest}" for path, action in _actions(build_parser())
               if not action.help or action.help == argparse.SUPPRESS]
    assert missing == []


def test_config_import_help_says_what_it_replaces(run_cli):
    text = " ".join(run_cli("config", "import", "--help").stdout.split())
    assert "Replace the settings (company, outgoing, departments, users, task_types, task_statuses, " \
           "templates and mailboxes) with those in FILE" in text
    assert "--dry-run" in text and "--prune" in text and "renaming it keeps its mail" in text


@pytest.mark.parametrize("case", ["explain missing", "explain folder", "import folder", "import binary",
                                  "export into a missing folder"])
def test_unreadable_files_get_a_one_line_message(run_cli, tmp_path, case):
    (tmp_path / "folder").mkdir()
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    args = {"explain missing": ("explain", str(tmp_path / "nothing.eml")),
            "explain folder": ("explain", str(tmp_path / "folder")),
            "import folder": ("config", "import", str(tmp_path / "folder")),
            "import binary": ("config", "import", str(tmp_path / "photo.png")),
            "export into a missing folder": ("config", "export", str(tmp_path / "missing" / "s.toml"))}[case]
    result = run_cli(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert str(tmp_path) in result.stderr


def test_config_export_does_not_overwrite_without_force(run_cli, tmp_path):
    target = tmp_path / "settings.toml"
    target.write_text("# mine\n")
    result = run_cli("config", "export", str(target))
    assert result.returncode == 1 and target.read_text() == "# mine\n"
    assert f"To replace it: mailroom config export --force {target}" in result.stderr
    assert run_cli("config", "export", "--force", str(target)).returncode == 0
    assert target.read_text().startswith("# Mailroom settings.")


def test_an_empty_file_changes_nothing_and_names_what_it_lacks(run_cli, tmp_path):
    good = write_toml(tmp_path / "good.toml", settings(mailboxes=[mailbox("Sales", port=995, user="s@x.example",
                                                                             host="pop.x.example")]))
    assert run_cli("config", "import", str(good)).returncode == 0
    before = run_cli("config", "export", "-").stdout
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    result = run_cli("config", "import", str(empty))
    assert result.returncode == 1
    assert result.stdout == ""
    assert '  mailboxes: "Sales" (0 messages imported)' in result.stderr.splitlines()
    assert f"To remove them: mailroom config import --prune {empty}" in result.stderr
    assert run_cli("config", "export", "-").stdout == before


def test_dry_run_prints_each_change_and_changes_nothing(run_cli, tmp_path):
    first = settings(mailboxes=[mailbox("Sales", port=995, user="s@x.example", host="pop.x.example"),
                                mailbox("Old", port=995, user="o@x.example", host="pop.x.example")],
                     departments=[{"name": "Weddings"}, {"name": "Portraits"}])
    assert run_cli("config", "import", str(write_toml(tmp_path / "a.toml", first))).returncode == 0
    before = run_cli("config", "export", "-").stdout
    second = settings(mailboxes=[mailbox("Sales inbox", port=995, user="s@x.example", host="pop.x.example",
                                         poll_minutes=15),
                                 mailbox("New", port=995, user="n@x.example", host="pop.x.example")],
                      departments=[{"name": "Weddings"}, {"name": "Events"}])
    path = write_toml(tmp_path / "b.toml", second)
    result = run_cli("config", "import", "--dry-run", str(path))
    assert result.stdout.splitlines() == [
        f"Importing {path} would change:",
        '  departments: "Events" added',
        '  mailboxes: "Sales" renamed to "Sales inbox" (also changed: poll_minutes)',
        '  mailboxes: "New" added',
        '  departments: "Portraits" removed',
        '  mailboxes: "Old" removed (0 messages imported)',
        "  (mail imported by a removed mailbox stays, filed under its clients, without a mailbox)",
        "Nothing was changed (dry run)."]
    assert result.returncode == 1 and "--prune" in result.stderr            # as the real import would be
    assert run_cli("config", "export", "-").stdout == before
    pruned = run_cli("config", "import", "--dry-run", "--prune", str(path))
    assert pruned.returncode == 0 and pruned.stderr == ""
    assert run_cli("config", "export", "-").stdout == before
