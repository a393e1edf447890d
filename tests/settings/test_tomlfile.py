"""The settings file: a syntax error is reported once, with its line and column."""

from __future__ import annotations

import pytest

from mailroom.errors import ConfigError
from mailroom.settings import tomlfile


def test_a_syntax_error_is_reported_once_with_line_and_column(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[company]\nname = "Lumen"\nphone "0123"\n')
    with pytest.raises(ConfigError) as err:
        tomlfile.read(path)
    assert err.value.message == f"{path} is not valid TOML; nothing was changed."
    assert err.value.problems == ["line 3, column 7: expected '=' after a key in a key/value pair"]


def test_the_command_line_prints_the_syntax_error_once(run_cli, tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[company\nname = 1\n")
    result = run_cli("config", "import", str(path))
    assert result.returncode == 1
    assert result.stderr.count("expected ']' at the end of a table declaration") == 1, result.stderr
    assert "line 1, column 9" in result.stderr and "Traceback" not in result.stderr


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes('[company]\nname = "Caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        tomlfile.read(path)
