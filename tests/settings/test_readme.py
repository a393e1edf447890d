"""Every setting is documented: help text in the field table, and a line in README.md's sample.

The test reads the field table, so whoever adds a field must document it in both places.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from mailroom.settings.fields import SECTIONS
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def settings_sample() -> str:
    section = README.split("## Settings file", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```toml\n(.*?)```", section, re.DOTALL).group(1)


def sample_blocks() -> dict[str, str]:
    """Each section's text in the sample (the first entry of a list section)."""
    blocks: dict[str, str] = {}
    current = None
    for line in settings_sample().splitlines():
        header = re.match(r"^\[\[?([a-z_]+)\]\]?", line)
        if header:
            current = header.group(1)
            blocks.setdefault(current, "")
        elif current:
            blocks[current] += line + "\n"
    return blocks


def test_the_sample_is_valid_toml():
    tomllib.loads(settings_sample())


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.name)
def test_every_setting_has_help_and_a_line_in_the_readme(section):
    block = sample_blocks().get(section.name)
    assert block is not None, f"README.md's settings sample has no [{section.name}] section"
    for f in section.fields:
        assert f.help.strip(), f"{section.name}.{f.name} has no help text"
        # set in the sample, or shown commented out: `# ca_file = "..."`
        assert re.search(rf"^(# )?{f.name} = ", block, re.MULTILINE), \
            f"{section.name}.{f.name} is missing from README.md's settings sample"
        for choice in f.choices:
            assert f'"{choice}"' in block, f"{section.name}.{f.name}: choice {choice!r} not shown in README.md"
