"""README.md stays true to the settings: its sample names every setting, in its own section."""

from __future__ import annotations

import re

import pytest

from mailroom.settings.fields import SECTIONS
from tests.conftest import REPO_ROOT


def sample_sections() -> dict[str, str]:
    """The README's settings sample, cut into its [section] / [[section]] parts."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    sample = readme.split("```toml", 1)[1].split("```", 1)[0]
    parts = re.split(r"^\[\[?(\w+)\]\]?.*$", sample, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.parametrize("section", SECTIONS, ids=[s.name for s in SECTIONS])
def test_the_settings_sample_names_every_setting(section):
    text = sample_sections()[section.name]
    missing = [f.name for f in section.fields if not re.search(rf"^#?\s*{f.name}\s*=", text, re.M)]
    assert missing == [], f"README.md's settings sample lacks [{section.name}] {', '.join(missing)}"
