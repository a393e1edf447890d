"""Where Mailroom keeps its files: the per-user data folder.

`MAILROOM_HOME` overrides the folder (tests, portable installs); otherwise it is
platformdirs' user data dir. A folder Mailroom creates is made 0700 on POSIX
(SECURITY.md #18). A folder that already exists is the user's: its mode is never
changed, but one that every user may write to is refused, since anyone could then
replace the database or plant files beside it. So is a folder inside one that every
user may write to without the sticky bit: anyone could rename ours away and put their
own in its place. A sticky one such as /tmp is fine as a parent (only an entry's owner
may rename it), and Mailroom never advises opening or closing a shared folder like it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import filelock
import platformdirs

from mailroom.errors import StorageError

APP_NAME = "Mailroom"


def data_dir() -> Path:
    """The data folder, created with owner-only permissions if missing."""
    override = os.environ.get("MAILROOM_HOME")
    path = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return _folder(path.absolute(), "data folder")


def _folder(path: Path, what: str) -> Path:
    """`path`, created 0700 when missing; an existing folder is checked, never chmod-ed.
    Its parents are checked first, so nothing is created under one that is refused."""
    _refuse_shared_parents(path, what)
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise StorageError(f"The {what} {path} is a file, not a folder. Move the file away, or set "
                               "MAILROOM_HOME to another folder.") from None
        _refuse_shared(path, what)
    except OSError as exc:
        raise StorageError(f"The {what} {path} cannot be created: {exc.strerror or exc}. Set "
                           "MAILROOM_HOME to a folder you can write to.") from None
    else:
        if os.name == "posix":
            os.chmod(path, 0o700)  # ours: mkdir's mode is cut by the umask, make it exact
    return path


def _refuse_shared(path: Path, what: str) -> None:
    # World-writable only: a group-writable folder is normal where each user has a
    # group of their own (umask 002), and the database inside is 0600 either way.
    if os.name != "posix":
        return
    info = os.stat(path)
    if info.st_mode & stat.S_IWOTH:
        # A sticky folder (/tmp, /var/tmp) is shared on purpose, and one owned by someone
        # else is not the user's to change: advising chmod there would break the system.
        yours = info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX
        raise StorageError(
            f"The {what} {path} can be changed by every user of this computer (permissions "
            f"{stat.S_IMODE(info.st_mode):o}), so Mailroom will not keep mail there. " + _ELSEWHERE
            + (f", or, if this folder is yours alone, make it private: chmod 700 {path}" if yours else "."),
            field="MAILROOM_HOME")


_ELSEWHERE = ("Set MAILROOM_HOME to a folder in your home folder that does not exist yet (Mailroom "
              "creates it, readable by you only)")


def _refuse_shared_parents(path: Path, what: str) -> None:
    # The parents as written and as resolved: a symbolic link on the way counts both ways.
    if os.name != "posix":
        return
    parents = dict.fromkeys([*path.parents, *Path(os.path.realpath(path)).parents])
    for parent in parents:
        try:
            mode = os.stat(parent).st_mode
        except OSError:
            continue            # not made yet: mkdir makes it below a parent checked here
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            raise StorageError(
                f"The {what} {path} is inside {parent}, which every user of this computer can change "
                f"(permissions {stat.S_IMODE(mode):o}, without the sticky bit), so anyone could move "
                f"the {what} away and put another in its place; Mailroom will not keep mail there. "
                + _ELSEWHERE + ".", field="MAILROOM_HOME")


def database_path() -> Path:
    return data_dir() / "mailroom.db"


def raw_dir() -> Path:
    """Content-addressed raw messages (written before the message row commits)."""
    return _folder(data_dir() / "raw", "raw message folder")


def log_dir() -> Path:
    return _folder(data_dir() / "logs", "log folder")


def lock(name: str) -> filelock.BaseFileLock:
    """The lock `name` in the data folder's locks/ (a mailbox's run, the outbox's sender),
    held across processes that share the data folder; the OS drops it when its process dies."""
    return filelock.FileLock(_folder(data_dir() / "locks", "lock folder") / f"{name}.lock")
