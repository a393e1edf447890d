"""Where Mailroom keeps its files: the per-user data folder.

`MAILROOM_HOME` overrides the folder (tests, portable installs); otherwise it is
platformdirs' user data dir. The folder is created 0700 on POSIX (SECURITY.md #18).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Mailroom"


def data_dir() -> Path:
    """The data folder, created with owner-only permissions if missing."""
    override = os.environ.get("MAILROOM_HOME")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path, 0o700)
    return path


def database_path() -> Path:
    return data_dir() / "mailroom.db"


def raw_dir() -> Path:
    """Content-addressed raw messages (written before the message row commits)."""
    path = data_dir() / "raw"
    path.mkdir(exist_ok=True)
    return path


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(exist_ok=True)
    return path
