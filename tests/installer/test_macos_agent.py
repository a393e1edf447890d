"""The macOS LaunchAgent template that the app's `autostart` command fills in (no Mac
here: this checks the file the command will rely on)."""

from __future__ import annotations

import plistlib

from tests.conftest import REPO_ROOT

TEMPLATE = REPO_ROOT / "installer" / "macos" / "com.mailroom.agent.plist"


def test_the_launch_agent_template_starts_the_app_at_login_only():
    agent = plistlib.loads(TEMPLATE.read_bytes())
    assert agent["Label"] == TEMPLATE.stem  # launchctl finds the agent by its label
    assert agent["ProgramArguments"] == ["@EXECUTABLE@"]  # replaced with the app's executable
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] is False
    assert agent["LimitLoadToSessionType"] == "Aqua"  # a GUI login, not ssh or a background session
