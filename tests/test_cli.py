"""The command line as documented: --version, --help, the README's settings file, config round trip."""

from __future__ import annotations

import re
import tomllib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailroom import __version__
from mailroom.cli import build_parser
from mailroom.store.db import open_store
from mailroom.store.schema import metadata
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
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
